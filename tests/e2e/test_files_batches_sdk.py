"""Files and batches with the openai SDK against a real ``behest-local serve`` (issue 21):
a 10 MB file's round trip, a 100-line batch with malformed lines polled to completion
while ``/healthz`` keeps answering, and a batch that resumes after the server is killed."""

from __future__ import annotations

import json
import os
import signal
import statistics
import threading
import time
import urllib.request

import openai
import pytest

from behest_local.identity.api_keys import KeyStore
from tests.serve_process import ServeProcess


def api_key(home, project: str = "local") -> str:
    key, _ = KeyStore(home, scrypt_n=2**4).create(project)
    return key


@pytest.fixture
def serve(tmp_path):
    started: list[ServeProcess] = []

    def start(config: str = "") -> ServeProcess:
        server = ServeProcess(tmp_path / "home", config=config)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


def sdk(server: ServeProcess, key: str) -> openai.OpenAI:
    return openai.OpenAI(api_key=key, base_url=server.url + "/v1", max_retries=0)


def chat_line(i: int) -> bytes:
    return json.dumps({"custom_id": f"req-{i}", "method": "POST",
                       "url": "/v1/chat/completions",
                       "body": {"model": "gpt-4o-mini",
                                "messages": [{"role": "user", "content": f"Count to {i}"}]}}
                      ).encode()


def poll(client: openai.OpenAI, batch_id: str, done, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while True:
        batch = client.batches.retrieve(batch_id)
        if done(batch) or time.monotonic() > deadline:
            return batch
        time.sleep(0.05)


def results(client: openai.OpenAI, file_id: str | None) -> list[dict]:
    if file_id is None:
        return []
    return [json.loads(line) for line in client.files.content(file_id).text.splitlines()]


def test_a_10_mb_file_round_trips_and_a_larger_one_is_refused(tmp_path, serve):
    key = api_key(tmp_path / "home")
    server = serve("[server]\nmax_file_bytes = 11000000\n")
    client = sdk(server, key)
    data = os.urandom(10 * 1024 * 1024)
    made = client.files.create(file=("ten.bin", data), purpose="user_data")
    assert made.bytes == len(data) and made.expires_at is None
    assert [f.id for f in client.files.list(purpose="user_data")] == [made.id]
    assert client.files.content(made.id).content == data
    assert client.files.delete(made.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(made.id)
    with pytest.raises(openai.APIStatusError) as caught:
        client.files.create(file=("twelve.bin", data + data[:2 * 1024 * 1024]),
                            purpose="user_data")
    assert caught.value.status_code == 413
    assert caught.value.body["code"] == "file_too_large"


def test_a_batch_of_100_lines_with_3_malformed_completes_while_healthz_answers(tmp_path, serve):
    key = api_key(tmp_path / "home")
    server = serve("[emulator]\nbatch_line_delay_s = 0.005\n")
    client = sdk(server, key)
    lines = [chat_line(i) for i in range(100)]
    lines[10] = b'{"custom_id": "req-10", "method": "POST"'  # cut short
    lines[50] = json.dumps({"custom_id": "req-50", "method": "GET",
                            "url": "/v1/chat/completions", "body": {}}).encode()
    lines[90] = json.dumps({"custom_id": "req-1", "method": "POST",  # a duplicate id
                            "url": "/v1/chat/completions", "body": {}}).encode()
    source = client.files.create(file=("in.jsonl", b"\n".join(lines) + b"\n"), purpose="batch")
    batch = client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    # /healthz while the batch runs: it must never wait on the batch's lines.
    waits: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            with urllib.request.urlopen(server.url + "/healthz", timeout=10) as reply:
                assert reply.status == 200
            waits.append(time.perf_counter() - started)
            time.sleep(0.01)

    prober = threading.Thread(target=probe)
    prober.start()
    try:
        done = poll(client, batch.id, lambda b: b.status in ("completed", "failed", "expired"))
    finally:
        stop.set()
        prober.join(15)
    assert done.status == "completed", done
    counts = done.request_counts
    assert (counts.total, counts.completed, counts.failed) == (100, 97, 3)
    out = results(client, done.output_file_id)
    assert len(out) == 97 and all(o["response"]["status_code"] == 200 for o in out)
    assert all(o["response"]["body"]["choices"][0]["message"]["content"] for o in out)
    errors = results(client, done.error_file_id)
    assert len(errors) == 3 and {(e["custom_id"], e["error"]["code"]) for e in errors} == {
        (None, "invalid_json_line"), ("req-1", "duplicate_custom_id"),
        ("req-50", "invalid_method")}
    assert len(waits) >= 5
    print(f"/healthz during the batch: {len(waits)} probes, median "
          f"{statistics.median(waits) * 1000:.1f} ms, max {max(waits) * 1000:.1f} ms")
    assert max(waits) < 0.25


def test_a_batch_interrupted_by_a_kill_resumes_at_the_next_start(tmp_path, serve):
    home = tmp_path / "home"
    key = api_key(home)
    config = "[emulator]\nbatch_line_delay_s = 0.1\n"
    server = serve(config)
    client = sdk(server, key)
    source = client.files.create(file=("in.jsonl", b"\n".join(chat_line(i) for i in range(40))),
                                 purpose="batch")
    batch = client.batches.create(input_file_id=source.id, endpoint="/v1/chat/completions",
                                  completion_window="24h")
    midway = poll(client, batch.id, lambda b: b.request_counts.completed >= 8)
    assert midway.status == "in_progress" and midway.request_counts.completed < 40
    server.stop(signal.SIGKILL)
    restarted = serve(config)
    client = sdk(restarted, key)
    done = poll(client, batch.id, lambda b: b.status == "completed")
    assert done.status == "completed", done
    assert (done.request_counts.completed, done.request_counts.failed) == (40, 0)
    out = results(client, done.output_file_id)
    assert sorted(o["custom_id"] for o in out) == sorted(f"req-{i}" for i in range(40))
    assert done.error_file_id is None
