"""The batch runner with a scripted sender: its task's life, resuming, failures, expiry."""

from __future__ import annotations

import asyncio
import json
import time

from behest_local.batches import lines
from behest_local.batches.batch import Batch
from behest_local.batches.runner import BatchRunner, _result_id
from behest_local.batches.store import BatchStore
from behest_local.errors import GatewayError
from behest_local.files.store import FileStore

CHAT = "/v1/chat/completions"


class Sender:
    """Answers each line with its body echoed; line ``hold`` waits until ``gate`` opens."""

    def __init__(self, fail: set[str] = frozenset(), hold: str | None = None) -> None:
        self.sent: list[str] = []
        self.fail, self.hold = fail, hold
        self.gate = asyncio.Event()
        self.waiting = asyncio.Event()

    async def send(self, batch, data):
        body = json.loads(data)
        self.sent.append(body["n"])
        if body["n"] == self.hold:
            self.waiting.set()
            await self.gate.wait()
        if body["n"] in self.fail:
            raise GatewayError("no route", status=503, code="unreachable")
        return 200, f"req-{body['n']}", json.dumps({
            "echo": body["n"], "usage": {"prompt_tokens": 2, "completion_tokens": 3}}).encode()

    def done(self, batch):
        pass


async def setup(tmp_path, n: int, **batch_fields) -> tuple[FileStore, BatchStore, Batch]:
    files, store = FileStore(tmp_path), BatchStore(tmp_path)
    data = b"".join(json.dumps({"custom_id": f"c{i}", "method": "POST", "url": CHAT,
                                "body": {"n": str(i)}}).encode() + b"\n" for i in range(n))
    writer = await files.writer(1 << 20)
    await writer.write(data)
    source = await files.add("p", "in.jsonl", "batch", writer, None, created_at=0)
    batch = Batch.new(project="p", endpoint=CHAT, input_file_id=source["id"],
                      completion_window="24h", metadata=None, user=None, role="user", tier=None)
    for name, value in batch_fields.items():
        setattr(batch, name, value)
    await store.save(batch)
    return files, store, batch


async def finished(runner: BatchRunner) -> None:
    await asyncio.wait_for(runner._task, 10)


def lines_of(files: FileStore, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(x) for x in files.blob(file_id).read_text().splitlines()]


async def test_the_task_exists_only_while_a_batch_has_work(tmp_path):
    files, store, batch = await setup(tmp_path, 3)
    runner = BatchRunner(store, files, Sender(), lambda: (0, 0))
    assert not runner.running  # built, not started: nothing polls
    runner.kick()
    await finished(runner)
    assert not runner.running
    done = await store.get("p", batch.id)
    assert done.status == "completed" and (done.completed, done.failed) == (3, 0)
    assert (done.input_tokens, done.output_tokens) == (6, 9)
    assert [o["custom_id"] for o in lines_of(files, done.output_file_id)] == ["c0", "c1", "c2"]
    runner.kick()  # nothing left: the task looks once and ends
    await finished(runner)
    await store.close()
    await files.close()


async def test_a_runner_stopped_mid_line_resumes_there_and_records_each_line_once(tmp_path):
    files, store, batch = await setup(tmp_path, 5)
    first = Sender(hold="2")
    runner = BatchRunner(store, files, first, lambda: (0, 0))
    runner.kick()
    await asyncio.wait_for(first.waiting.wait(), 5)  # the third line is in flight
    await runner.stop()
    saved = await store.get("p", batch.id)
    assert saved.status == "in_progress" and saved.completed == 2
    second = Sender()
    BatchRunner(store, files, second, lambda: (0, 0)).kick()
    while (await store.get("p", batch.id)).status != "completed":
        await asyncio.sleep(0.01)
    assert second.sent == ["2", "3", "4"]  # the unrecorded line again, then the rest
    done = await store.get("p", batch.id)
    assert sorted(o["custom_id"] for o in lines_of(files, done.output_file_id)) == [
        f"c{i}" for i in range(5)]
    await store.close()
    await files.close()


async def test_a_line_the_sender_cannot_serve_goes_to_the_error_file(tmp_path):
    files, store, batch = await setup(tmp_path, 3)
    runner = BatchRunner(store, files, Sender(fail={"1"}), lambda: (0, 0))
    runner.kick()
    await finished(runner)
    done = await store.get("p", batch.id)
    assert (done.status, done.completed, done.failed) == ("completed", 2, 1)
    [error] = lines_of(files, done.error_file_id)
    assert (error["custom_id"], error["error"]["code"]) == ("c1", "unreachable")
    await store.close()
    await files.close()


async def test_lines_past_the_window_expire_the_batch(tmp_path):
    files, store, batch = await setup(tmp_path, 2, expires_at=int(time.time()) - 1)
    sender = Sender()
    runner = BatchRunner(store, files, sender, lambda: (0, 0))
    runner.kick()
    await finished(runner)
    done = await store.get("p", batch.id)
    assert done.status == "expired" and done.expired_at and sender.sent == []
    assert [e["error"]["code"] for e in lines_of(files, done.error_file_id)] == [
        "batch_expired"] * 2
    await store.close()
    await files.close()


async def test_a_deleted_input_fails_the_batch_and_keeps_what_was_done(tmp_path,
                                                                      monkeypatch):
    monkeypatch.setattr(lines, "READ_LINES", 1)  # the next line is read after the deletion
    files, store, batch = await setup(tmp_path, 3)
    sender = Sender(hold="0")
    runner = BatchRunner(store, files, sender, lambda: (0, 0))
    runner.kick()
    await asyncio.wait_for(sender.waiting.wait(), 5)
    await files.delete("p", batch.input_file_id)
    sender.gate.set()
    await finished(runner)
    done = await store.get("p", batch.id)
    assert done.status == "failed" and done.errors[0]["code"] == "file_not_found"
    assert done.completed == 1 and done.output_file_id is not None
    await store.close()
    await files.close()


async def test_a_finish_interrupted_after_moving_the_results_keeps_them(tmp_path):
    files, store, batch = await setup(tmp_path, 1)
    partial = store.partial(batch.id, "output")
    size = lines.append(partial, lines.output_line("c0", 200, "r", b"{}")[0], 0)
    batch.status, batch.out_bytes, batch.completed = "finalizing", size, 1
    await store.save(batch)
    # The previous run moved the file into the store, then stopped before saving its id.
    moved = await files.adopt("p", "x.jsonl", "batch_output", partial,
                              file_id=_result_id(batch.id, "output"))
    runner = BatchRunner(store, files, Sender(), lambda: (0, 0))
    runner.kick()
    await finished(runner)
    done = await store.get("p", batch.id)
    assert done.status == "completed" and done.output_file_id == moved["id"]
    assert [o["custom_id"] for o in lines_of(files, done.output_file_id)] == ["c0"]
    await store.close()
    await files.close()
