"""Answer "write a function that ..." with a short, plausible code block.

Coding prompts are among the first things people try against a gateway, and a markdown
fence is what chat UIs and tests expect back. This module owns that answer: it detects a
code request, its language and its task, names the function after the task ("reverses a
string" -> ``reverse_string``) and fills the body from a small table of well-known tasks
(reverse, factorial, fibonacci, primes, palindromes, sums, sorting, word counts, FizzBuzz,
temperature conversion). Anything else gets an honest skeleton. Python and JavaScript are
written natively; other languages get the Python version with a note.
"""

from __future__ import annotations

import random
import re

from behest_local.providers.emulated.prompt_cues import keywords

_REQUEST = re.compile(
    r"\b(?:write|create|implement|generate|code|give me|show me|make|build)\b.{0,60}?"
    r"\b(?:function|script|program|class|method|snippet|code|implementation|one-liner|algorithm)\b",
    re.I | re.S,
)
_LANGUAGES = (
    ("javascript", r"javascript|\bjs\b|node(?:\.?js)?"), ("typescript", r"typescript|\bts\b"),
    ("python", r"python|\bpy\b"), ("go", r"\bgolang\b|\bgo\b"), ("rust", r"\brust\b"),
    ("java", r"\bjava\b"), ("csharp", r"c#|\bcsharp\b"), ("cpp", r"c\+\+|\bcpp\b"), ("ruby", r"\bruby\b"),
    ("php", r"\bphp\b"), ("bash", r"\bbash\b|\bshell\b"), ("sql", r"\bsql\b"),
)  # fmt: skip
_TASK = re.compile(r"\b(?:that|which|to|for|computing|calculating|returning)\s+(?P<task>[^.?!\n]+)", re.I)

# Well-known tasks: trigger words -> (parameter, Python body, JavaScript body).
_KNOWN_TASKS = (
    (("reverse",), "text", "return text[::-1]", "return [...text].reverse().join('');"),
    (("factorial",), "n", "result = 1\n    for i in range(2, n + 1):\n        result *= i\n    return result",
     "let result = 1;\n  for (let i = 2; i <= n; i++) result *= i;\n  return result;"),
    (("fibonacci",), "n", "a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
     "let [a, b] = [0, 1];\n  for (let i = 0; i < n; i++) [a, b] = [b, a + b];\n  return a;"),
    (("prime",), "n",
     "if n < 2:\n        return False\n    return all(n % d for d in range(2, int(n ** 0.5) + 1))",
     "if (n < 2) return false;\n  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;\n  return true;"),
    (("palindrome",), "text",
     "cleaned = [c.lower() for c in text if c.isalnum()]\n    return cleaned == cleaned[::-1]",
     "const cleaned = text.toLowerCase().replace(/[^a-z0-9]/g, '');\n  "
     "return cleaned === [...cleaned].reverse().join('');"),
    (("fizzbuzz",), "n",
     "return [\"FizzBuzz\" if i % 15 == 0 else \"Fizz\" if i % 3 == 0 else \"Buzz\" if i % 5 == 0 else str(i)\n"
     "            for i in range(1, n + 1)]",
     "return Array.from({ length: n }, (_, k) => { const i = k + 1;\n    "
     "return i % 15 === 0 ? 'FizzBuzz' : i % 3 === 0 ? 'Fizz' : i % 5 === 0 ? 'Buzz' : String(i); });"),
    (("celsius", "fahrenheit"), "celsius", "return celsius * 9 / 5 + 32", "return celsius * 9 / 5 + 32;"),
    (("vowel",), "text", "return sum(1 for c in text.lower() if c in \"aeiou\")",
     "return (text.toLowerCase().match(/[aeiou]/g) || []).length;"),
    (("word", "count"), "text", "return len(text.split())", "return text.split(/\\s+/).filter(Boolean).length;"),
    (("sort",), "items", "return sorted(items)", "return [...items].sort((a, b) => (a > b) - (a < b));"),
    (("largest", "max", "maximum"), "numbers", "return max(numbers)", "return Math.max(...numbers);"),
    (("smallest", "min", "minimum"), "numbers", "return min(numbers)", "return Math.min(...numbers);"),
    (("sum", "add", "total"), "numbers", "return sum(numbers)", "return numbers.reduce((a, b) => a + b, 0);"),
    (("average", "mean"), "numbers", "return sum(numbers) / len(numbers) if numbers else 0.0",
     "return numbers.length ? numbers.reduce((a, b) => a + b, 0) / numbers.length : 0;"),
)  # fmt: skip
_NATIVE = frozenset({"python", "javascript", "typescript"})


