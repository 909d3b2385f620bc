"""``keras.datasets`` on nnlite: MNIST and Fashion-MNIST as Keras returns them.

Owns: ``mnist`` and ``fashion_mnist``, each with ``load_data()`` returning
``((x_train, y_train), (x_test, y_test))``: images uint8 (n, 28, 28) with pixels 0..255,
labels uint8 (n,), as Keras's. The files are nnlite's (``nnlite.datasets``: the four IDX
files in the data home, ``$NNLITE_DATA``, or ``data_dir``; ``nnlite data download mnist``
fetches them, with pinned checksums); a missing or damaged file is nnlite's one-line
``DataError``. Nothing is downloaded here. Imports numpy and ``nnlite.datasets``.

Omits: CIFAR, IMDB, Reuters, Boston housing and California housing.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import numpy as np

from nnlite.keras._cover import not_covered

__all__ = ["fashion_mnist", "mnist"]

_CHUNK = 4096  # rows converted at a time (12.8 MB of float32): no float copy of the set


def _pixels(X: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """float32 pixels/255 back to the file's uint8 values, as (n, rows, cols).

    Exact: float32(k/255)·255 computed in float32 is k again for every k in 0..255 (the
    rounding to the nearest integer only guards that).
    """
    out = np.empty((X.shape[0], *shape), np.uint8)
    flat = out.reshape(X.shape[0], -1)
    buf = np.empty((min(_CHUNK, X.shape[0]), X.shape[1]), np.float32)
    for start in range(0, X.shape[0], _CHUNK):
        rows = X[start : start + _CHUNK]
        block = buf[: len(rows)]
        np.multiply(rows, np.float32(255), out=block)
        np.rint(block, out=block)
        flat[start : start + len(rows)] = block
    return out


def _load(name: str, data_dir: str | Path | None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
    from nnlite import datasets

    data = datasets.load(name, data_dir=data_dir)
    shape = data.image_shape
    train = (_pixels(data.X, shape), data.y.astype(np.uint8))
    test = (_pixels(data.X_test, shape), data.y_test.astype(np.uint8))
    return train, test


def _source(name: str, title: str) -> types.SimpleNamespace:
    def load_data(data_dir: str | Path | None = None) -> tuple[tuple[np.ndarray, np.ndarray], ...]:
        return _load(name, data_dir)

    load_data.__doc__ = (
        f"{title}: ``((x_train, y_train), (x_test, y_test))``, uint8 images (n, 28, 28) and "
        "uint8 labels, from nnlite's data home (or ``data_dir``: a folder holding the four "
        "IDX files)."
    )
    load_data.__qualname__ = f"{name.replace('-', '_')}.load_data"
    return types.SimpleNamespace(load_data=load_data, __doc__=load_data.__doc__)


mnist = _source("mnist", "MNIST handwritten digits")
fashion_mnist = _source("fashion-mnist", "Fashion-MNIST clothing images")


def __getattr__(name: str) -> Any:
    raise not_covered("datasets", name)
