"""behest-local: a local twin of the Behest AI gateway.

Importing the package starts nothing; ``behest_local.cli.main`` is the entry point and
``behest_local.runtime.serve`` the composition root.
"""

__version__ = "0.1.0"
