"""Layer health: per layer and epoch, the figures that say whether a network can still learn.

Owns the figures ``fit`` records each epoch into ``History.health`` (and ``nnlite.io`` keeps
in the model file), measured at the epoch's end on a fixed sample of the training data
(``nnlite.diagnose.SAMPLE_ROWS`` rows spread over it, chosen once per fit), one row of
``FIGURES`` per Dense layer ℓ:

- ``weight_norm``: ‖Wˡ‖, the Frobenius norm √(Σ w²) of the layer's weights (not its b).
- ``update_ratio``: ‖Wˡ_end − Wˡ_start‖ / ‖Wˡ_start‖, how far one epoch moved the weights
  relative to their size (Wˡ_start: at the previous measurement, i.e. the epoch's start; a
  resumed fit's first epoch counts from the checkpoint). Around 10⁻³ per step is the usual
  rule of thumb; far below: the layer has stopped learning; near 1: it is being thrown about.
- ``saturated``: for a sigmoid or tanh layer, the share of its units that are saturated: σ′
  below ``SATURATION`` (1 %) of its maximum on at least ``SATURATED_ROWS`` (90 %) of the
  sampled rows. Sigmoid: σ′ = a(1 − a) < 0.0025, i.e. a < 0.0025 or a > 0.9975 (|z| > 6);
  tanh: σ′ = 1 − a² < 0.01, i.e. |a| > 0.995 (|z| > 3). Such a unit passes back less than
  1 % of the gradient a unit at its steepest would. NaN for other activations.
- ``dead``: for a ReLU layer, the share of its units that are 0 on every sampled row (they
  get no gradient, so they never come back). NaN for other activations.
- ``grad_norm``: ‖∂L/∂Wˡ‖, the Frobenius norm of the data loss's gradient over the sample
  (no L1/L2 penalty, no dropout): one backward pass. Comparing layer 1's with the last
  layer's shows gradients vanishing (or exploding) on their way down.

The forward and backward passes are the CPU kernels' ``forward_pass`` and ``backward_pass``
(``nnlite.diagnose.sample_pass``) on the host θ, so they read the same arithmetic ``fit``
runs; on CUDA θ is on the host at each epoch's end anyway. They write only scratch arrays
of their own: recording health never changes θ, the loss or the batch order.

Cost: one forward and backward pass over 256 rows and a few norms per epoch; measured in
``bench/RESULTS.md`` (about 0.1 % of an MNIST 784-128-10 epoch; on the 4-row XOR set an
epoch is itself a few microseconds, so there the figures cost more than the training,
some tens of microseconds an epoch).

Imports numpy and ``nnlite.diagnose``. Never prints; rendering is ``nnlite.ui.health``.
Omits: biases' norms, per-unit figures, anything needing a second pass over the data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nnlite import diagnose

FIGURES = ("weight_norm", "update_ratio", "saturated", "dead", "grad_norm")
WEIGHT_NORM, UPDATE_RATIO, SATURATED, DEAD, GRAD_NORM = range(len(FIGURES))
# The figures that are shares (in [0, 1]); the others are norms or ratios (≥ 0).
SHARES = (SATURATED, DEAD)
# A value is saturated when σ′ is below this share of its maximum (¼ for sigmoid, 1 for tanh),
SATURATION = 0.01
# and a unit when at least this share of the sampled rows' values are.
SATURATED_ROWS = 0.9
# Measured every ``every`` epochs (and on a fit's last epoch), where every = ⌈EVERY_ROWS / n⌉
# for n training rows, at most MAX_EVERY: on a tiny data set one measurement costs more than an
# epoch's training (XOR: 4 rows, 35 µs against 50 µs), so there it is spread over epochs.
# 32 × 256 rows: the default ``nnlite train`` (1,437 digits) measures every 6th epoch, 3–4 %
# of its training time (every 2nd with 8 × 256: 10 %; bench/bench_health.py).
EVERY_ROWS = 32 * diagnose.SAMPLE_ROWS
MAX_EVERY = 16
_SIGMOID_LIMIT = SATURATION * 0.25  # a(1 − a) below this
_TANH_LIMIT = SATURATION * 1.0  # 1 − a² below this


def saturated_share(A: np.ndarray, activation: str) -> float:
    """Share of the units (columns of A, activations σ(Z)) saturated on ≥ 90 % of the rows.

    NaN for activations that do not saturate (all but sigmoid and tanh).
    """
    if activation not in ("sigmoid", "tanh") or A.size == 0:
        return math.nan
    A = A.astype(np.float64)
    slope = A * (1.0 - A) < _SIGMOID_LIMIT if activation == "sigmoid" else 1.0 - A * A < _TANH_LIMIT
    rows = np.count_nonzero(slope, axis=0)
    return np.count_nonzero(rows >= SATURATED_ROWS * A.shape[0]) / A.shape[1]


def dead_share(A: np.ndarray, activation: str) -> float:
    """Share of the units (columns of A) that are 0 on every row: dead ReLUs. NaN if not ReLU."""
    if activation != "relu" or A.size == 0:
        return math.nan
    return 1.0 - np.count_nonzero((A > 0).any(axis=0)) / A.shape[1]


class Probe:
    """What one fit needs to measure the figures: the fixed sample, and θ at the epoch's start.

    ``X``, ``Y``: the training inputs and target matrix as ``fit`` holds them (the model's
    dtype, C-contiguous); the sample is ``diagnose.sample_rows`` of them, fixed for the fit.
    Everything a measurement reads is laid out here once (views into the scratch arrays),
    so that a tiny data set's measurement pays little more than the two kernel calls.
    ``fit`` calls ``begin`` at each epoch's start and ``measure`` at the end of the epochs
    ``due`` names.
    """

    def __init__(self, model: Any, X: np.ndarray, Y: np.ndarray) -> None:
        self.X = np.ascontiguousarray(diagnose.sample_rows(X))
        self.Y = np.ascontiguousarray(diagnose.sample_rows(Y))
        self.every = min(MAX_EVERY, -(-EVERY_ROWS // X.shape[0]))
        rows = self.X.shape[0]
        self.buf = model.buffers(rows)
        self.acts = [layer.activation for layer in model.layers]
        self.A = [model.layer_view(self.buf["A"], i, rows) for i in range(len(self.acts))]
        self.dW = [dW.reshape(-1) for dW, _ in model.param_views(self.buf["grad"])]
        # Where each W lies in θ (W then b, layer by layer; ``param_views`` knows the layout).
        base = model.theta.__array_interface__["data"][0]
        self.spans = []
        for W, _ in model.param_views(model.theta):
            start = (W.__array_interface__["data"][0] - base) // model.theta.itemsize
            self.spans.append(slice(start, start + W.size))
        # θ at the epoch's start, in θ's dtype: one copy of θ; float64 only a layer at a time
        self.before = np.empty_like(model.theta)

    def due(self, epoch: int, last: bool) -> bool:
        """Whether ``epoch`` (from 0 over the model's history) is measured: every k-th, and the last."""
        return last or (epoch + 1) % self.every == 0

    def begin(self, model: Any) -> None:
        """Note θ at an epoch's start (on the host: at every epoch's start, on every device)."""
        np.copyto(self.before, model.theta)

    def measure(self, model: Any) -> np.ndarray:
        """The figures for the model's current (host) θ: a (layers, len(FIGURES)) float64 array."""
        diagnose.backprop(model, self.X, self.Y, self.buf)
        out = np.full((len(self.acts), len(FIGURES)), math.nan)
        for i, (span, act, A, dW) in enumerate(zip(self.spans, self.acts, self.A, self.dW)):
            W, W0 = model.theta[span].astype(np.float64), self.before[span].astype(np.float64)
            start = _norm(W0)
            out[i, WEIGHT_NORM] = _norm(W)
            if start > 0:
                out[i, UPDATE_RATIO] = _norm(W - W0) / start
            out[i, SATURATED] = saturated_share(A, act)
            out[i, DEAD] = dead_share(A, act)
            out[i, GRAD_NORM] = _norm(dW.astype(np.float64))
        return out


def _norm(v: np.ndarray) -> float:
    """‖v‖ = √(v·v) of a 1-D float64 array (np.linalg.norm's checks cost more on tiny arrays)."""
    return math.sqrt(float(np.dot(v, v)))


def table(history: Any) -> np.ndarray:
    """``history.health`` as one (epochs, layers, len(FIGURES)) float64 array (NaN: not measured)."""
    if not history.health:
        return np.zeros((0, 0, len(FIGURES)))
    return np.stack(history.health)


def figure(history: Any, name: str) -> np.ndarray:
    """One figure over the epochs: an (epochs, layers) array; ``name`` is one of ``FIGURES``."""
    return table(history)[:, :, FIGURES.index(name)]


def check(values: np.ndarray) -> str | None:
    """Why an (epochs, layers, figures) array cannot be a health record, or None when it can."""
    if values.ndim != 3 or values.shape[2] != len(FIGURES):
        return f"has shape {values.shape}, not (epochs, layers, {len(FIGURES)})"
    if np.isinf(values).any():
        return "holds an infinity"
    known = values[~np.isnan(values)]
    if (known < 0).any():
        return "holds a negative norm or share"
    if (values[:, :, list(SHARES)] > 1).any():
        return "holds a share above 1"
    return None
