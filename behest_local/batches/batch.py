"""A batch: its state as stored, its lifecycle and its wire object (openai-surface.md §5).

``Batch`` is what ``store.BatchStore`` keeps (one JSON document a row) and what the runner
advances: the ``Batch`` object's fields plus the runner's place in the input file
(``line_no``, ``in_offset``) and in its partial result files (``out_bytes``,
``err_bytes``), so a restart resumes at the line after the last one recorded. The caller's
identity (``project``, ``user``, ``role``, ``tier``) is kept so every line runs as the
caller who made the batch. Statuses: validating → in_progress → finalizing → completed,
or failed (the input as a whole is unusable), cancelling → cancelled, expired.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field, fields

ENDPOINTS = ("/v1/chat/completions", "/v1/embeddings", "/v1/responses", "/v1/completions")
"""The endpoints a local batch may target (OpenAI also lists moderations and images)."""
COMPLETION_WINDOW_S = {"24h": 24 * 3600}
MAX_REQUESTS = 50_000
"""Lines an input file may hold."""
MAX_INPUT_BYTES = 200_000_000
"""An input file's size (OpenAI: 200 MB)."""
ACTIVE = ("validating", "in_progress", "finalizing", "cancelling")
"""Statuses the runner still has work for."""
CANCELLABLE = ("validating", "in_progress")


@dataclass(slots=True)
class Batch:
    id: str
    project: str
    endpoint: str
    input_file_id: str
    completion_window: str
    created_at: int
    expires_at: int
    user: str | None = None
    role: str = "user"
    tier: int | None = None
    status: str = "validating"
    metadata: dict | None = None
    output_expires_after_s: int | None = None
    """``output_expires_after.seconds``: the result files expire this long after they are
    made (never, by default)."""
    in_progress_at: int | None = None
    finalizing_at: int | None = None
    completed_at: int | None = None
    failed_at: int | None = None
    expired_at: int | None = None
    cancelling_at: int | None = None
    cancelled_at: int | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: list = field(default_factory=list)
    """Validation errors of the input file as a whole: ``{code, message, param, line}``."""
    total: int = 0
    completed: int = 0
    failed: int = 0
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    line_no: int = 0
    """Lines of the input file consumed (blank ones included): the next one is line_no + 1."""
    in_offset: int = 0
    """Byte offset in the input file of the next line."""
    out_bytes: int = 0
    err_bytes: int = 0
    """Bytes of the partial output and error files that belong to recorded lines."""

    @classmethod
    def new(cls, *, project: str, endpoint: str, input_file_id: str, completion_window: str,
            metadata: dict | None, user: str | None, role: str, tier: int | None,
            output_expires_after_s: int | None = None) -> Batch:
        now = int(time.time())
        return cls(id="batch_" + secrets.token_hex(12), project=project, endpoint=endpoint,
                   input_file_id=input_file_id, completion_window=completion_window,
                   created_at=now, expires_at=now + COMPLETION_WINDOW_S[completion_window],
                   metadata=metadata, user=user, role=role, tier=tier,
                   output_expires_after_s=output_expires_after_s)

    @classmethod
    def from_doc(cls, doc: dict) -> Batch:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in doc.items() if k in known})

    def doc(self) -> dict:
        return asdict(self)

    def move(self, status: str) -> None:
        """Enter ``status``, stamping its ``<status>_at`` time."""
        self.status = status
        stamp = f"{status}_at"
        if hasattr(self, stamp):
            setattr(self, stamp, int(time.time()))

    def to_object(self) -> dict:
        """The ``batch`` object clients poll."""
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint,
            "errors": {"object": "list", "data": self.errors} if self.errors else None,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window,
            "status": self.status, "output_file_id": self.output_file_id,
            "error_file_id": self.error_file_id, "created_at": self.created_at,
            "in_progress_at": self.in_progress_at, "expires_at": self.expires_at,
            "finalizing_at": self.finalizing_at, "completed_at": self.completed_at,
            "failed_at": self.failed_at, "expired_at": self.expired_at,
            "cancelling_at": self.cancelling_at, "cancelled_at": self.cancelled_at,
            "request_counts": {"total": self.total, "completed": self.completed,
                               "failed": self.failed},
            "metadata": self.metadata or {}, "model": self.model,
            "usage": {"input_tokens": self.input_tokens,
                      "input_tokens_details": {"cached_tokens": 0},
                      "output_tokens": self.output_tokens,
                      "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": self.input_tokens + self.output_tokens},
        }

    def add_usage(self, usage: dict) -> None:
        """Count a line's tokens from its reply's ``usage`` (chat, completions and
        embeddings say prompt/completion tokens, responses input/output tokens)."""
        given = usage.get("prompt_tokens", usage.get("input_tokens"))
        taken = usage.get("completion_tokens", usage.get("output_tokens"))
        self.input_tokens += given if isinstance(given, int) else 0
        self.output_tokens += taken if isinstance(taken, int) else 0
