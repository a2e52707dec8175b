"""Node clients of Anthropic's API against a live behest-local: the ``@anthropic-ai/sdk``
package (create, stream, a tool call, ``RateLimitError``) and Claude Code's CLI in
non-interactive mode (``claude -p``), both pointed at the gateway with
``ANTHROPIC_BASE_URL`` and a project key in ``ANTHROPIC_API_KEY``, the emulated model
answering. Both are installed in ``tests/node`` (``npm ci --prefix tests/node``); without
them the tests skip and say why."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.node_clients import NODE_DIR, require_node_packages, run_node

CLAUDE = NODE_DIR / "node_modules" / ".bin" / "claude"


def test_anthropic_node_sdk_creates_and_streams(live):
    require_node_packages("@anthropic-ai/sdk")
    seen = run_node("anthropic_sdk.mjs", {"ANTHROPIC_BASE_URL": live.url,
                                          "ANTHROPIC_API_KEY": live.key})
    created, streamed = seen["created"], seen["streamed"]
    assert "4" in created["text"] and created["stop_reason"] == "end_turn"
    assert created["usage"]["input_tokens"] > 0
    assert streamed["text"] == streamed["final_text"] == created["text"]
    assert streamed["events"][0] == "message_start" and streamed["events"][-1] == "message_stop"
    assert seen["tool"]["name"] == "get_weather" and seen["tool"]["input"] == {"city": "Paris"}
    assert seen["tool_stop"] == "tool_use"
    assert seen["rateLimited"] == {"status": 429, "type": "rate_limit_error", "isRateLimit": True}


def test_claude_code_print_mode_answers_from_the_emulated_model(live, tmp_path):
    require_node_packages("@anthropic-ai/claude-code")
    if not os.access(CLAUDE, os.X_OK):
        pytest.skip("Claude Code's native binary was not installed by its postinstall "
                    "(npm ci --prefix tests/node on a supported platform)")
    env = {**os.environ, "HOME": str(tmp_path), "ANTHROPIC_BASE_URL": live.url,
           "ANTHROPIC_API_KEY": live.key, "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
           "DISABLE_AUTOUPDATER": "1"}
    env.pop("ANTHROPIC_AUTH_TOKEN", None)
    before = len(live.recorder.events)
    result = subprocess.run([str(CLAUDE), "-p", "What is 2+2?"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4" in result.stdout
    # It came through the gateway's Messages API, as a Claude model, answered offline.
    paths = {getattr(e, "path", None) for e in live.recorder.events[before:]}
    assert "/v1/messages" in paths
