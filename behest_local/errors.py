"""The gateway's error hierarchy: every failure a user can cause, as data.

Core modules, providers and dialect translators raise these; only ``server/`` knows how
to render them (OpenAI's ``{"error": {message, type, param, code}}`` on the data plane).
Keeping them here, outside ``server/``, lets providers raise upstream failures without
importing the server.
"""

from __future__ import annotations

from collections.abc import Mapping


class GatewayError(Exception):
    """A failure with an HTTP status and an OpenAI-style error type and code.

    Attributes:
        status: HTTP status the client receives.
        message: human-readable text; never contains a secret.
        type: OpenAI ``error.type`` (``invalid_request_error``, ``server_error`` ...).
        code: OpenAI ``error.code`` or None.
        param: the request field at fault, dotted/indexed (``messages[0].role``), or None.
        headers: extra response headers (``Retry-After`` ...).
    """

    status: int = 500
    type: str = "server_error"
    code: str | None = None

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.param = param
        self.headers: dict[str, str] = dict(headers or {})

    def to_openai(self) -> dict:
        """The OpenAI error envelope for this failure."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code!r}, message={self.message!r})"


class InvalidRequestError(GatewayError):
    """The request body or a parameter is wrong (400)."""

    status = 400
    type = "invalid_request_error"


class AuthenticationError(GatewayError):
    """Missing, malformed, unknown or revoked credentials (401)."""

    status = 401
    type = "invalid_request_error"
    code = "invalid_api_key"


class NotFoundError(GatewayError):
    """An unknown route, model or object (404)."""

    status = 404
    type = "invalid_request_error"


class UpstreamError(GatewayError):
    """The provider (real or emulated) answered with an error.

    The status and message are the upstream's own, so that client retry logic sees what
    it would see talking to the provider directly.
    """

    status = 502
    type = "server_error"


class GuardrailBlocked(GatewayError):
    """A project's guardrails refused the request (451 ``pii_blocked`` or
    ``content_blocked``): Behest's nested shape (code, message, ``details``) and OpenAI's
    (type, param) in one body, so the legacy behest SDK's PIIBlockedError /
    ContentBlockedError and the openai SDK's APIStatusError (``.code``) both read it."""

    status = 451
    type = "invalid_request_error"

    def __init__(self, message: str, *, code: str, details: Mapping[str, object]) -> None:
        super().__init__(message, code=code)
        self.details = dict(details)

    def to_openai(self) -> dict:
        body = super().to_openai()
        body["error"]["details"] = self.details
        # The legacy behest SDK reads ``code`` and ``message`` at the top level (its
        # parse_error_response) to choose ContentBlockedError over PIIBlockedError; the
        # openai and v1.5 SDKs read the nested ``error`` and ignore these.
        body["code"], body["message"] = self.code, self.message
        return body


class StreamDropped(Exception):
    """Raised inside a stream to emulate the connection dying mid-stream.

    The relay answers it by aborting the client's connection without a terminating
    chunk, exactly what a user's code sees when a network path drops.
    """
