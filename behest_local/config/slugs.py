"""Project slugs in Behest's ``{adjective}-{noun}-{3 digits}`` form (e.g. ``amber-fox-042``).

A project without a configured slug gets one derived from a SHA-256 of its id, so the same
project keeps the same slug across restarts and machines. ``unique_slug`` resolves the rare
collision between two projects by stepping the number, deterministically.
"""

from __future__ import annotations

import hashlib
import re

SLUG_RE = re.compile(r"[a-z]+-[a-z]+-[0-9]{3}")

ADJECTIVES = (
    "amber", "azure", "bold", "brave", "bright", "brisk", "calm", "clever", "coral", "crisp",
    "dusty", "eager", "early", "fancy", "fleet", "gentle", "golden", "grand", "happy", "hazel",
    "humble", "ivory", "jolly", "keen", "kind", "lively", "lucky", "lunar", "mellow", "merry",
    "misty", "noble", "olive", "proud", "quick", "quiet", "rapid", "rosy", "royal", "rustic",
    "sandy", "scarlet", "shiny", "silent", "silver", "sleek", "snowy", "solar", "steady", "sunny",
    "swift", "tidy", "topaz", "vivid", "warm", "wild", "windy", "wise", "witty", "young",
)
NOUNS = (
    "badger", "bear", "beacon", "brook", "canyon", "cedar", "comet", "condor", "coyote", "crane",
    "dolphin", "falcon", "fern", "finch", "fjord", "fox", "gecko", "glacier", "harbor", "hawk",
    "heron", "island", "jaguar", "koala", "lake", "lark", "lemur", "lynx", "maple", "meadow",
    "mesa", "moose", "orca", "otter", "owl", "panda", "pine", "puffin", "quail", "raven",
    "reef", "river", "robin", "sparrow", "spruce", "stork", "summit", "swan", "tiger", "trout",
    "tundra", "valley", "walrus", "willow", "wolf", "wren", "yak", "zebra", "birch", "delta",
)


def slug_for(project_id: str, attempt: int = 0) -> str:
    """The slug of ``project_id`` (``attempt`` > 0 only to step past a collision)."""
    digest = hashlib.sha256(project_id.encode()).digest()
    adjective = ADJECTIVES[digest[0] % len(ADJECTIVES)]
    noun = NOUNS[digest[1] % len(NOUNS)]
    number = (int.from_bytes(digest[2:4], "big") + attempt) % 1000
    return f"{adjective}-{noun}-{number:03d}"


def unique_slug(project_id: str, taken: set[str]) -> str:
    """``slug_for(project_id)``, stepped until it is not in ``taken``."""
    for attempt in range(1000):
        slug = slug_for(project_id, attempt)
        if slug not in taken:
            return slug
    raise ValueError(f"no free slug for {project_id!r}")  # 1000 projects with one stem
