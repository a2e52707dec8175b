"""``/v1/responses`` served through chat completions: the public face of the translators.

Flow for ``POST /v1/responses``:

1. ``validate_responses_request(body)``: 400s for bad or unsupported input.
2. ``to_chat_request(body)``: the chat request routed to a provider like any other.
3. Back to the Responses dialect:
   - not streaming: ``from_chat_completion(completion, request=..., response_id=...,
     created_at=...)`` gives the body;
   - streaming: a ``ResponsesStreamTranslator`` turns chat chunks into named events.

The work is split by direction: ``responses_request`` and ``responses_to_chat`` (request
side: validate, then map), ``responses_object`` (whole response) and ``responses_stream``
(events), ``responses_items`` (items as stored and listed). Import from here.
"""

from behest_local.dialects.responses_items import conversation_items, input_items
from behest_local.dialects.responses_object import from_chat_completion, response_usage
from behest_local.dialects.responses_request import conversation_id, validate_responses_request
from behest_local.dialects.responses_to_chat import to_chat_request
from behest_local.dialects.responses_stream import ResponsesStreamTranslator

__all__ = [
    "ResponsesStreamTranslator",
    "conversation_id",
    "conversation_items",
    "input_items",
    "from_chat_completion",
    "response_usage",
    "to_chat_request",
    "validate_responses_request",
]
