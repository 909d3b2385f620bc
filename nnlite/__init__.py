"""nnlite: a small, fast, honest neural-network solver for learning deep learning.

The public API is re-exported here lazily (PEP 562), so that ``import nnlite``
— and the CLI's ``--help`` — does not import numba. Importing nnlite points
numba's JIT cache at a writable directory before numba is first imported.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from nnlite.config import __version__, configure_numba_cache
from nnlite.errors import DataError, DivergenceError, ModelFileError, NnliteError

configure_numba_cache()

_LAZY = {
    "Dense": "nnlite.layers",
    "Dropout": "nnlite.layers",
    "Sequential": "nnlite.models",
    "Perceptron": "nnlite.models",
    "History": "nnlite.models",
    "SGD": "nnlite.optim",
    "AdaGrad": "nnlite.optim",
    "RMSProp": "nnlite.optim",
    "Adam": "nnlite.optim",
    "AdamW": "nnlite.optim",
    "Optimizer": "nnlite.optim",
    "Schedule": "nnlite.schedules",
    "load": "nnlite.io",
    "save": "nnlite.io",
    "datasets": "nnlite.datasets",
    "show": "nnlite.show",
}

__all__ = [
    "__version__",
    "NnliteError",
    "DataError",
    "DivergenceError",
    "ModelFileError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name])
        return module if name in ("datasets", "show") else getattr(module, name)
    raise AttributeError(f"module 'nnlite' has no attribute {name!r}")
