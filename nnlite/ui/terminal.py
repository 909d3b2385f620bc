"""The terminal nnlite writes to: one console for results, one for errors and warnings.

Owns: ``console`` (stdout) and ``err_console`` (stderr), and the one-line ``error`` and
``warn`` every command uses. The other views print through ``terminal.console``, looked up
when they print, so a test can swap it for a plain one.
"""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

console = Console()
err_console = Console(stderr=True)


def error(message: str) -> None:
    """The one red line a user mistake gets, on stderr."""
    err_console.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)


def warn(message: str) -> None:
    """One yellow line on stderr: a learner warning, a note about the data."""
    err_console.print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)
