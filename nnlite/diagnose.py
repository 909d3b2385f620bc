"""What a learner should be told about a run: the traps that train silently to nonsense.

Owns the detection and the one-line wording of each trap, so that the Python API (a
``LearnerWarning`` from ``Sequential.fit``) and the CLI (a yellow ``warning:`` line) say
the same thing:

- ``pixel_scale`` / ``raw_pixels_message``: raw 0–255 pixels (uint8 data, or 0..255
  integers in image-sized rows). A network initialised for inputs near 1 sees inputs
  ~100× too large; with the default settings such a run ends at chance (loss ln 10).
- ``after_fit``: a run that ends at chance level (accuracy no better than always
  guessing the most common class, the loss near what that guess costs) or with most
  ReLUs of a layer dead, with the likely cause, measured where it can be (the layer
  health figures of ``nnlite.health``, on up to ``SAMPLE_ROWS`` training rows): dead
  ReLUs, a loss that rose (overshoot), inputs far from unit scale, vanishing gradients
  ("gradients shrink 10⁴× from layer 5 to layer 1", from the gradient's norm layer by
  layer), saturated sigmoid/tanh layers, or a loss that barely moved; a run that learned
  but whose loss ended above where it started (overshoot: the learning rate is too
  large); and a run whose loss barely fell, when vanishing gradients or saturation explain it.
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
# A hidden sigmoid/tanh layer is reported when at least this share of its units are saturated
# (``nnlite.health``: σ′ below 1 % of its maximum on 90 % of the rows checked).
SATURATED_SHARE = 0.5
# Gradients are "vanishing" when ‖∂L/∂W‖ of the last layer is this many times layer 1's.
VANISHING = 1e3
# A run whose loss fell by less than this share of where it started has stalled.
STALLED = 0.1
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
    (``after_fit`` reads the same shares from the fit's ``history.health`` instead.)
    """
    from nnlite.health import dead_share  # the one definition of a dead unit

    relu = [i for i, layer in enumerate(model.layers[:-1]) if layer.activation == "relu"]
    if recent is not None:
        bound = [dead_share(recent[i], "relu") for i in relu]
        relu = [i for i, share in zip(relu, bound) if share >= DEAD_SHARE]
    if not relu:
        return []
    A = model.layer_outputs(sample_rows(X), sample_rows(Y))
    return [(i + 1, dead_share(A[i], "relu")) for i in relu]


def backprop(model: Any, X: np.ndarray, Y: np.ndarray, buf: dict[str, np.ndarray]) -> None:
    """One forward and one backward pass over the rows X, Y: every Aˡ and ∂L/∂θ into ``buf``.

    The CPU kernels ``forward_pass`` and ``backward_pass`` on the model's host θ (current on
    the host after ``fit``, and at each epoch's end, on every device): the data loss's
    gradient, without penalties or dropout. ``buf``: scratch arrays from
    ``model.buffers(len(X))`` (read them with ``model.layer_view`` and ``model.param_views``);
    X, Y as ``fit`` holds them (the dtype's C-contiguous matrices). θ is not changed.
    """
    from nnlite import losses
    from nnlite.config import CLIP_EPS
    from nnlite.kernels import cpu

    cpu.backprop(
        X, Y, model.theta, model._dims, model._acts, losses.code(model.loss),
        CLIP_EPS[model.dtype], buf["Z"], buf["A"], buf["dZ"], buf["dA"], buf["grad"],
    )  # fmt: skip


def gradient_norms(model: Any, X: np.ndarray, Y: np.ndarray) -> list[float]:
    """‖∂L/∂Wˡ‖ for every layer, from one backward pass over the sampled rows (``backprop``)."""
    Xs, Ys = np.ascontiguousarray(sample_rows(X)), np.ascontiguousarray(sample_rows(Y))
    buf = model.buffers(Xs.shape[0])
    backprop(model, Xs, Ys, buf)
    return [
        float(np.linalg.norm(dW.astype(np.float64))) for dW, _ in model.param_views(buf["grad"])
    ]


def after_fit(
    model: Any,
    X: np.ndarray,
    Y: np.ndarray,
    history: Any,
    lr: float,
) -> list[str]:
    """What went wrong in a finished fit, one line each; [] when nothing did.

    ``X``, ``Y`` are the training inputs and target matrix as ``fit`` used them. The layers'
    figures (dead ReLUs, saturation, gradient norms) are the fit's last ``history.health``
    record (``nnlite.health``, on ``SAMPLE_ROWS`` training rows), measured here when absent.
    """
    notes: list[str] = []
    if not history.loss:
        return notes
    loss, acc = history.loss[-1], history.accuracy[-1]
    shares = _class_shares(Y)
    figures = _last_health(model, X, Y, history)
    hidden = [(i + 1, x.activation) for i, x in enumerate(model.layers[:-1])]
    dead = [(i, figures[i - 1, _DEAD]) for i, act in hidden if act == "relu"]
    dead_text = ", ".join(
        f"{share:.0%} of layer {i}'s ReLUs" for i, share in dead if share >= DEAD_SHARE
    )
    rose = history.overshoot()
    start = history.start_loss
    stalled = not math.isnan(start) and loss > (1 - STALLED) * start
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
        cause = _cause(model, X, history, lr, dead_text, rose, figures)
        notes.append(f"{what}. Likely cause: {cause}")
    elif dead_text:
        notes.append(
            f"{dead_text} are dead (zero on every one of {min(len(X), SAMPLE_ROWS):,} training "
            f"rows checked): they no longer learn. The learning rate {lr:g} may be too large"
        )
    elif stalled and (health := _health_causes(model, figures, measured_only=rose)):
        # a loss that barely fell (or rose a little) with the gradient measured vanishing or
        # layers saturated: that, not the learning rate, is why
        verb = "rose" if rose else "barely fell"
        notes.append(f"the loss {verb} ({start:.4f} → {loss:.4f}). Likely cause: {health}")
    elif rose:
        notes.append(_overshoot(history, lr))
    return notes


