"""A batch's lines reach the provider a project has a key for, as interactive requests do."""

from __future__ import annotations

import asyncio
import json


async def test_batch_lines_are_routed_to_the_keyed_provider(byok):
    b = await byok("openai")
    lines = b"".join(json.dumps({
        "custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
        "body": {"model": b.model, "messages": [{"role": "user", "content": f"hi {i}"}]}
    }).encode() + b"\n" for i in range(3))
    source = await b.sdk.files.create(file=("in.jsonl", lines), purpose="batch")
    batch = await b.sdk.batches.create(input_file_id=source.id,
                                       endpoint="/v1/chat/completions", completion_window="24h")

    async def done():
        while (found := await b.sdk.batches.retrieve(batch.id)).status != "completed":
            await asyncio.sleep(0.05)
        return found

    finished = await asyncio.wait_for(done(), 20)
    assert finished.request_counts.completed == 3
    upstream = [r for r in b.state.requests if r.path.endswith("/chat/completions")]
    assert sorted(r.body["messages"][-1]["content"] for r in upstream) == [
        "hi 0", "hi 1", "hi 2"]
    out = [json.loads(x) for x in
           (await b.sdk.files.content(finished.output_file_id)).text.splitlines()]
    assert {o["response"]["body"]["model"] for o in out} == {b.model}
