"""The names a guardrails configuration is written in, declared once.

``config/schema.py`` types its ``[projects.NAME.guardrails]`` tables with these, the
recognizers key their findings by them and the events and error details carry them, so
a name means one thing from ``behest.toml`` to a 451's ``details.entities``. Entity names
are Presidio's where it has one (``API_KEY`` is ours: Presidio has no secrets recognizer).
"""

from __future__ import annotations

from typing import Literal

ENTITIES = ("PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE",
            "IP_ADDRESS", "US_SSN", "API_KEY")
"""Every entity the PII shield finds (``recognizers.py`` says how)."""

Action = Literal["MASK", "REDACT", "BLOCK"]
"""``MASK``: a numbered placeholder, restored in the reply; ``REDACT``: ``<ENTITY>``,
never restored; ``BLOCK``: the request is refused with 451 ``pii_blocked``."""
Mode = Literal["disabled", "shadow", "enforce"]
"""``shadow`` detects and records, and changes nothing; ``enforce`` acts."""
InjectionMode = Literal["disabled", "shadow"]
"""Injection heuristics only ever record: a heuristic is too coarse to refuse on."""

PII_BLOCKED = "pii_blocked"
CONTENT_BLOCKED = "content_blocked"
"""The codes of a 451 (the legacy SDK's PIIBlockedError / ContentBlockedError)."""
