"""What a learner should be told about a run: the traps that train silently to nonsense.

Owns the detection and the one-line wording of each trap, so that the Python API (a
``LearnerWarning`` from ``Sequential.fit``) and the CLI (a yellow ``warning:`` line) say
the same thing:

- ``pixel_scale`` / ``raw_pixels_message``: raw 0–255 pixels (uint8 data, or 0..255
  integers in image-sized rows). A network initialised for inputs near 1 sees inputs
  ~100× too large; with the default settings such a run ends at chance (loss ln 10).
- ``after_fit``: a run that ends at chance level (accuracy no better than always
  guessing the most common class, the loss near what that guess costs) or with most
  ReLUs of a layer dead, with the likely cause, measured where it can be: dead ReLUs
  (counted on up to ``SAMPLE_ROWS`` training rows), a loss that rose (overshoot),
  inputs far from unit scale, a deep saturating network (the gradient's norm layer by
  layer, one backward pass), or a loss that barely moved; and a run that learned but whose
  loss ended above where it started (overshoot: the learning rate is too large).
- ``input_scale_cause``: a divergence caused by huge inputs, not by the learning rate.

Imports numpy and nnlite's tables and kernels (through the model it is given). Never
prints: it returns strings; the model warns, the CLI renders.

Omits: anything that needs a second training run to decide (no "try this lr" search).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# Rows looked at to judge the inputs or count dead units: enough to be sure (a live ReLU that
# fires on 1 % of inputs is silent on all 256 with probability 0.08), and cheap enough that
# every fit can afford it (0.3 ms for MNIST's 784-128-10: a one-epoch fit's fixed cost matters).
SAMPLE_ROWS = 256
# A hidden layer is reported when at least this share of its ReLUs never fire.
DEAD_SHARE = 0.5
# Inputs whose largest magnitude exceeds this are "far from unit scale".
LARGE_INPUT = 25.0
# Diverging with inputs this large is blamed on the inputs, not on the learning rate.
HUGE_INPUT = 1e6


def sample_rows(X: np.ndarray, rows: int = SAMPLE_ROWS) -> np.ndarray:
    """Up to ``rows`` rows of X spread evenly over it (a view when X is small)."""
    n = X.shape[0]
    if n <= rows:
        return X
    return X[np.linspace(0, n - 1, rows).astype(np.int64)]


def pixel_scale(X: Any) -> float | None:
    """255.0 when X looks like raw 0–255 pixel values, else None.

    Raw pixels: an unsigned-byte array whose values go above 1, or rows of at least 64
    values (an 8×8 image or more) that are whole numbers from 0 to 255 reaching 32 or
    more. Judged on ``SAMPLE_ROWS`` rows spread over X (0.1 ms on MNIST).
    """
    X = np.asarray(X)
    if X.ndim < 2 or X.shape[0] == 0 or X.dtype.kind not in "biuf":
        return None
    S = sample_rows(X.reshape(X.shape[0], -1))
    top = float(S.max()) if S.size else 0.0
    if X.dtype == np.uint8:
        return 255.0 if top > 1 else None
    if S.shape[1] < 64 or not 32 <= top <= 255 or float(S.min()) < 0:
        return None
    return 255.0 if bool(np.all(S == np.round(S))) else None


def raw_pixels_message(X: Any, what: str = "X") -> str:
    """The trap's first half: what was seen and what it does to training."""
    X = np.asarray(X)
    S = sample_rows(X.reshape(X.shape[0], -1))
    return (
        f"{what} looks like raw pixel values 0..{float(S.max()):g} ({X.dtype}, "
        f"{S.shape[1]} per row): inputs ~100× larger than the weights are initialised for "
        "saturate the network from the first step, and such a run usually ends at chance"
    )


