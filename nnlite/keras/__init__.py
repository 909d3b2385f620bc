"""The Keras way, on nnlite: a Keras MNIST program runs with only its imports changed.

    from nnlite import keras                 # was: from tensorflow import keras
    from nnlite.keras import layers          # was: from tensorflow.keras import layers

(and likewise ``optimizers``, ``losses``, ``callbacks``, ``models``, ``datasets``,
``regularizers``, ``utils``). What Keras's names become in nnlite, and where nnlite's
arithmetic differs from Keras's, is said in each module's docstring: ``models``
(``Sequential``, ``load_model``, nnlite's own model file), ``layers``, ``optimizers``
(nnlite follows PyTorch's update formulas, with Keras's default values), ``losses``,
``callbacks``, ``datasets``, ``regularizers``, ``utils``.

Anything Keras has that nnlite does not teach (``layers.Conv2D``, ``keras.Model``, …)
raises ``ConfigError`` with one line that says what nnlite covers.

Like the rest of nnlite's library, nothing here prints by itself except where Keras's
API does: ``summary()`` and ``verbose`` in ``fit``/``evaluate``/``predict``, drawn by
``nnlite.ui``.
"""

from __future__ import annotations

from typing import Any

from nnlite.keras import (
    callbacks,
    datasets,
    layers,
    losses,
    models,
    optimizers,
    regularizers,
    utils,
)
from nnlite.keras._cover import not_covered
from nnlite.keras.layers import Input, InputLayer
from nnlite.keras.models import Sequential, load_model

__all__ = [
    "Input",
    "InputLayer",
    "Sequential",
    "callbacks",
    "datasets",
    "layers",
    "load_model",
    "losses",
    "models",
    "optimizers",
    "regularizers",
    "utils",
]


def __getattr__(name: str) -> Any:
    raise not_covered("keras", name)
