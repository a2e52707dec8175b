"""Agent frameworks against a live gateway serving the emulated model (issue 19).

Each test drives one framework the way its documentation does, with only the base URL and
the key changed, and asserts two things: the typed result the framework hands back, and
how many model calls the *server* saw for it. The count comes from the gateway's own trace
events (``Routed`` of the exchanges authenticated with a key made for that test), not
from the client, so a framework that retried or looped behind our back is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

from behest_local.exchange.events import Authenticated, Routed

MODEL = "gpt-4o"


@dataclass
class Agentic:
    """A fresh API key on the live gateway, and the model calls made with it."""

    base_url: str
    """The OpenAI-compatible root, ``http://127.0.0.1:PORT/v1``."""
    key: str
    credential: str
    live: object

    def model_calls(self) -> int:
        """How many requests with this test's key the gateway routed to a model so far."""
        events = list(self.live.recorder.events)
        mine = {e.exchange_id for e in events if isinstance(e, Authenticated) and e.credential == self.credential}
        return sum(1 for e in events if isinstance(e, Routed) and e.exchange_id in mine)


def agentic_for(live) -> Agentic:
    """A new key of project ``local`` on the ``live`` gateway, and its call counter."""
    key, record = live.gateway.keys.create("local")
    return Agentic(live.base_url, key, record.prefix + "…", live)