def input_scale_cause(X: np.ndarray) -> str | None:
    """A divergence's cause when the inputs are huge (largest |x| ≥ ``HUGE_INPUT``)."""
    largest = _largest(X)
    if largest < HUGE_INPUT:
        return None
    return (
        f"the inputs are huge (largest |x| = {largest:.3g}): scale them first, e.g. "
        "standardise each feature to mean 0 and standard deviation 1; "
        "a smaller learning rate will not help"
    )


def _largest(X: np.ndarray) -> float:
    with np.errstate(invalid="ignore"):
        S = np.abs(sample_rows(X))
    return float(np.nanmax(S)) if S.size else 0.0


def _class_shares(Y: np.ndarray) -> np.ndarray | None:
    """Share of each class among the targets, or None when they are not classes.

    Whether they are classes is judged on the sampled rows; the shares come from all rows.
    """
    S = sample_rows(Y)
    if not np.all((S == 0) | (S == 1)) or (S.shape[1] > 1 and not np.all(S.sum(axis=1) == 1)):
        return None
    if Y.shape[1] == 1:
        p = float(Y.mean())
        return np.array([1 - p, p])
    return Y.mean(axis=0, dtype=np.float64)


def _guess_loss(shares: np.ndarray, loss: str) -> float:
    """The loss of always predicting the class shares: what a network that learned nothing pays."""
    p = shares[shares > 0]
    if loss in ("cce", "bce"):
        return float(-(p * np.log(p)).sum())
    # nnlite's MSE is Σ(p − y)²/(n·o); guessing the shares costs (1 − Σ pⱼ²)/k, also for one
    # output unit (shares (1 − p, p): p(1 − p)).
    return float(1.0 - (shares**2).sum()) / len(shares)


def dead_relus(
    model: Any, X: np.ndarray, Y: np.ndarray, recent: list[np.ndarray] | None = None
) -> list[tuple[int, float]]:
    """(layer number from 1, share of its units that are 0 on every sampled row) per hidden ReLU layer.

    One forward pass over ``SAMPLE_ROWS`` rows with the kernels ``evaluate`` uses. ``recent``,
    the activations of a batch the network just saw (each layer's A), can spare that pass: a
    dead unit is 0 on every row of it too, so when fewer than ``DEAD_SHARE`` of each layer's
    units are 0 on all of that batch, none can be reported, and [] is returned at no cost.
    """
    relu = [i for i, layer in enumerate(model.layers[:-1]) if layer.activation == "relu"]
    if recent is not None:
        bound = [float(np.mean(np.all(recent[i] <= 0, axis=0))) for i in relu]
        relu = [i for i, share in zip(relu, bound) if share >= DEAD_SHARE]
    if not relu:
        return []
    A = model.layer_outputs(sample_rows(X), sample_rows(Y))
    return [(i + 1, float(np.mean(np.all(A[i] <= 0, axis=0)))) for i in relu]


def gradient_norms(model: Any, X: np.ndarray, Y: np.ndarray) -> list[float] | None:
    """‖∂L/∂Wˡ‖ for every layer, from one backward pass over the sampled rows (CPU only)."""
    if model.memory.device != "cpu":
        return None
    from nnlite import losses
    from nnlite.config import CLIP_EPS
    from nnlite.kernels import cpu

    Xs, Ys = np.ascontiguousarray(sample_rows(X)), np.ascontiguousarray(sample_rows(Y))
    buf = model.buffers(Xs.shape[0])
    grad = buf["grad"]
    cpu.forward_pass(Xs, model.theta, model._dims, model._acts, buf["Z"], buf["A"])
    cpu.backward_pass(
        Xs, Ys, model.theta, model._dims, model._acts, losses.code(model.loss),
        CLIP_EPS[model.dtype], buf["Z"], buf["A"], buf["dZ"], buf["dA"], grad,
    )  # fmt: skip
    return [float(np.linalg.norm(dW.astype(np.float64))) for dW, _ in model.param_views(grad)]


