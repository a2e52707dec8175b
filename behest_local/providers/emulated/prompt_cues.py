"""Read a prompt for the cues the emulated model echoes back: names, quotes, numbers, topic.

The emulated model answers without knowledge, so everything that makes a reply look relevant
comes from the prompt itself. This module owns that reading: small pure functions that pull
quoted phrases, capitalized names, numbers, keywords and a restatable topic out of a message,
and the ``Hints`` dataclass that carries them into ``schema_instance`` (so a ``city`` field
becomes "Paris") and into the text answers. The composer builds one ``Hints`` per request.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TypeVar

_T = TypeVar("_T")

# Function words never worth echoing as a keyword or a name.
STOPWORDS = frozenset(
    """
    a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing done down during each either else
    few for from further get give given got had has have having he her here hers him his how
    i if in into is it its itself just let like make may me might more most must my need no
    nor not now of off ok okay on once only or other our ours out over own please pls really
    same say she should so some such tell than thank thanks that the their them then there
    these they this those through to too under until up use using very want was we were what
    whats when where which while who whom why will with would yes yet you your yours
    don doesn didn isn aren wasn weren couldn wouldn shouldn
    think know feel believe guess mean going maybe
    """.split()
)

# Capitalized words that start sentences or name formats rather than things in the world.
_NOT_A_NAME = STOPWORDS | frozenset(
    """
    hello hi hey dear answer reply respond return repeat write list name show find create
    extract compute calculate explain describe summarize summarise translate generate book
    send check look search provide output print json api url html xml csv sql http https
    ai llm id okay sure note step today tomorrow yesterday email call get set add remove
    delete update convert compare plan recommend suggest draft fix help build run schedule
    order buy lookup fetch count sort classify rate rewrite format parse given consider
    imagine assume act pretend only always never
    """.split()
)

# Lowercase words allowed inside a multi-word name ("Bank of America", "Leonardo da Vinci").
_NAME_JOINERS = frozenset({"of", "de", "da", "del", "van", "von", "la", "le"})

# First person becomes second person when a request is restated back to its author.
_PERSON_SWAP = {
    "i": "you", "me": "you", "my": "your", "mine": "yours", "myself": "yourself",
    "am": "are", "we": "you", "us": "you", "our": "your", "ours": "yours",
    "i'm": "you're", "i've": "you've", "i'll": "you'll", "i'd": "you'd",
}  # fmt: skip

_WORD = re.compile(r"[^\W\d_][\w'’-]*")
_QUOTED = re.compile(
    r'"([^"\n]{1,200})"|“([^”\n]{1,200})”|(?<![\w])\'([^\'\n]{1,200})\'(?![\w])|`([^`\n]{1,200})`'
)
_NUMBER = re.compile(r"(?<![\w.])(?:(?<![\w)\]])-)?\d+(?:,\d{3})*(?:\.\d+)?(?![\w])")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"https?://[^\s\"'<>)\]]+")
_ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_PLACE_LEAD = re.compile(
    r"\b(?:in|from|to|at|near|visit|visiting|around|between|via|towards?|across)\s+(?:the\s+)?$", re.I
)
_LIST_JOIN = re.compile(r"\s*(?:,|and|or|&|,\s*and|,\s*or)\s*", re.I)
_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_MAX_NAMES = 64

# Openings stripped to find what a request is about, applied repeatedly in order.
_LEAD_INS = (
    re.compile(r"^(?:ok(?:ay)?|so|hey|hi|hello|please|pls|well)\b[,!.\s]*", re.I),
    re.compile(r"^(?:can|could|would|will) you(?: please)?\s+", re.I),
    re.compile(r"^i(?:'d| would)? (?:want|need|like|wish)(?: you)? to\s+", re.I),
    re.compile(r"^(?:what|who|where|when|which)(?:'s|’s|\s+(?:is|are|was|were))\s+", re.I),
    re.compile(r"^(?:tell me|explain|describe|define|talk)(?: about| to me about)?\s+", re.I),
    re.compile(r"^how (?:do|can|should|would|could) (?:i|we|you|one)\s+", re.I),
    re.compile(r"^how to\s+", re.I),
)
_ANY_LEAD_IN = re.compile("|".join(f"(?:{p.pattern})" for p in _LEAD_INS), re.I)


def message_text(content: object) -> str:
    """The text of a message ``content``: a string, or the ``text`` parts of a part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text") for p in content if isinstance(p, dict)]
        return "\n".join(t for t in texts if isinstance(t, str))
    return ""


