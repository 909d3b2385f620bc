"""Seeing the digits: images, predictions and confusion tables in the terminal, with rich.

Owns: ``DigitImage`` (a greyscale image drawn with upper half-blocks ``▀``, the upper
pixel's grey as foreground and the lower pixel's as background, so one character cell
holds two pixels and the picture keeps its proportions; on a console without colour, a
plain ramp `` .:-=+*#%@`` so logs and tests still show the digit), ``DigitCard`` (one image
with its label, the predicted class and the top-3 probabilities as bars), ``gallery``
(cards side by side), ``confusion_table`` (worst off-diagonal cells highlighted) and
``class_report_table`` (per-class precision and recall).

Imports rich, numpy and ``nnlite.metrics``; the library never imports this module
(``cli.py`` does). Every figure shown comes from ``nnlite.metrics``; nothing here
computes a score.

Omits: colour maps other than grey, images with colour channels, braille rendering.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rich import box
from rich.color import Color
from rich.columns import Columns
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.style import Style
from rich.table import Table
from rich.text import Text

from nnlite import metrics
from nnlite.ui.fit import FirstThatFits

RAMP = " .:-=+*#%@"  # dark to bright: a plain-text grey scale for consoles without colour
HALF_BLOCK = "▀"
MIN_WIDTH = 16  # small images (8×8 digits) are enlarged by whole pixels to at least this
BAR_MIN = 8
NAME_MAX = 12  # class names longer than this are cut in cards and tables


def normalise(image: Any) -> np.ndarray:
    """Scale one image to [0, 1]: its darkest pixel becomes 0, its brightest 1.

    Parameters
    ----------
    image : array_like of float, any shape
        Pixel values in any range (MNIST: [0, 1]; the 8×8 digits: counts / 16).

    Returns
    -------
    ndarray of float64, same shape
        All zeros for a constant image.
    """
    a = np.asarray(image, dtype=np.float64)
    lo, hi = (float(a.min()), float(a.max())) if a.size else (0.0, 0.0)
    if not hi > lo:
        return np.zeros_like(a)
    return (a - lo) / (hi - lo)


def _has_colour(console: Console) -> bool:
    # NO_COLOR (console.no_color) keeps a colour system but drops every colour: the
    # half-blocks would all look alike, so it gets the plain ramp too.
    return console.color_system is not None and not console.no_color


def _grey(v: float) -> Color:
    g = int(round(255 * v))
    return Color.from_rgb(g, g, g)


def _name(labels: Sequence[str] | None, c: int) -> str:
    name = str(c) if labels is None else str(labels[c])
    return name if len(name) <= NAME_MAX else name[: NAME_MAX - 1] + "…"


class DigitImage:
    """A greyscale image as a rich renderable: half-blocks in colour, a ramp without.

    Parameters
    ----------
    pixels : array_like of float, shape (h·w,) or (h, w)
        One image (a row of ``Dataset.X`` and its ``image_shape``); normalised for display.
    shape : (int, int), optional
        ``(h, w)`` when ``pixels`` is flat.
    scale : int, optional
        Whole-pixel enlargement; default the smallest that makes it ``MIN_WIDTH`` wide.

    The picture is ``w·scale`` characters wide and ``ceil(h·scale / 2)`` lines high in
    both modes; without colour each character shows the mean of its two pixels.
    """

    def __init__(self, pixels: Any, shape: tuple[int, int] | None = None, scale: int | None = None):
        a = np.asarray(pixels, dtype=np.float64)
        if shape is not None:
            a = a.reshape(shape)
        if a.ndim != 2:
            raise ValueError(f"an image must be 2-D (or flat with a shape), got {a.shape}")
        s = max(1, MIN_WIDTH // max(a.shape[1], 1)) if scale is None else max(1, int(scale))
        a = np.repeat(np.repeat(normalise(a), s, axis=0), s, axis=1)
        if a.shape[0] % 2:  # half-blocks take rows in pairs: pad with black
            a = np.vstack([a, np.zeros((1, a.shape[1]))])
        self.pixels = a

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    def lines(self, colour: bool) -> list[Text]:
        """The picture as text lines: half-blocks with grey colours, or the plain ramp."""
        out = []
        for top, bottom in zip(self.pixels[0::2], self.pixels[1::2]):
            line = Text(no_wrap=True)
            if colour:
                for u, v in zip(top, bottom):
                    line.append(HALF_BLOCK, Style(color=_grey(u), bgcolor=_grey(v)))
            else:
                mean = (top + bottom) / 2
                line.append("".join(RAMP[int(round(m * (len(RAMP) - 1)))] for m in mean))
            out.append(line)
        return out

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(colour=_has_colour(console))


def bar(p: float, width: int) -> str:
    """``p`` in [0, 1] as a bar of ``width`` cells, in eighths of a cell (``█▉▊▋▌▍▎▏``)."""
    if not math.isfinite(p):
        return " " * width
    eighths = int(round(min(max(p, 0.0), 1.0) * width * 8))
    full, part = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[part] if part else ""
    return ("█" * full + partial).ljust(width)


class DigitCard:
    """One sample: its picture, its label, the predicted class and the top classes as bars.

    Parameters
    ----------
    pixels : array_like of float, shape (h·w,)
    shape : (int, int)
        ``Dataset.image_shape``.
    probs : array_like of float, shape (c,)
        Class probabilities of this sample (``metrics.class_probabilities``); the
        predicted class is the most probable.
    label : int, optional
        The true class; the card then says whether the prediction is right.
    labels : sequence of str, optional
        Class names (default: the class numbers).
    index : int, optional
        The sample's row number, shown at the top.
    top : int
        How many classes get a bar.
    """

    def __init__(
        self,
        pixels: Any,
        shape: tuple[int, int],
        probs: Any,
        label: int | None = None,
        labels: Sequence[str] | None = None,
        index: int | None = None,
        top: int = 3,
    ):
        self.image = DigitImage(pixels, shape)
        classes, values = metrics.top_k(np.asarray(probs, dtype=np.float64)[None, :], top)
        self.top = [(int(c), float(v)) for c, v in zip(classes[0], values[0])]
        self.predicted = self.top[0][0]
        self.label = None if label is None else int(label)
        self.labels = labels
        self.index = index
        self.name_w = max(len(_name(labels, c)) for c, _ in self.top)
        self.width = max(self.image.width, self.name_w + 2 + 6 + BAR_MIN)

    def _fit(self, text: Text) -> Text:
        text.no_wrap = True
        text.truncate(self.width, overflow="ellipsis")
        return text

    def lines(self, colour: bool) -> list[Text]:
        head = Text(f"#{self.index}" if self.index is not None else "", style="dim")
        if self.label is not None:
            head.append(("  " if self.index is not None else "") + "label ")
            head.append(_name(self.labels, self.label), style="bold")
        out = [self._fit(head)]
        out += self.image.lines(colour)
        caption = Text("predicted ")
        caption.append(_name(self.labels, self.predicted), style="bold")
        if self.label is not None:
            right = self.predicted == self.label
            caption.append(" ✓" if right else " ✗", style="green" if right else "bold red")
        out.append(self._fit(caption))
        bar_w = self.width - self.name_w - 2 - 6
        for rank, (c, p) in enumerate(self.top):
            line = Text(f"{_name(self.labels, c):>{self.name_w}} ")
            line.append(bar(p, bar_w), style="cyan" if rank == 0 else "blue")
            line.append(f" {p:>6.1%}")
            out.append(self._fit(line))
        return out

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement(self.width, self.width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.lines(colour=_has_colour(console))


def digit_cards(
    X: Any,
    shape: tuple[int, int],
    probs: Any,
    indices: Iterable[int],
    y: Any = None,
    labels: Sequence[str] | None = None,
) -> list[DigitCard]:
    """One ``DigitCard`` per row number in ``indices``.

    Parameters
    ----------
    X : ndarray of float, shape (n, h·w)
    shape : (int, int)
    probs : ndarray of float, shape (n, c)
    indices : iterable of int
    y : ndarray of int, shape (n,), optional
        True labels.
    labels : sequence of str, optional
        Class names.
    """
    return [
        DigitCard(X[i], shape, probs[i], None if y is None else y[i], labels, index=int(i))
        for i in indices
    ]


def gallery(cards: Sequence[DigitCard], title: str | None = None) -> Group:
    """Cards side by side, as many per line as the console is wide."""
    parts: list[Any] = [Text(title, style="bold")] if title else []
    parts.append(Columns(list(cards), padding=(1, 3)))
    return Group(*parts)


def confusion_table(
    cm: Any,
    labels: Sequence[str] | None = None,
    worst: int = 3,
    title: str | None = None,
) -> FirstThatFits:
    """The confusion matrix: rows true class, columns predicted; the worst mistakes in red.

    Parameters
    ----------
    cm : array_like of int, shape (k, k)
        ``metrics.confusion_matrix``.
    labels : sequence of str, optional
        Class names: rows and columns show class numbers (ten columns of counts fill 80
        characters), the caption names the worst mistakes and lists the names.
    worst : int
        How many of the largest off-diagonal cells to highlight (``metrics.worst_confusions``);
        the caption names them too, so they show on a console without colour.

    Drawn in the first layout that fits the console (``nnlite.ui.fit.FirstThatFits``):
    the full table; the compact one (no totals, one space between columns: ten classes of
    four-digit counts fit 50 columns); else one row per true class with its right answers
    and its mistakes (``9 (26), 7 (8)``), which fits from about 40 columns. Every class and
    every diagonal count is shown in each.

    The diagonal (right answers) is green, a zero is a dim ``·``; the full table's last
    column holds each class's support and its last row how often each class was predicted.
    """
    cm = np.asarray(cm)
    worst_cells = metrics.worst_confusions(cm, worst)
    caption = "most frequent mistakes (true → predicted): " + (
        ", ".join(f"{_name(labels, t)} → {_name(labels, p)} ({n})" for t, p, n in worst_cells)
        or "none"
    )
    if labels is not None:  # the columns and rows are numbered; the names go underneath
        caption += "\nclasses: " + ", ".join(f"{c} {_name(labels, c)}" for c in range(cm.shape[0]))
    bad = {(t, p) for t, p, _ in worst_cells}
    return FirstThatFits(
        _confusion_grid(cm, bad, caption, title, compact=False),
        _confusion_grid(cm, bad, caption, title, compact=True),
        _confusion_list(cm, bad, caption, title),
    )


def _cell(cm: np.ndarray, t: int, p: int, bad: set) -> Text:
    n = int(cm[t, p])
    if (t, p) in bad:
        return Text(str(n), style="bold white on red")
    if n == 0:
        return Text("·", style="dim")
    return Text(str(n), style="green" if t == p else "")


def _confusion_grid(
    cm: np.ndarray, bad: set, caption: str, title: str | None, compact: bool
) -> Table:
    """The matrix as a grid; ``compact``: no totals, one space between columns."""
    k = cm.shape[0]
    default = "confusion matrix (rows: true class, columns: predicted)"
    if compact:
        default = "confusion matrix (rows true, columns predicted)"
    table = Table(
        title=title or default, title_justify="left", caption=caption, caption_justify="left",
        box=box.SIMPLE_HEAD, padding=(0, 0 if compact else 1), pad_edge=False,
    )  # fmt: skip
    table.add_column("" if compact else "true", no_wrap=True)
    for p in range(k):
        table.add_column(str(p), justify="right", no_wrap=True)
    if not compact:
        table.add_column("total", justify="right", style="dim", no_wrap=True)
    for t in range(k):
        cells = [_cell(cm, t, p, bad) for p in range(k)]
        if compact:
            table.add_row(str(t), *cells)
            continue
        table.add_row(str(t), *cells, str(int(cm[t].sum())), end_section=t == k - 1)
    if not compact:
        table.add_row(
            "total", *(str(int(v)) for v in cm.sum(axis=0)), str(int(cm.sum())), style="dim"
        )
    return table


def _confusion_list(cm: np.ndarray, bad: set, caption: str, title: str | None) -> Table:
    """Too many classes for a grid: per true class its right answers and its mistakes."""
    table = Table(
        title=title or "confusion matrix, by true class", title_justify="left",
        caption=caption, caption_justify="left", box=box.SIMPLE_HEAD,
    )  # fmt: skip
    table.add_column("true", no_wrap=True)
    table.add_column("right", justify="right", no_wrap=True)
    table.add_column("of", justify="right", no_wrap=True)
    table.add_column("mistaken for: class (count), most often first", ratio=1)
    for t in range(cm.shape[0]):
        row = cm[t].copy()
        row[t] = 0
        order = [int(p) for p in np.argsort(-row, kind="stable") if row[p] > 0]
        mistakes = Text()
        for j, p in enumerate(order):
            mistakes.append(", " if j else "")
            mistakes.append(
                f"{p} ({int(row[p])})", style="bold white on red" if (t, p) in bad else ""
            )
        total = f"{int(cm[t].sum()):,}"
        table.add_row(str(t), _cell(cm, t, t, bad), total, mistakes or Text("—"))
    return table


def _ratio(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.1%}"


def class_report_table(cm: Any, labels: Sequence[str] | None = None) -> FirstThatFits:
    """Per class: precision, recall, support, and the class it is most often mistaken for.

    Precision and recall come from ``metrics.precision_recall``; a class never predicted
    (or never present) shows "n/a" there. In a narrow console (``FirstThatFits``) the
    columns sit closer and the last header is shortened, so no header is cut.
    """
    return FirstThatFits(_class_report(cm, labels, False), _class_report(cm, labels, True))


def _class_report(cm: Any, labels: Sequence[str] | None, narrow: bool) -> Table:
    cm = np.asarray(cm)
    precision, recall, support = metrics.precision_recall(cm)
    table = Table(title="per class", title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=not narrow, padding=(0, 0 if narrow else 1))  # fmt: skip
    table.add_column("class", no_wrap=not narrow)  # narrow: a long name wraps in its cell
    table.add_column("precision", justify="right")
    table.add_column("recall", justify="right")
    table.add_column("support", justify="right")
    table.add_column("mistaken for" if narrow else "most often mistaken for", justify="left")
    for c in range(cm.shape[0]):
        row = cm[c].copy()
        row[c] = 0
        j = int(row.argmax()) if row.size else 0
        mistaken = f"{_name(labels, j)} ({int(row[j])})" if row.size and row[j] else "—"
        label = str(c) if labels is None else f"{c} {_name(labels, c)}"
        table.add_row(label, _ratio(precision[c]), _ratio(recall[c]), str(support[c]), mistaken)
    return table
