"""Loss functions by name, and which output activation each pairs with.

Owns: ``LOSSES``, one row per loss — name and aliases, kernel code
(``nnlite/kernels/codes.py``), the formulas of L and ∂L/∂P as the trace
prints them, and its fused partner: softmax + categorical cross-entropy and
sigmoid + binary cross-entropy are differentiated together, so dZ = (P −
Y)/n without forming the softmax Jacobian (the kernels' side of that rule
is ``codes.FUSED_WITH``; a test holds the two equal) — and validation of the
(output activation, loss) pair. The kernels are ``*_loss``/``*_grad`` per
device, in ``kernels/cpu.py`` and ``kernels/cuda.py``. Imports the kernel
codes only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

from nnlite.errors import ConfigError
from nnlite.kernels import codes


@dataclass(frozen=True)
class Loss:
    """A row of ``LOSSES``."""

    name: str
    code: int
    title: str  # in a sentence: "mean squared error"
    heading: str  # as the trace heads it: "mean squared error (MSE)"
    formula: str  # L(P, Y), as the trace prints it
    gradient: str  # ∂L/∂P, as the trace prints it
    fused_with: str | None  # the output activation it is differentiated together with
    fused_gradient: str | None  # ∂L/∂Z of that pair
    unfused_chain: str | None  # the same ∂L/∂Z the long way round, through the activation
    needs_probabilities: bool  # log P: the output must be a probability
    aliases: tuple[str, ...] = ()


_ROWS = (
    Loss(
        "mse", codes.MSE, "mean squared error", "mean squared error (MSE)",
        "L = 1/(n·o)·Σ(p − y)²", "∂L/∂p = 2·(p − y)/(n·o)", None, None, None, False,
        aliases=("mean_squared_error",),
    ),
    Loss(
        "bce", codes.BCE, "binary cross-entropy", "binary cross-entropy",
        "L = −1/(n·o)·Σ[y·log p + (1 − y)·log(1 − p)]", "∂L/∂p = (p − y)/(p·(1 − p))/(n·o)",
        "sigmoid", "∂L/∂z = (p − y)/(n·o)", "∂L/∂z = ∂L/∂p ⊙ σ′(z),  σ′(z) = p(1 − p)", True,
        aliases=("binary_crossentropy", "binary_cross_entropy"),
    ),
    Loss(
        "cce", codes.CCE, "categorical cross-entropy", "categorical cross-entropy",
        "L = −1/n·Σ y·log p", "∂L/∂p = −y/p/n", "softmax", "∂L/∂z = (p − y)/n",
        "∂L/∂z = ∂L/∂p·J,  J = diag(p) − pᵀp (the softmax Jacobian, never formed)", True,
        aliases=("categorical_crossentropy", "categorical_cross_entropy", "cross_entropy"),
    ),
)  # fmt: skip

LOSSES: dict[str, Loss] = {row.name: row for row in _ROWS}
ALIASES: dict[str, str] = {alias: row.name for row in _ROWS for alias in row.aliases}
# (output activation, loss) pairs differentiated together: dZ = (P − Y)/n.
FUSED: set[tuple[str, str]] = {(row.fused_with, row.name) for row in _ROWS if row.fused_with}


def canonical(name: str) -> str:
    """Return the canonical loss name, or raise ``ConfigError`` listing valid ones."""
    key = str(name).strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    return key


def code(name: str) -> int:
    """Kernel code of a loss name."""
    return LOSSES[canonical(name)].code


def default_for(output_activation: str) -> str:
    """The loss a learner would pair with an output activation."""
    partners = {row.fused_with: row.name for row in _ROWS if row.fused_with}
    return partners.get(output_activation, "mse")


def check_pair(output_activation: str, loss: str, n_outputs: int) -> None:
    """Refuse (output activation, loss) pairs whose log would see values outside (0, 1).

    Cross-entropy takes log P, so P must be a probability: softmax (or sigmoid)
    outputs. Softmax with MSE is allowed but warned about: it trains slowly,
    because the softmax Jacobian shrinks the gradient where P is confidently
    wrong.
    """
    if LOSSES[loss].needs_probabilities and output_activation not in ("sigmoid", "softmax"):
        raise ConfigError(
            f"{LOSSES[loss].title} needs probabilities, but the output activation is "
            f"{output_activation!r}; use a sigmoid or softmax output, or loss='mse'",
            param="loss",
        )
    if loss == "cce" and n_outputs == 1:
        raise ConfigError(
            "categorical cross-entropy needs one output unit per class; "
            "for a single output unit use loss='bce' with a sigmoid",
            param="loss",
        )
    if output_activation == "softmax" and loss == "mse":
        warnings.warn(
            "softmax output with mean squared error: gradients vanish when the network is "
            "confidently wrong; categorical cross-entropy (cce) is the usual pairing",
            stacklevel=3,
        )
