"""The native relay: a body in the provider's own dialect, answered as the provider sent it.

A mixin of ``upstream.UpstreamProvider`` (which holds the key, the adapter and the
transport these methods use): Anthropic's ``/v1/messages`` and ``count_tokens``, OpenAI's
moderations, images and audio go upstream untranslated through it. Four shapes of answer:

* ``native_json``: a JSON body, as its text and its value (the caller meters it);
* ``native_events``: an SSE stream, decoded event by event as the bytes arrive;
* ``native_body``: any body read whole, with its ``Content-Type`` (a transcript as
  ``text``, ``srt`` or ``vtt``, or JSON the caller decodes);
* ``native_bytes``: any body relayed piece by piece as it arrives (speech audio): opened
  first, so a refusal is still an error with its status, then read without buffering.

The same transport, timeouts, caps and error mapping as chat (``upstream.py``). A payload
may be a ``form.Form`` (an upload): its encoding grows with the upload (25 MB of audio), so
a large one is encoded beside the event loop.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from behest_local.exchange.exchange import CURRENT
from behest_local.offload import off_loop
from behest_local.providers.form import FilePart, Form
from behest_local.providers.http import HttpResponse
from behest_local.providers.http_connection import ConnectionCut, ReadTimeout
from behest_local.sse import EventTooLarge, SSEDecoder, SSEEvent

INLINE_FORM_BYTES = 256 * 1024
"""A form with more file bytes than this is encoded in a worker thread."""


@dataclass(slots=True)
class NativeStream:
    """An upstream answer whose head has arrived: its ``content_type`` and its ``chunks``
    (an async iterator of the body's pieces as they arrive; close it to let go early)."""

    content_type: str
    chunks: AsyncIterator[bytes]


class NativeRelay:
    """``UpstreamProvider``'s native methods (see the module docstring)."""

    async def native_json(self, op: str, body: dict, headers: dict[str, str]
                          ) -> tuple[str | None, dict]:
        """The JSON text and value of ``op`` (an adapter operation taking a native body,
        Anthropic's ``messages``), with ``headers`` added (``anthropic-version`` …)."""
        key = self._key()
        request = await self._native_request(op, body, key, headers)
        return await self._receive_json(request, key)

    async def native_body(self, op: str, body: dict | Form, headers: dict[str, str]
                          ) -> tuple[str, bytes]:
        """The ``Content-Type`` and whole body of ``op``'s answer, within
        ``max_response_bytes``."""
        key = self._key()
        request = await self._native_request(op, body, key, headers)
        content_type, raw = await self._receive(request, key)
        return content_type or "application/octet-stream", raw

    async def native_bytes(self, op: str, body: dict | Form, headers: dict[str, str]
                           ) -> NativeStream:
        """``op``'s answer once its head is in (an error status raises here), its body to
        be read piece by piece as the socket delivers (no cap: nothing is held)."""
        key = self._key()
        request = await self._native_request(op, body, key, headers)
        exchange = CURRENT.get()  # the wait for the head, for Server-Timing's "provider"
        started = exchange.now() if exchange is not None else 0.0
        response = await self._open(request, key)
        if exchange is not None:
            exchange.provider_waited(exchange.now() - started)
        del key, request
        return NativeStream(response.headers.get("Content-Type") or "application/octet-stream",
                            self._pieces(response))

    async def native_events(self, op: str, body: dict | Form, headers: dict[str, str]
                            ) -> AsyncIterator[SSEEvent]:
        """The SSE events of a streamed ``op``, decoded but not translated, as they arrive;
        timeouts, caps and a cut stream fail as ``stream`` fails. The event payloads are
        the caller's to read (an in-band ``error`` event included)."""
        key = self._key()
        request = await self._native_request(op, body, key, headers)
        decoder = SSEDecoder(max_event=self.max_event_bytes)
        response = await self._open(request, key)
        del key, request
        pieces = self._pieces(response)
        try:
            async for data in pieces:
                for event in decoder.feed(data):
                    yield event
            for event in decoder.close():
                yield event
        except EventTooLarge as exc:  # only ever after a first piece: the stream had started
            raise self._stream_failure(exc, True) from None
        finally:
            await pieces.aclose()  # releases the response (``_pieces``'s own finally)

    async def _pieces(self, response: HttpResponse) -> AsyncIterator[bytes]:
        started = False
        take, wait = response.take, response.wait
        try:
            while True:
                data = take()
                if data is None:
                    await wait(None)
                    continue
                if not data:
                    return
                started = True
                yield data
        except (ReadTimeout, ConnectionCut) as exc:
            raise self._stream_failure(exc, started) from None
        finally:
            response.release()  # unfinished (client gone): closes the connection

    async def _native_request(self, op: str, body: dict | Form, key, headers: dict[str, str]):
        request = self.adapter.request
        if isinstance(body, Form) and sum(len(p.data) for p in body.parts
                                          if isinstance(p, FilePart)) > INLINE_FORM_BYTES:
            return await off_loop(lambda: request(op, body, key, base_url=self.base_url,
                                                  headers=headers))
        return request(op, body, key, base_url=self.base_url, headers=headers)
