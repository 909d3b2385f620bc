"""Pictures of a trained model's results, for a notebook (and ``rich.print``).

Owns: ``confusion`` (the confusion matrix of true against predicted classes), ``digits``
(image samples with the label, the prediction and the likeliest classes) and ``regions``
(the classes a two-input network predicts over the plane, the data on top), each an
object that a notebook shows as HTML (pictures as PNG) through ``nnlite.display`` and a
terminal through rich, as ``nnlite evaluate --show`` and ``nnlite train --regions`` draw
them. ``nnlite.show.confusion(...)`` as the last line of a cell shows it.

Imports numpy and nnlite's metrics; the drawing is ``nnlite.ui.notebook``'s, imported only
when an object is shown. Takes nnlite's models and ``nnlite.keras`` models alike.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from nnlite import metrics
from nnlite.display import Displayable
from nnlite.errors import ConfigError, DataError


def _classes(y: Any, what: str) -> np.ndarray:
    """Class numbers from class numbers, or from one-hot / probability rows (argmax)."""
    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] > 1:
        return a.argmax(axis=1)
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    if a.ndim != 1:
        raise DataError(
            f"{what} must be class numbers (n,) or one-hot rows (n, k), got shape {a.shape}"
        )
    return a


def _labels(labels: Sequence[Any] | None, k: int) -> list[str] | None:
    if labels is None:
        return None
    names = [str(x) for x in labels]
    if len(names) < k:
        raise ConfigError(
            f"labels has {len(names)} names but the data has {k} classes", param="labels"
        )
    return names


class Confusion(Displayable):
    """A confusion matrix: ``cm[t, p]`` counts the samples of class t predicted as p."""

    view_kind = "confusion"

    def __init__(self, cm: np.ndarray, labels: list[str] | None) -> None:
        self.cm = cm
        self.labels = labels

    @property
    def accuracy(self) -> float:
        total = int(self.cm.sum())
        return float(np.trace(self.cm)) / total if total else math.nan

    def __repr__(self) -> str:
        return f"Confusion({self.cm.shape[0]} classes, {int(self.cm.sum())} samples)"


def confusion(y_true: Any, y_pred: Any, labels: Sequence[Any] | None = None) -> Confusion:
    """The confusion matrix of ``y_true`` against ``y_pred``, to show.

    Parameters
    ----------
    y_true, y_pred : array_like, shape (n,) or (n, k)
        Class numbers, or one-hot / probability rows (their argmax is the class).
    labels : sequence, optional
        A name for each class (default: the class numbers).
    """
    t, p = _classes(y_true, "y_true"), _classes(y_pred, "y_pred")
    cm = metrics.confusion_matrix(t, p)
    names = _labels(labels, cm.shape[0])
    if names is not None and len(names) > cm.shape[0]:  # classes no sample has: still shown
        k = len(names)
        cm = np.pad(cm, ((0, k - cm.shape[0]), (0, k - cm.shape[0])))
    return Confusion(cm, names)


def _probabilities(model: Any, X: Any) -> np.ndarray:
    """The model's class probabilities for X, shape (n, k ≥ 2), without Keras's progress line."""
    predict = getattr(model, "predict", None)
    if predict is None:
        raise ConfigError(f"{type(model).__name__} has no predict(): pass a trained model")
    quiet = "verbose" in inspect.signature(predict).parameters
    P = predict(X, verbose=0) if quiet else predict(X)
    return metrics.class_probabilities(P)


class Digits(Displayable):
    """Image samples and what the model made of them; see ``digits``."""

    view_kind = "digits"

    def __init__(self, X: np.ndarray, shape: tuple[int, int], probs: np.ndarray, y: Any,
                 labels: list[str] | None, indices: list[int], title: str | None) -> None:  # fmt: skip
        self.X, self.shape, self.probs, self.y = X, shape, probs, y
        self.labels, self.indices, self.title = labels, indices, title
        self.predicted = probs.argmax(axis=1)

    def name(self, c: int) -> str:
        return self.labels[c] if self.labels is not None and c < len(self.labels) else str(c)

    def __repr__(self) -> str:
        return f"Digits({len(self.indices)} shown)"


def digits(
    model: Any,
    X: Any,
    y: Any = None,
    n: int = 8,
    *,
    shape: tuple[int, int] | None = None,
    labels: Sequence[Any] | None = None,
    wrong: bool = False,
) -> Digits:
    """``n`` image samples with the label, the prediction and the three likeliest classes.

    Parameters
    ----------
    model : a trained nnlite or ``nnlite.keras`` model
    X : array_like, shape (n, h·w) or (n, h, w)
        The images, one per row (pixel values as the model takes them).
    y : array_like, optional
        The true classes (numbers or one-hot rows): each picture then says right or wrong.
    n : int
        How many samples (the first ``n``, or the first ``n`` wrong ones).
    shape : (h, w), optional
        The image shape for flat rows that are not square.
    labels : sequence, optional
        Class names.
    wrong : bool
        Show only the samples the model gets wrong, the most confident mistakes first
        (needs ``y``).
    """
    A = np.asarray(X)
    if A.ndim == 3:
        shape = shape or (A.shape[1], A.shape[2])
        flat = A.reshape(A.shape[0], -1)
    elif A.ndim == 2:
        flat = A
    else:
        raise DataError(f"X must hold images as rows (n, h·w) or (n, h, w), got shape {A.shape}")
    d = flat.shape[1]
    if shape is None:
        side = math.isqrt(d)
        if side * side != d:
            raise ConfigError(
                f"rows of {d} pixels are not square: give shape=(h, w)", param="shape"
            )
        shape = (side, side)
    h, w = (int(v) for v in shape)
    if h * w != d:
        raise ConfigError(f"shape {h}×{w} is {h * w} pixels, the rows hold {d}", param="shape")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a whole number ≥ 1, got {n!r}", param="n")
    if wrong and y is None:
        raise ConfigError("wrong=True needs the true classes y", param=("wrong", "y"))
    probs = _probabilities(model, X)
    truth = None if y is None else _classes(y, "y").astype(np.int64)
    if truth is not None and len(truth) != len(flat):
        raise DataError(f"{len(flat)} images but {len(truth)} labels")
    if wrong:
        indices = metrics.most_confident_wrong(truth, probs, int(n)).tolist()
        title = f"the {len(indices)} most confident mistakes" if indices else "no mistakes"
    else:
        indices, title = list(range(min(int(n), len(flat)))), None
    names = _labels(labels, probs.shape[1])
    return Digits(flat, (h, w), probs, truth, names, [int(i) for i in indices], title)


def _network(model: Any) -> Any:
    """nnlite's network under a model (a ``nnlite.keras`` model holds one once built)."""
    built = getattr(model, "_built_network", None)  # nnlite.keras.Sequential
    return built() if built is not None else model