_WEIGHT_NORM, _UPDATE, _SATURATED, _DEAD, _GRAD_NORM = range(5)  # nnlite.health.FIGURES


def _last_health(model: Any, X: np.ndarray, Y: np.ndarray, history: Any) -> np.ndarray:
    """The layers' health figures for the final θ: the fit's last record, else measured now."""
    from nnlite import health

    if len(history.health) == len(history.loss) and not np.isnan(history.health[-1]).all():
        return history.health[-1]
    probe = health.Probe(model, X, Y)
    probe.begin(model)
    return probe.measure(model)


def _power(ratio: float) -> str:
    """A large ratio as a power of ten, ``12345.6`` → ``10⁴×``; a small one in digits."""
    if ratio < 1000:
        return f"{ratio:.0f}×"
    digits = str(round(math.log10(ratio)))
    return "10" + digits.translate(str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")) + "×"


def _health_causes(model: Any, figures: np.ndarray, measured_only: bool = False) -> str:
    """Vanishing gradients and saturated layers, measured (``nnlite.health``); "" when neither.

    Vanishing: ‖∂L/∂W‖ of the last layer ≥ ``VANISHING`` × layer 1's (the ratio is named),
    or, unless ``measured_only``, four or more sigmoid/tanh hidden layers (each multiplies
    the backpropagated gradient by σ′). Saturated: a hidden sigmoid/tanh layer with at
    least ``SATURATED_SHARE`` of its units saturated.
    """
    saturating = [x for x in model.layers[:-1] if x.activation in ("sigmoid", "tanh")]
    names = "/".join(sorted({x.activation for x in saturating}))
    norms = figures[:, _GRAD_NORM]
    first, last = float(norms[0]), float(norms[-1])
    ratio = last / first if first > 0 else math.inf if last > 0 else math.nan
    measured = len(model.layers) >= 3 and ratio >= VANISHING
    saturated = [
        f"{figures[i, _SATURATED]:.0%} of layer {i + 1}'s {layer.activation} units"
        for i, layer in enumerate(model.layers[:-1])
        if layer.activation in ("sigmoid", "tanh") and figures[i, _SATURATED] >= SATURATED_SHARE
    ]
    parts = []
    if measured or (len(saturating) >= 4 and not measured_only):
        shrink = tail = ""
        if measured:
            times = _power(ratio) if math.isfinite(ratio) else "to nothing"
            shrink = f"gradients shrink {times} from layer {len(model.layers)} to layer 1: "
        elif math.isfinite(ratio):
            tail = f"; ‖∂L/∂W‖ is {ratio:.3g}× larger at the last layer than at the first"
        text = f"{shrink}vanishing gradients"
        if saturating:
            text += (
                f": {len(saturating)} {names} hidden layers each multiply the backpropagated "
                f"gradient by σ′ (at most ¼ for sigmoid){tail}"
            )
        if not saturated:
            text += "; use relu, fewer layers, He/Glorot initialisation, or a larger learning rate"
        parts.append(text)
    if saturated:
        parts.append(
            f"{', '.join(saturated)} are saturated (σ′ below 1 % of its maximum on the "
            "training rows checked), so they pass almost no gradient back: use smaller initial "
            "weights and biases, inputs near unit scale, or a smaller learning rate"
        )
    return "; ".join(parts)


def _overshoot(history: Any, lr: float) -> str:
    return (
        f"the loss rose from {history.start_loss:.4g} before training to {history.loss[-1]:.4g}: "
        f"the learning rate {lr:g} is probably too large (overshoot); try a smaller one"
    )


def _cause(
    model: Any, X: np.ndarray, history: Any, lr: float, dead_text: str, rose: bool,
    figures: np.ndarray,
) -> str:  # fmt: skip
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
    # Measured: a gradient that shrinks ≥ 10³× on its way down, or saturated layers, explain a
    # run that learned nothing better than a loss that rose a little from where it started.
    health = _health_causes(model, figures, measured_only=True)
    if health:
        return health
    if rose:
        return _overshoot(history, lr)
    health = _health_causes(model, figures)
    if health:
        return health
    start = history.start_loss
    if not math.isnan(start) and abs(history.loss[-1] - start) <= 0.01 * abs(start):
        return (
            f"the loss barely moved ({start:.4f} → {history.loss[-1]:.4f}): the learning rate "
            f"{lr:g} may be too small, or the run too short"
        )
    return "none found; check the labels, and try another learning rate or more epochs"
