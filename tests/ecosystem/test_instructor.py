"""instructor: TOOLS, JSON and MD_JSON modes, and partial streaming, each to a typed model."""

from __future__ import annotations

from typing import Literal

import openai
import pytest
from pydantic import BaseModel

pytest.importorskip("instructor", reason="instructor is installed by .ci/run")

import instructor  # noqa: E402

from tests.ecosystem.agentic import MODEL  # noqa: E402


class Ticket(BaseModel):
    """A support ticket read from a customer's message."""

    customer: str
    priority: Literal["low", "medium", "high"]
    order_number: int
    tags: list[str]


MESSAGE = "Ana Lopez writes: order 4711 arrived broken, please help!"


@pytest.fixture
def client(agentic):
    with openai.OpenAI(base_url=agentic.base_url, api_key=agentic.key, max_retries=0) as client:
        yield client


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON, instructor.Mode.MD_JSON])
def test_each_mode_extracts_a_valid_model_in_one_call(client, agentic, mode) -> None:
    extract = instructor.from_openai(client, mode=mode)
    ticket = extract.chat.completions.create(
        model=MODEL, response_model=Ticket, max_retries=0,
        messages=[{"role": "user", "content": f"Extract the ticket: {MESSAGE}"}])
    assert isinstance(ticket, Ticket)
    assert ticket.customer == "Ana Lopez" and ticket.order_number == 4711
    assert agentic.model_calls() == 1


def test_partial_streaming_grows_to_the_complete_model(client, agentic) -> None:
    extract = instructor.from_openai(client, mode=instructor.Mode.TOOLS)
    partials = list(extract.chat.completions.create_partial(
        model=MODEL, response_model=Ticket, max_retries=0,
        messages=[{"role": "user", "content": f"Extract the ticket: {MESSAGE}"}]))
    assert len(partials) > 1 and partials[0].order_number is None
    final = Ticket.model_validate(partials[-1].model_dump())
    assert final.customer == "Ana Lopez" and final.order_number == 4711
    assert agentic.model_calls() == 1
