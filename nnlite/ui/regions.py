"""Decision regions, neuron maps and fitted curves drawn in the terminal, and their live view.

Owns: ``plane_size`` (how big a picture fits a width), ``regions_picture`` (the plane coloured
by the predicted class, its intensity the probability, with the data on top), ``neuron_maps``
(each hidden unit's activation over the plane), ``curve_picture`` (a one-input regression:
data points and the fitted line), ``legend`` and ``RegionsView`` (the live view that
``nnlite train --show regions|neurons`` draws below the progress bars).

Half blocks: each character is two pixels, ``▀`` with the upper pixel's colour in front and
the lower pixel's behind, so a terminal cell (about twice as tall as wide) holds two square
pixels. Without colour (NO_COLOR, a console with no colour system) the characters carry the
meaning instead: a letter per class, upper case where the network is sure, lower case where
it is unsure, ``·`` on the boundary; the neuron maps use a ramp of shades ``.:-=+*#%@``.

Imports: numpy, rich, ``nnlite.regions`` (the grids, computed by the model's own kernels) and
``nnlite.models.Callback``.

Omits: images on disk (``nnlite.ui.plot``), networks with more than two inputs.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from nnlite import regions
from nnlite.errors import ConfigError
from nnlite.models import Callback

__all__ = [
    "MAX_NEURON_UNITS",
    "Picture",
    "RegionsView",
    "curve_picture",
    "legend",
    "neuron_maps",
    "plane_size",
    "regions_picture",
]

PALETTE = regions.PALETTE
NEUTRAL = (48, 48, 48)  # where the network is unsure: dark, so it reads on dark terminals
LEVELS = 8  # intensity steps: few enough that the styles are cached
TRAIN_MARKS = "●▲■◆★▼◀▶♥♣"  # training points: a filled mark per class
HELD_MARKS = "○△□◇☆▽◁▷♡♧"  # held-out points: the same shape, hollow
LETTERS = "abcdefghij"  # NO_COLOR: the region of class j
RAMP = " .:-=+*#%@"  # NO_COLOR neuron maps: low to high activation
MAX_NEURON_UNITS = 8  # neuron maps are drawn for hidden layers this wide or narrower
MAP_COLS, MAP_LINES = 16, 6  # one neuron map: 16 × 12 pixels, under a 16-character label
MAX_COLS, MAX_LINES = 72, 18  # the output's map at most (a live view must leave room)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(int(round(x + (y - x) * t)) for x, y in zip(a, b))  # type: ignore[return-value]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _colour(j: int) -> tuple[int, int, int]:
    return PALETTE[j % len(PALETTE)]


def _mark(marks: str, j: int) -> str:
    return marks[j % len(marks)]


def plane_size(
    width: int, *, max_cols: int = MAX_COLS, max_lines: int = MAX_LINES
) -> tuple[int, int]:
    """(columns, lines) of a plane picture for a console ``width`` characters wide.

    As wide as the console allows up to ``max_cols``; half as many lines as columns (square
    pixels: two per character, each as wide as a character and half as tall) up to
    ``max_lines``.
    """
    cols = max(8, min(int(width), max_cols))
    return cols, max(4, min(cols // 2, max_lines))


class Picture:
    """Lines of pre-built segments, all the same width: cheap to draw from any thread.

    ``colour`` lines are drawn on a console with colour, ``plain`` lines (characters only)
    on one without (NO_COLOR, no colour system). A console narrower than the picture
    crops it rather than wrapping it.
    """

    def __init__(self, colour: list[list[Segment]], plain: list[str], width: int) -> None:
        self.colour, self.plain, self.width = colour, plain, width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = min(self.width, options.max_width)
        if console.no_color or console.color_system is None:
            for line in self.plain:
                yield Segment(line[:width])
                yield Segment.line()
            return
        for line in self.colour:
            yield from Segment.adjust_line_length(line, width, pad=False)
            yield Segment.line()

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = min(self.width, options.max_width)
        return Measurement(width, width)

    def text(self) -> str:
        """The plain (character) form, one line per row."""
        return "\n".join(self.plain)


class _Styles:
    """Half-block styles by (upper colour, lower colour), built once each."""

    def __init__(self) -> None:
        self.cache: dict[tuple, Style] = {}

    def __call__(
        self, fg: tuple[int, int, int], bg: tuple[int, int, int], bold: bool = False
    ) -> Style:
        key = (fg, bg, bold)
        style = self.cache.get(key)
        if style is None:
            style = self.cache[key] = Style(color=_hex(fg), bgcolor=_hex(bg), bold=bold)
        return style


_STYLES = _Styles()


def _region_colours(grid: regions.Grid) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(class, intensity level 0..LEVELS−1, certainty t in [0, 1]) per pixel.

    t = (p − 1/k) / (1 − 1/k): 0 where all k classes are equally likely, 1 where one is
    certain. Two classes: a diverging scale through the unsure middle; k classes: a palette.
    """
    cls = grid.classes
    k = grid.probabilities.shape[2]
    t = np.clip((grid.confidence - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)
    level = np.minimum((t * LEVELS).astype(np.int64), LEVELS - 1)
    return cls, level, t


@functools.lru_cache(maxsize=4096)
def _pixel_rgb(cls: int, level: int) -> tuple[int, int, int]:
    # Intensity 15 % … 75 % of the class colour over the neutral: the points stay visible.
    return _mix(NEUTRAL, _colour(cls), 0.15 + 0.6 * (level + 0.5) / LEVELS)


@functools.lru_cache(maxsize=256)
def _mark_rgb(cls: int) -> tuple[int, int, int]:
    return _mix(_colour(cls), (255, 255, 255), 0.35)  # brighter than any region's colour


def _plain_char(cls: int, t: float) -> str:
    if t < 0.15:
        return "·"
    letter = _mark(LETTERS, cls)
    return letter.upper() if t >= 0.6 else letter


def _runs(line: list[Style], chars: list[str]) -> list[Segment]:
    """Segments for one line: neighbouring cells of one style as one (fewer escape codes)."""
    segs, start = [], 0
    for i in range(1, len(line) + 1):
        if i == len(line) or line[i] is not line[start]:
            segs.append(Segment("".join(chars[start:i]), line[start]))
            start = i
    return segs


def _cell_of(
    points: np.ndarray, extent: tuple, cols: int, rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """(column, pixel row) of each point on a cols × rows pixel grid; row 0 at the top."""
    lo1, hi1, lo2, hi2 = extent
    c = np.floor((points[:, 0] - lo1) / (hi1 - lo1) * cols).astype(np.int64)
    r = np.floor((hi2 - points[:, 1]) / (hi2 - lo2) * rows).astype(np.int64)
    return np.clip(c, 0, cols - 1), np.clip(r, 0, rows - 1)


def regions_picture(
    grid: regions.Grid,
    train: tuple[Any, Any] | None = None,
    held_out: tuple[Any, Any] | None = None,
) -> Picture:
    """The plane coloured by the predicted class (its intensity: the probability), data on top.

    ``grid``: from ``nnlite.regions.region_grid`` with an even number of pixel rows (two per
    character line). ``train`` and ``held_out``: (X (n, 2), class labels (n,)) drawn as
    filled and hollow marks, one shape per class, in the class's colour; a cell holding
    several points shows the held-out one (the points a learner checks the boundary on).
    """
    rows, cols = grid.classes.shape
    lines = rows // 2
    cls, level, t = _region_colours(grid)
    k = grid.probabilities.shape[2]
    # Each pixel's colour as an index into a table of k × LEVELS colours; a cell's style is
    # looked up by its (upper, lower) pair, built once per pair.
    rgb = [_pixel_rgb(j, v) for j in range(k) for v in range(LEVELS)]
    index = cls * LEVELS + level
    pair = index[0 : 2 * lines : 2] * len(rgb) + index[1 : 2 * lines : 2]  # (lines, cols)
    styles = {int(p): _STYLES(rgb[p // len(rgb)], rgb[p % len(rgb)]) for p in np.unique(pair)}
    # Without colour: the class letter of the cell's more certain pixel, its case the certainty.
    upper = t[0 : 2 * lines : 2] >= t[1 : 2 * lines : 2]
    cell_cls = np.where(upper, cls[0 : 2 * lines : 2], cls[1 : 2 * lines : 2])
    cell_t = np.where(upper, t[0 : 2 * lines : 2], t[1 : 2 * lines : 2])
    bucket = np.where(cell_t < 0.15, 0, np.where(cell_t < 0.6, 1, 2))
    table = {(j, b): _plain_char(j, (0.0, 0.3, 1.0)[b]) for j in range(k) for b in range(3)}
    marks: dict[tuple[int, int], tuple[str, int]] = {}  # (line, col) → (mark, class)
    for data, shapes in ((train, TRAIN_MARKS), (held_out, HELD_MARKS)):
        if data is None or len(data[0]) == 0:
            continue
        X, y = np.asarray(data[0], np.float64), np.asarray(data[1]).astype(np.int64)
        c, r = _cell_of(X, grid.extent, cols, rows)
        inside = r // 2 < lines
        cell = (r // 2 * cols + c)[inside]
        # one mark per cell (the last point there): a loop over cells, not over the data
        last = len(cell) - 1 - np.unique(cell[::-1], return_index=True)[1]
        for key, j in zip(cell[last].tolist(), y[inside][last].tolist()):
            marks[divmod(key, cols)] = (_mark(shapes, j), j)
    cell_style = [[styles[p] for p in row] for row in pair.tolist()]
    cell_char = [["▀"] * cols for _ in range(lines)]
    plain = [[table[jb] for jb in zip(j, b)] for j, b in zip(cell_cls.tolist(), bucket.tolist())]
    for (line, col), (mark, j) in marks.items():
        p = int(pair[line, col])
        top, bottom = rgb[p // len(rgb)], rgb[p % len(rgb)]
        fg = _mark_rgb(j)
        cell_style[line][col] = _STYLES(fg, _mix(top, bottom, 0.5), bold=True)
        cell_char[line][col] = plain[line][col] = mark
    segments = [_runs(st, ch) for st, ch in zip(cell_style, cell_char)]
    return Picture(segments, ["".join(chars) for chars in plain], cols)


def _merge(segs: list[Segment]) -> list[Segment]:  # the neuron maps
    """Neighbouring segments of one style as one: fewer escape codes to write."""
    return list(Segment.simplify(segs))


def legend(n_classes: int, held_out: bool, names: Sequence[str] | None = None) -> Text:
    """One entry per class (its mark, colour and NO_COLOR letter), and what the shades mean.

    Wraps between entries (never inside one) on a narrow console.
    """
    names = list(names) if names is not None else [f"class {j}" for j in range(n_classes)]
    text = Text()
    for j in range(n_classes):
        marks = _mark(TRAIN_MARKS, j) + (_mark(HELD_MARKS, j) if held_out else "")
        style = Style(color=_hex(_colour(j)), bold=True)
        text.append(f"{marks} {names[j]} ({_mark(LETTERS, j).upper()})", style=style)
        text.append("  ")
    text.append("filled: training" + ("  hollow: held out" if held_out else ""))
    text.append("  strong colour / upper case: sure  dim / lower case: unsure  ·: boundary")
    return text


def _unit_scale(A: np.ndarray, activation: str) -> np.ndarray:
    """An activation map as 0..1: sigmoid as it is, tanh from [−1, 1], others by their range."""
    if activation == "sigmoid":
        return np.clip(A, 0.0, 1.0)
    if activation == "tanh":
        return np.clip((A + 1.0) / 2.0, 0.0, 1.0)
    lo, hi = float(A.min()), float(A.max())
    return np.full_like(A, 0.5) if hi <= lo else (A - lo) / (hi - lo)


def _map_picture(V: np.ndarray) -> Picture:
    """A 0..1 map (pixel rows × cols) on a diverging scale: class 0's colour, neutral, class 1's."""
    rows, cols = V.shape
    colour, plain = [], []

    def rgb(v: float) -> tuple[int, int, int]:
        v = round(v * 2 * LEVELS) / (2 * LEVELS)  # a few steps: cached styles
        side = _colour(1) if v >= 0.5 else _colour(0)
        return _mix(NEUTRAL, side, min(1.0, abs(v - 0.5) * 2) * 0.9)

    for line in range(rows // 2):
        up, down = V[2 * line], V[2 * line + 1]
        colour.append(_merge([Segment("▀", _STYLES(rgb(a), rgb(b))) for a, b in zip(up, down)]))
        both = (up + down) / 2
        plain.append("".join(RAMP[min(len(RAMP) - 1, int(v * len(RAMP)))] for v in both))
    return Picture(colour, plain, cols)


def _subsample(A: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Nearest grid points of a (R, C) map at rows × cols evenly spread cells."""
    R, C = A.shape
    ri = ((np.arange(rows) + 0.5) * R / rows).astype(np.int64)
    ci = ((np.arange(cols) + 0.5) * C / cols).astype(np.int64)
    return A[np.ix_(ri, ci)]


def check_neuron_maps(model: Any) -> None:
    """Refuse networks whose hidden layers are too wide to map unit by unit (one line)."""
    for index, layer in enumerate(model.layers[:-1]):
        if layer.units > MAX_NEURON_UNITS:
            raise ConfigError(
                f"neuron maps are drawn for hidden layers of at most {MAX_NEURON_UNITS} units; "
                f"layer {index + 1} has {layer.units} (try --layers 8,8, or --show regions)"
            )


def neuron_maps(grid: regions.Grid, activations: Sequence[str], width: int) -> list[Any]:
    """Each hidden unit's activation over the plane, labelled "layer l · unit u", tiled to ``width``.

    ``grid`` must hold the hidden activations (``region_grid(..., hidden=True)``); each map
    is a ``MAP_COLS × 2·MAP_LINES`` sample of it, so no second forward pass is needed.
    Returns renderables (a title and rows of maps per layer).
    """
    per_row = max(1, (width + 2) // (MAP_COLS + 2))
    out: list[Any] = []
    for index, A in enumerate(grid.hidden):
        blocks = []
        for unit in range(A.shape[2]):
            V = _unit_scale(_subsample(A[..., unit], 2 * MAP_LINES, MAP_COLS), activations[index])
            label = f"layer {index + 1} · unit {unit + 1}"[:MAP_COLS]
            blocks.append((label, _map_picture(V)))
        for start in range(0, len(blocks), per_row):
            out.append(_tile(blocks[start : start + per_row]))
    return out


def before_after_maps(
    before: dict[str, np.ndarray], after: dict[str, np.ndarray], activations: Sequence[str],
    width: int,
) -> list[Picture]:  # fmt: skip
    """Each hidden unit's map before and after a step (a trace's ``NeuronMaps``), tiled.

    ``before``/``after``: layer number → activations (rows, cols, units) on the same grid.
    A unit's two maps share one scale (ReLU and others: the range of both), so what the step
    changed shows; each pair is labelled "layer l · unit u" above "before → after".
    """
    blocks = []
    for key in sorted(before, key=int):
        A0, A1 = np.asarray(before[key], np.float64), np.asarray(after[key], np.float64)
        act = activations[int(key) - 1]
        for unit in range(A0.shape[2]):
            both = _unit_scale(np.stack([A0[..., unit], A1[..., unit]]), act)
            pic0, pic1 = _map_picture(both[0]), _map_picture(both[1])
            label = f"layer {key} · unit {unit + 1}"
            blocks.append((label, _beside(pic0, " → ", pic1)))
    per_row = max(1, (width + 2) // (blocks[0][1].width + 2)) if blocks else 1
    return [_tile(blocks[i : i + per_row]) for i in range(0, len(blocks), per_row)]


def _beside(a: Picture, gap: str, b: Picture) -> Picture:
    colour = [x + [Segment(gap)] + y for x, y in zip(a.colour, b.colour)]
    plain = [x + gap + y for x, y in zip(a.plain, b.plain)]
    return Picture(colour, plain, a.width + len(gap) + b.width)


def _tile(blocks: list[tuple[str, Picture]]) -> Picture:
    """Labelled pictures side by side, two spaces apart, each under its label."""
    gap = Segment("  ")
    colour: list[list[Segment]] = [[]]
    plain = [""]
    for i, (label, pic) in enumerate(blocks):
        sep = [gap] if i else []
        label = label[: pic.width].ljust(pic.width)
        colour[0] += sep + [Segment(label, Style(dim=True))]
        plain[0] += ("  " if i else "") + label
    for line in range(len(blocks[0][1].plain)):
        segs: list[Segment] = []
        text = ""
        for i, (_, pic) in enumerate(blocks):
            segs += ([gap] if i else []) + pic.colour[line]
            text += ("  " if i else "") + pic.plain[line]
        colour.append(segs)
        plain.append(text)
    width = sum(pic.width for _, pic in blocks) + 2 * (len(blocks) - 1)
    return Picture(colour, plain, width)


def curve_picture(
    x: np.ndarray, yhat: np.ndarray, X: Any, y: Any, width: int, lines: int = 12
) -> Group:
    """A one-input regression: the data (``•``) and the fitted curve (``─``) on one character plot.

    ``x``, ``yhat``: the curve (``nnlite.regions.fitted_curve``), sampled at one point per
    column; ``X``, ``y``: the data. The y axis's range is written on the left, x's below.
    """
    X = np.asarray(X, np.float64).reshape(-1)
    y = np.asarray(y, np.float64).reshape(-1)
    lo_y = float(min(np.nanmin(yhat), np.nanmin(y)))
    hi_y = float(max(np.nanmax(yhat), np.nanmax(y)))
    if hi_y <= lo_y:
        lo_y, hi_y = lo_y - 1.0, hi_y + 1.0
    labels = [f"{hi_y:.3g}", f"{lo_y:.3g}"]
    pad = max(len(s) for s in labels) + 1
    cols = max(8, width - pad)
    canvas = [[" "] * cols for _ in range(lines)]
    style = [[None] * cols for _ in range(lines)]

    def row_of(v: np.ndarray) -> np.ndarray:
        r = np.floor((hi_y - v) / (hi_y - lo_y) * lines).astype(np.int64)
        return np.clip(r, 0, lines - 1)

    col_of_curve = np.clip(((x - x[0]) / (x[-1] - x[0]) * cols).astype(np.int64), 0, cols - 1)
    for c, r in zip(col_of_curve.tolist(), row_of(yhat).tolist()):
        canvas[r][c], style[r][c] = "─", "bold " + _hex(_colour(1))
    data_cols = np.clip(((X - x[0]) / (x[-1] - x[0]) * cols).astype(np.int64), 0, cols - 1)
    for c, r in zip(data_cols.tolist(), row_of(y).tolist()):
        canvas[r][c], style[r][c] = "•", _hex(_colour(0))
    body = Text()
    for r in range(lines):
        tick = labels[0] if r == 0 else labels[1] if r == lines - 1 else ""
        body.append(tick.rjust(pad - 1) + "│")
        for c in range(cols):
            body.append(canvas[r][c], style=style[r][c])
        body.append("\n")
    left, right = f"{x[0]:.3g}", f"{x[-1]:.3g}"
    body.append(" " * pad + left + right.rjust(max(1, cols - len(left))))
    key = Text("• data  ─ the network's fitted curve", style="dim")
    return Group(body, key)


def _grid_size(width: int) -> tuple[int, int]:
    cols, lines = plane_size(width - 2)
    return cols, 2 * lines


class RegionsView(Callback):
    """The live decision regions below the progress bars (``--show regions`` / ``neurons``).

    A callback that redraws from the current θ and a renderable (``__rich__``) that only
    hands over the last frame the training thread built. Redraws keep training's slowdown
    small: each takes some time d (measured), and the next waits until at least 20·d and
    0.2 s have passed (at most 5 frames a second, about a twentieth of the time; the
    bars' thread drawing the last frame ~10×/s takes a few per cent more). On the
    CPU θ is current after every compiled chunk of batches (``on_batch_end``); on CUDA only
    at the end of an epoch. The last frame is drawn from the final θ (``on_train_end``).

    Parameters
    ----------
    X, y : training inputs (n, 2) or (n, 1) and their labels (targets for a regression).
    held_out : (X, y) or None, drawn hollow.
    n_classes : int or None; None: a regression (one input: the fitted curve).
    neurons : bool: also each hidden unit's map (networks of ≤ 8 units a hidden layer).
    console : the console the picture is drawn on (its width decides the picture's).
    """

    RATE = 20.0  # wait ≥ RATE × the last redraw's duration before the next
    MIN_GAP = 0.2  # seconds: at most 5 frames a second

    def __init__(
        self,
        X: Any,
        y: Any,
        held_out: tuple[Any, Any] | None = None,
        n_classes: int | None = None,
        *,
        neurons: bool = False,
        console: Console | None = None,
        names: Sequence[str] | None = None,
    ) -> None:
        self.X, self.y = np.asarray(X), np.asarray(y)
        self.held_out = held_out
        self.n_classes = n_classes
        self.neurons = neurons
        self.console = console
        self.names = names
        self.frame: Any = None
        self.live = True  # False: no redraws while training (the CLI draws the last one)
        self.frames = 0  # redraws so far
        self.cost = 0.0  # seconds the last redraw took
        self.last = -math.inf
        self.epoch, self.epochs = 0, 0
        every = [self.X] + ([np.asarray(held_out[0])] if held_out is not None else [])
        self.all_X = np.concatenate([a.reshape(len(a), -1) for a in every]).astype(np.float64)
        self.extent = regions.plane(self.all_X) if self.all_X.shape[1] == 2 else None

    # -- the callback's side (training thread) -----------------------------------

    def on_train_begin(self, info: dict[str, Any]) -> None:
        self.epochs = info.get("first_epoch", 0) + info.get("epochs", 0)
        if self.neurons:
            check_neuron_maps(self.model)
        self.redraw()

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        if self.model.device == "cpu":  # θ is on the host between chunks only on the CPU
            self.epoch = epoch
            self._maybe()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.epoch = epoch + 1
        self._maybe()

    def on_train_end(self, logs: dict[str, float]) -> None:
        self.epoch = self.epochs
        self.redraw()

    def _maybe(self) -> None:
        if time.perf_counter() - self.last >= max(self.MIN_GAP, self.RATE * self.cost):
            self.redraw()

    def redraw(self) -> None:
        """Build the next frame from the current θ and swap it in (one attribute)."""
        start = time.perf_counter()
        self.frame = self.picture(self._width())
        self.frames += 1
        self.last = time.perf_counter()
        self.cost = self.last - start

    def _width(self) -> int:
        from nnlite.ui import terminal

        console = self.console or terminal.console
        return console.width

    # -- the picture --------------------------------------------------------------

    def picture(self, width: int) -> Group:
        """The frame for a console ``width`` characters wide, from the model's current θ."""
        model = self.model
        title = Text(f"epoch {self.epoch}/{self.epochs}" if self.epochs else "", style="bold")
        if model.n_inputs == 1:
            x, yhat = regions.fitted_curve(model, self.all_X, points=max(8, width))
            body = curve_picture(x, yhat, self.X, self.y, width)
            return Group(Text("the fitted curve · ", style="bold") + title, body)
        cols, rows = _grid_size(width)
        grid = regions.region_grid(model, self.all_X, cols, rows, hidden=self.neurons,
                                   extent=self.extent)  # fmt: skip
        train = (self.X, self.y)
        picture = regions_picture(grid, train, self.held_out)
        k = grid.probabilities.shape[2]
        parts: list[Any] = [Text("decision regions · ", style="bold") + title, picture]
        parts.append(legend(k, self.held_out is not None, self.names))
        if self.neurons and grid.hidden:
            acts = [layer.activation for layer in model.layers[:-1]]
            parts += neuron_maps(grid, acts, width)
        return Group(*parts)

    def __rich__(self) -> Any:
        return self.frame


def frames_text(renderables: Iterable[Any], width: int, colour: bool = False) -> str:
    """Render to a string (tests, the README excerpt): a console ``width`` wide."""
    import io

    console = Console(file=io.StringIO(), width=width, force_terminal=colour,
                      color_system="truecolor" if colour else None)  # fmt: skip
    for r in renderables:
        console.print(r)
    return console.file.getvalue()
