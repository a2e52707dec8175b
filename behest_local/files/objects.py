"""The Files and Uploads API's wire objects and fixed facts (reference/openai-surface.md §3-4).

Purposes a client may ask for, the ones only the gateway writes (``batch_output``), the
expiry rules, the per-part and per-upload limits, the id shapes, and the JSON of a
``file``, an ``upload`` and an ``upload.part``, made from the stores' rows. The per-file
limit is a setting (``[server] max_file_bytes``), not a fact of the API.
"""

from __future__ import annotations

import secrets
from typing import Any

from behest_local.errors import InvalidRequestError, NotFoundError

REQUEST_PURPOSES = ("assistants", "batch", "fine-tune", "vision", "user_data", "evals")
"""What ``POST /v1/files`` and ``POST /v1/uploads`` accept (the SDK's ``FilePurpose``)."""
LISTED_PURPOSES = REQUEST_PURPOSES + ("assistants_output", "batch_output",
                                      "fine-tune-results")
"""What a listed file may say: the gateway's own output files too."""
BATCH_OUTPUT = "batch_output"
EXPIRES_MIN_S, EXPIRES_MAX_S = 3600, 2_592_000
"""``expires_after[seconds]``'s range: an hour to 30 days."""
BATCH_FILE_TTL_S = 2_592_000
"""A ``purpose=batch`` file expires after 30 days unless told otherwise; others never."""
MAX_PART_BYTES = 64 * 1024 * 1024
"""One upload part (OpenAI: 64 MB)."""
MAX_UPLOAD_BYTES = 8 * 1024 ** 3
"""One whole upload (OpenAI: 8 GB); its file must also fit ``max_file_bytes``."""
UPLOAD_TTL_S = 3600
"""An upload not completed within an hour of its creation expires."""


def new_id(prefix: str) -> str:
    """``file-…``, ``upload_…``, ``part_…``: a prefix and 24 random hex digits."""
    return prefix + secrets.token_hex(12)


def check_purpose(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequestError("Missing required parameter: 'purpose'.", param="purpose",
                                  code="missing_required_parameter")
    if value not in REQUEST_PURPOSES:
        raise InvalidRequestError(
            f"Invalid value for 'purpose': {value!r}. Supported values are: "
            f"{', '.join(repr(p) for p in REQUEST_PURPOSES)}.", param="purpose",
            code="invalid_value")
    return value


def expiry(purpose: str, anchor: Any, seconds: Any, *, created_at: int) -> int | None:
    """``expires_at`` for a new file: ``expires_after`` if given (anchor ``created_at``,
    3600-2592000 s), else 30 days for batch files and never for the rest."""
    if anchor is None and seconds is None:
        return created_at + BATCH_FILE_TTL_S if purpose == "batch" else None
    if anchor != "created_at":
        raise InvalidRequestError("Invalid value for 'expires_after.anchor': only "
                                  "'created_at' is supported.", param="expires_after.anchor",
                                  code="invalid_value")
    try:
        number = int(seconds)
    except (TypeError, ValueError):
        number = -1
    if not EXPIRES_MIN_S <= number <= EXPIRES_MAX_S:
        raise InvalidRequestError(
            f"Invalid value for 'expires_after.seconds': {seconds!r}; expected an integer "
            f"from {EXPIRES_MIN_S} to {EXPIRES_MAX_S}.", param="expires_after.seconds",
            code="invalid_value")
    return created_at + number


FILE_COLUMNS = "id, filename, purpose, bytes, created_at, expires_at"


def file_object(row: tuple) -> dict:
    """A ``file`` from a row of ``FILE_COLUMNS``."""
    file_id, filename, purpose, size, created_at, expires_at = row
    return {"id": file_id, "object": "file", "bytes": size, "created_at": created_at,
            "expires_at": expires_at, "filename": filename, "purpose": purpose,
            # Deprecated, but the SDK's type requires them.
            "status": "processed", "status_details": None}


UPLOAD_COLUMNS = "id, filename, purpose, bytes, mime_type, created_at, expires_at, status, file_id"


def upload_object(row: tuple, file: dict | None) -> dict:
    """An ``upload`` from a row of ``UPLOAD_COLUMNS`` and its file once completed."""
    upload_id, filename, purpose, size, _mime, created_at, expires_at, status, _file = row
    return {"id": upload_id, "object": "upload", "bytes": size, "created_at": created_at,
            "expires_at": expires_at, "filename": filename, "purpose": purpose,
            "status": status, "file": file}


def part_object(part_id: str, upload_id: str, created_at: int) -> dict:
    return {"id": part_id, "object": "upload.part", "created_at": created_at,
            "upload_id": upload_id}


def not_found(file_id: str) -> NotFoundError:
    """OpenAI's 404 for an unknown (or another project's) file."""
    return NotFoundError(f"No such File object: {file_id}", param="id")
