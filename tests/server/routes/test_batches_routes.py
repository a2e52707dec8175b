"""``/v1/batches`` through an in-loop gateway, with the openai SDK: lines served by the
gateway's own pipeline, malformed lines in the error file, cancel, isolation."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from dataclasses import replace

import openai
import pytest

from behest_local.exchange.events import ExchangeFinished
from tests.conftest import TEST_SETTINGS, Recorder
from tests.e2e.parity_support import openai_sdk


@pytest.fixture
async def gw(make_gateway_client):
    async with AsyncExitStack() as stack:
        async def start(**emulator):
            settings = replace(TEST_SETTINGS,
                               emulator=replace(TEST_SETTINGS.emulator, **emulator))
            client = await make_gateway_client(settings)
            client.sdk = openai_sdk(client.key["Authorization"].split()[1],
                                    str(client.make_url("/v1")), stack)
            return client
        yield start


def chat_line(i: int, url: str = "/v1/chat/completions") -> dict:
    return {"custom_id": f"req-{i}", "method": "POST", "url": url,
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user",
                                                             "content": f"Say {i}"}]}}


def jsonl(lines: list) -> bytes:
    return b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n"
                    for line in lines)


async def until_status(sdk, batch_id: str, *statuses: str, timeout: float = 20):
    async def poll():
        while (batch := await sdk.batches.retrieve(batch_id)).status not in statuses:
            await asyncio.sleep(0.05)
        return batch
    return await asyncio.wait_for(poll(), timeout)


async def test_a_batch_runs_each_line_through_the_gateway_and_files_its_results(gw):
    client = await gw()
    recorder = Recorder()
    client.gateway.store.subscribe(recorder)
    sdk = client.sdk
    lines = [chat_line(i) for i in range(6)]
    lines[2] = b'{"custom_id": "broken", '  # not JSON
    lines[4] = chat_line(4, url="/v1/embeddings")  # not this batch's endpoint
    source = await sdk.files.create(file=("in.jsonl", jsonl(lines + [b"", b"  "])),
                                    purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h", metadata={"run": "1"})
    assert batch.status == "validating" and batch.metadata == {"run": "1"}
    done = await until_status(sdk, batch.id, "completed", "failed")
    assert done.status == "completed", done.errors
    assert (done.request_counts.total, done.request_counts.completed,
            done.request_counts.failed) == (6, 4, 2)
    assert done.in_progress_at and done.finalizing_at and done.completed_at
    assert done.usage.input_tokens > 0 and done.usage.output_tokens > 0
    out = [json.loads(x) for x in (await sdk.files.content(done.output_file_id)).text.splitlines()]
    assert sorted(o["custom_id"] for o in out) == ["req-0", "req-1", "req-3", "req-5"]
    for o in out:
        assert o["id"].startswith("batch_req_") and o["error"] is None
        assert o["response"]["status_code"] == 200
        assert o["response"]["body"]["object"] == "chat.completion"
    errors = [json.loads(x) for x in (await sdk.files.content(done.error_file_id)).text.splitlines()]
    assert [(e["custom_id"], e["error"]["code"], e["response"]) for e in errors] == [
        (None, "invalid_json_line", None), ("req-4", "invalid_url", None)]
    assert "Line 3" in errors[0]["error"]["message"]
    # Each served line was an exchange of its own: traced, and billed with its tokens.
    billed = {e.exchange_id for e in recorder.events if isinstance(e, ExchangeFinished)
              and e.status == 200 and e.prompt_tokens}
    assert {o["response"]["request_id"] for o in out} <= billed
    assert (await sdk.files.retrieve(done.output_file_id)).purpose == "batch_output"


async def test_each_endpoint_can_be_batched(gw):
    sdk = (await gw()).sdk
    bodies = {"/v1/embeddings": {"model": "text-embedding-3-small", "input": "hi"},
              "/v1/responses": {"model": "gpt-4o-mini", "input": "hi"},
              "/v1/completions": {"model": "gpt-3.5-turbo-instruct", "prompt": "hi"}}
    for endpoint, body in bodies.items():
        source = await sdk.files.create(file=("in.jsonl", jsonl([
            {"custom_id": "a", "method": "POST", "url": endpoint, "body": body}])),
            purpose="batch")
        batch = await sdk.batches.create(input_file_id=source.id, endpoint=endpoint,
                                         completion_window="24h")
        done = await until_status(sdk, batch.id, "completed", "failed")
        assert done.request_counts.completed == 1, endpoint
        line = json.loads((await sdk.files.content(done.output_file_id)).text)
        assert line["response"]["status_code"] == 200, line


async def test_a_batch_line_refused_by_the_gateway_goes_to_the_error_file(gw):
    sdk = (await gw()).sdk
    source = await sdk.files.create(file=("in.jsonl", jsonl([
        {"custom_id": "bad", "method": "POST", "url": "/v1/chat/completions",
         "body": {"model": "gpt-4o-mini", "messages": "not a list"}}, chat_line(1)])),
        purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
    done = await until_status(sdk, batch.id, "completed")
    assert (done.request_counts.completed, done.request_counts.failed) == (1, 1)
    line = json.loads((await sdk.files.content(done.error_file_id)).text)
    assert line["response"]["status_code"] == 400 and line["error"] is None
    assert line["response"]["body"]["error"]["type"] == "invalid_request_error"


async def test_batch_lines_do_not_spend_the_projects_requests_per_minute(gw):
    client = await gw()
    # TEST_SETTINGS' project allows 60 requests a minute: 70 lines must all be served.
    sdk = client.sdk
    source = await sdk.files.create(file=("in.jsonl", jsonl([chat_line(i) for i in range(70)])),
                                    purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
    done = await until_status(sdk, batch.id, "completed", timeout=40)
    assert done.request_counts.completed == 70
    reply = await sdk.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert int(reply.headers["x-ratelimit-remaining-requests"]) > 50


async def test_a_batch_is_cancelled_with_its_partial_results(gw):
    sdk = (await gw(batch_line_delay_s=0.05)).sdk
    source = await sdk.files.create(file=("in.jsonl", jsonl([chat_line(i) for i in range(200)])),
                                    purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
    running = await until_status(sdk, batch.id, "in_progress")
    assert running.request_counts.total == 200
    cancelling = await sdk.batches.cancel(batch.id)
    assert cancelling.status in ("cancelling", "cancelled")
    done = await until_status(sdk, batch.id, "cancelled")
    assert done.cancelled_at and done.request_counts.completed < 200
    assert done.output_file_id is None or (await sdk.files.content(done.output_file_id)).text
    with pytest.raises(openai.ConflictError):
        await sdk.batches.cancel(batch.id)


async def test_bad_batch_requests_are_400s_and_another_projects_batches_404s(gw):
    client = await gw()
    sdk = client.sdk
    text = await sdk.files.create(file=("a.txt", b"{}"), purpose="user_data")
    with pytest.raises(openai.BadRequestError, match="purpose 'batch'"):
        await sdk.batches.create(input_file_id=text.id, endpoint="/v1/chat/completions",
                                 completion_window="24h")
    with pytest.raises(openai.BadRequestError, match="endpoint"):
        await sdk.batches.create(input_file_id=text.id, endpoint="/v1/moderations",
                                 completion_window="24h")
    with pytest.raises(openai.NotFoundError):
        await sdk.batches.create(input_file_id="file-nope", endpoint="/v1/chat/completions",
                                 completion_window="24h")
    source = await sdk.files.create(file=("in.jsonl", jsonl([chat_line(0)])), purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
    other, _ = client.gateway.keys.create("prompted")
    async with client.get(f"/v1/batches/{batch.id}",
                          headers={"Authorization": f"Bearer {other}"}) as resp:
        assert resp.status == 404
    async with client.get("/v1/batches", headers={"Authorization": f"Bearer {other}"}) as resp:
        assert (await resp.json())["data"] == []
    assert [b.id async for b in sdk.batches.list()] == [batch.id]


async def test_an_empty_input_fails_the_batch_with_a_reason(gw):
    sdk = (await gw()).sdk
    source = await sdk.files.create(file=("in.jsonl", b"\n\n"), purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h")
    done = await until_status(sdk, batch.id, "failed")
    assert done.errors.data[0].code == "empty_file" and done.failed_at


async def test_a_spent_quota_refuses_the_remaining_lines_into_the_error_file(make_gateway_client,
                                                                             tmp_path):
    from behest_local.config import BudgetConfig

    local = replace(TEST_SETTINGS.project("local"),
                    budgets=BudgetConfig(project_tokens_per_day=80))
    settings = replace(TEST_SETTINGS, emulator=replace(TEST_SETTINGS.emulator,
                                                       enforce_limits=True),
                       projects=tuple(local if p.id == "local" else p
                                      for p in TEST_SETTINGS.projects))
    client = await make_gateway_client(settings)
    async with AsyncExitStack() as stack:
        sdk = openai_sdk(client.key["Authorization"].split()[1], str(client.make_url("/v1")),
                         stack)
        source = await sdk.files.create(file=("in.jsonl", jsonl([chat_line(i)
                                                                 for i in range(10)])),
                                        purpose="batch")
        batch = await sdk.batches.create(input_file_id=source.id,
                                         endpoint="/v1/chat/completions",
                                         completion_window="24h")
        done = await until_status(sdk, batch.id, "completed")
        assert done.request_counts.completed >= 1 and done.request_counts.failed >= 1
        refused = [json.loads(x) for x in
                   (await sdk.files.content(done.error_file_id)).text.splitlines()]
        assert {r["response"]["status_code"] for r in refused} == {402}
        assert refused[0]["response"]["body"]["error"]["code"] == "quota_exceeded"


async def test_a_line_of_a_megabyte_is_served(gw):
    """Lines and replies over 64 KiB are decoded and encoded beside the loop."""
    sdk = (await gw()).sdk
    big = {"custom_id": "big", "method": "POST", "url": "/v1/embeddings",
           "body": {"model": "text-embedding-3-small", "input": ["word " * 40] * 500}}
    source = await sdk.files.create(file=("in.jsonl", jsonl([big])), purpose="batch")
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/embeddings",
                                     completion_window="24h")
    done = await until_status(sdk, batch.id, "completed")
    assert done.request_counts.completed == 1 and done.usage.input_tokens > 10_000
    line = json.loads((await sdk.files.content(done.output_file_id)).content)
    assert len(line["response"]["body"]["data"]) == 500


async def test_an_input_over_the_size_limit_is_refused(gw, monkeypatch):
    from behest_local.server.routes import batches
    monkeypatch.setattr(batches, "MAX_INPUT_BYTES", 100)  # OpenAI's is 200 MB
    sdk = (await gw()).sdk
    source = await sdk.files.create(file=("in.jsonl", jsonl([chat_line(0), chat_line(1)])),
                                    purpose="batch")
    with pytest.raises(openai.BadRequestError, match="at most 100"):
        await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                 completion_window="24h")


async def test_output_expires_after_sets_the_result_files_expiry(gw):
    sdk = (await gw()).sdk
    source = await sdk.files.create(file=("in.jsonl", jsonl([chat_line(0)])), purpose="batch")
    with pytest.raises(openai.BadRequestError, match="output_expires_after"):
        await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                 completion_window="24h",
                                 output_expires_after={"anchor": "created_at", "seconds": 1})
    batch = await sdk.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                     completion_window="24h",
                                     output_expires_after={"anchor": "created_at",
                                                           "seconds": 7200})
    done = await until_status(sdk, batch.id, "completed")
    out = await sdk.files.retrieve(done.output_file_id)
    assert out.expires_at == out.created_at + 7200
