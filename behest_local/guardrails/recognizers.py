"""Finding PII in text: regular expressions, checksums and context cues, no model.

What it finds (the names of ``entities.ENTITIES``):

* ``EMAIL_ADDRESS``: ``local@domain.tld``;
* ``PHONE_NUMBER``: 10–15 digits in groups (``+44 20 7946 0958``, ``(555) 123-4567``) or
  in one run; ``+`` and 8 digits or more;
* ``CREDIT_CARD``: 13–19 digits, spaced or dashed, that pass the Luhn check;
* ``IBAN_CODE``: country, check digits and 11–30 characters that pass the mod-97 check;
* ``IP_ADDRESS``: IPv4 and IPv6 that ``ipaddress`` accepts (so ``999.1.1.1`` is not one);
* ``US_SSN``: ``AAA-GG-SSSS`` with the SSA's rules (no area 000, 666 or 900–999, no group
  00, no serial 0000);
* ``API_KEY``: the gateway's own key shapes (``exchange/scrub.py``: ``sk-…``,
  ``behest_sk_live_…``, ``AKIA…``, ``ghp_…``, JWTs, bearer tokens…) and PEM private keys;
* ``PERSON``: by context only: after "my name is", "call me", "Name:", an honorific
  ("Dr. Ada Lovelace"), "I'm"/"I am" followed by a first name of the bundled list, a
  signature line after "Regards," or "Thanks,", and a listed first name followed by a
  capitalised surname ("John Smith").

What it misses: names without such context ("ask Smith about it"), lower-case names,
names in scripts without capitals, addresses and dates of birth (no recognizer), and
anything split across two of the pieces a very long text is cut into (cut at a line
break where there is one). Presidio finds more names (spaCy NER) but needs a spaCy
model that is not on PyPI, a download of hundreds of MB, and seconds to load: this
gateway must work offline and start at once, so the names a developer rehearses with
are the cued ones above.

Linear time: every pattern opens with a lookbehind that lets a match start only at the
start of a run of its characters, and every repetition is bounded, so the engine's work
at each position is bounded by a constant. Long text is cut into ``PIECE`` pieces so no
single regex call holds the GIL for long (``offload.py``).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from typing import NamedTuple

from behest_local.exchange.scrub import shape_spans

PIECE = 16 * 1024
"""Characters scanned per regex call: one call holds the GIL for at most a few ms."""
_CUT_BACK = 4096
"""How far back from a piece's end a line break (else a space) is looked for to cut at."""


class Finding(NamedTuple):
    start: int
    end: int
    entity: str


# -- checksums and validators -------------------------------------------------------------

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = ord(ch) - 48
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_ok(iban: str) -> bool:
    """The ISO 13616 mod-97 check of an IBAN without spaces."""
    if not 15 <= len(iban) <= 34:
        return False
    moved = iban[4:] + iban[:4]
    number = "".join(str(int(ch, 36)) for ch in moved)
    return int(number) % 97 == 1


def ssn_ok(area: str, group: str, serial: str) -> bool:
    return area not in ("000", "666") and area[0] != "9" and group != "00" and serial != "0000"


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _card(text: str) -> bool:
    digits = _digits(text)
    return 13 <= len(digits) <= 19 and luhn_ok(digits)


def _iban(text: str) -> bool:
    return iban_ok(text.replace(" ", ""))


def _ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _phone(text: str) -> bool:
    count = len(_digits(text))
    return 8 <= count <= 15 if text.startswith("+") else 10 <= count <= 15


# -- patterns -----------------------------------------------------------------------------

# Each pattern opens with a character class and checks what precedes it in a lookbehind
# *after* that character: the engine then skips straight to the positions holding one
# (a prefix scan in C), where a leading lookbehind would be tried at every position.
_EMAIL = re.compile(r"[\w.%+-](?<![\w.%+-][\w.%+-])[\w.%+-]{0,63}@(?:[A-Za-z0-9-]{1,63}\.)"
                    r"{1,8}[A-Za-z]{2,24}(?![\w-])")
_CARD = re.compile(r"\d(?<![\d-]\d)(?:\d{3}[ -]?\d{4}[ -]?\d{4}[ -]?\d{1,7}"
                   r"|\d{3}[ -]?\d{6}[ -]?\d{5})(?![\d-])")  # 4-4-4-4(+3), or Amex's 4-6-5
