"""Fitting a view to the terminal: does it fit, and which of several layouts does.

Owns: ``fits`` (drawn ``width`` columns wide, does a renderable keep every line within
the width and cut no cell with "…"?) and ``FirstThatFits`` (a renderable that draws the
first of its layouts that fits the console it is printed on, else the last one). The
views use them to offer a full layout, a compact one and a list, chosen when printed,
so one view object fits 50, 80 or 200 columns. Imports rich only.
"""

from __future__ import annotations

import io
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderableType, RenderResult
from rich.measure import Measurement
from rich.segment import Segment


def fits(renderable: RenderableType, width: int) -> bool:
    """True when ``renderable`` drawn ``width`` wide keeps within it and cuts nothing.

    Rendered rather than printed: printing crops a line that overflows, hiding it. A
    cell that rich shortened shows "…": more of them than the view shows unconstrained
    (a name it cuts itself) means something was cut. A view wider at its narrowest
    than ``width`` (a grid of no-wrap columns) does not fit: rich would squeeze it.
    """
    console = Console(width=10_000, file=io.StringIO(), color_system=None)
    measured = Measurement.get(console, console.options, renderable)  # unclamped
    if measured.maximum <= width:  # drawn at its natural width: nothing squeezed
        return _within(renderable, width)
    if measured.minimum > width:  # would have to be squeezed below its narrowest
        return False
    lines = _lines(renderable, width)
    if any(cell_len(line) > width for line in lines):
        return False
    wide = _lines(renderable, 10_000)
    return sum(line.count("…") for line in lines) <= sum(line.count("…") for line in wide)


def _within(renderable: RenderableType, width: int) -> bool:
    """Every line of ``renderable`` drawn ``width`` wide is at most ``width`` cells."""
    return all(cell_len(line) <= width for line in _lines(renderable, width))


def _lines(renderable: RenderableType, width: int) -> list[str]:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    rendered = console.render(renderable, console.options)
    return ["".join(segment.text for segment in line) for line in Segment.split_lines(rendered)]


class FirstThatFits:
    """The first of ``layouts`` that ``fits`` the console's width when printed (else the last).

    ``chosen(width)`` says which one a width gets, for tests and for callers that need it.
    Attributes of the first layout (a table's ``caption``, say) are readable through this
    object.
    """

    def __init__(self, *layouts: RenderableType) -> None:
        self.layouts = layouts

    def chosen(self, width: int) -> RenderableType:
        for layout in self.layouts[:-1]:
            if fits(layout, width):
                return layout
        return self.layouts[-1]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.layouts[0], name)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.chosen(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.chosen(options.max_width))
