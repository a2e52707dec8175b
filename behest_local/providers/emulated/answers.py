"""Write the emulated model's text answer to the last user message.

The composer decides *whether* to answer in text; this module decides *what* the text says.
Without knowledge it cannot be right about the world, so it aims to be recognisably on topic
and honest about being offline: dictated replies are returned verbatim (``instructions``),
arithmetic is computed (``arithmetic``), code requests get a fenced snippet (``code_answers``),
a question about what the user said of themselves earlier is answered from it (``recall``),
and every other message is matched to an intent (greeting, thanks, list, summary, translation,
how-to, why, yes/no, what-is) whose templates restate the user's own words. Each intent has
several phrasings; the caller's seeded ``random.Random`` picks one, so choices differ while a
given request always gets the same answer.
"""

from __future__ import annotations

import random
import re

from behest_local.providers.emulated.arithmetic import Calculation, find_calculation, format_number
from behest_local.providers.emulated.bounds import CHARS, clip
from behest_local.providers.emulated.code_answers import code_answer, is_code_request
from behest_local.providers.emulated.conversation import Conversation
from behest_local.providers.emulated.instructions import literal_reply, shorten, wants_terse
from behest_local.providers.emulated.recall import recall_answer
from behest_local.providers.emulated.prompt_cues import (
    focus_sentence,
    keywords,
    proper_names,
    quoted_phrases,
    sentences,
    swap_person,
    topic_of,
)

# Greeting words, stripped repeatedly; a message that is nothing else is a greeting.
_GREETING_WORDS = re.compile(
    r"^\W*(?:hello|hi|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening|day)|yo|hallo|bonjour|hola|"
    r"there|world|everyone|all|folks|friend|bot|assistant|how are you(?: doing)?(?: today)?|how's it going|what's up)"
    r"\b\W*",
    re.I,
)
_THANKS = re.compile(r"^\W*(?:thanks|thank you|thx|cheers|much appreciated)\b", re.I)
_NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
                 "nine": 9, "ten": 10, "a few": 3, "some": 3, "several": 4, "a couple of": 2}  # fmt: skip
_LIST = re.compile(
    r"\b(?:list|give me|name|suggest|share|provide|show me|recommend|what are)\s+(?:me\s+)?(?:the\s+)?(?:top\s+)?"
    rf"(?P<n>\d{{1,2}}|{'|'.join(_NUMBER_WORDS)})\s+(?P<rest>[^?.!\n]+)|^\W*(?:please\s+)?list\s+(?P<bare>[^?.!\n]+)",
    re.I,
)
_JOKE = re.compile(r"\b(?:tell|give|know|share)\b.{0,20}\b(?:joke|pun)s?\b|\bsomething funny\b", re.I)
_JOKES = (
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    "I'd tell you a UDP joke, but you might not get it.",
    "There are 10 kinds of people: those who understand binary and those who don't.",
    "An offline model walks into a bar. It orders the usual, because it can't look up the menu.",
)
_SUMMARY = re.compile(r"\b(?:summari[sz]e|tl;?dr|sum up|give me a summary|summary of)\b", re.I)
_TRANSLATE = re.compile(r"\btranslate\b", re.I)
_HOW_TO = re.compile(r"^\W*(?:how (?:do|can|should|would|could|might) (?:i|we|you|one)|how to)\b", re.I)
_WHY = re.compile(r"^\W*why\b", re.I)
_YES_NO = re.compile(r"^\W*(?:is|are|am|was|were|can|could|will|would|should|shall|may|might|must|do|does|"
                     r"did|has|have|had)\b[^?]*\?\s*$", re.I)  # fmt: skip
_WHAT_IS = re.compile(r"^\W*(?:what|who|where|when|which)\b|^\W*(?:define|explain|describe|tell me about)\b", re.I)
_AUXILIARY = frozenset({"is", "are", "am", "was", "were", "can", "could", "will", "would", "should", "shall",
                        "may", "might", "must", "do", "does", "did", "has", "have", "had"})  # fmt: skip