_IBAN = re.compile(r"[A-Z](?<![A-Za-z0-9][A-Z])[A-Z]\d{2}(?: ?[A-Z0-9]{4}){2,7}"
                   r"(?: ?[A-Z0-9]{1,4})?(?![A-Za-z0-9])")
_SSN = re.compile(r"(\d(?<![\d-]\d)\d{2})-(\d{2})-(\d{4})(?![\d-])")
_IPV4 = re.compile(r"\d(?<![\d.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?!\.?\d)")
_IPV6 = re.compile(r"[0-9A-Fa-f:](?<![\w:.][0-9A-Fa-f:])(?<=[0-9A-Fa-f:])"
                   r"(?=[0-9A-Fa-f]{0,3}:)[0-9A-Fa-f:]{1,38}(?![\w:])")
_PHONE = re.compile(r"[+(\d](?<![\w+][+(\d])(?<=[+(\d])(?:(?<=\+)\d{0,2}[ .-]?)?"
                    r"(?:(?<=\()\d{1,4}\)[ .-]?)?"
                    r"(?:\d{1,4}(?:[ .-]\d{2,4}){1,4}|\d{7,15})(?![\w])")
_PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----")
_PEM_END = "PRIVATE KEY-----"
_PEM_MAX = 16 * 1024

FIRST_NAMES = frozenset("""
Aaron Adam Adrian Ahmed Aisha Alan Albert Alex Alexander Alice Alicia Amanda Amelia Amy
Ana Andrea Andrew Angela Anna Anne Anthony Antonio Arjun Barbara Ben Benjamin Beth Brian
Carlos Carol Caroline Catherine Charles Charlotte Chen Chris Christopher Claire Daniel
David Deborah Diana Diego Dmitri Elena Elizabeth Emily Emma Eric Fatima Francesca Frank
Gabriel George Hannah Harry Helen Henry Hiroshi Isabella Ivan Jack Jacob James Jane
Jennifer Jessica Joan John Jonathan Jose Joseph Julia Karen Kate Katherine Kevin Laura
Linda Lisa Lucas Lucy Luis Maria Marie Mary Matthew Michael Michelle Mohammed Nancy
Natalie Nicholas Olivia Oliver Patricia Paul Peter Priya Rachel Rebecca Richard Robert
Sandra Sarah Sophia Sophie Stephen Steven Susan Thomas Timothy Victoria William Yuki
Zoe
""".split())
"""First names common in several languages, for uncued "First Last" and "I'm First":
words that are also ordinary English (Will, May, Mark, Grace) are left out."""

_NAME = r"[A-Z][a-z'\u2019-]{1,30}(?: [A-Z][a-z'\u2019-]{1,30}){0,2}"
_CUED = re.compile(
    r"[MmCcNnDSsPRrTtBbI](?<![\w][MmCcNnDSsPRrTtBbI])(?:"
    r"(?:y name is|y name's|all me|ame:|r\.?|rs\.?|s\.?|iss|r\.?|rof\.?|ir)[ \t]+"
    r"(?P<cued>" + _NAME + r")"
    r"|(?:'m|\u2019m| am)[ \t]+(?P<intro>" + _NAME + r")"
    r"|(?:egards|hanks|heers|incerely|est),?[ \t]*\r?\n[ \t]*(?P<signed>" + _NAME + r"))"
    r"(?![\w])")
"""Names after a cue: the alternatives share their first letter's class, so the engine
scans for it in C; which cue matched is checked in ``_person`` (a letter class cannot
tell "Mr" from "Dr")."""
_CUES = {"cued": ("My name is", "my name is", "My name's", "my name's", "Call me", "call me",
                  "Name:", "name:", "Mr", "Mrs", "Ms", "Miss", "Dr", "Prof", "Sir"),
         "intro": ("I'm", "I\u2019m", "I am"),
         "signed": ("Regards", "regards", "Thanks", "thanks", "Cheers", "cheers", "Sincerely",
                    "sincerely", "Best", "best")}
_FULL = re.compile(r"[A-Z](?<![\w][A-Z])[a-z]{1,30}(?=( [A-Z][a-z'\u2019-]{1,30})(?![\w]))")
"""A capitalised word followed by another: a person when the first is a listed first name
(``_person``). The surname is only looked at (a lookahead), not consumed, so in "Hello
John Smith" the scan still starts a match at "John" after rejecting "Hello John"."""

