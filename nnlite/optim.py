"""Optimisers.

Owns: ``SGD`` — the learning rate α of gradient descent, W ← W − α·dW, as a
validated hyper-parameter. The update itself is the kernel ``sgd_update``,
run inside the compiled training loop. Omits momentum and adaptive methods.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnlite.errors import ConfigError


@dataclass
class SGD:
    """(Stochastic mini-batch) gradient descent with learning rate ``lr`` (α)."""

    lr: float = 0.1

    def validate(self) -> None:
        """Refuse a learning rate that is not a positive finite number."""
        try:
            lr = float(self.lr)
        except (TypeError, ValueError):
            raise ConfigError(f"learning rate must be a number, got {self.lr!r}") from None
        if not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"learning rate must be positive and finite, got {self.lr}")
        self.lr = lr
