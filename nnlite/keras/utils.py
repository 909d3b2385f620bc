"""``keras.utils`` on nnlite: ``to_categorical`` and ``set_random_seed``.

Owns: ``to_categorical`` (labels → one-hot float32 rows, as Keras's) and
``set_random_seed`` with the seed it sets (``seed()``): nnlite is reproducible by
design, so every ``nnlite.keras`` model draws its initial weights, its batch order and
its dropout masks from this one seed (0 until set). Imports numpy and ``nnlite.errors``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlite.config import check_seed
from nnlite.errors import ConfigError, DataError
from nnlite.keras._cover import not_covered

__all__ = ["set_random_seed", "to_categorical"]

_SEED = [0]
_MAX_CLASSES = 1 << 16


def set_random_seed(seed: int) -> None:
    """Seed every later model's initial weights, batch order and dropout masks."""
    _SEED[0] = check_seed(seed)


def seed() -> int:
    """The seed ``set_random_seed`` set (0 by default)."""
    return _SEED[0]


def to_categorical(x: Any, num_classes: int | None = None) -> np.ndarray:
    """Class numbers 0..k−1 as one-hot rows, float32 (n, k); k = ``num_classes`` or max + 1."""
    y = np.asarray(x)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"to_categorical takes one label per sample, got shape {y.shape}")
    if y.size and not np.all(np.mod(y, 1) == 0):
        raise DataError("to_categorical takes whole class numbers 0, 1, 2, ...")
    labels = y.astype(np.int64)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)):
        raise ConfigError(f"num_classes must be an integer, got {num_classes!r}")
    if not 1 <= num_classes <= _MAX_CLASSES:
        raise ConfigError(f"num_classes must be 1..{_MAX_CLASSES}, got {num_classes}")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise DataError(f"label {bad} is not a class 0..{num_classes - 1}")
    out = np.zeros((labels.size, int(num_classes)), np.float32)
    out[np.arange(labels.size), labels] = 1
    return out


def __getattr__(name: str) -> Any:
    raise not_covered("utils", name)
