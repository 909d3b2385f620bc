"""What training does to a loaded data set: ``train_test_split`` and ``one_hot``.

Owns: the seeded, optionally stratified split (largest remainders, so each class keeps its
share up to rounding) and one-hot rows of labels.

Imports: numpy, ``nnlite.config`` (the seed check), ``nnlite.errors`` and ``base``
(``check_count``).

Omits: feature scaling and augmentation (nnlite leaves features as the source gives them),
cross-validation.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from nnlite import config, errors
from nnlite.datasets.base import check_count


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_fraction: float = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows into a training and a test part, at random but reproducibly.

    Parameters
    ----------
    X : ndarray, shape (n, ...)
    y : ndarray, shape (n,) or (n, k)
    test_fraction : float
        Share of rows for the test part, strictly between 0 and 1; the test part gets
        ``round(test_fraction * n)`` rows.
    seed : int
        Seed of ``np.random.default_rng``.
    stratify : bool
        For integer labels, give each class the same share in both parts (up to rounding,
        largest remainders first). Ignored for regression targets.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Copies (C-contiguous), rows shuffled.

    Raises
    ------
    errors.ConfigError
        ``test_fraction`` outside (0, 1) or leaving a part empty.
    errors.DataError
        ``X`` and ``y`` of different lengths.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise errors.DataError(f"X has {len(X)} rows but y has {len(y)}")
    try:
        fraction = float(test_fraction)
    except (TypeError, ValueError):
        raise errors.ConfigError(f"test_fraction must be a number, got {test_fraction!r}") from None
    if not 0.0 < fraction < 1.0:
        raise errors.ConfigError(f"test_fraction must be strictly between 0 and 1, got {fraction}")
    n = len(y)
    n_test = math.floor(fraction * n + 0.5)
    if n_test == 0 or n_test == n:
        part = "test" if n_test == 0 else "training"
        raise errors.ConfigError(
            f"test_fraction {fraction} of {n} samples leaves the {part} part empty"
        )
    rng = np.random.default_rng(config.check_seed(seed))
    if stratify and y.ndim == 1 and y.dtype.kind in "biu":
        _, inverse = np.unique(y, return_inverse=True)
        counts = np.bincount(inverse)
        exact = fraction * counts
        share = np.floor(exact).astype(np.int64)
        extra = n_test - int(share.sum())
        # Largest remainder: the classes closest to rounding up get the leftover rows.
        share[np.argsort(share - exact, kind="stable")[:extra]] += 1
        share = np.minimum(share, counts)
        is_test = np.zeros(n, dtype=bool)
        for c, m in enumerate(share):
            is_test[rng.permutation(np.flatnonzero(inverse == c))[:m]] = True
        test = rng.permutation(np.flatnonzero(is_test))
        train = rng.permutation(np.flatnonzero(~is_test))
    else:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def one_hot(y: ArrayLike, n_classes: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Labels as one-hot rows: ``Y[i, y[i]] = 1``, all else 0.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Labels in ``0..n_classes-1``.
    n_classes : int
    dtype : numpy dtype
        Of the result (float32 by default, the training dtype).

    Returns
    -------
    ndarray, shape (n, n_classes)
        C-contiguous.
    """
    k = check_count(n_classes, 1, "n_classes")
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "biu"):
        raise errors.DataError(f"labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise errors.DataError(f"labels must lie in 0..{k - 1}, got {y.min()}..{y.max()}")
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y
