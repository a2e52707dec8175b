"""The SQLite files in the state dir: rows they can hold.

A leaf utility beside ``home.py`` (which says where the databases live), shared by the
usage store (``finops/store.py``) and the trace writer (``observe/trace_writer.py``):

* ``storable``: a row as SQLite can take it. A lone surrogate in a ``str`` (what Python
  makes of a byte that is not UTF-8, e.g. in a header) cannot be encoded, so binding
  the row fails; the writers retry such a row with U+FFFD in their place.
"""

from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(row: tuple) -> tuple:
    """``row`` with every lone surrogate in its strings replaced by U+FFFD."""
    return tuple(_SURROGATE.sub("\ufffd", v) if isinstance(v, str) else v for v in row)