def is_code_request(text: str) -> bool:
    """Whether the message asks for code to be written."""
    return bool(_REQUEST.search(text))


def code_answer(text: str, rng: random.Random) -> str:
    """A short explanation and a fenced code block answering a code request."""
    language = next((name for name, pattern in _LANGUAGES if re.search(pattern, text, re.I)), "python")
    task_match = _TASK.search(text)
    task = (task_match.group("task") if task_match else " ".join(keywords(text)[1:5])).strip() or "do the task"
    name = _function_name(task)
    words = set(re.findall(r"[a-z]+", text.lower()))
    known = next((entry for entry in _KNOWN_TASKS if any(w in words or f"{w}s" in words for w in entry[0])), None)
    param, py_body, js_body = known[1:] if known else ("data", None, None)
    shown = language if language in _NATIVE else "python"
    if shown == "python":
        body = py_body or (
            f"# Offline emulated answer: fill in the logic for: {task}.\n    result = data\n    return result"
        )
        code = f'def {name}({param}):\n    """{task[0].upper()}{task[1:]}."""\n    {body}\n'
        if known:
            code += f"\n\nprint({name}({_sample_argument(param)}))\n"
    else:
        body = js_body or f"// Offline emulated answer: fill in the logic for: {task}.\n  return data;"
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
        signature = f"{param}: any" if shown == "typescript" else param
        code = f"function {camel}({signature}) {{\n  {body}\n}}\n"
    lead = rng.choice((
        f"Here's a {_display(shown)} function that {_third_person(task)}:",
        f"A short {_display(shown)} version that {_third_person(task)}:",
        f"Sure — this {_display(shown)} function {_third_person(task)}:",
    ))
    note = "" if known else "\n\nI'm the offline emulated model, so this is a skeleton rather than a finished solution."
    if language not in _NATIVE:
        note += (f"\n\n(The offline emulated model only sketches Python and JavaScript; "
                 f"port it to {_display(language)}.)")
    return f"{lead}\n\n```{shown}\n{code.rstrip()}\n```{note}"


def _function_name(task: str) -> str:
    words = [w for w in keywords(task) if w.isalpha()][:3] or ["solve"]
    # "reverses a string" names a function reverse_string: drop the verb's third-person "s".
    if len(words[0]) > 3 and words[0].endswith("s") and not words[0].endswith("ss"):
        words[0] = words[0][:-1]
    return "_".join(words)


def _third_person(task: str) -> str:
    """ "reverse a string" -> "reverses a string"; already-inflected tasks are kept."""
    first, _, rest = task.partition(" ")
    if not first.isalpha() or first.endswith("s") or first.endswith("ing"):
        return task
    verb = f"{first}es" if first.endswith(("sh", "ch", "x", "o")) else f"{first}s"
    return f"{verb} {rest}".strip()


def _sample_argument(param: str) -> str:
    return {"text": '"racecar"', "n": "10", "items": "[3, 1, 2]", "numbers": "[3, 1, 2]", "celsius": "21"}.get(
        param, "None"
    )


def _display(language: str) -> str:
    return {"javascript": "JavaScript", "typescript": "TypeScript", "csharp": "C#", "cpp": "C++",
            "php": "PHP", "sql": "SQL"}.get(language, language.capitalize())  # fmt: skip
