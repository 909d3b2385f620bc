"""``keras.losses`` on nnlite: the four losses a dense network for MNIST uses.

Owns: ``LossSpec`` (what ``compile(loss=...)`` means to nnlite: its loss row, whether
targets are labels or rows, the output activation it needs, ``from_logits``), the loss
classes ``SparseCategoricalCrossentropy``, ``CategoricalCrossentropy``,
``BinaryCrossentropy``, ``MeanSquaredError`` and the functions of the same names
(``sparse_categorical_crossentropy``, …; also accepted as strings), and ``spec``, which
turns any of them into a ``LossSpec``.

``from_logits=True`` (a linear output layer): nnlite trains the same network with the
softmax (or sigmoid) on the output layer and its fused cross-entropy, which is the same
function of the logits, with the same gradient (P − Y)/n; ``predict`` still returns the
logits. Calling a loss object, ``loss(y_true, y_pred)``, computes it with NumPy in
float64 (probabilities clipped to [1e-7, 1 − 1e-7], as Keras does), for the tutorials
that do so before training. Imports numpy (in the calls) and ``nnlite.errors``.

Omits: label smoothing, ``ignore_class``, sample weights and other reductions than the
batch mean, and every other Keras loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nnlite.errors import ConfigError
from nnlite.keras._cover import not_covered

__all__ = [
    "BinaryCrossentropy",
    "CategoricalCrossentropy",
    "Loss",
    "MeanSquaredError",
    "SparseCategoricalCrossentropy",
    "binary_crossentropy",
    "categorical_crossentropy",
    "mean_squared_error",
    "mse",
    "sparse_categorical_crossentropy",
]

_EPS = 1e-7  # Keras's backend.epsilon(), the clip of probabilities before a log


@dataclass(frozen=True)
class LossSpec:
    """What a Keras loss asks of nnlite.

    ``name``: Keras's name; ``loss``: nnlite's row (``cce``, ``bce``, ``mse``);
    ``labels``: targets are class numbers (sparse) rather than rows; ``output``: the
    output activation nnlite trains with (None: any); ``from_logits``: the model's own
    output layer is linear and ``output`` is applied inside the loss.
    """

    name: str
    loss: str
    labels: bool
    output: str | None
    from_logits: bool

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "from_logits": self.from_logits}


# Keras's name: (nnlite loss, targets are labels, output activation)
_LOSSES = {
    "sparse_categorical_crossentropy": ("cce", True, "softmax"),
    "categorical_crossentropy": ("cce", False, "softmax"),
    "binary_crossentropy": ("bce", False, "sigmoid"),
    "mean_squared_error": ("mse", False, None),
}
_ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error"}


class Loss:
    """A Keras loss object: its name and ``from_logits``."""

    name = ""

    def __init__(self, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 name: str | None = None, **unsupported: Any) -> None:  # fmt: skip
        if not isinstance(from_logits, bool):
            raise ConfigError(f"from_logits must be True or False, got {from_logits!r}")
        if reduction not in ("sum_over_batch_size", "auto"):
            raise ConfigError(
                f"reduction={reduction!r}: nnlite's losses are the mean over the batch "
                "(reduction='sum_over_batch_size')"
            )
        for key, value in unsupported.items():
            if key in ("label_smoothing", "ignore_class", "axis") and value in (0, 0.0, None, -1):
                continue
            raise ConfigError(f"{type(self).__name__} argument {key}={value!r} is not in nnlite")
        self.from_logits = from_logits

    def spec(self) -> LossSpec:
        loss, labels, output = _LOSSES[self.name]
        if self.from_logits and output is None:
            raise ConfigError(f"{self.name} has no from_logits: it compares outputs directly")
        return LossSpec(self.name, loss, labels, output, self.from_logits)

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        """The loss of predictions ``y_pred`` for targets ``y_true``, a float (batch mean)."""
        if sample_weight is not None:
            raise ConfigError("sample weights are not in nnlite")
        return _value(self.spec(), y_true, y_pred)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "from_logits": self.from_logits}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(from_logits={self.from_logits})"


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy with class numbers as targets: L = −1/n·Σ log p[label]."""

    name = "sparse_categorical_crossentropy"


class CategoricalCrossentropy(Loss):
    """Cross-entropy with one-hot (or probability) rows as targets: L = −1/n·Σ y·log p."""

    name = "categorical_crossentropy"


class BinaryCrossentropy(Loss):
    """L = −mean[y·log p + (1 − y)·log(1 − p)] over samples and outputs."""

    name = "binary_crossentropy"


class MeanSquaredError(Loss):
    """L = mean (p − y)² over samples and outputs."""

    name = "mean_squared_error"


_CLASSES = {
    cls.name: cls
    for cls in (SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy,
                MeanSquaredError)
}  # fmt: skip


def _function(name: str):
    def loss(y_true: Any, y_pred: Any, from_logits: bool = False) -> float:
        return _CLASSES[name](from_logits=from_logits)(y_true, y_pred)

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = f"Keras's ``{name}`` as a function: the batch mean, a float."
    return loss


sparse_categorical_crossentropy = _function("sparse_categorical_crossentropy")
categorical_crossentropy = _function("categorical_crossentropy")
binary_crossentropy = _function("binary_crossentropy")
mean_squared_error = mse = _function("mean_squared_error")


def spec(loss: Any) -> LossSpec:
    """``compile(loss=...)`` as a ``LossSpec``: a name, a loss object or a loss function."""
    if isinstance(loss, Loss):
        return loss.spec()
    if isinstance(loss, str) or callable(loss):
        name = loss if isinstance(loss, str) else getattr(loss, "__name__", "")
        name = _ALIASES.get(name, name)
        if name in _CLASSES:
            return _CLASSES[name]().spec()
    valid = ", ".join([*_CLASSES, "mse"])
    raise ConfigError(f"loss {loss!r} is not one nnlite covers; its losses: {valid}", param="loss")


def _value(spec: LossSpec, y_true: Any, y_pred: Any) -> float:
    """The loss in float64 NumPy, as Keras computes it (probabilities clipped to [ε, 1 − ε])."""
    import numpy as np

    P = np.asarray(y_pred, np.float64)
    Y = np.asarray(y_true)
    if P.ndim == 1:
        P = P.reshape(-1, 1)
    if spec.from_logits:
        if spec.output == "softmax":
            Z = P - P.max(axis=1, keepdims=True)
            P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
        else:
            P = 1.0 / (1.0 + np.exp(-P))
    if spec.labels:
        labels = Y.reshape(-1).astype(np.int64)
        if labels.shape[0] != P.shape[0] or labels.min() < 0 or labels.max() >= P.shape[1]:
            raise ConfigError(f"labels must be 0..{P.shape[1] - 1}, one per row of y_pred")
        Y = np.zeros_like(P)
        Y[np.arange(P.shape[0]), labels] = 1.0
    Y = np.asarray(Y, np.float64).reshape(P.shape)
    if spec.loss == "mse":
        return float(np.mean((P - Y) ** 2))
    P = np.clip(P, _EPS, 1 - _EPS)
    if spec.loss == "bce":
        return float(-np.mean(Y * np.log(P) + (1 - Y) * np.log(1 - P)))
    return float(-np.mean(np.sum(Y * np.log(P), axis=1)))


def __getattr__(name: str) -> Any:
    raise not_covered("losses", name)
