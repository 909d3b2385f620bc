"""``summary()`` of a Keras-style model: Keras's layer table, drawn with rich.

Owns: ``print_summary`` (the table ``nnlite.keras`` models print: Layer (type), Output
Shape, Param #, then the total, trainable and non-trainable parameters with their size in
memory), ``byte_size`` (Keras's way of writing a size: ``397.54 KB``) and ``say`` (one
plain line on nnlite's console: what ``fit``'s verbose callbacks report). Imports rich
and ``nnlite.ui.terminal``.
"""

from __future__ import annotations

from collections.abc import Callable

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from nnlite.ui import terminal


def byte_size(n: float) -> str:
    """``407080`` → ``397.54 KB`` (powers of 1024, two decimals, as Keras writes sizes)."""
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def print_summary(
    name: str,
    rows: list[tuple[str, str, str]],
    total: int,
    itemsize: int,
    print_fn: Callable[[str], object] | None = None,
    console: Console | None = None,
) -> None:
    """Print the table: ``rows`` of (layer (type), output shape, parameters as text).

    ``total``: the parameter count (all trainable, as every nnlite parameter is);
    ``itemsize``: bytes per parameter. ``print_fn`` (Keras's argument): called with each
    line of plain text instead of printing to nnlite's console.
    """
    table = Table(box=box.HEAVY_HEAD, show_lines=False)
    table.add_column("Layer (type)", no_wrap=True)
    table.add_column("Output Shape", no_wrap=True)
    table.add_column("Param #", justify="right", no_wrap=True)
    for row in rows:
        table.add_row(*row)
    size = byte_size(total * itemsize)
    lines = [
        Text(f'Model: "{name}"', style="bold"),
        table,
        Text.assemble((" Total params: ", "bold"), f"{total:,} ({size})"),
        Text.assemble((" Trainable params: ", "bold"), f"{total:,} ({size})"),
        Text.assemble((" Non-trainable params: ", "bold"), f"0 ({byte_size(0)})"),
    ]
    if print_fn is None:  # one print: in a notebook, one output holds the whole summary
        (console or terminal.console).print(Group(*lines))
        return
    plain = Console(width=100, color_system=None, record=True, file=_Null(), force_jupyter=False)
    for part in lines:
        plain.print(part)
    for line in plain.export_text().splitlines():
        print_fn(line)


def say(line: str, console: Console | None = None) -> None:
    """One plain line on nnlite's console (stdout)."""
    (console or terminal.console).print(line, highlight=False, soft_wrap=True)


class _Null:
    """A file that keeps nothing (the recording console's own output)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass
