"""``keras.layers`` on nnlite: the layers of a dense network.

Owns: ``Dense`` (Keras's arguments: ``activation=None`` is linear, nnlite's
``identity``; ``kernel_regularizer``; ``input_shape``/``input_dim``), ``Flatten`` (an
(n, 28, 28) batch becomes (n, 784) rows, before the first Dense), ``Dropout`` (nnlite's
inverted dropout on the next Dense layer's input, only while training), ``InputLayer``
and ``Input`` (the shape of one sample), and ``Activation``/``Softmax``/``ReLU`` (folded
into the linear Dense layer right before them: Dense(10) + Softmax() is
Dense(10, "softmax")). Layers get Keras's automatic names (``dense``, ``dense_1``, …).
Each layer's weights live in its model's nnlite network once it is built
(``get_weights``/``set_weights``). Imports nnlite's layers and activation table.

Weights start as nnlite starts them: Glorot uniform, He normal for ReLU layers (Keras
starts every Dense layer with Glorot uniform); biases at 0.

Omits (``ConfigError`` naming what nnlite covers): convolutions, recurrent layers,
normalisation, embeddings and everything else; Dense layers without bias, other
initialisers, constraints, bias and activity regularisers; per-layer dropout seeds.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from typing import Any

import numpy as np

from nnlite import activations
from nnlite.config import MAX_UNITS
from nnlite.errors import ConfigError
from nnlite.keras import regularizers
from nnlite.keras._cover import not_covered
from nnlite.layers import Dense as _CoreDense

__all__ = [
    "Activation",
    "Dense",
    "Dropout",
    "Flatten",
    "Input",
    "InputLayer",
    "Layer",
    "ReLU",
    "Softmax",
]

_COUNTERS: dict[str, itertools.count] = defaultdict(itertools.count)
_MAX_DIMS = 8  # the most axes a sample may have


def _auto_name(kind: str) -> str:
    """Keras's automatic layer names: ``dense``, ``dense_1``, ``dense_2``, …"""
    n = next(_COUNTERS[kind])
    return kind if n == 0 else f"{kind}_{n}"


def keras_activation(name: str) -> str:
    """nnlite's activation name as Keras spells it (``identity`` is ``linear``)."""
    return "linear" if name == "identity" else name


def activation_name(activation: Any) -> str:
    """Keras's ``activation`` (None, a name, or a function with a name) as nnlite's name."""
    if activation is None:
        return "identity"
    if callable(activation) and not isinstance(activation, str):
        activation = getattr(activation, "__name__", repr(activation))
    if not isinstance(activation, str):
        raise ConfigError(f"activation must be a name such as 'relu', got {activation!r}")
    return activations.canonical(activation)


def sample_shape(shape: Any, what: str) -> tuple[int, ...]:
    """The shape of one sample (no batch axis) as a tuple of positive ints."""
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, bool):
        shape = (shape,)
    try:
        dims = tuple(shape)
    except TypeError:
        raise ConfigError(
            f"{what} must be a tuple of sizes such as (28, 28), got {shape!r}"
        ) from None
    if not 1 <= len(dims) <= _MAX_DIMS:
        raise ConfigError(f"{what} must have 1 to {_MAX_DIMS} sizes, got {shape!r}")
    for d in dims:
        if d is None:
            raise ConfigError(f"{what} {shape!r}: nnlite needs every size of a sample, not None")
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or not 1 <= d <= MAX_UNITS:
            raise ConfigError(f"{what} {shape!r}: sizes must be integers from 1 to {MAX_UNITS:,}")
    if math.prod(dims) > MAX_UNITS:
        raise ConfigError(f"{what} {shape!r} has more than {MAX_UNITS:,} values per sample")
    return tuple(int(d) for d in dims)


def _unsupported(layer: str, **given: Any) -> None:
    """Refuse Keras arguments nnlite does not have when they are not at their neutral value."""
    for key, (value, neutral) in given.items():
        if value not in neutral:
            raise ConfigError(f"{layer}({key}={value!r}) is not in nnlite", param=key)


