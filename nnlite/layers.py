"""The layers of a ``Sequential`` network: dense (fully connected) layers and dropout.

Owns: ``Dense`` — its hyper-parameters as given (units, activation, the L1
and L2 penalties on its W) and, once its model is built, its weights W (i, o)
and biases b (o,) as views into the model's flat parameter vector — and
``Dropout``, a rate applied to the input of the layer after it while
training. Forward and backward propagation happen in the kernels
(``dense_forward``: Z = X·W + b, A = σ(Z); ``dense_backward``;
``dropout_forward``/``dropout_backward``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nnlite import activations
from nnlite.config import MAX_UNITS, check_number
from nnlite.errors import ConfigError


def _penalty(value: Any, name: str) -> float:
    x = check_number(value, name)
    if x < 0:
        raise ConfigError(f"{name} must be a non-negative finite number, got {value!r}")
    return x

class Dense:
    """A layer of ``units`` neurons, each computing a = σ(x·w + b).

    Parameters
    ----------
    units : int
        Number of neurons (columns of W).
    activation : str
        σ: ``identity``, ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``,
        ``softplus`` or ``softmax`` (see ``nnlite.activations``).
    l1, l2 : float
        Penalties λ₁·Σ|W| and λ₂·ΣW² on this layer's weights (not its biases),
        added to the loss and to ∂L/∂W, as Keras's ``kernel_regularizer``.
    """

    def __init__(
        self, units: int, activation: str = "sigmoid", l1: float = 0.0, l2: float = 0.0
    ) -> None:
        self.units = units
        self.activation = activation
        self.l1 = l1
        self.l2 = l2
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
        self.l1 = _penalty(self.l1, "l1")
        self.l2 = _penalty(self.l2, "l2")

    def __repr__(self) -> str:
        extra = "".join(f", {k}={v:g}" for k, v in (("l1", self.l1), ("l2", self.l2))
                        if isinstance(v, (int, float)) and v)  # fmt: skip
        return f"Dense({self.units}, {self.activation!r}{extra})"


class Dropout:
    """Inverted dropout at ``rate`` p on the values that flow into the next layer.

    While training, each value is kept with probability 1 − p and scaled by
    1/(1 − p), else set to 0, so its expected value is unchanged; predict and
    evaluate use every value as it is. The masks are drawn from the fit's seed,
    step and position (``nnlite.kernels.codes.dropout_unit``): the same seed gives
    the same masks, on every device and after a resume.
    """

    def __init__(self, rate: float) -> None:
        self.rate = rate

    def validate(self) -> None:
        if isinstance(self.rate, bool):
            raise ConfigError(f"Dropout rate must be a number in [0, 1), got {self.rate!r}")
        try:
            rate = float(self.rate)
        except (TypeError, ValueError):
            raise ConfigError(f"Dropout rate must be a number in [0, 1), got {self.rate!r}") from None
        if not 0 <= rate < 1:  # also refuses NaN
            raise ConfigError(f"Dropout rate must be in [0, 1), got {self.rate!r}")
        self.rate = rate

    def __repr__(self) -> str:
        return f"Dropout({self.rate!r})"
