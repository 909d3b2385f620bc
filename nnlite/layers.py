"""The dense (fully connected) layer.

Owns: ``Dense`` — its hyper-parameters as given (units, activation) and,
once its model is built, its weights W (i, o) and biases b (o,) as views into
the model's flat parameter vector. Forward and backward propagation happen in
the kernels (``dense_forward``: Z = X·W + b, A = σ(Z); ``dense_backward``).
"""

from __future__ import annotations

import numpy as np

from nnlite import activations
from nnlite.config import MAX_UNITS
from nnlite.errors import ConfigError


class Dense:
    """A layer of ``units`` neurons, each computing a = σ(x·w + b).

    Parameters
    ----------
    units : int
        Number of neurons (columns of W).
    activation : str
        σ: ``identity``, ``sigmoid``, ``tanh``, ``relu`` or ``softmax``.
    """

    def __init__(self, units: int, activation: str = "sigmoid") -> None:
        self.units = units
        self.activation = activation
        self.W: np.ndarray | None = None
        self.b: np.ndarray | None = None

    def validate(self) -> None:
        """Check the hyper-parameters (called when the model is built)."""
        if isinstance(self.units, bool) or not isinstance(self.units, (int, np.integer)):
            raise ConfigError(f"Dense units must be a positive integer, got {self.units!r}")
        if not 1 <= self.units <= MAX_UNITS:
            raise ConfigError(
                f"Dense units must be a positive integer of at most {MAX_UNITS:,}, got {self.units}"
            )
        self.activation = activations.canonical(self.activation)

    def __repr__(self) -> str:
        return f"Dense({self.units}, {self.activation!r})"
