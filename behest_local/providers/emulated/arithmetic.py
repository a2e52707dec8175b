"""Spot a calculation in a prompt and work it out exactly, without ``eval``.

"What is 2 + 2?" should get "2 + 2 = 4." from the emulated model, because smoke tests and
demos ask exactly that. This module owns finding the expression in the prose (including
"12 times 7", "2^10", "15% of 200"), deciding whether the message is really a calculation
(a date such as 2024-01-05 is not a subtraction), and evaluating it by walking a Python
``ast`` restricted to numbers, parentheses and ``+ - * / // % **``, with size limits so a
prompt cannot make the emulator compute a billion-digit power.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass

from behest_local.providers.emulated.prompt_cues import keywords

# Words that may surround a calculation without making it something else.
_MATH_WORDS = frozenset({"calculate", "compute", "evaluate", "solve", "result", "answer", "value", "equal",
                         "equals", "much", "many", "math", "number", "total", "sum", "whats"})  # fmt: skip
_CUE = re.compile(
    r"\b(?:what(?:'s|’s| is| are)?|calculate|compute|evaluate|solve|how much|how many|equals?)\b|=", re.I
)

# Spelled-out operators, rewritten to symbols before the expression is cut out.
_WORD_OPERATORS = (
    (re.compile(r"\bmultiplied by\b|\btimes\b", re.I), "*"),
    (re.compile(r"\bdivided by\b|\bover\b", re.I), "/"),
    (re.compile(r"\bto the power of\b|\braised to(?: the power of)?\b", re.I), "**"),
    (re.compile(r"\bplus\b", re.I), "+"),
    (re.compile(r"\bminus\b", re.I), "-"),
    (re.compile(r"\bmod(?:ulo)?\b", re.I), "%"),
    (re.compile(r"\s*\bsquared\b", re.I), "**2"),
    (re.compile(r"\s*\bcubed\b", re.I), "**3"),
    (re.compile(r"(?<=\d)\s*[x×]\s*(?=[\d(])"), "*"),
    (re.compile(r"÷"), "/"),
    (re.compile(r"[−–]"), "-"),
    (re.compile(r"\^"), "**"),
    (re.compile(r"(\d+(?:\.\d+)?)\s*%\s*of\s*(\d+(?:\.\d+)?)", re.I), r"(\1 / 100 * \2)"),
)
# Things made of digits and dashes that are not subtractions.
_NOT_MATH = re.compile(r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}:\d{2}\b|\b\d{3}-\d{3,4}-\d{4}\b|\bv?\d+\.\d+\.\d+\b")
# Every expression holds a digit, written or made by "squared"/"cubed" ("**2"): a text
# with neither asks for no calculation, and skips the thirteen rewrites below.
_MAY_CALCULATE = re.compile(r"\d|squared|cubed", re.I)
_EXPRESSION = re.compile(r"[-+(]*\s*\d[\d\s.()+\-*/%]*")
_HAS_OPERATOR = re.compile(r"\d\s*\)*\s*(?:\*\*|//|[-+*/%])\s*\(*\s*[-+]?\s*\d")

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
           ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow}  # fmt: skip
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos}
_MAX_NODES = 64
_MAX_EXPONENT = 1000
# Results with more digits than this are reported as too large rather than printed.
_MAX_DIGITS = 60


class _TooLarge(Exception):
    """The expression would produce an unreasonably large number."""


@dataclass(frozen=True, slots=True)
class Calculation:
    """A calculation found in a prompt.

    Attributes:
        expression: the expression, normalised ("12 * 7", "(3 + 4) / 2").
        result: its value, or None when it has none.
        problem: why there is no value ("division by zero", "too large"), else "".
    """

    expression: str
    result: int | float | None
    problem: str = ""


def find_calculation(text: str) -> Calculation | None:
    """The calculation ``text`` asks for, or None when it is not asking for one."""
    if len(text) > 2000 or not _MAY_CALCULATE.search(text):
        return None
    rewritten = _NOT_MATH.sub(" ", text)
    for pattern, replacement in _WORD_OPERATORS:
        rewritten = pattern.sub(replacement, rewritten)
    spans = [m.group().strip() for m in _EXPRESSION.finditer(rewritten)]
    spans = [s for s in spans if _HAS_OPERATOR.search(s)]
    if not spans:
        return None
    expression = max(spans, key=len)
    leftover = [w for w in keywords(rewritten.replace(expression, " ")) if w not in _MATH_WORDS]
    if not _CUE.search(text) and leftover:
        return None
    if len(leftover) > 1:
        return None  # prose around the numbers: a question about something else
    tree = _parse(expression)
    if tree is None:
        return None
    shown = ast.unparse(tree)
    try:
        return Calculation(shown, _evaluate(tree.body, [0]))
    except ZeroDivisionError:
        return Calculation(shown, None, "division by zero")
    except (_TooLarge, OverflowError):
        return Calculation(shown, None, "too large to compute here")


def _parse(expression: str) -> ast.Expression | None:
    """The expression's syntax tree, trimming stray parentheses at either end if needed."""
    candidates = [expression, expression.strip("()"), expression.rstrip(")").lstrip("(")]
    candidates += [expression.rstrip(")"), expression.lstrip("(")]
    for candidate in candidates:
        try:
            return ast.parse(candidate.strip(), mode="eval")
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
    return None


def _evaluate(node: ast.AST, count: list[int]) -> int | float:
    count[0] += 1
    if count[0] > _MAX_NODES:
        raise _TooLarge
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand, count))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left, count), _evaluate(node.right, count)
        if isinstance(node.op, ast.Pow):
            _check_power(left, right)
        result = _BINARY[type(node.op)](left, right)
        if isinstance(result, complex):
            raise _TooLarge  # a negative number to a fractional power; not for this answer
        if isinstance(result, int) and result.bit_length() > _MAX_DIGITS * 3.33:
            raise _TooLarge
        # 4 / 2 is 2, not 2.0: keep integral results whole when they are exactly so.
        if isinstance(result, float) and result.is_integer() and abs(result) < 1e15:
            return int(result)
        return result
    raise _TooLarge  # names, calls and anything else are not arithmetic


def _check_power(base: float, exponent: float) -> None:
    if abs(exponent) > _MAX_EXPONENT:
        raise _TooLarge
    if base not in (0, 1, -1) and abs(exponent) * math.log10(max(abs(base), 1e-300)) > _MAX_DIGITS:
        raise _TooLarge


def format_number(value: int | float) -> str:
    """A result as people write it: 84, 3.5, 0.3 (not 0.30000000000000004)."""
    if isinstance(value, int):
        return str(value)
    return f"{value:.10g}"