_DETERMINERS = frozenset({"the", "a", "an", "my", "your", "this", "that", "these", "those", "our", "their",
                          "his", "her", "its", "some", "any"})  # fmt: skip

# Small answer lists for the categories people most often ask to have listed.
_CATEGORIES = {
    "color": ("red", "blue", "green", "yellow", "purple", "orange", "black", "white", "pink", "teal"),
    "fruit": ("apple", "banana", "orange", "mango", "strawberry", "pear", "grape", "kiwi", "cherry", "peach"),
    "animal": ("dog", "cat", "elephant", "dolphin", "eagle", "lion", "octopus", "giraffe", "owl", "horse"),
    "planet": ("Mercury", "Venus", "Earth", "Mars", "Jupiter", "Saturn", "Uranus", "Neptune"),
    "language": ("Python", "JavaScript", "Rust", "Go", "Java", "TypeScript", "C", "Kotlin", "Swift", "Ruby"),
    "country": ("France", "Japan", "Brazil", "Canada", "Kenya", "India", "Norway", "Mexico", "Egypt", "Chile"),
    "vegetable": ("carrot", "broccoli", "spinach", "potato", "tomato", "onion", "pepper", "pea", "leek", "kale"),
}
_FACETS = (
    "what makes {k} distinctive", "the history behind {k}", "how {k} works in practice",
    "common misconceptions about {k}", "practical tips for {k}", "costs and trade-offs of {k}",
    "how {k} compares with the alternatives", "where to learn more about {k}", "recent developments in {k}",
    "what beginners should know about {k}", "questions worth asking about {k}", "a concrete example of {k}",
)  # fmt: skip
_PREPOSITION = re.compile(r"(?:about|of|for|on|to|in|with|regarding)\s+(?P<object>.+)$", re.I)
# Outline of a good answer, by question word.
_OUTLINES = {
    "who": ("Who they are.", "What they are known for.", "Where to read more about them."),
    "where": ("Where it is.", "How to get there.", "What is nearby."),
    "when": ("When it happened.", "What led up to it.", "What followed."),
    "": ("What it is.", "How it is used.", "Where to learn more."),
}
_LANGUAGE_NAMES = ("french", "spanish", "german", "italian", "portuguese", "japanese", "chinese", "korean",
                   "russian", "arabic", "hindi", "dutch", "english", "swedish", "polish", "turkish")  # fmt: skip
_PHRASEBOOK = {
    ("hello", "french"): "Bonjour", ("hello", "spanish"): "Hola", ("hello", "german"): "Hallo",
    ("hello", "italian"): "Ciao", ("thank you", "french"): "Merci", ("thank you", "spanish"): "Gracias",
    ("thank you", "german"): "Danke", ("thank you", "italian"): "Grazie", ("goodbye", "french"): "Au revoir",
    ("goodbye", "spanish"): "Adiós", ("goodbye", "german"): "Auf Wiedersehen", ("goodbye", "italian"): "Arrivederci",
}  # fmt: skip
_OFFLINE = ("As the offline emulated model I can't look this up, but",
            "I'm behest-local's offline emulator, so this stays general, but",
            "Running offline (no real provider was called), I can only outline it, but")  # fmt: skip
_PROVIDER_HINT = "Configure a provider API key in behest-local to get a real model's answer."


def answer_text(conversation: Conversation, rng: random.Random) -> str:
    """The text reply to the conversation's last user message."""
    literal = literal_reply(conversation.user, conversation.instructions)
    if literal is not None:
        return literal
    calculation = find_calculation(conversation.user)
    if calculation is not None:
        return _calculation_answer(calculation, rng)
    answer = _intent_answer(conversation, rng)
    return shorten(answer) if wants_terse(conversation.instructions, conversation.user) else answer


