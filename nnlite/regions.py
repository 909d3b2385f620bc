"""What a trained network says over the input plane: decision regions, neuron maps, fitted curves.

Owns: ``plane`` (the extent of the data with a margin), ``region_grid`` (the network's outputs,
and on request every hidden layer's activations, at the centre of each cell of a grid laid
over that extent) and ``fitted_curve`` (a one-input regression's output over the data's
range). Every value comes from ONE batched forward pass through the model's own kernels
(``Sequential.layer_outputs``, the ``evaluate`` path): what is drawn is what the network
computes, on the CPU or on the GPU, never a second implementation of the forward pass.

Row 0 of a grid is the TOP of the picture (the largest x₂), as a terminal or an image draws
it; column 0 is the smallest x₁.

Imports: numpy, ``nnlite.errors``, ``nnlite.models.Callback``. Never typer or rich; never prints.

Also ``Recorder``: a ``Callback`` that keeps the class probabilities over the plane at a steady
number of moments of a fit (the frames of ``nnlite train --plot run.gif``), and ``PALETTE``,
the class colours every picture of the plane uses (the terminal's and the PNG's agree).

Omits: rendering (``nnlite.ui.regions`` draws the grid in a terminal, ``nnlite.ui.plot`` in a
PNG or GIF), networks with more than two inputs (no plane to colour).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlite.errors import ConfigError
from nnlite.models import Callback

__all__ = ["Grid", "MAX_POINTS", "PALETTE", "Recorder", "fitted_curve", "plane", "region_grid"]

# matplotlib's tab10, one colour per class (cycled beyond ten).
PALETTE = [
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
]  # fmt: skip

MARGIN = 0.1  # share of the data's range added on each side of the plane
MAX_POINTS = 1 << 20  # grid points in one call: 1 M rows is far beyond any picture


@dataclass
class Grid:
    """A network's view of the plane, sampled at the centre of ``rows × cols`` cells.

    Attributes
    ----------
    x1 : ndarray of float64, shape (cols,)
        The first input at each column's centre, increasing left to right.
    x2 : ndarray of float64, shape (rows,)
        The second input at each row's centre, DEcreasing: row 0 is the top.
    extent : tuple of 4 floats
        (x₁ low, x₁ high, x₂ low, x₂ high): the plane's edges.
    P : ndarray of float64, shape (rows, cols, k)
        The output layer's activations at each point (softmax: one probability per
        class; one sigmoid unit: P(class 1); identity: the fitted value).
    hidden : list of ndarray of float64, shape (rows, cols, units)
        Each hidden layer's activations A, when asked for (else empty).
    """

    x1: np.ndarray
    x2: np.ndarray
    extent: tuple[float, float, float, float]
    P: np.ndarray
    hidden: list[np.ndarray] = field(default_factory=list)

    @property
    def probabilities(self) -> np.ndarray:
        """One probability per class, shape (rows, cols, max(k, 2)): a sigmoid p → [1 − p, p]."""
        if self.P.shape[2] == 1:
            p = self.P[..., 0]
            return np.stack([1.0 - p, p], axis=2)
        return self.P

    @property
    def classes(self) -> np.ndarray:
        """The predicted class at each point, int64 (rows, cols): argmax, or [p ≥ ½]."""
        if self.P.shape[2] == 1:  # as Sequential.predict_classes decides
            return (self.P[..., 0] >= 0.5).astype(np.int64)
        return self.P.argmax(axis=2)

    @property
    def confidence(self) -> np.ndarray:
        """The predicted class's probability at each point, float64 (rows, cols)."""
        return np.take_along_axis(self.probabilities, self.classes[..., None], axis=2)[..., 0]


