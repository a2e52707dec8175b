"""Stored responses and conversations survive a restart of ``behest-local serve``.

A real subprocess (``tests/serve_process.py``) on one state dir, stopped with SIGTERM and
started again: the chain, the conversation and the input items are all there, a
background response still running at the stop runs again and completes (appending to
its conversation), and the database file is private to the user.
"""

from __future__ import annotations

import stat
import time

import openai
import pytest

from behest_local.home import database_file
from behest_local.identity.api_keys import KeyStore
from behest_local.stored.database import DB_FILE
from tests.serve_process import ServeProcess


def _poll(client: openai.OpenAI, response_id: str, limit_s: float = 15.0):
    """Retrieve until the response is final, bounded by ``limit_s``."""
    deadline = time.monotonic() + limit_s
    while (response := client.responses.retrieve(response_id)).status in ("queued",
                                                                          "in_progress"):
        assert time.monotonic() < deadline, f"still {response.status}"
        time.sleep(0.05)
    return response


def _client(server: ServeProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)


def test_responses_and_conversations_survive_a_restart(tmp_path):
    home = tmp_path / "home"
    key, _ = KeyStore(home, scrypt_n=2**4).create("local")
    server = ServeProcess(home)
    try:
        client = _client(server, key)
        first = client.responses.create(
            model="gpt-4o-mini", input="My cat is called Biscuit and she sleeps on the radiator.")
        second = client.responses.create(model="gpt-4o-mini", previous_response_id=first.id,
                                         input="What is the capital of France?")
        conversation = client.conversations.create(
            metadata={"kept": "yes"},
            items=[{"type": "message", "role": "user", "content": "I live in Skye."}])
        running = client.responses.create(
            model="gpt-4o-mini", input="Summarize our conversation.", background=True,
            conversation=conversation.id,
            extra_headers={"x-behest-emulate": "first_token_ms=1500"})
        assert client.responses.retrieve(running.id).status in ("queued", "in_progress")
    finally:
        assert server.stop() == 0
    server = ServeProcess(home)
    try:
        client = _client(server, key)
        assert client.responses.retrieve(second.id).output_text == second.output_text
        third = client.responses.create(model="gpt-4o-mini", previous_response_id=second.id,
                                        input="Summarize our conversation.")
        assert "Biscuit" in third.output_text
        assert [i.content[0].text for i in client.responses.input_items.list(first.id)] == [
            "My cat is called Biscuit and she sleeps on the radiator."]
        assert client.conversations.retrieve(conversation.id).metadata == {"kept": "yes"}
        resumed = _poll(client, running.id)
        assert resumed.status == "completed" and "Skye" in resumed.output_text
        assert client.conversations.items.list(conversation.id).data[0].id == \
            resumed.output[0].id
        server.wait_for("resumed 1 background responses")
    finally:
        assert server.stop() == 0
    mode = stat.S_IMODE(database_file(home, DB_FILE).stat().st_mode)
    assert mode == 0o600


def test_objects_belong_to_the_project_not_the_key(tmp_path):
    """Revoking the key that made them neither loses them nor hands them to anyone else:
    a new key of the same project finds them."""
    home = tmp_path / "home"
    keys = KeyStore(home, scrypt_n=2**4)
    old, record = keys.create("local")
    server = ServeProcess(home)
    try:
        created = _client(server, old).responses.create(model="gpt-4o-mini", input="Hello")
    finally:
        assert server.stop() == 0
    keys = KeyStore(home, scrypt_n=2**4)
    keys.revoke(record.id)
    new, _ = keys.create("local")
    server = ServeProcess(home)
    try:
        with pytest.raises(openai.AuthenticationError):
            _client(server, old).responses.retrieve(created.id)
        assert _client(server, new).responses.retrieve(created.id).id == created.id
    finally:
        assert server.stop() == 0
