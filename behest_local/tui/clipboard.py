"""Copying text out of the TUI, and saying truthfully where it went.

Two routes, both taken: the terminal's clipboard protocol (OSC 52, Textual's
``copy_to_clipboard``), which works over SSH but which many terminals ignore or refuse
without a word, and the system clipboard through the platform's own tool when one is
there (``wl-copy`` on Wayland, ``xclip`` or ``xsel`` on X11, ``pbcopy`` on macOS,
``clip.exe`` on Windows and WSL). Only the second can be known to have worked, so
``Copied.known`` says which happened and the caller can do more when it is False
(copy as curl also writes a file). The tool runs in a worker thread with a deadline: it
never holds the event loop, and a hung clipboard owner costs a toast, not the TUI.
Used by the app's copy actions (actions.py) and the first-run notice (first_run.py).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

TOOLS = (("wl-copy", ("wl-copy",), "WAYLAND_DISPLAY"),
         ("xclip", ("xclip", "-selection", "clipboard"), "DISPLAY"),
         ("xsel", ("xsel", "--clipboard", "--input"), "DISPLAY"),
         ("pbcopy", ("pbcopy",), None),
         ("clip.exe", ("clip.exe",), None))
"""(name, command, the variable its display server needs), in the order tried."""
DEADLINE = 3.0
OSC52 = "the terminal's clipboard (OSC 52)"


def system_tool(env: Mapping[str, str] = os.environ,
                which: Callable[[str], str | None] = shutil.which) -> tuple[str, ...] | None:
    """The command that copies its standard input to the system clipboard, or None."""
    for name, command, needs in TOOLS:
        if (needs is None or env.get(needs)) and which(name):
            return command
    return None


def copy_with(command: tuple[str, ...], text: str) -> str | None:
    """Run ``command`` with ``text`` on its input (blocking: call from a thread); None when
    it worked, else why not. Its output goes nowhere: xclip stays behind to serve the
    selection, and a pipe it kept open would hold this call until the deadline."""
    try:
        done = subprocess.run(command, input=text.encode(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, timeout=DEADLINE, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"{command[0]} failed ({type(exc).__name__})"
    return None if done.returncode == 0 else f"{command[0]} exited {done.returncode}"


@dataclass(frozen=True, slots=True)
class Copied:
    where: str
    """Where the text went, for a notification ("the system clipboard (xclip) and ...")."""
    known: bool
    """True when the system clipboard took it; OSC 52 alone cannot be confirmed."""


async def copy_text(app, text: str, tool: tuple[str, ...] | None) -> Copied:
    """Copy ``text`` by OSC 52 through ``app`` and with ``tool`` (``system_tool()``)."""
    app.copy_to_clipboard(text)
    if tool is None:
        return Copied(OSC52, known=False)
    error = await asyncio.to_thread(copy_with, tool, text)
    if error is not None:
        return Copied(f"{OSC52}; the system clipboard refused it: {error}", known=False)
    return Copied(f"the system clipboard ({tool[0]}) and {OSC52}", known=True)