class Regions(Displayable):
    """A two-input network's classes over the plane of its data; see ``regions``."""

    view_kind = "regions"

    def __init__(self, model: Any, X: np.ndarray, y: np.ndarray, labels: list[str] | None,
                 classes: int) -> None:  # fmt: skip
        self.model, self.X, self.y, self.labels, self.classes = model, X, y, labels, classes

    def name(self, c: int) -> str:
        return self.labels[c] if self.labels is not None and c < len(self.labels) else f"class {c}"

    def __repr__(self) -> str:
        return f"Regions({len(self.X)} points, {self.classes} classes)"


def regions(model: Any, X: Any, y: Any, *, labels: Sequence[Any] | None = None) -> Regions:
    """The decision regions of a trained two-input classifier, with the data ``X``, ``y`` on top.

    The plane spans the data (plus a margin); each point is coloured by the class the
    network predicts there, paler where it is less sure.
    """
    from nnlite import regions as plane

    network = _network(model)
    A = np.asarray(X, dtype=np.float64)
    if A.ndim != 2 or A.shape[1] != 2:
        raise DataError(f"decision regions need points (n, 2), got shape {A.shape}")
    plane._check_model(network, 2, "decision regions")
    truth = _classes(y, "y").astype(np.int64)
    if len(truth) != len(A):
        raise DataError(f"{len(A)} points but {len(truth)} labels")
    k = max(int(network.n_outputs), 2)
    return Regions(network, A, truth, _labels(labels, k), k)