def collapse(text: str) -> str:
    """``text`` on one line with single spaces."""
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    """The sentences of ``text``, split after ``.``, ``?`` or ``!``."""
    return [s for s in _SENTENCE_END.split(collapse(text)) if s]


def quoted_phrases(text: str) -> list[str]:
    """Phrases in double, curly, single or back quotes, in order of appearance."""
    return [next(g for g in m.groups() if g is not None).strip() for m in _QUOTED.finditer(text)]


def proper_names(text: str) -> list[str]:
    """Runs of capitalized words ("Paris", "New York", "Bank of America"), deduplicated.

    Sentence-initial question and command words ("What", "Please", "List") are skipped, as
    are format names ("JSON"), so what remains names things in the world.
    """
    names: dict[str, None] = {}  # ordered and O(1) to test, as in ``keywords``
    run: list[str] = []
    last_end = -1

    def flush() -> None:
        while run and run[-1].lower() in _NAME_JOINERS:
            run.pop()
        # Judge "I'm" or "What's" by its stem, before the apostrophe.
        while run and re.split(r"['’]", run[0].lower())[0] in _NOT_A_NAME | {""}:
            run.pop(0)
        name = " ".join(run)
        name = re.sub(r"['’]s$", "", name)
        if name and name.lower() not in _NOT_A_NAME:
            names[name] = None
        run.clear()

    for match in _WORD.finditer(text):
        word = match.group()
        adjacent = text[last_end : match.start()] == " "
        if word[0].isupper() or (run and adjacent and word in _NAME_JOINERS):
            if not (run and adjacent):
                flush()
            run.append(word)
        else:
            flush()
        last_end = match.end()
    flush()
    return list(names)


def place_names(text: str, names: list[str]) -> list[str]:
    """The ``names`` used as places: after "in", "from", "to" ... or listed right after one.

    "Weather in Paris and Tokyo" gives both; "Ana Lopez from Lisbon" gives only Lisbon.
    """
    places: list[str] = []
    previous_end, previous_was_place = 0, False
    for name in names:
        match = re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text[previous_end:])
        if match is None:
            continue
        start = previous_end + match.start()
        before = text[max(0, previous_end if previous_was_place else start - 30) : start]
        listed_after_place = previous_was_place and bool(_LIST_JOIN.fullmatch(before))
        is_place = bool(_PLACE_LEAD.search(before)) or listed_after_place
        if is_place:
            places.append(name)
        previous_end, previous_was_place = previous_end + match.end(), is_place
    return places


def numbers_in(text: str) -> list[int | float]:
    """The numbers written in ``text`` ("1,000" is one thousand), as ints where whole."""
    found: list[int | float] = []
    for match in _NUMBER.finditer(text):
        raw = match.group().replace(",", "")
        found.append(float(raw) if "." in raw else int(raw))
    return found


def keywords(text: str) -> list[str]:
    """Content words of ``text``, lowercased, deduplicated, in order of appearance."""
    seen: dict[str, None] = {}  # ordered and O(1) to test: a list made long texts quadratic
    for match in _WORD.finditer(text):
        word = match.group().lower().replace("’", "'").strip("'-")
        # "what's" and "don't" are function words too: judge a contraction by its stem.
        stem = word.split("'")[0]
        if len(stem) > 2 and stem not in STOPWORDS:
            seen[word] = None
    return list(seen)


def swap_person(text: str) -> str:
    """Restate the author's words to them: "fix my code" becomes "fix your code"."""

    def swap(match: re.Match[str]) -> str:
        word = match.group()
        swapped = _PERSON_SWAP.get(word.lower().replace("’", "'"))
        if swapped is None:
            return word
        return swapped.capitalize() if word[0].isupper() and word != "I" else swapped

    return re.sub(r"[A-Za-z]+(?:['’][a-z]+)?", swap, text)


def focus_sentence(text: str) -> str:
    """The sentence a request turns on: its last question, else its first sentence."""
    parts = sentences(text)
    if not parts:
        return ""
    questions = [s for s in parts if s.endswith("?")]
    return questions[-1] if questions else parts[0]


