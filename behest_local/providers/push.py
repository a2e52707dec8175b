"""A stream's read-callback path: upstream reads translated and sent from the socket's
read callback while ``UpstreamProvider.stream``'s loop is parked (``ChatCall.sink``).

Split out of ``upstream.py``, which uses it once per stream; see ``Push`` for the rules.
"""

from __future__ import annotations

from behest_local.providers.base import ChunkSink
from behest_local.providers.http import HttpResponse
from behest_local.sse import SSEDecoder


class Push:
    """A stream's read-callback path (``ChatCall.sink``).

    While the stream's loop is parked in ``wait`` (every chunk before has been yielded
    and sent), each read that arrives with nothing queued is offered to ``tap``: if the
    sink is ready it decodes the read and translates its events, as the loop would, and
    sends the chunks straight to the sink, so an event's bytes go out without waking the
    relay's task. A sink that is not ready (not yet armed, its client behind or gone)
    declines the read before anything is touched, and the loop takes it as usual. A
    failure (an in-band error, a malformed event) is kept for the loop, which raises it
    as if it had met it itself, and the wait ends at once.
    """

    __slots__ = ("decoder", "translator", "sink", "response", "failure", "started")

    def __init__(self, decoder: SSEDecoder, translator, sink: ChunkSink,
                 response: HttpResponse) -> None:
        self.decoder, self.translator, self.sink, self.response = (decoder, translator, sink,
                                                                   response)
        self.failure: Exception | None = None
        self.started = False

    def tap(self, piece: bytes) -> bool:
        if self.failure is not None or not self.sink.ready():
            return False
        self.started = True
        sink, feed = self.sink, self.translator.feed
        try:
            for event in self.decoder.feed(piece):
                for chunk in feed(event):
                    sink(chunk)
        except Exception as exc:  # noqa: BLE001 - the loop raises it, in the task
            self.failure = exc
            self.response.wake()
        return True
