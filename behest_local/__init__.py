"""behest-local: a local twin of the Behest AI gateway.

Importing the package starts nothing; ``cli/main.py`` is the entry point and ``runtime/``
the composition root. The folders follow a request's journey; the README's "How it is
built" maps them.
"""

__version__ = "0.1.0"
