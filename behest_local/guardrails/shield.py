"""A project's guardrails applied to one chat request's messages.

``shield(messages, policy)`` runs the content policy, the injection heuristics and the
PII shield over the text of every message (``content`` as a string, or the ``text`` of
its text parts) and returns a ``Shielded``: what was found (``Verdict``s: entity types
and counts and the action taken, never a value), whether the request is refused (451,
``blocked``), the messages to send on (masked and redacted in ``enforce``, the same list
otherwise) and, for MASK, the placeholders to restore in the reply (``originals``).
``values`` pairs every detected value with its entity, for the server to replace in the
copy a trace keeps, in shadow mode too.

The policy is the project's ``guardrails`` setting (``config/schema.GuardrailsConfig``,
read here by attribute: config sits above this layer). Everything here is pure and
CPU-bound; the server runs a large request's pass beside the loop (``offload.py``).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from behest_local.guardrails.content import compile_policy, injection_cues
from behest_local.guardrails.entities import CONTENT_BLOCKED, PII_BLOCKED
from behest_local.guardrails.recognizers import find_pii


@dataclass(frozen=True, slots=True)
class Verdict:
    """One guardrail's verdict on a request: what it found, never the text."""

    guard: str
    """``pii``, ``content`` or ``injection``."""
    mode: str
    """The guard's mode: ``shadow`` (recorded only) or ``enforce``."""
    counts: tuple[tuple[str, int], ...]
    """Entity (or rule, or ``match``) and how many times, in first-seen order."""
    action: str
    """What was done: ``BLOCK``, ``MASK``, ``REDACT``, ``MASK+REDACT``, or ``none``."""

    def summary(self) -> str:
        found = ", ".join(f"{name}×{n}" for name, n in self.counts)
        return f"{self.guard} {self.mode}: {found} → {self.action}"


@dataclass(slots=True)
class Shielded:
    messages: list
    findings: list[Verdict] = field(default_factory=list)
    blocked: tuple[str, dict[str, int]] | None = None
    """The 451's code and the counts for its ``details.entities``, when refused."""
    originals: dict[str, str] = field(default_factory=dict)
    """``<ENTITY_N>`` → the value it replaced (MASK only)."""
    values: tuple[tuple[str, str], ...] = ()
    """Every detected PII value and its entity, for redacting captured copies."""


def texts(messages: list) -> list[tuple[int, int | None, str]]:
    """Where the text of ``messages`` is: (message, part or None, text)."""
    out = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        content = message.get("content")
        if isinstance(content, str):
            out.append((i, None, content))
        elif isinstance(content, list):
            for j, part in enumerate(content):
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    out.append((i, j, part["text"]))
    return out


def active(policy: Any) -> bool:
    """Whether ``policy`` (a ``GuardrailsConfig``) has any guard switched on."""
    return policy is not None and (policy.pii.mode != "disabled"
                                   or policy.content.mode != "disabled"
                                   or policy.injection.mode != "disabled")


def shield(messages: list, policy: Any) -> Shielded:
    """Apply ``policy`` to ``messages`` (see the module docstring)."""
    result = Shielded(messages)
    located = texts(messages)
    content, pii, injection = policy.content, policy.pii, policy.injection
    if content.mode != "disabled":
        rules = compile_policy(content.block, content.patterns)
        hits = sum(rules.matches(text) for _, _, text in located)
        if hits:
            enforce = content.mode == "enforce"
            result.findings.append(Verdict("content", content.mode, (("match", hits),),
                                           "BLOCK" if enforce else "none"))
            if enforce:
                result.blocked = (CONTENT_BLOCKED, {"content": hits})
                return result
    if injection.mode != "disabled":
        cues: Counter[str] = Counter()
        for _, _, text in located:
            cues.update(injection_cues(text))
        if cues:
            result.findings.append(Verdict("injection", "shadow", tuple(cues.items()), "none"))
    if pii.mode != "disabled":
        _pii(result, located, pii)
    return result


def _pii(result: Shielded, located: list, pii: Any) -> None:
    found = [(where, text, find_pii(text)) for *where, text in located]
    counts: Counter[str] = Counter(f.entity for _, _, fs in found for f in fs)
    if not counts:
        return
    result.values = tuple({(text[f.start:f.end], f.entity): None
                           for _, text, fs in found for f in fs})
    if pii.mode != "enforce":
        result.findings.append(Verdict("pii", pii.mode, tuple(counts.items()), "none"))
        return
    action_of = {entity: pii.entities.get(entity, pii.action) for entity in counts}
    blocking = {e: n for e, n in counts.items() if action_of[e] == "BLOCK"}
    if blocking:
        result.findings.append(Verdict("pii", "enforce", tuple(counts.items()), "BLOCK"))
        result.blocked = (PII_BLOCKED, blocking)
        return
    taken = sorted(set(action_of.values()))
    result.findings.append(Verdict("pii", "enforce", tuple(counts.items()), "+".join(taken)))
    placeholders: dict[tuple[str, str], str] = {}
    numbers: Counter[str] = Counter()
    messages = [dict(m) if isinstance(m, dict) else m for m in result.messages]
    for (i, j), text, findings in found:
        if not findings:
            continue
        out, last = [], 0
        for f in findings:
            value = text[f.start:f.end]
            if action_of[f.entity] == "REDACT":
                replacement = f"<{f.entity}>"
            else:
                replacement = placeholders.get((f.entity, value))
                if replacement is None:
                    numbers[f.entity] += 1
                    replacement = f"<{f.entity}_{numbers[f.entity]}>"
                    placeholders[(f.entity, value)] = replacement
                    result.originals[replacement] = value
            out += (text[last:f.start], replacement)
            last = f.end
        out.append(text[last:])
        new = "".join(out)
        if j is None:
            messages[i]["content"] = new
        else:
            parts = messages[i]["content"] = list(messages[i]["content"])
            parts[j] = dict(parts[j], text=new)
    result.messages = messages
