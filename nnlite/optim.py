"""Optimisers.

Owns: ``SGD`` — the learning rate α of gradient descent, W ← W − α·dW, and
the optional momentum μ (classical or Nesterov's), as validated
hyper-parameters. The updates themselves are the kernels ``sgd_update`` and
``momentum_update``, run inside the compiled training loop. Omits adaptive
methods (AdaGrad, RMSProp, Adam) and learning-rate schedules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from nnlite.errors import ConfigError


@dataclass
class SGD:
    """(Stochastic mini-batch) gradient descent with learning rate ``lr`` (α).

    ``momentum`` μ in [0, 1): V ← μ·V − α·dW, W ← W + V (μ = 0: plain SGD).
    ``nesterov``: W ← W + μ·V − α·dW instead (needs μ > 0).
    """

    lr: float = 0.1
    momentum: float = 0.0
    nesterov: bool = False

    def validate(self) -> None:
        """Refuse α that is not positive and finite, μ outside [0, 1), Nesterov without μ."""
        try:
            lr = float(self.lr)
        except (TypeError, ValueError):
            raise ConfigError(f"learning rate must be a number, got {self.lr!r}") from None
        if not math.isfinite(lr) or lr <= 0:
            raise ConfigError(f"learning rate must be positive and finite, got {self.lr}")
        try:
            mu = float(self.momentum)
        except (TypeError, ValueError):
            raise ConfigError(f"momentum must be a number, got {self.momentum!r}") from None
        if not 0 <= mu < 1:  # also refuses NaN
            raise ConfigError(f"momentum must be in [0, 1), got {self.momentum}")
        if self.nesterov and mu == 0:
            raise ConfigError("Nesterov momentum needs a momentum above 0 (e.g. 0.9)")
        self.lr, self.momentum, self.nesterov = lr, mu, bool(self.nesterov)

    def as_dict(self) -> dict[str, float | bool]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov}