def is_direct_message(text: str) -> bool:
    """Whether a message wants a reply in words even when tools are available (a dictated
    reply, a calculation, a greeting or thanks)."""
    return (literal_reply(text) is not None or find_calculation(text) is not None
            or _is_greeting(text) or bool(_THANKS.match(text)))  # fmt: skip


def _is_greeting(text: str) -> bool:
    """ "Hi there!" is a greeting; "Hello, what's the weather in Paris?" is a question."""
    rest, stripped = text, 0
    while (match := _GREETING_WORDS.match(rest)) and match.end() > 0:
        rest, stripped = rest[match.end():], stripped + 1
    return stripped > 0 and not rest.strip(" \t\n!.,?:;)(-")


def _intent_answer(conversation: Conversation, rng: random.Random) -> str:
    user = conversation.user.strip()
    if not user:
        images = "I can't see images while running offline. " if conversation.has_images else ""
        return f"{images}I'm the behest-local emulated model and I received no text to answer. {_PROVIDER_HINT}"
    if _is_greeting(user):
        return _greeting(rng)
    if _THANKS.match(user):
        return rng.choice(("You're welcome!", "Happy to help!", "Any time!")) + " (behest-local emulated model)"
    recalled = recall_answer(user, conversation.earlier_users)
    if recalled is not None:
        return recalled
    if is_code_request(user):
        return code_answer(user, rng)
    if _JOKE.search(user):
        return rng.choice(_JOKES)
    if _LIST.search(user):
        return _list_answer(user, rng)
    if _SUMMARY.search(user):
        return _summary(conversation, rng)
    if _TRANSLATE.search(user):
        return _translation(user, rng)
    # The sentence the request turns on, found once: every answer below reads it.
    focus = focus_sentence(user)
    if _HOW_TO.match(focus):
        return _follow_up(conversation, rng) + _how_to(focus, rng)
    if _WHY.match(focus):
        return _why(focus, rng)
    if _YES_NO.match(focus):
        return _yes_no(focus, rng)
    if _WHAT_IS.match(focus):
        return _follow_up(conversation, rng) + _what_is(focus, rng)
    return _follow_up(conversation, rng) + _fallback(user, focus, rng)


def _calculation_answer(calculation: Calculation, rng: random.Random) -> str:
    shown = calculation.expression
    if calculation.result is None:
        return f"{shown} has no numeric answer: {calculation.problem}."
    result = format_number(calculation.result)
    return rng.choice((f"{shown} = {result}.", f"{shown} = {result}, so the answer is {result}.",
                       f"The result is {result} ({shown} = {result})."))  # fmt: skip


def _greeting(rng: random.Random) -> str:
    return rng.choice((
        "Hello! I'm the behest-local emulated model, answering offline without calling any real provider. "
        "To talk to a real model, configure a provider API key in behest-local.",
        "Hi there! This reply comes from behest-local's built-in emulated model, which runs offline. "
        "Add a provider key (for example an OpenAI key) to your behest-local config to reach a real model.",
        "Hey! You're talking to the behest-local emulated model: offline, deterministic and free. "
        "Configure a provider API key in behest-local when you want answers from a real model.",
    ))  # fmt: skip


def _follow_up(conversation: Conversation, rng: random.Random) -> str:
    """Sometimes tie the answer to the previous question, as a real assistant would."""
    if not conversation.earlier_users or rng.random() < 0.5:
        return ""
    earlier = topic_of(conversation.earlier_users[-1])
    return f"Building on your earlier question about {earlier}: " if earlier else ""


def _subject(focus: str) -> str:
    """What the request's focus sentence is about, restated."""
    return topic_of(focus, focus=focus) or "your question"


