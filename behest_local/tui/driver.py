"""The terminal driver the TUI runs with on Linux and macOS: Textual's, without its polling.

Idle means idle (issue 23). Textual's ``LinuxDriver`` reads the keyboard on a thread that
selects on stdin with a 0.1 s timeout, only to notice its exit event and to time out a
lone escape key: ten wake-ups a second while nobody types. ``QuietDriver`` keeps
everything else of Textual's driver and replaces that loop: the thread blocks in select on
stdin plus a self-pipe, which the exit event writes to when it is set, so stopping still
ends the thread at once. A timeout is used only while the parser waits to decide whether
an escape byte was the escape key or the start of a sequence (its own deadline, ~0.1 s
after the byte): a key press costs what it did before, an idle terminal costs nothing.

Windows keeps Textual's own driver (its input thread is not a select loop). Textual is
pinned (pyproject.toml); ``run_input_thread`` follows 8.2.8's, and reads the parser's
private ``_timeout_time`` (with Textual's 0.1 s poll as the fallback if it disappears).
"""

from __future__ import annotations

import os
import selectors
import threading
from codecs import getincrementaldecoder

from textual._parser import ParseError
from textual._time import get_time
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

POLL_S = 0.1
"""Textual's select timeout: used here only if the parser cannot say when it times out."""


class _WakingEvent(threading.Event):
    """An event that also writes a byte to a pipe when set, so a thread blocked in select
    on the pipe's other end wakes up and sees it (``clear`` empties the pipe again)."""

    def __init__(self, read_fd: int, write_fd: int) -> None:
        super().__init__()
        self.read_fd, self.write_fd = read_fd, write_fd

    def set(self) -> None:
        super().set()  # first: the woken thread must find the event set
        if self.write_fd >= 0:
            try:
                os.write(self.write_fd, b"x")
            except OSError:  # full: the thread has a wake-up pending already
                pass

    def clear(self) -> None:
        super().clear()
        drain(self.read_fd)

    def close(self) -> None:
        """Close the pipe; a later ``set`` then writes nowhere (never to a reused fd)."""
        fds, self.read_fd, self.write_fd = (self.read_fd, self.write_fd), -1, -1
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass


def drain(fd: int) -> None:
    """Read a non-blocking pipe until it is empty."""
    try:
        while os.read(fd, 512):
            pass
    except (BlockingIOError, OSError):
        pass


class QuietDriver(LinuxDriver):
    """``LinuxDriver`` whose input thread sleeps until a key, a resize report or exit."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        read_fd, write_fd = os.pipe()
        for fd in (read_fd, write_fd):
            os.set_blocking(fd, False)
        self.exit_event = _WakingEvent(read_fd, write_fd)

    def run_input_thread(self) -> None:
        """Textual 8.2.8's loop, with the wake-up pipe and a timeout only when due."""
        wake_fd = self.exit_event.read_fd
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        selector.register(wake_fd, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        feed, tick = parser.feed, parser.tick
        decode = getincrementaldecoder("utf-8")().decode

        def process(ready: list[tuple[selectors.SelectorKey, int]], final: bool = False) -> None:
            for key, _mask in ready:
                if key.fd == wake_fd:
                    drain(wake_fd)
                    continue
                data = decode(os.read(fileno, 1024 * 4), final=final)
                if not data:  # stdin was piped and ended
                    break
                for event in feed(data):
                    self.process_message(event)
            for event in tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                process(selector.select(_timeout(parser)))
            selector.unregister(self.fileno)
            process(selector.select(POLL_S), final=True)
        finally:
            selector.close()
            try:
                for _event in feed(""):
                    pass
            except (EOFError, ParseError):
                pass

    def close(self) -> None:
        super().close()
        self.exit_event.close()


def _timeout(parser: XTermParser) -> float | None:
    """How long the input thread may block: until the parser's pending timeout (a lone
    escape byte), or for ever when it has none."""
    if not hasattr(parser, "_timeout_time"):  # a Textual that keeps it elsewhere
        return POLL_S
    due = parser._timeout_time
    return None if due is None else max(0.0, due - get_time())
