"""The ``agentic`` fixture of the framework suite: a fresh key and the calls the gateway saw
(``tests/ecosystem/agentic.py``)."""

from __future__ import annotations

import pytest

from tests.ecosystem.agentic import Agentic, agentic_for


@pytest.fixture
def agentic(live) -> Agentic:
    return agentic_for(live)