def _list_answer(user: str, rng: random.Random) -> str:
    match = _LIST.search(user)
    if match is None:
        return _fallback(user, rng)
    raw = (match.group("n") or "3").lower()
    count = min(int(raw) if raw.isdigit() else _NUMBER_WORDS.get(raw, 3), 20) or 1
    rest = swap_person((match.group("rest") or match.group("bare")).strip())
    words = [w.lower() for w in rest.split()]
    category = next((c for c in _CATEGORIES for w in words[:2] if w.rstrip("s") in (c, c.rstrip("e"))), None)
    if words and words[0].rstrip("s") == "colour":
        category = "color"
    if category is not None:
        options = _CATEGORIES[category]
        start = rng.randrange(len(options))
        items = [options[(start + i) % len(options)] for i in range(min(count, len(options)))]
        return f"Here are {len(items)} {rest}:\n" + "\n".join(f"{i}. {item}" for i, item in enumerate(items, 1))
    names = proper_names(user)
    target = _PREPOSITION.search(rest)
    key = names[0] if names else target.group("object") if target else " ".join(rest.split()[1:]) or rest
    start = rng.randrange(len(_FACETS))
    items = [_FACETS[(start + i) % len(_FACETS)].format(k=key) for i in range(count)]
    lead = rng.choice((f"Here are {count} {rest}, kept general because I'm the offline emulated model:",
                       f"{count} {rest} (an offline emulated answer, so treat these as starting points):",
                       f"Sure, {count} {rest}:"))  # fmt: skip
    return lead + "\n" + "\n".join(f"{i}. {item[0].upper()}{item[1:]}" for i, item in enumerate(items, 1))


def _summary(conversation: Conversation, rng: random.Random) -> str:
    user = conversation.user
    source = user.split(":", 1)[1] if ":" in user else "\n".join(user.splitlines()[1:])
    if len(source.split()) < 5:
        source = " ".join(quoted_phrases(user)) or clip(" ".join(conversation.transcript), CHARS)
    parts = sentences(source)
    if not parts:
        return "There's nothing to summarize yet: paste the text after your request."
    counts = {w: 0 for w in keywords(source)}
    for word in re.findall(r"[a-z']+", source.lower()):
        if word in counts:
            counts[word] += 1
    best = max(parts[1:], key=lambda s: sum(counts.get(w, 0) for w in re.findall(r"[a-z']+", s.lower())), default="")
    chosen = " ".join(dict.fromkeys(p for p in (parts[0], best) if p))
    words = chosen.split()
    digest = " ".join(words[:45]) + ("…" if len(words) > 45 else "")
    return rng.choice((f"Summary: {digest}", f"In short: {digest}", f"TL;DR: {digest}"))


def _translation(user: str, rng: random.Random) -> str:
    lowered = user.lower()
    language = next((name for name in _LANGUAGE_NAMES if re.search(rf"\b{name}\b", lowered)), "the target language")
    quoted = quoted_phrases(user)
    if quoted:
        text = quoted[0]
    elif ":" in user:
        text = user.split(":", 1)[1].strip()
    else:
        text = re.sub(rf"(?i)^.*?\btranslate\b|\b(?:to|into|in)\s+{language}\b.*$", "", user).strip(" :,.?")
    known = _PHRASEBOOK.get((text.lower().strip(" .!?"), language))
    if known:
        return f"{known}"
    return rng.choice((
        f'I can\'t translate while running offline (I\'m the behest-local emulated model), but here is the text to '
        f'put into {language.capitalize()}: "{text}". {_PROVIDER_HINT}',
        f'Translation needs a real model; offline I can only echo the text: "{text}" ({language.capitalize()} '
        f"requested). {_PROVIDER_HINT}",
    ))  # fmt: skip


def _how_to(focus: str, rng: random.Random) -> str:
    task = _subject(focus)
    terms = ", ".join(keywords(task)[:3])
    lead = rng.choice((f"Here's a general approach to {task} (offline emulated answer, so adapt it to your setup):",
                       f"To {task}, a typical sequence is:", f"{rng.choice(_OFFLINE)} these steps usually work:"))
    return (
        f"{lead}\n1. Be precise about the goal: {task}.\n"
        f"2. Check the prerequisites: the tools, access and versions involved{f' ({terms})' if terms else ''}.\n"
        "3. Make the change in a small, reversible step.\n"
        "4. Verify the result, and roll back if it isn't what you expected."
    )