class Layer:
    """A Keras layer: its name and, for the first layer, the input shape it declares."""

    kind = "layer"

    def __init__(self, name: str | None = None, input_shape: Any = None,
                 trainable: bool = True, dtype: Any = None, **unknown: Any) -> None:  # fmt: skip
        if unknown:
            key = next(iter(unknown))
            raise ConfigError(f"{type(self).__name__} has no argument {key!r} in nnlite", param=key)
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"a layer's name must be a string, got {name!r}")
        self.name = name or _auto_name(self.kind)
        self.input_shape = None if input_shape is None else sample_shape(input_shape, "input_shape")
        if trainable is not True:
            raise ConfigError(f"{type(self).__name__}(trainable=False) is not in nnlite")
        self.dtype = dtype

    def get_weights(self) -> list[np.ndarray]:
        return []

    def set_weights(self, weights: list[Any]) -> None:
        if list(weights):
            raise ConfigError(f"layer {self.name!r} has no weights")

    def count_params(self) -> int:
        return 0

    @property
    def weights(self) -> list[np.ndarray]:
        return self.get_weights()

    def output_shape_for(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one sample after this layer, from the shape before it."""
        return shape

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}>"


class InputLayer(Layer):
    """The shape of one sample, ``shape`` (Keras 2: ``input_shape``; or ``batch_shape``)."""

    kind = "input_layer"

    def __init__(self, shape: Any = None, batch_size: Any = None, dtype: Any = None,
                 sparse: Any = None, batch_shape: Any = None, name: str | None = None,
                 input_shape: Any = None, **unsupported: Any) -> None:  # fmt: skip
        if unsupported:
            key = next(iter(unsupported))
            raise ConfigError(f"InputLayer argument {key!r} is not in nnlite", param=key)
        _unsupported("InputLayer", sparse=(sparse, (None, False)))
        if shape is None and batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        if shape is None:
            shape = input_shape
        if shape is None:
            raise ConfigError("InputLayer needs the shape of one sample: shape=(28, 28)")
        super().__init__(name=name, input_shape=shape, dtype=dtype)
        self.shape = self.input_shape

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape)}


def Input(shape: Any = None, batch_size: Any = None, dtype: Any = None, sparse: Any = None,
          batch_shape: Any = None, name: str | None = None, **unsupported: Any) -> InputLayer:  # fmt: skip
    """``keras.Input(shape=(28, 28))``: the first entry of a ``Sequential`` list.

    (Keras returns a symbolic tensor; in nnlite it is the ``InputLayer`` a Sequential
    model takes in its place.)
    """
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, sparse=sparse,
                      batch_shape=batch_shape, name=name, **unsupported)  # fmt: skip


class Flatten(Layer):
    """Each sample's values in one row: (n, 28, 28) → (n, 784), in C order as NumPy's reshape."""

    kind = "flatten"

    def __init__(self, data_format: Any = None, input_shape: Any = None,
                 name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        _unsupported("Flatten", data_format=(data_format, (None, "channels_last")))
        super().__init__(name=name, input_shape=input_shape, **kwargs)

    def output_shape_for(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (math.prod(shape),)


class Dense(Layer):
    """A fully connected layer: Z = X·W + b, A = σ(Z), with ``units`` neurons.

    ``activation`` None (or ``"linear"``) is σ(z) = z, nnlite's ``identity``.
    ``kernel_regularizer``: ``regularizers.l1(λ)``, ``l2(λ)`` or ``l1_l2``, a penalty on W
    added to the loss. ``input_shape=(784,)`` or ``input_dim=784`` on the first layer
    declares the input.
    """

    kind = "dense"

    def __init__(
        self,
        units: int,
        activation: Any = None,
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_uniform",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        activity_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        input_shape: Any = None,
        input_dim: Any = None,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        act = activation_name(activation)
        _CoreDense(units, act).validate()  # nnlite's own rules for units and activation
        _unsupported(
            "Dense",
            use_bias=(use_bias, (True,)),
            bias_initializer=(bias_initializer, ("zeros",)),
            bias_regularizer=(bias_regularizer, (None,)),
            activity_regularizer=(activity_regularizer, (None,)),
            kernel_constraint=(kernel_constraint, (None,)),
            bias_constraint=(bias_constraint, (None,)),
        )
        nnlite_init = "he_normal" if activations.ACTIVATIONS[act].init == "he" else "glorot_uniform"
        if kernel_initializer not in ("glorot_uniform", nnlite_init):
            raise ConfigError(
                f"Dense(kernel_initializer={kernel_initializer!r}) is not in nnlite: it "
                f"starts a {keras_activation(act)} layer with {nnlite_init}",
                param="kernel_initializer",
            )
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        super().__init__(name=name, input_shape=input_shape, **kwargs)
        self.units = int(units)
        self.activation = act  # nnlite's name
        self.l1, self.l2 = regularizers.penalties(kernel_regularizer)
        self.kernel_regularizer = kernel_regularizer
        self.core: _CoreDense | None = None  # the nnlite layer, once the model is built

    def output_shape_for(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (self.units,)

    def get_weights(self) -> list[np.ndarray]:
        """``[W, b]`` (copies): W of shape (inputs, units), b of shape (units,)."""
        if self.core is None or self.core.W is None:
            return []
        return [self.core.W.copy(), self.core.b.copy()]

    def set_weights(self, weights: list[Any]) -> None:
        """Set ``[W, b]`` (shapes as ``get_weights`` returns them)."""
        if self.core is None or self.core.W is None:
            raise ConfigError(f"layer {self.name!r} is not built yet: build or fit its model first")
        weights = list(weights)
        if len(weights) != 2:
            raise ConfigError(f"layer {self.name!r} takes [W, b], got {len(weights)} arrays")
        for target, value, what in zip((self.core.W, self.core.b), weights, ("W", "b")):
            value = np.asarray(value)
            if value.shape != target.shape:
                raise ConfigError(
                    f"layer {self.name!r}: {what} must have shape {target.shape}, got {value.shape}"
                )
            if not np.isfinite(value).all():
                raise ConfigError(f"layer {self.name!r}: {what} holds NaN or infinity")
            target[...] = value

    @property
    def kernel(self) -> np.ndarray | None:
        return None if self.core is None else self.core.W

    @property
    def bias(self) -> np.ndarray | None:
        return None if self.core is None else self.core.b

    def count_params(self) -> int:
        if self.core is None or self.core.W is None:
            raise ConfigError(f"layer {self.name!r} is not built yet: its input size is unknown")
        return self.core.W.size + self.core.b.size

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "units": self.units,
                "activation": keras_activation(self.activation), "l1": self.l1, "l2": self.l2}  # fmt: skip


class Dropout(Layer):
    """Inverted dropout: while training, each value is kept with probability 1 − ``rate``
    and scaled by 1/(1 − rate), else 0; predict and evaluate use every value as it is.

    Masks come from the fit's seed (``keras.utils.set_random_seed``), not per layer.
    """

    kind = "dropout"

    def __init__(self, rate: float, noise_shape: Any = None, seed: Any = None,
                 name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        if isinstance(rate, bool) or not isinstance(rate, (int, float, np.integer, np.floating)):
            raise ConfigError(f"Dropout rate must be a number in [0, 1), got {rate!r}")
        if not 0 <= rate < 1:
            raise ConfigError(f"Dropout rate must be in [0, 1), got {rate!r}")
        _unsupported("Dropout", noise_shape=(noise_shape, (None,)))
        if seed is not None:
            raise ConfigError(
                "Dropout(seed=...) is not in nnlite: every mask comes from the fit's seed "
                "(keras.utils.set_random_seed)",
                param="seed",
            )
        super().__init__(name=name, **kwargs)
        self.rate = float(rate)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "rate": self.rate}


class Activation(Layer):
    """σ applied to the previous layer's output; it must follow a linear Dense layer, which
    then becomes ``Dense(units, activation)`` (the same function)."""

    kind = "activation"

    def __init__(self, activation: Any, name: str | None = None, **kwargs: Any) -> None:
        super().__init__(name=name, **kwargs)
        self.activation = activation_name(activation)

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "activation": keras_activation(self.activation)}


class Softmax(Activation):
    """softmax over each row, as a layer (``Activation("softmax")``)."""

    kind = "softmax"

    def __init__(self, axis: int = -1, name: str | None = None, **kwargs: Any) -> None:
        _unsupported("Softmax", axis=(axis, (-1, 1)))
        super().__init__("softmax", name=name, **kwargs)


class ReLU(Activation):
    """max(0, z) as a layer (``Activation("relu")``)."""

    kind = "re_lu"

    def __init__(self, max_value: Any = None, negative_slope: Any = 0.0, threshold: Any = 0.0,
                 name: str | None = None, **kwargs: Any) -> None:  # fmt: skip
        _unsupported(
            "ReLU", max_value=(max_value, (None,)), negative_slope=(negative_slope, (0, 0.0)),
            threshold=(threshold, (0, 0.0)),
        )  # fmt: skip
        super().__init__("relu", name=name, **kwargs)


def __getattr__(name: str) -> Any:
    raise not_covered("layers", name)
