"""The Textual TUI: live exchanges, their detail and stream timelines.

``runtime/tui.py`` runs it when stdout is a terminal (``run_tui``). Importing this package
does not import Textual; ``tui/app.py`` does.
"""
