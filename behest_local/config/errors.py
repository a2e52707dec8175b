"""Configuration errors: every problem found in a file, each with ``file:line`` and a hint.

Validation does not stop at the first mistake: ``parse.py`` and ``load.py`` collect
``Problem``s and raise one ``ConfigError`` holding them all, so ``behest-local config check``
can list everything wrong in one run. A problem names the key (dotted path), what was
expected, and where possible a did-you-mean computed with ``difflib``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Problem:
    message: str
    """What is wrong, naming the key and what was expected."""
    line: int | None = None
    """1-based line in the file, where known."""
    hint: str | None = None
    """How to fix it (a did-you-mean, an example)."""


class ConfigError(Exception):
    """A configuration file problem (or several), with ``file:line`` and a hint where known.

    ``ConfigError(message, path=…, line=…, hint=…)`` makes a single-problem error;
    :meth:`of` wraps a list collected during validation.
    """

    def __init__(self, message: str = "", *, path: Path | str | None = None,
                 line: int | None = None, hint: str | None = None,
                 problems: Iterable[Problem] = ()) -> None:
        self.path = str(path) if path else None
        self.problems: tuple[Problem, ...] = tuple(problems) or (Problem(message, line, hint),)
        super().__init__(self.render())

    @classmethod
    def of(cls, problems: Iterable[Problem], path: Path | str | None) -> ConfigError:
        return cls(path=path, problems=problems)

    def render(self) -> str:
        """One block per problem: ``file:line: message`` then ``  hint: …``."""
        return "\n".join(self._line(p) for p in self.problems)

    def _line(self, problem: Problem) -> str:
        where = ""
        if self.path:
            where = f"{self.path}:{problem.line}: " if problem.line else f"{self.path}: "
        return where + problem.message + (f"\n  hint: {problem.hint}" if problem.hint else "")

    @property
    def first_line(self) -> str:
        return self._line(self.problems[0]).splitlines()[0]


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """``"did you mean 'port'?"`` for a close match of ``word`` among ``choices``."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def dotted(path: tuple) -> str:
    """``("projects", 0, "rate_limits", "rpm")`` → ``projects[0].rate_limits.rpm``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
