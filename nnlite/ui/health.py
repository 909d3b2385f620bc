"""The layer-health table: each layer's latest figures and sparklines of their history.

Owns ``HealthTable`` (a rich renderable of ``History.health``, see ``nnlite.health``) and
``HealthView``, the live view ``nnlite train --stats`` adds below the progress bars (the
live-view protocol of ``nnlite.ui.progress.TrainingProgress``: a ``Callback`` whose
``__rich__`` returns the table the training thread built at the last epoch's end).

Per layer, one row: its number, activation and units; ‖W‖; ‖ΔW‖/‖W‖ over the last measured
epoch; the share of dead ReLUs or saturated sigmoid/tanh units; ‖∂L/∂W‖ on the sample.
Beside each figure, a sparkline (▁▂▃▄▅▆▇█) of its history (log-scaled for the norms when
they span more than a factor 100). The table fits the width it is given: narrower, it
shortens the sparklines, then drops them, then drops the ‖W‖ and ‖ΔW‖/‖W‖ columns; no line is
wider than the console. Alarming cells (at least half of a layer's units dead or saturated)
are red and marked ``!`` so NO_COLOR keeps the meaning.

Imports rich and ``nnlite.health``; renders only (the figures are computed in the core).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from rich.console import Console, ConsoleOptions, RenderResult
from rich.text import Text

from nnlite import health
from nnlite.models import Callback

BARS = "▁▂▃▄▅▆▇█"
ALARM = 0.5  # a dead or saturated share at least this is marked "!"
_SEP = "  "
# (header, figure index, cell width) of each column after the layer's name.
_COLUMNS = {
    "w": ("‖W‖", health.WEIGHT_NORM, 8),
    "dw": ("‖ΔW‖/‖W‖", health.UPDATE_RATIO, 8),
    "share": ("dead|sat", None, 10),
    "grad": ("‖∂L/∂W‖", health.GRAD_NORM, 8),
}
# Layouts from the richest down: the columns shown and the sparklines' width (0: none).
_LAYOUTS = [
    *((("w", "dw", "share", "grad"), s) for s in (24, 16, 12, 8, 6)),
    *((("dw", "share", "grad"), s) for s in (12, 8, 6, 4)),
    (("w", "dw", "share", "grad"), 0),
    (("dw", "share", "grad"), 0),
    (("share", "grad"), 0),
    (("share",), 0),
]


def sparkline(values: np.ndarray, width: int, log: bool = False) -> str:
    """``values`` (NaN: not measured, skipped) as at most ``width`` bars, ▁ lowest, █ highest.

    More values than ``width`` are averaged in ``width`` consecutive groups. ``log``: bars
    by log₁₀ of the values (all must be > 0, else linear).
    """
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    if width <= 0 or v.size == 0:
        return ""
    if v.size > width:
        v = np.array([chunk.mean() for chunk in np.array_split(v, width)])
    if log and (v > 0).all():
        v = np.log10(v)
    low, high = float(v.min()), float(v.max())
    if not high > low:
        return BARS[0] * v.size
    levels = np.clip(((v - low) / (high - low) * len(BARS)).astype(int), 0, len(BARS) - 1)
    return "".join(BARS[i] for i in levels)


def _number(x: float) -> str:
    return "—" if math.isnan(x) else f"{x:.3g}"


class HealthTable:
    """A rich renderable of a history's layer health, laid out for the width it is drawn at.

    ``table``: (epochs, layers, figures) as ``nnlite.health.table`` gives it; ``layers``: the
    model's Dense layers (for their activations and units). Built once; ``__rich_console__``
    only lays it out, so a refresh thread may draw it while training goes on.
    """

    def __init__(self, table: np.ndarray, layers: list[Any], epoch: int | None = None) -> None:
        """``table``: (epochs, layers, figures); rows that are all NaN (epochs not measured)
        are left out. ``epoch``: the number shown (default: the last measured row's)."""
        measured = ~np.isnan(table).all(axis=(1, 2)) if table.size else np.zeros(0, bool)
        self.table = table if measured.all() else table[measured]
        last = int(np.flatnonzero(measured)[-1]) + 1 if measured.any() else 0
        self.epoch = last if epoch is None else epoch
        self.acts = [layer.activation for layer in layers]
        self.labels = [f"{i} {layer.activation} {layer.units}" for i, layer in enumerate(layers, 1)]
        self._laid_out: tuple[int, list[Text]] | None = None  # (width, lines): redrawn ~10×/s

    def _share(self, row: np.ndarray, act: str) -> tuple[str, bool]:
        if act == "relu":
            share, word = row[health.DEAD], "dead"
        elif act in ("sigmoid", "tanh"):
            share, word = row[health.SATURATED], "sat"
        else:
            return "—", False
        if math.isnan(share):
            return "—", False
        alarm = share >= ALARM
        return f"{share:.0%} {word}{'!' if alarm else ''}", alarm

    def _width(self, columns: tuple[str, ...], spark: int, label: int) -> int:
        cells = sum(_COLUMNS[c][2] + (1 + spark if spark else 0) for c in columns)
        return label + len(_SEP) * len(columns) + cells

    def lines(self, width: int) -> list[Text]:
        """The table as lines no wider than ``width`` cells."""
        if not self.table.size:
            return [Text("layer health: no epoch measured yet"[:width])]
        label = max(len("layer"), *(len(x) for x in self.labels))
        columns, spark = _LAYOUTS[-1]
        for columns, spark in _LAYOUTS:
            spark = min(spark, len(self.table))  # no wider than the history it draws
            if self._width(columns, spark, label) <= width:
                break
        label = min(label, max(1, width - self._width(columns, spark, 0)))
        out = [Text(f"layer health at epoch {self.epoch} ({len(self.table)} measured)")]
        head = Text("layer".ljust(label)[:label], style="bold")
        for c in columns:
            head.append(_SEP + _COLUMNS[c][0].ljust(_COLUMNS[c][2] + (1 + spark if spark else 0)))
        out.append(head)
        latest = self.table[-1]
        alarmed = False
        for i, (name, act) in enumerate(zip(self.labels, self.acts)):
            row = Text(name.ljust(label)[:label])
            for c in columns:
                _, index, cell = _COLUMNS[c]
                if c == "share":
                    text, alarm = self._share(latest[i], act)
                    alarmed |= alarm
                    index = health.DEAD if act == "relu" else health.SATURATED
                    row.append(_SEP + text.ljust(cell), style="bold red" if alarm else "")
                else:
                    row.append(_SEP + _number(float(latest[i, index])).ljust(cell))
                if spark:
                    log = index not in health.SHARES
                    line = sparkline(self.table[:, i, index], spark, log=log)
                    row.append(" " + line.ljust(spark), style="cyan")
            out.append(row)
        if alarmed:
            out.append(Text(f"! at least {ALARM:.0%} of the layer's units dead or saturated"))
        for line in out:
            line.truncate(width)
            line.rstrip()
        return out

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        laid_out = self._laid_out  # one read: another thread may be laying it out anew
        if laid_out is None or laid_out[0] != options.max_width:
            laid_out = (options.max_width, self.lines(options.max_width))
            for line in laid_out[1]:
                line.no_wrap = True
            self._laid_out = laid_out
        yield from laid_out[1]


class HealthView(Callback):
    """``nnlite train --stats``: the layer-health table, redrawn as epochs are measured.

    A ``Callback`` (it sees the fit's events) with ``__rich__`` (the progress display draws
    it below the bars). It keeps the measured rows in an array of its own that grows by
    doubling, and builds a new table at most every ``REDRAW_S`` seconds and when the fit
    ends, so a run of many short epochs pays for neither a copy of its whole record per
    epoch nor a table nobody sees. ``table()`` is the last picture, for printing once after
    training outside a terminal.
    """

    REDRAW_S = 0.1

    def __init__(self) -> None:
        self._shown: HealthTable | None = None
        self._rows = np.zeros((0, 0, len(health.FIGURES)))
        self._count = 0
        self._epoch = 0
        self._built = -math.inf

    def on_train_begin(self, info: dict[str, Any]) -> None:
        self._rows, self._count = np.zeros((0, 0, len(health.FIGURES))), 0
        for epoch, row in enumerate(self.model.history.health):  # a resumed run's record so far
            self._add(epoch, row)
        self._build()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._add(epoch, self.model.history.health[-1]):
            now = time.monotonic()
            if now - self._built >= self.REDRAW_S:
                self._build(now)

    def on_train_end(self, logs: dict[str, float]) -> None:
        self._build()

    def close(self) -> None:  # also when stopped by Ctrl-C: the last measured epoch shows
        self._build()

    def _add(self, epoch: int, row: np.ndarray) -> bool:
        """Keep ``row`` when the epoch was measured; True when it was."""
        if np.isnan(row).all():
            return False
        if self._count == len(self._rows):  # grow by doubling; tables built hold old views
            grown = np.empty((max(16, 2 * self._count), *row.shape))
            if self._count:
                grown[: self._count] = self._rows[: self._count]
            self._rows = grown
        self._rows[self._count] = row
        self._count += 1
        self._epoch = epoch + 1
        return True

    def _build(self, now: float | None = None) -> None:
        if self._count:
            rows = self._rows[: self._count]  # later rows go beyond this view: it stays as is
            self._shown = HealthTable(rows, self.model.layers, epoch=self._epoch)
            self._built = time.monotonic() if now is None else now

    def table(self) -> HealthTable | None:
        return self._shown

    def __rich__(self) -> HealthTable | None:
        return self._shown  # built by the training thread: the refresh thread only draws it