def plane(X: Any, margin: float = MARGIN) -> tuple[float, float, float, float]:
    """(x₁ low, x₁ high, x₂ low, x₂ high): the data's extent widened by ``margin`` of its range.

    A column with no spread (one point, a constant feature) gets ±1 around its value; a
    missing or non-finite X raises ``ConfigError``.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ConfigError(f"decision regions need 2-D points, shape (n, 2); got {X.shape}")
    if not np.isfinite(X).all():
        raise ConfigError("decision regions need finite inputs; X holds NaN or infinity")
    edges = []
    for column in X.T:
        lo, hi = float(column.min()), float(column.max())
        pad = (hi - lo) * margin if hi > lo else 1.0
        edges += [lo - pad, hi + pad]
    return edges[0], edges[1], edges[2], edges[3]


def _check_model(model: Any, inputs: int, what: str) -> None:
    if not getattr(model, "built", False):
        raise ConfigError(f"{what} needs a trained (built) model")
    if model.n_inputs != inputs:
        raise ConfigError(
            f"{what} needs a network with {inputs} input{'s' if inputs > 1 else ''}, "
            f"this one has {model.n_inputs}"
        )


def _forward(model: Any, points: np.ndarray) -> list[np.ndarray]:
    """Every layer's activations at ``points`` (n, i): one pass of the model's own kernels."""
    X = np.ascontiguousarray(points, dtype=model.dtype)
    # layer_outputs runs evaluate's kernels, which also compute a loss: against zeros here,
    # a number nobody reads (the outputs do not depend on Y).
    Y = np.zeros((X.shape[0], model.n_outputs), model.dtype)
    return model.layer_outputs(X, Y)


def region_grid(
    model: Any,
    X: Any,
    cols: int,
    rows: int,
    *,
    hidden: bool = False,
    extent: tuple[float, float, float, float] | None = None,
) -> Grid:
    """The network's outputs (and hidden activations) over the plane the data ``X`` spans.

    Parameters
    ----------
    model : nnlite.Sequential
        A built network with two inputs.
    X : array_like, shape (n, 2)
        The data the plane must show (training and held-out points): its extent plus a
        ``MARGIN`` on each side (``plane``), unless ``extent`` is given.
    cols, rows : int
        Grid points across and down (a terminal picture: its columns and pixel rows).
    hidden : bool
        Also return each hidden layer's activations (the neuron maps).
    extent : tuple of 4 floats, optional
        (x₁ low, x₁ high, x₂ low, x₂ high), to keep the plane fixed from frame to frame.

    Returns
    -------
    Grid
        Computed by one forward pass over the ``rows × cols`` points.
    """
    _check_model(model, 2, "decision regions")
    cols, rows = int(cols), int(rows)
    if cols < 1 or rows < 1 or cols * rows > MAX_POINTS:
        raise ConfigError(f"a region grid needs 1 to {MAX_POINTS:,} points, got {cols} × {rows}")
    lo1, hi1, lo2, hi2 = plane(X) if extent is None else extent
    x1 = lo1 + (np.arange(cols) + 0.5) * (hi1 - lo1) / cols
    x2 = hi2 - (np.arange(rows) + 0.5) * (hi2 - lo2) / rows  # row 0 at the top
    G1, G2 = np.meshgrid(x1, x2)  # (rows, cols) each
    points = np.column_stack([G1.ravel(), G2.ravel()])
    A = _forward(model, points)
    shaped = [a.astype(np.float64).reshape(rows, cols, a.shape[1]) for a in A]
    return Grid(x1, x2, (lo1, hi1, lo2, hi2), shaped[-1], shaped[:-1] if hidden else [])


def fitted_curve(model: Any, X: Any, points: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(x, ŷ): a one-input network's first output at ``points`` evenly spaced x over the data.

    The x range is the data's with a ``MARGIN`` on each side; ŷ float64 (points,), from one
    forward pass of the model's kernels.
    """
    _check_model(model, 1, "a fitted curve")
    X = np.asarray(X, dtype=np.float64).reshape(-1)
    if X.size == 0 or not np.isfinite(X).all():
        raise ConfigError("a fitted curve needs finite inputs")
    points = int(points)
    if not 2 <= points <= MAX_POINTS:
        raise ConfigError(f"a fitted curve needs 2 to {MAX_POINTS:,} points, got {points}")
    lo, hi = float(X.min()), float(X.max())
    pad = (hi - lo) * MARGIN if hi > lo else 1.0
    x = np.linspace(lo - pad, hi + pad, points)
    return x, _forward(model, x[:, None])[-1][:, 0].astype(np.float64)


class Recorder(Callback):
    """Keeps the class probabilities over the plane at up to ``frames`` moments of a fit.

    One frame before the first step and one at the end of evenly spaced epochs, the last
    epoch always among them, each a ``side × side`` grid over the data ``X`` (training and
    held-out points together, so the plane stays fixed). ``self.frames`` holds
    (epochs done, probabilities float32 (side, side, max(k, 2))); ``self.extent`` the plane.
    """

    def __init__(self, X: Any, epochs: int, frames: int = 60, side: int = 120) -> None:
        self.extent = plane(X)
        self.side = int(side)
        epochs = max(1, int(epochs))
        self.at = set(np.linspace(1, epochs, min(epochs, max(1, frames - 1))).round().astype(int))
        self.frames: list[tuple[int, np.ndarray]] = []
        self.done = 0

    def _keep(self) -> None:
        grid = region_grid(self.model, None, self.side, self.side, extent=self.extent)
        self.frames.append((self.done, grid.probabilities.astype(np.float32)))

    def on_train_begin(self, info: dict[str, Any]) -> None:
        self._keep()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.done += 1
        if self.done in self.at:
            self._keep()