def after_fit(
    model: Any,
    X: np.ndarray,
    Y: np.ndarray,
    history: Any,
    lr: float,
    recent: list[np.ndarray] | None = None,
) -> list[str]:
    """What went wrong in a finished fit, one line each; [] when nothing did.

    ``X``, ``Y`` are the training inputs and target matrix as ``fit`` used them; ``recent``
    the last batch's activations per layer (see ``dead_relus``).
    """
    notes: list[str] = []
    if not history.loss:
        return notes
    loss, acc = history.loss[-1], history.accuracy[-1]
    shares = _class_shares(Y)
    dead = dead_relus(model, X, Y, recent)
    dead_text = ", ".join(
        f"{share:.0%} of layer {i}'s ReLUs" for i, share in dead if share >= DEAD_SHARE
    )
    rose = history.overshoot()
    at_chance = (
        shares is not None
        and not math.isnan(acc)
        and acc <= float(shares.max()) + 0.02
        and loss >= 0.9 * _guess_loss(shares, model.loss)
    )
    if at_chance:
        k = len(shares)
        guess = float(shares.max())
        what = (
            f"the run ended at chance level: training loss {loss:.4f}"
            + (
                f" (a uniform guess costs ln {k} = {math.log(k):.4f})"
                if model.loss in ("cce", "bce")
                else ""
            )
            + f" and accuracy {acc:.1%}, no better than always guessing the most common class "
            f"({guess:.1%})"
        )
        notes.append(f"{what}. Likely cause: {_cause(model, X, Y, history, lr, dead_text, rose)}")
    elif dead_text:
        notes.append(
            f"{dead_text} are dead (zero on every one of {min(len(X), SAMPLE_ROWS):,} training "
            f"rows checked): they no longer learn. The learning rate {lr:g} may be too large"
        )
    elif rose:
        notes.append(_overshoot(history, lr))
    return notes


def _overshoot(history: Any, lr: float) -> str:
    return (
        f"the loss rose from {history.start_loss:.4g} before training to {history.loss[-1]:.4g}: "
        f"the learning rate {lr:g} is probably too large (overshoot); try a smaller one"
    )


def _cause(
    model: Any, X: np.ndarray, Y: np.ndarray, history: Any, lr: float, dead_text: str, rose: bool
) -> str:
    """The most likely reason a run learned nothing, measured where possible."""
    largest = _largest(X)
    if largest > LARGE_INPUT:  # first: large inputs also kill ReLUs and saturate sigmoids
        scale = "÷ 255" if pixel_scale(X) else "standardise each feature"
        also = f" ({dead_text} died of it)" if dead_text else ""
        return (
            f"the inputs are far from unit scale (largest |x| = {largest:.3g}){also}; "
            f"scale them first ({scale})"
        )
    if dead_text:
        return (
            f"{dead_text} are dead (zero on every training row checked) — "
            f"the learning rate {lr:g} is probably too large; try one ten times smaller"
        )
    if rose:
        return _overshoot(history, lr)
    saturating = [x for x in model.layers[:-1] if x.activation in ("sigmoid", "tanh")]
    if len(saturating) >= 4:
        norms = gradient_norms(model, X, Y)
        shrink = ""
        if norms and norms[0] > 0 and norms[-1] > 0:
            shrink = f"; ‖∂L/∂W‖ is {norms[-1] / norms[0]:.3g}× larger at the last layer than at the first"
        names = "/".join(sorted({x.activation for x in saturating}))
        return (
            f"vanishing gradients: {len(saturating)} {names} hidden layers each multiply the "
            f"backpropagated gradient by σ′ (at most ¼ for sigmoid){shrink}; use relu, fewer "
            "layers, or a larger learning rate"
        )
    start = history.start_loss
    if not math.isnan(start) and abs(history.loss[-1] - start) <= 0.01 * abs(start):
        return (
            f"the loss barely moved ({start:.4f} → {history.loss[-1]:.4f}): the learning rate "
            f"{lr:g} may be too small, or the run too short"
        )
    return "none found; check the labels, and try another learning rate or more epochs"