def _declarative(question: str) -> str:
    """ "Is the sky blue?" -> "the sky is blue"; "Can I use X?" -> "you can use X"."""
    words = swap_person(question.strip().rstrip("?")).split()
    if re.match(r"^\W*why\b", question, re.I):
        words = words[1:]
    if len(words) < 2 or words[0].lower() not in _AUXILIARY:
        return " ".join(words)
    auxiliary, rest = words[0].lower(), words[1:]
    size = 2 if rest[0].lower() in _DETERMINERS and len(rest) > 2 else 1
    while size < len(rest) - 1 and rest[size][:1].isupper() and rest[size - 1][:1].isupper():
        size += 1  # keep multi-word names together: "Is New York big?"
    subject, predicate = rest[:size], rest[size:]
    if auxiliary == "am":
        auxiliary = "are"
    return " ".join([*subject, auxiliary, *predicate])


def _why(focus: str, rng: random.Random) -> str:
    statement = _declarative(focus)
    return (f"{rng.choice(_OFFLINE)} explanations of why {statement} usually come down to:\n"
            f"1. The underlying mechanism that makes it so.\n2. The conditions or history that led to it.\n"
            f"3. The trade-offs that keep it that way.\n{_PROVIDER_HINT}")  # fmt: skip


def _yes_no(focus: str, rng: random.Random) -> str:
    statement = _declarative(focus)
    verdict = rng.choice(("it depends", "often yes, but not always", "probably, but check it"))
    return (f"Short answer: {verdict}. Whether {statement} depends on the specifics, and as the offline "
            "emulated model I can't check them, so please verify this before relying on it.")  # fmt: skip


def _what_is(focus: str, rng: random.Random) -> str:
    subject = _subject(focus)
    wh_word = re.match(r"\W*(\w+)", focus)
    outline = _OUTLINES.get(wh_word.group(1).lower() if wh_word else "", _OUTLINES[""])
    return rng.choice((
        f"{rng.choice(_OFFLINE)} a good answer about {subject} would cover what it is, where it comes from, "
        f"and why it matters. {_PROVIDER_HINT}",
        f"You're asking about {subject}. I'm behest-local's offline emulated model, so I can't supply the facts, "
        f"but a complete answer would define it, give an example, and note common misconceptions.",
        f"Good question about {subject}. Offline, I can only outline the answer:\n"
        + "\n".join(f"{i}. {line}" for i, line in enumerate(outline, 1)) + f"\n{_PROVIDER_HINT}",
    ))  # fmt: skip


def _fallback(user: str, focus: str, rng: random.Random) -> str:
    terms = keywords(user)[:3]
    points = ", ".join(terms[:-1]) + f" and {terms[-1]}" if len(terms) > 1 else (terms[0] if terms else "")
    about = f" It touches on {points}." if points else ""
    # Only the chosen phrasing is written (restating the topic is most of the work);
    # ``randrange(3)`` draws exactly as ``choice`` of three does, so replies stay the same.
    pick = rng.randrange(3)
    if pick == 0:
        return (f'You said: "{focus.rstrip(".!? ")}".{about} I\'m the behest-local emulated model '
                f"running offline, so this is a placeholder rather than a researched answer. {_PROVIDER_HINT}")
    if pick == 1:
        return (f"Noted: {swap_person(focus.rstrip('.!? '))}.{about} As the offline emulated model I "
                f"can't give a full answer. {_PROVIDER_HINT}")
    return (f'Thanks for the message about {topic_of(user, focus=focus) or "this"}.{about} (Offline emulated '
            "reply from behest-local.)")
