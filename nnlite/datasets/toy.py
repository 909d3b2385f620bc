"""The data sets nnlite makes itself: logic gates and generated 2-D (or n-D) point clouds.

Owns: the gate truth tables (``gate``, ``GATES``, ``GATE_NOTES``) and the generators
``make_moons``, ``make_circles``, ``make_spirals`` and ``make_blobs`` (``GENERATORS``: name ->
generator), each seeded through ``config.check_seed`` and shuffled once, so the same seed gives
the same rows.

Imports: numpy, ``nnlite.config`` (the seed check), ``nnlite.errors`` and ``base`` (``Dataset``,
``check_count``, ``MAX_GENERATED``).

Omits: files of any kind, and the name lookup (``catalog.load``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from nnlite import config, errors
from nnlite.datasets.base import MAX_GENERATED, Dataset, check_count

# --------------------------------------------------------------------------- logic gates

_GATES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "xor": (0, 1, 1, 0),
}
GATE_NOTES = {
    "and": "linearly separable",
    "or": "linearly separable",
    "nand": "linearly separable",
    "xor": "not linearly separable: a perceptron cannot learn it",
}


def gate(name: str) -> Dataset:
    """Truth table of a two-input logic gate.

    Parameters
    ----------
    name : {"and", "or", "nand", "xor"}

    Returns
    -------
    Dataset
        ``X`` float32 (4, 2) with rows (0,0), (0,1), (1,0), (1,1); ``y`` int64 (4,);
        ``n_classes`` 2.
    """
    key = name.lower()
    if key not in _GATES:
        raise errors.ConfigError(f"unknown gate {name!r}; valid gates: {', '.join(_GATES)}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array(_GATES[key], dtype=np.int64)
    return Dataset(key, X, y, 2, f"{key.upper()} gate truth table, {GATE_NOTES[key]}")


# ------------------------------------------------------------------------------ generators


def _check_nonneg(value: float, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise errors.ConfigError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise errors.ConfigError(f"{what} must be a finite number >= 0, got {value}")
    return value


def _finish(
    name: str, X: np.ndarray, y: np.ndarray, n_classes: int, rng: np.random.Generator, text: str
) -> Dataset:
    # The generators build the classes one after another; shuffling once here means a
    # mini-batch taken from the front is not all one class.
    order = rng.permutation(len(y))
    X = np.ascontiguousarray(X[order], dtype=np.float32)
    return Dataset(name, X, y[order].astype(np.int64), n_classes, text)


def _split_counts(n: int, k: int) -> list[int]:
    """``n`` examples over ``k`` classes as evenly as possible (first classes get the extra)."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (the scikit-learn ``make_moons`` geometry).

    Class 0 is the upper arc ``(cos t, sin t)``, class 1 the lower arc
    ``(1 - cos t, 1/2 - sin t)``, ``t`` evenly spaced in [0, π]; then Gaussian noise with
    standard deviation ``noise`` is added to both coordinates. Rows are shuffled.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, 2) within about [-1, 2] × [-0.5, 1]; ``y`` int64, 2 classes.
    """
    n = check_count(n_samples)
    noise = _check_nonneg(noise, "noise")
    rng = np.random.default_rng(config.check_seed(seed))
    n_out, n_in = _split_counts(n, 2)
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.repeat([0, 1], [n_out, n_in])
    return _finish("moons", X, y, 2, rng, f"two interleaving moons, {n} points, noise {noise}")


def make_circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> Dataset:
    """A small circle inside a large one (the scikit-learn ``make_circles`` geometry).

    Class 0 lies on the unit circle, class 1 on the circle of radius ``factor``; angles are
    evenly spaced, then Gaussian noise with standard deviation ``noise`` is added.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, 2) within about [-1, 1]²; ``y`` int64, 2 classes.
    """
    n = check_count(n_samples)
    noise = _check_nonneg(noise, "noise")
    if not 0.0 < float(factor) < 1.0:
        raise errors.ConfigError(f"factor must be strictly between 0 and 1, got {factor}")
    rng = np.random.default_rng(config.check_seed(seed))
    n_out, n_in = _split_counts(n, 2)
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            factor * np.column_stack([np.cos(t_in), np.sin(t_in)]),
        ]
    )
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.repeat([0, 1], [n_out, n_in])
    text = f"two concentric circles, {n} points, noise {noise}, inner radius {factor}"
    return _finish("circles", X, y, 2, rng, text)


def make_spirals(
    n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> Dataset:
    """Interleaved spiral arms, one per class (the CS231n "spiral data").

    Arm ``j`` has radius ``r`` running evenly from 0 to 1 and angle
    ``θ = 4j + 4r + noise·N(0, 1)``; a point is ``(r sin θ, r cos θ)``.
    Unlike the other generators, the noise perturbs the angle, not the coordinates.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, 2) within [-1, 1]²; ``y`` int64, ``n_classes`` classes.
    """
    k = check_count(n_classes, 2, "n_classes")
    n = check_count(n_samples, k, "n_samples")
    noise = _check_nonneg(noise, "noise")
    rng = np.random.default_rng(config.check_seed(seed))
    parts, labels = [], []
    for j, m in enumerate(_split_counts(n, k)):
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), m) + rng.normal(0.0, noise, size=m)
        parts.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        labels.append(np.full(m, j))
    text = f"{k} interleaved spiral arms, {n} points, angle noise {noise}"
    return _finish("spirals", np.concatenate(parts), np.concatenate(labels), k, rng, text)


def make_blobs(
    n_samples: int = 300,
    centers: int | ArrayLike = 3,
    n_features: int = 2,
    std: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Isotropic Gaussian clusters, one class per cluster.

    Parameters
    ----------
    n_samples : int
        Total number of points, split as evenly as possible between the clusters.
    centers : int or array_like of shape (k, n_features)
        Number of clusters, whose centres are then drawn uniformly from the box
        [-5, 5]^n_features (scikit-learn uses [-10, 10]; the smaller box keeps the
        features near unit scale), or the centres themselves.
    n_features : int
        Dimension of each point; ignored when ``centers`` is an array.
    std : float
        Standard deviation of every cluster.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, n_features); ``y`` int64, k classes.
    """
    std = _check_nonneg(std, "std")
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = check_count(centers, 1, "centers")
        d = check_count(n_features, 1, "n_features")
        if k * d > 2 * MAX_GENERATED:
            raise errors.ConfigError(f"{k:,} centres of {d:,} features are too many to draw")
        rng = np.random.default_rng(config.check_seed(seed))
        C = rng.uniform(-5.0, 5.0, size=(k, d))
    else:
        C = np.asarray(centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] < 1 or C.shape[1] < 1 or not np.isfinite(C).all():
            raise errors.ConfigError(
                f"centers must be an integer or a finite (k, n_features) array, got shape {C.shape}"
            )
        k, d = C.shape
        rng = np.random.default_rng(config.check_seed(seed))
    n = check_count(n_samples, k, "n_samples")
    if n * d > 2 * MAX_GENERATED:
        raise errors.ConfigError(
            f"{n:,} points of {d:,} features are more than the {2 * MAX_GENERATED:,} values "
            "a generator makes"
        )
    counts = _split_counts(n, k)
    y = np.repeat(np.arange(k), counts)
    X = C[y] + rng.normal(0.0, std, size=(n, d))
    text = f"{k} Gaussian blobs in {d}-D, {n} points, std {std}"
    return _finish("blobs", X, y, k, rng, text)


GATES = tuple(_GATES)
GENERATORS = {
    "moons": make_moons,
    "circles": make_circles,
    "spirals": make_spirals,
    "blobs": make_blobs,
}
