"""The Textual TUI: live exchanges, their detail and stream timelines.

``run_tui(running)`` (run.py) is the entry point ``runtime.serve`` uses when stdout is a
terminal. Importing this package does not import Textual; ``run_tui`` does, when called.
"""

from behest_local.tui.run import run_tui

__all__ = ["run_tui"]
