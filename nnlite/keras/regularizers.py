"""``keras.regularizers`` on nnlite: L1 and L2 penalties on a Dense layer's weights.

Owns: ``L1``, ``L2``, ``L1L2`` and their functions ``l1``, ``l2``, ``l1_l2`` (Keras's
defaults: 0.01 for ``l1``/``l2``, 0.0 for ``l1_l2``), and ``penalties`` (a
``kernel_regularizer`` as nnlite's ``(l1, l2)``). The penalty is Keras's:
λ₁·Σ|W| + λ₂·ΣW² on the layer's W (not b), added to the reported loss and its gradient
λ₁·sign(W) + 2λ₂·W to ∂L/∂W: nnlite's ``Dense(l1=, l2=)`` computes it in the kernels.
Imports ``nnlite.errors``.

Omits: bias and activity regularizers, orthogonal regularizers, custom callables.
"""

from __future__ import annotations

import math
from typing import Any

from nnlite.errors import ConfigError
from nnlite.keras._cover import not_covered

__all__ = ["L1", "L1L2", "L2", "Regularizer", "l1", "l1_l2", "l2"]


def _strength(value: Any, name: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}", param=name)
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}", param=name) from None
    if not math.isfinite(value) or value < 0:
        raise ConfigError(f"{name} must be a finite number >= 0, got {value}", param=name)
    return value


class Regularizer:
    """A penalty λ₁·Σ|W| + λ₂·ΣW² on a layer's weights (``l1`` = λ₁, ``l2`` = λ₂)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        self.l1 = _strength(l1, "l1")
        self.l2 = _strength(l2, "l2")

    def __call__(self, W: Any) -> float:
        """The penalty for weights ``W`` (float64)."""
        import numpy as np

        W = np.asarray(W, np.float64)
        return float(self.l1 * np.abs(W).sum() + self.l2 * np.square(W).sum())

    def get_config(self) -> dict[str, float]:
        return {"l1": self.l1, "l2": self.l2}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(l1={self.l1:g}, l2={self.l2:g})"


class L1L2(Regularizer):
    """λ₁·Σ|W| + λ₂·ΣW² (Keras's defaults: both 0)."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0) -> None:
        super().__init__(l1, l2)


class L1(Regularizer):
    """λ₁·Σ|W| (Keras's default λ₁ = 0.01)."""

    def __init__(self, l1: float = 0.01) -> None:
        super().__init__(l1=l1)


class L2(Regularizer):
    """λ₂·ΣW², no ½ in front (Keras's default λ₂ = 0.01)."""

    def __init__(self, l2: float = 0.01) -> None:
        super().__init__(l2=l2)


l1, l2, l1_l2 = L1, L2, L1L2


def penalties(regularizer: Any) -> tuple[float, float]:
    """A ``kernel_regularizer`` (None, a ``Regularizer``, or ``"l1"``/``"l2"``/``"l1_l2"``
    with Keras's defaults) as ``(l1, l2)``."""
    if regularizer is None:
        return 0.0, 0.0
    if isinstance(regularizer, str):
        named = {"l1": L1, "l2": L2, "l1_l2": L1L2}
        if regularizer.lower() not in named:
            raise ConfigError(
                f"unknown regularizer {regularizer!r}; nnlite's: l1, l2, l1_l2",
                param="kernel_regularizer",
            )
        regularizer = named[regularizer.lower()]()
    if not isinstance(regularizer, Regularizer):
        raise ConfigError(
            f"kernel_regularizer must be keras.regularizers.l1, l2 or l1_l2, got {regularizer!r}",
            param="kernel_regularizer",
        )
    return regularizer.l1, regularizer.l2


def __getattr__(name: str) -> Any:
    raise not_covered("regularizers", name)
