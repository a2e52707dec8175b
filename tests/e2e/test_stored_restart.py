"""Stored responses and conversations survive a restart of ``behest-local serve``.

A real subprocess (``tests/serve_process.py``) on one state dir, stopped with SIGTERM and
started again: the chain, the conversation and the input items are all there, a
background response still running at the stop is reported failed rather than left
``in_progress`` for ever, and the database file is private to the user.
"""

from __future__ import annotations

import stat

import openai
import pytest

from behest_local.home import database_file
from behest_local.identity.api_keys import KeyStore
from behest_local.server.routes.responses_runs import INTERRUPTED
from behest_local.stored.database import DB_FILE
from tests.serve_process import ServeProcess


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
            model="gpt-4o-mini", input="Hi", background=True,
            extra_headers={"x-behest-emulate": "first_token_ms=60000"})
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
        answer = client.responses.create(model="gpt-4o-mini", conversation=conversation.id,
                                         input="Summarize our conversation.")
        assert "Skye" in answer.output_text
        interrupted = client.responses.retrieve(running.id)
        assert interrupted.status == "failed" and interrupted.error.message == INTERRUPTED
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