_Rule = tuple[str, re.Pattern, Callable[[str], bool] | None, str | None]
_RULES: tuple[_Rule, ...] = (
    # entity, pattern, validator, a character the text must hold for the pattern to run
    ("CREDIT_CARD", _CARD, _card, None),
    ("IBAN_CODE", _IBAN, _iban, None),
    ("US_SSN", _SSN, None, "-"),
    ("EMAIL_ADDRESS", _EMAIL, None, "@"),
    ("IP_ADDRESS", _IPV4, _ip, "."),
    ("IP_ADDRESS", _IPV6, _ip, ":"),
    ("PHONE_NUMBER", _PHONE, _phone, None),
)
PRIORITY = ("API_KEY", "CREDIT_CARD", "IBAN_CODE", "US_SSN", "EMAIL_ADDRESS", "IP_ADDRESS",
            "PHONE_NUMBER", "PERSON")
"""Which entity wins where two findings overlap (a card number is also digits a phone
pattern matches; an email's local part may hold a listed name)."""
_RANK = {name: i for i, name in enumerate(PRIORITY)}


def pieces(text: str, size: int = PIECE) -> Iterator[tuple[int, int]]:
    """``text`` cut into spans of at most ``size``, at a line break (else a space) near
    each cut, so an entity is rarely cut in two."""
    start, n = 0, len(text)
    while n - start > size:
        end = start + size
        cut = text.rfind("\n", end - _CUT_BACK, end)
        if cut == -1:
            cut = text.rfind(" ", end - _CUT_BACK, end)
        end = cut + 1 if cut > start else end
        yield start, end
        start = end
    yield start, n


def find_pii(text: str) -> list[Finding]:
    """Every PII finding in ``text``, in order, none overlapping."""
    found: list[Finding] = []
    for start, end in pieces(text):
        found.extend(_scan(text[start:end], start))
    return _resolve(found)


def _scan(piece: str, offset: int) -> Iterator[Finding]:
    for span in shape_spans(piece):
        yield Finding(span[0] + offset, span[1] + offset, "API_KEY")
    if "-----BEGIN" in piece:
        for match in _PEM_BEGIN.finditer(piece):
            end = piece.find(_PEM_END, match.end(), match.end() + _PEM_MAX)
            if end != -1:
                yield Finding(match.start() + offset, end + len(_PEM_END) + offset, "API_KEY")
    for entity, pattern, valid, needs in _RULES:
        if needs is not None and needs not in piece:
            continue
        for match in pattern.finditer(piece):
            if entity == "US_SSN" and not ssn_ok(*match.groups()):
                continue
            if valid is None or valid(match.group()):
                yield Finding(match.start() + offset, match.end() + offset, entity)
    yield from _person(piece, offset)


def _person(piece: str, offset: int) -> Iterator[Finding]:
    for match in _CUED.finditer(piece):
        group = match.lastgroup
        cue = piece[match.start():match.start(group)].rstrip(" \t\r\n,.")
        if cue not in _CUES[group]:
            continue
        if group == "intro" and piece[match.start(group):].split(" ", 1)[0] not in FIRST_NAMES:
            continue  # "I'm Happy": only a listed first name makes "I'm …" a name
        yield Finding(match.start(group) + offset, match.end(group) + offset, "PERSON")
    for match in _FULL.finditer(piece):
        if match.group() in FIRST_NAMES:
            yield Finding(match.start() + offset, match.end(1) + offset, "PERSON")


def _resolve(found: list[Finding]) -> list[Finding]:
    """The findings that survive overlaps, in one sweep by start: of two that overlap, the
    higher-priority entity, then the longer span. (A finding that displaces the last kept
    one cannot overlap the one before it: that ends before the displaced one starts.)"""
    if len(found) < 2:
        return found
    found.sort()
    kept: list[Finding] = []
    for finding in found:
        if kept and finding.start < kept[-1].end:
            last = kept[-1]
            if (_RANK[finding.entity], finding.start - finding.end) < \
                    (_RANK[last.entity], last.start - last.end):
                kept[-1] = finding
            continue
        kept.append(finding)
    return kept
