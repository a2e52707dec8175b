"""When the TUI's timers run: only while something on screen can change by itself.

A mixin of ``BehestApp`` (app.py). Idle means idle (issue 23): the gateway and its TUI
run all day on laptops, and before this the app woke the CPU five times a second (the
list's refresh tick), plus the header's second and a vault check every 5 s, with no
traffic at all. Now:

* the list's timer (app.py's ``tick_refresh``, every ``tick``) stops once nothing is left to
  refresh: no change pending, no running row (its elapsed time moves without events), no
  detail reload owed. It sets ``feed.sleeping``; the feed's next change calls ``wake``
  (one bool test per trace event, tui/feed.py), which starts both timers from that
  moment: the list's first refresh (and the header with it) comes one ``tick`` later,
  as promptly as before, when the timer ran all the time;
* the header's timer (``tick_header``, every ``HEADER_EVERY``) runs while the request
  rate (a ten-second average) or the in-flight count can change without an event, then
  stops; rate-limit gauges with requests counted change only when their minute rolls
  over, so one refresh is scheduled for then;
* the vault's state is re-read when the provider-key index says it was refreshed (the
  file watcher saw ``vault.json`` change: vault/provider_keys.py), not on a poll.

Config events and the vault index's refresh arrive on other threads: they hop onto the
app's loop with ``call_soon_threadsafe`` (never waiting, unlike ``call_from_thread``).
Textual's own input thread no longer polls either (tui/driver.py).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

from textual.css.query import NoMatches
from textual.timer import Timer

HEADER_EVERY = 1.0
"""The header's refresh period while its rate or in-flight count can change."""
MINUTE_MARGIN = 0.5
"""How long after a wall-clock minute the gauges are refreshed (so it has surely rolled)."""


class Pacing:
    """Needs ``tick``, ``tick_refresh``, ``feed``, ``gateway``, ``exchanges``,
    ``_detail_pending``, ``refresh_header``, ``check_vault`` and Textual's
    ``set_interval``/``set_timer`` from the app; ``start_timers`` on mount,
    ``stop_timers`` on unmount."""

    _ticker: Timer | None = None
    _header_ticker: Timer | None = None
    _minute_timer: Timer | None = None
    _header_sleeping = False
    _header_due = False
    _loop: asyncio.AbstractEventLoop | None = None
    _loop_thread: int | None = None
    _unsubscribe_vault: Callable[[], None] | None = None

    def start_timers(self) -> None:
        self._loop, self._loop_thread = asyncio.get_running_loop(), threading.get_ident()
        self._ticker = self.set_interval(self.tick, self.tick_refresh)
        self._header_ticker = self.set_interval(HEADER_EVERY, self.tick_header)
        self.feed.on_wake = self.wake
        index = getattr(self.gateway, "provider_keys", None)  # vault/provider_keys.py
        if index is not None and hasattr(index, "subscribe"):
            self._unsubscribe_vault = index.subscribe(self._vault_changed)

    def get_driver_class(self):
        """``QuietDriver`` where Textual would use its ``LinuxDriver`` (tui/driver.py);
        Textual's choice on Windows or when ``TEXTUAL_DRIVER`` names one."""
        from textual import constants
        from textual.drivers.linux_driver import LinuxDriver

        chosen = super().get_driver_class()
        if chosen is LinuxDriver and constants.DRIVER is None:
            from behest_local.tui.driver import QuietDriver

            return QuietDriver
        return chosen

    def stop_timers(self) -> None:
        self.feed.on_wake = None
        if self._unsubscribe_vault is not None:
            self._unsubscribe_vault()
            self._unsubscribe_vault = None

    @property
    def sleeping(self) -> bool:
        """Whether both timers are stopped (nothing on screen can change by itself)."""
        return self.feed.sleeping and self._header_sleeping

    def wake(self) -> None:
        """The feed's ``on_wake``: a change after a quiet spell starts both timers, each
        from now (``reset``): the list's first refresh comes one ``tick`` after the first
        change, as while busy, so a short request is shown finished rather than running
        and replaced a moment later; that refresh shows the header too."""
        if self._on_loop(self.wake):
            self._header_sleeping = False
            self._header_due = True
            for timer in (self._ticker, self._header_ticker):
                if timer is not None:
                    timer.reset()  # also resumes a paused timer

    def _on_loop(self, callback: Callable[[], None]) -> bool:
        """True on the app's loop thread; elsewhere (a config reload, the vault index's
        worker thread) schedule ``callback`` there instead, without waiting, and False."""
        if self._loop is None or threading.get_ident() == self._loop_thread:
            return True
        self._loop.call_soon_threadsafe(callback)
        return False

    def sleep_if_quiet(self) -> None:
        """After a list refresh (``tick_refresh``): the header too if this is the first
        since waking; stop the list's timer if nothing is left to refresh (no change
        pending, no running row, no detail reload owed)."""
        if self._header_due:
            self._header_due = False
            self.refresh_header()
        try:
            running = self.exchanges.running
        except NoMatches:  # a last tick while the app shuts down
            return
        if not (self.feed.pending or running or self._detail_pending):
            if self._ticker is not None:
                self._ticker.pause()
            self.feed.sleeping = True

    def tick_header(self) -> None:
        """The header's timer (``HEADER_EVERY``): it runs while the request rate (a
        ten-second average) or the in-flight count can change by themselves, then stops;
        rate-limit gauges with requests counted then change only when the minute rolls
        over, so one refresh is scheduled for then."""
        state = self.refresh_header()
        if state is None or state.rate or state.in_flight:
            return
        if self._header_ticker is not None:
            self._header_ticker.pause()
        self._header_sleeping = True
        if self._minute_timer is not None:
            self._minute_timer.stop()
            self._minute_timer = None
        if any(used for _label, used, _limit in state.gauges):
            # The counters' minute windows are aligned on wall-clock minutes
            # (policy/ratelimit.py); a little after the boundary, so it has passed.
            self._minute_timer = self.set_timer(60 - time.time() % 60 + MINUTE_MARGIN,
                                                self.refresh_header)

    def _vault_changed(self) -> None:
        """The provider-key index was refreshed (vault/provider_keys.py: in a worker
        thread, after the file watcher saw vault.json change)."""
        if self._on_loop(self._vault_changed):
            self.check_vault()
