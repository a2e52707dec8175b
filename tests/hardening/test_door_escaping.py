"""Issue 17, item 5: log lines and TUI cells escape what a client wrote.

A request path is percent-decoded, so ``GET /v1/x%0aFORGED%201%1b[31m`` put a real newline
and ESC into the headless log (before the fix: a forged second line, and the terminal
turned red), into the CORS warning of the same request, and into the TUI's row, title and
detail tabs. Header values may hold undecodable bytes (lone surrogates) or bidi controls.
``printable`` (behest_local/printable.py) is the one helper; these tests go through the
places that show a client's text, and the real ``serve`` process end to end.
"""

from __future__ import annotations

import io
import json
import logging
import socket

import pytest

from behest_local.observe.headless import LineLogger
from behest_local.printable import PrintableFormatter, printable, shows_as_is
from behest_local.tui.app import BehestApp
from behest_local.tui.exchange_detail import TABS
from tests.hardening.door_support import CANARY, Answer, raw_http, request_bytes
from tests.serve_process import ServeProcess
from tests.trace_support import fake_exchange, make_store, screen_text, settle

FORGING_PATH = "/v1/x%0aFORGED%201%0d%1b[31m%c2%9b31m%e2%80%aeevil"
"""Decodes to a newline, "FORGED 1", CR, ESC [31m, the C1 CSI, a right-to-left override."""
RAW = ("\n", "\r", "\x1b", "\x9b", "\u202e")


@pytest.mark.parametrize("text, shown", [
    ("/v1/x\nFORGED", "/v1/x\\nFORGED"), ("a\rb\tc", "a\\rb\\tc"), ("\x1b[31m", "\\x1b[31m"),
    ("\x9b31m", "\\x9b31m"), ("a\udcffb", "a\\udcffb"), ("rtl\u202eabc", "rtl\\u202eabc"),
    ("\x00\x7f", "\\x00\\x7f"), ("\u2028", "\\u2028"),
    ("plain ascii", "plain ascii"), ("héllo wörld 漢字 😀", "héllo wörld 漢字 😀"),
    ("👨\u200d👩\u200d👧 nbsp\xa0", "👨\u200d👩\u200d👧 nbsp\xa0")])
def test_printable_escapes_controls_bidi_and_surrogates_only(text, shown):
    assert printable(text) == shown
    assert shows_as_is(text) == (text == shown)
    assert printable(shown) == shown  # escaping is idempotent on its own output


def test_the_log_formatter_keeps_newlines_and_escapes_the_rest():
    record = logging.LogRecord("t", logging.WARNING, __file__, 1, "line one\nline two %s",
                               ("\x1b]0;pwned\x07\rX\udcff",), None)
    assert PrintableFormatter("%(message)s").format(record) == \
        "line one\nline two \\x1b]0;pwned\\x07\\rX\\udcff"


async def test_a_forging_path_is_one_escaped_line_in_the_request_log_and_warnings(
        make_gateway_client, caplog):
    client = await make_gateway_client()
    out = io.StringIO()
    client.gateway.store.subscribe(LineLogger(out), events=LineLogger.EVENTS)
    with caplog.at_level(logging.WARNING):
        raw = await raw_http(client.host, client.port, request_bytes(
            "GET", FORGING_PATH, headers=[(b"Origin", b"https://evil.example")]))
    assert Answer.parse(raw).status == 404
    line = out.getvalue()
    assert line.count("\n") == 1 and line.endswith("\n")
    assert not any(char in line[:-1] for char in RAW)
    assert "/v1/x\\nFORGED 1\\r\\x1b[31m\\x9b31m\\u202eevil" in line
    cors = [r.getMessage() for r in caplog.records if r.name == "behest_local.cors"]
    assert len(cors) == 1 and "\\nFORGED" in cors[0]
    assert not any(char in cors[0] for char in RAW)