def topic_of(text: str, *, focus: str | None = None) -> str:
    """What a request is about, restated: "What's the weather in Paris?" -> "the weather in Paris".
    ``focus``: ``focus_sentence(text)``, when the caller has it already."""
    topic = (focus_sentence(text) if focus is None else focus).rstrip("?.!:;, ")
    # Most requests open with no lead-in: one match of them all says so, instead of a
    # ``sub`` per lead-in (the loop below changes nothing when none matches).
    changed = _ANY_LEAD_IN.match(topic) is not None
    while changed and topic:
        changed = False
        for lead_in in _LEAD_INS:
            stripped = lead_in.sub("", topic, count=1)
            if stripped != topic and stripped:
                topic, changed = stripped, True
    return swap_person(topic)


def field_words(name: str) -> list[str]:
    """A property name as lowercase words: "firstName" and "first_name" give ["first", "name"]."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


@dataclass(frozen=True, slots=True)
class Hints:
    """What generated values may echo: cues from the prompt plus the slot being filled.

    Attributes:
        text: the prompt on one line.
        topic: what the prompt is about, restated in the second person.
        quoted: quoted phrases, in order.
        names: capitalized names ("Paris", "Marie Curie"), in order.
        places: the names used as places ("in Paris"), in order.
        people: the names that are not places, in order.
        numbers: numbers written in the prompt, in order.
        keywords: lowercased content words, in order.
        terms: keywords that are neither command verbs nor parts of names ("chess", "jazz").
        emails: e-mail addresses written in the prompt.
        urls: http(s) URLs written in the prompt.
        dates: ISO dates (YYYY-MM-DD) written in the prompt.
        answer: the emulated model's text answer, for fields such as ``answer``.
        facts: (key, value) pairs from tool results, reused when a field has the same name.
        field: the property name being filled ("" at the top level).
        item: which of several candidates to prefer, so siblings and array items differ.
    """

    text: str = ""
    topic: str = ""
    quoted: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    people: tuple[str, ...] = ()
    numbers: tuple[int | float, ...] = ()
    keywords: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    answer: str = ""
    facts: tuple[tuple[str, object], ...] = ()
    field: str = ""
    item: int = 0

    @classmethod
    def from_text(cls, text: str, *, answer: str = "", facts: tuple[tuple[str, object], ...] = ()) -> Hints:
        """Hints read from a prompt (usually the last user message), plus optional extras."""
        # The first names are the ones values echo; placing each costs a regex, so a text
        # of thousands of capitalized words must not place them all.
        names = proper_names(text)[:_MAX_NAMES]
        places = place_names(text, names)
        words = keywords(text)
        name_words = {w.lower() for name in names for w in name.split()}
        return cls(
            text=collapse(text),
            topic=topic_of(text),
            quoted=tuple(quoted_phrases(text)),
            names=tuple(names),
            places=tuple(places),
            people=tuple(n for n in names if n not in places),
            numbers=tuple(numbers_in(_ISO_DATE.sub(" ", text))),
            keywords=tuple(words),
            terms=tuple(w for w in words if w not in _NOT_A_NAME and w not in name_words),
            emails=tuple(_EMAIL.findall(text)),
            urls=tuple(_URL.findall(text)),
            dates=tuple(_ISO_DATE.findall(text)),
            answer=answer,
            facts=facts,
        )

    def for_field(self, name: str, item: int | None = None) -> Hints:
        """The same cues, aimed at property ``name`` (and candidate ``item`` if given)."""
        return dataclasses.replace(self, field=name, item=self.item if item is None else item)

    def for_item(self, item: int) -> Hints:
        """The same cues, preferring the ``item``-th candidate (array items)."""
        return dataclasses.replace(self, item=item)

    def focused_on(self, index: int) -> Hints:
        """Cues that put the ``index``-th name first: one of several parallel tool calls.

        Rotating the names (rather than moving ``item``) keeps enums and other
        position-based choices the same in every call.
        """
        name = self.names[index % len(self.names)] if self.names else None

        def first(values: tuple[str, ...]) -> tuple[str, ...]:
            return (name, *(v for v in values if v != name)) if name in values else values

        return dataclasses.replace(
            self, names=first(self.names), places=first(self.places), people=first(self.people)
        )

    def fact(self) -> tuple[bool, object]:
        """``(True, value)`` when a tool result has a key named like this field, else ``(False, None)``."""
        wanted = field_words(self.field)
        for key, value in self.facts:
            if wanted and field_words(key) == wanted:
                return True, value
        return False, None

    def nth(self, values: tuple[_T, ...]) -> _T | None:
        """The candidate this slot prefers among ``values``, or None when there are none."""
        return values[self.item % len(values)] if values else None
