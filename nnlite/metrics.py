"""Classification metrics: what a trained classifier gets right and wrong.

Owns: the confusion matrix, accuracy, per-class precision, recall and support, the
largest confusions, the model's outputs read as class probabilities (with their top k),
the most confidently wrong predictions, and every prediction as CSV (``prediction_lines``,
``write_predictions``). ``nnlite evaluate`` and ``nnlite predict`` show these;
``nnlite.ui.digits`` draws them.

Conventions: ``cm[t, p]`` counts the samples whose true class is ``t`` and whose predicted
class is ``p`` (rows true, columns predicted, as in scikit-learn). A quantity that is 0/0
(the precision of a class that is never predicted, the recall of a class that never
occurs) is NaN, computed without a warning; the caller shows it as "n/a".

Imports: numpy, ``nnlite.errors`` and ``nnlite.files`` (to write the CSV atomically).
Never typer or rich; never prints.

Omits: averaged scores (macro/micro F1), ROC curves, regression metrics (the loss is the
regression metric, see ``Sequential.evaluate``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
from numpy.typing import ArrayLike

from nnlite.errors import DataError

__all__ = [
    "accuracy",
    "class_probabilities",
    "confusion_matrix",
    "most_confident_wrong",
    "precision_recall",
    "prediction_lines",
    "top_k",
    "worst_confusions",
    "write_predictions",
]


def _labels(y: ArrayLike, what: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "biu"):
        raise DataError(f"{what} must be a 1-D array of class numbers, got {y.dtype} {y.shape}")
    if y.size and y.min() < 0:
        raise DataError(f"{what} must be class numbers >= 0, got {y.min()}")
    return y.astype(np.int64, copy=False)


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, n_classes: int | None = None
) -> np.ndarray:
    """Count every (true class, predicted class) pair.

    Parameters
    ----------
    y_true, y_pred : array_like of int, shape (n,)
        Class numbers ``0..n_classes-1``.
    n_classes : int, optional
        Size of the matrix; default: one more than the largest class in either array.

    Returns
    -------
    cm : ndarray of int64, shape (n_classes, n_classes)
        ``cm[t, p]`` = number of samples with true class ``t`` predicted as ``p``. Row sums
        are the support of each class, column sums how often each class was predicted, the
        trace the number of correct predictions.

    Raises
    ------
    DataError
        Arrays of different lengths, not 1-D integers, or a class outside ``0..n_classes-1``.
    """
    t = _labels(y_true, "true labels")
    p = _labels(y_pred, "predicted labels")
    if t.shape != p.shape:
        raise DataError(f"{len(t)} true labels but {len(p)} predicted labels")
    largest = int(max(t.max(initial=-1), p.max(initial=-1)))
    k = largest + 1 if n_classes is None else int(n_classes)
    if largest >= k:
        raise DataError(f"class {largest} is outside 0..{k - 1} for {k} classes")
    # Each pair (t, p) becomes one cell number t·k + p; counting cell numbers counts pairs.
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of samples predicted correctly, in [0, 1]; NaN for no samples."""
    t = _labels(y_true, "true labels")
    p = _labels(y_pred, "predicted labels")
    if t.shape != p.shape:
        raise DataError(f"{len(t)} true labels but {len(p)} predicted labels")
    return float(np.mean(t == p)) if t.size else float("nan")


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den elementwise, NaN where den is 0, without a division warning."""
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def precision_recall(cm: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and support of a confusion matrix.

    precision_c = cm[c, c] / Σ_t cm[t, c]  (of the samples predicted c, the share that are c)
    recall_c    = cm[c, c] / Σ_p cm[c, p]  (of the samples that are c, the share found)

    Parameters
    ----------
    cm : array_like of int, shape (k, k)
        Rows true class, columns predicted class (see ``confusion_matrix``).

    Returns
    -------
    precision, recall : ndarray of float64, shape (k,)
        NaN for a class never predicted (precision) or never present (recall).
    support : ndarray of int64, shape (k,)
        Samples of each true class (row sums).
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise DataError(f"a confusion matrix must be square, got shape {cm.shape}")
    hits = np.diag(cm).astype(np.float64)
    support = cm.sum(axis=1).astype(np.int64)
    predicted = cm.sum(axis=0)
    return _ratio(hits, predicted), _ratio(hits, support), support


def worst_confusions(cm: ArrayLike, k: int = 3) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal cells: the mistakes the model makes most often.

    Returns
    -------
    list of (true, predicted, count)
        Nonzero cells only, largest count first; ties in reading order (row by row).
    """
    cm = np.asarray(cm)
    off = cm.copy()
    np.fill_diagonal(off, 0)
    flat = off.ravel()
    order = np.argsort(-flat, kind="stable")[: max(int(k), 0)]
    n = cm.shape[1]
    return [(int(i // n), int(i % n), int(flat[i])) for i in order if flat[i] > 0]


def class_probabilities(P: ArrayLike) -> np.ndarray:
    """A classifier's outputs as one probability per class.

    Parameters
    ----------
    P : array_like of float, shape (n, k) or (n, 1)
        The last layer's outputs (``Sequential.predict``): softmax rows for k classes, or
        one sigmoid output p for two classes.

    Returns
    -------
    ndarray of float64, shape (n, max(k, 2))
        Softmax rows as they are; one sigmoid column becomes ``[1 − p, p]``, so class 1
        is "p ≥ ½" exactly as ``Sequential.predict_classes`` decides.
    """
    P = np.asarray(P, dtype=np.float64)
    if P.ndim != 2 or P.shape[1] < 1:
        raise DataError(f"outputs must be an (n, k) matrix, got shape {P.shape}")
    if P.shape[1] == 1:
        return np.hstack([1.0 - P, P])
    return P


def top_k(probs: ArrayLike, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` most probable classes of each row, most probable first.

    Parameters
    ----------
    probs : array_like of float, shape (n, c)
    k : int
        Clipped to ``c``.

    Returns
    -------
    classes : ndarray of int64, shape (n, min(k, c))
    values : ndarray of float64, shape (n, min(k, c))
        ``values[i, j] = probs[i, classes[i, j]]``, non-increasing along each row; ties go
        to the smaller class number (as ``argmax`` does).
    """
    probs = np.asarray(probs, dtype=np.float64)
    k = min(max(int(k), 0), probs.shape[1])
    classes = np.argsort(-probs, axis=1, kind="stable")[:, :k].astype(np.int64)
    return classes, np.take_along_axis(probs, classes, axis=1)


def most_confident_wrong(y_true: ArrayLike, probs: ArrayLike, k: int | None = None) -> np.ndarray:
    """Indices of the wrong predictions, the most confident first.

    A prediction is the most probable class (``argmax``, as ``top_k``); it is wrong when it
    differs from the label; its confidence is the probability of the predicted class.

    Parameters
    ----------
    y_true : array_like of int, shape (n,)
    probs : array_like of float, shape (n, c)
        Class probabilities (``class_probabilities``).
    k : int, optional
        Return at most this many (default: every wrong prediction).

    Returns
    -------
    ndarray of int64, shape (m,)
        Row numbers of the wrong predictions sorted by confidence, descending; equal
        confidences in row order. ``m = min(k, number wrong)``.
    """
    t = _labels(y_true, "true labels")
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] != t.shape[0]:
        raise DataError(f"{len(t)} labels but probabilities of shape {probs.shape}")
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != t)
    confidence = probs[wrong, pred[wrong]]
    order = wrong[np.argsort(-confidence, kind="stable")]
    return order if k is None else order[: max(int(k), 0)]


def prediction_lines(
    P: np.ndarray, classes: np.ndarray | None, inputs: np.ndarray | None = None
) -> Iterator[str]:
    """Every prediction as CSV lines (each ending in a newline), the header first.

    Columns ``x1 … x{i}`` (the inputs, when ``inputs`` (n, i) is given: 2-D data, so each
    prediction can be placed on the plane), ``class`` (the predicted class; left out for
    regression, ``classes`` None) and ``p0 … p{k−1}`` (the model's outputs, ``P`` of shape
    (n, k)); numbers with six significant digits.
    """
    xs = [] if inputs is None else [f"x{j + 1}" for j in range(inputs.shape[1])]
    cols = [f"p{j}" for j in range(P.shape[1])]
    yield ",".join(xs + (["class"] if classes is not None else []) + cols) + "\n"
    for i in range(len(P)):
        x = [] if inputs is None else [f"{v:.6g}" for v in inputs[i]]
        vals = [f"{v:.6g}" for v in P[i]]
        yield ",".join(x + ([str(classes[i])] if classes is not None else []) + vals) + "\n"


def write_predictions(
    path: str | os.PathLike, P: np.ndarray, classes: np.ndarray | None, *, overwrite: bool = True,
    inputs: np.ndarray | None = None,
) -> None:  # fmt: skip
    """Write ``prediction_lines`` to ``path`` atomically (``nnlite.files.atomic_write``)."""
    from nnlite.files import atomic_write

    with atomic_write(path, "w", overwrite=overwrite) as handle:
        for line in prediction_lines(P, classes, inputs):
            handle.write(line)