async def test_a_refused_hosts_undecodable_bytes_are_escaped_in_the_log(make_gateway_client,
                                                                          caplog):
    client = await make_gateway_client()
    with caplog.at_level(logging.WARNING, logger="behest_local.host"):
        raw = await raw_http(client.host, client.port, b"GET /healthz HTTP/1.1\r\nHost: "
                             b"evil\xff\xe2\x80\xae.example\r\nConnection: close\r\n\r\n")
    answer = Answer.parse(raw)
    assert answer.status == 421
    assert "evil\\udcff\\u202e.example" in answer.json()["error"]["message"]
    message, = [r.getMessage() for r in caplog.records]
    assert "evil\\udcff\\u202e.example" in message
    message.encode()  # no lone surrogate left: any log stream can write it


async def test_the_tui_shows_a_clients_text_escaped_everywhere():
    store, clock = make_store()
    headers = [("Host", "127.0.0.1:7717"), ("Content-Type", "application/json"),
               ("X-End-User-Id", "mallory\u202e\udcff"), ("X-Note", "bell\x07")]
    fake_exchange(store, clock, 1, path="/v1/x\nFORGED 1\x1b[31m", user="mallory\x1b[2J",
                  requested="gpt\x1b]0;title\x07", model="gpt-4o-mini", headers=headers,
                  body={"model": "gpt\x1b[5m", "messages": [
                      {"role": "user", "content": "hi\x1b[31m\u202e"}]},
                  stream=True, pieces=["red\x1b[31m", " text\x9b"])
    app = BehestApp(store, url="http://127.0.0.1:7717", tick=3600)
    seen = []
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        for tab in TABS:
            app.detail.show_tab(tab)
            await pilot.pause()
            seen.append(screen_text(app))
    everything = "\n".join(seen)
    assert "FORGED 1\\x1b[31m" in everything and "mallory\\x1b[2J" in everything
    for char in ("\x1b", "\x07", "\x9b", "\u202e", "\udcff"):
        assert char not in everything, repr(char)
    assert not any(line.startswith("FORGED") for line in everything.splitlines())


def test_tui_toasts_show_a_log_records_text_escaped_and_without_markup():
    from behest_local.runtime.tui import _ToastHandler

    shown = []

    class App:
        def notify(self, message, **options):
            shown.append((message, options))

    handler = _ToastHandler(App(), loop=None)
    handler.emit(logging.LogRecord("behest_local.cors", logging.WARNING, __file__, 1,
                                   "CORS: GET %s refused", ("/v1/[bold]x\x1b[31m\nFORGED",), None))
    handler.emit(logging.LogRecord("x", logging.ERROR, __file__, 1, "", (), None))
    (message, options), (empty, _) = shown
    assert message == "CORS: GET /v1/[bold]x\\x1b[31m"  # the first line, as Textual text
    assert options["markup"] is False and empty == ""


def test_the_serve_process_writes_no_forged_line_control_byte_or_key(tmp_path):
    server = ServeProcess(tmp_path / "home", config="")
    try:
        made = server.cli("keys", "create", "--json")
        assert made.returncode == 0, made.stderr
        key = json.loads(made.stdout)["key"]
        requests = [
            request_bytes("GET", FORGING_PATH, headers=[(b"Origin", b"https://evil.example")]),
            b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
            CANARY.encode() + b"\x01\r\n\r\n",
            b"GET /v1/models HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " +
            CANARY.encode() + b"a" * 9000 + b"\r\n\r\n",
            request_bytes("POST", "/v1/chat/completions", body=b"garbage", headers=[
                (b"Authorization", f"Bearer {key}".encode()),
                (b"Content-Type", b"application/json"), (b"Content-Encoding", b"gzip")]),
            request_bytes("GET", "/healthz", host=b"evil\xff.example")]
        for data in requests:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(data)
                while sock.recv(65536):
                    pass
    finally:
        code = server.stop()
    stdout, stderr = server.stdout, server.stderr
    both = stdout + stderr
    assert code == 0, stderr
    assert CANARY not in both and CANARY[8:30] not in both
    assert "Traceback" not in both
    for char in ("\x1b", "\x9b", "\r", "\u202e"):
        assert char not in both, repr(char)
    assert not any(line.startswith("FORGED") for line in both.splitlines())
    assert "\\nFORGED 1" in stdout and "refused an unparsable request" in stderr
