"""What ``nnlite.keras`` covers, and the one error for what it does not.

Owns: ``COVERS`` (module → the names nnlite teaches there) and ``not_covered``, the
``ConfigError`` a module's ``__getattr__`` raises for a Keras name nnlite does not have
(``layers.Conv2D``, ``keras.Model``). Names that start with ``_`` stay plain
``AttributeError``s, so Python's and tools' own look-ups (``__path__``, ``_repr_html_``)
behave as they do for any module. Imports ``nnlite.errors`` only.
"""

from __future__ import annotations

from nnlite.errors import ConfigError

COVERS = {
    "keras": "Sequential, Input, layers, optimizers, losses, regularizers, callbacks, models, "
    "datasets, utils",
    "layers": "Dense, Flatten, Dropout, Input, InputLayer, Activation, Softmax, ReLU",
    "optimizers": "SGD, RMSprop, Adam, AdamW, Adagrad, get, schedules",
    "schedules": "ExponentialDecay, InverseTimeDecay, CosineDecay",
    "losses": "SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, "
    "MeanSquaredError (and their function names)",
    "regularizers": "l1, l2, l1_l2, L1, L2, L1L2",
    "callbacks": "Callback, EarlyStopping, ModelCheckpoint, LambdaCallback, History",
    "models": "Sequential, load_model",
    "datasets": "mnist, fashion_mnist",
    "utils": "to_categorical, set_random_seed",
}


def not_covered(module: str, name: str) -> AttributeError | ConfigError:
    """The error for ``module.name`` (``module``: a key of ``COVERS``): raise what it returns."""
    where = "keras" if module == "keras" else f"keras.{module}"
    if name.startswith("_"):
        return AttributeError(f"module 'nnlite.{where}' has no attribute {name!r}")
    return ConfigError(
        f"nnlite.{where} has no {name}: nnlite teaches dense networks (multilayer perceptrons) "
        f"and covers {COVERS[module]}"
    )
