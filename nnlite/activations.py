"""Activation functions by name: the table every part of nnlite reads.

Owns: ``ACTIVATIONS``, one row per activation σ — its name and aliases, its
kernel code (``nnlite/kernels/codes.py``), the weight initialisation that
suits it, the formulas of σ and σ′ as the trace prints them, and float64
references of σ and σ′ from numpy/scipy (the lessons check the kernels
against them) — and name validation. The CLI's choices, the trace's formula
text and the lessons' references are generated from it. The kernels
themselves are one σ and one σ′ per device, in ``kernels/cpu.py`` and
``kernels/cuda.py``. Imports numpy and the kernel codes; scipy only when a
reference is evaluated.

To add an activation: a row here, a code in ``codes.py``, and σ/σ′ with their
table lines in ``cpu.py`` and ``cuda.py``; ``tests/reference.py`` gets an
independent σ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nnlite.errors import ConfigError
from nnlite.kernels import codes
from nnlite.lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:  # NumPy and scipy load when a reference is first evaluated, not with the table: the
    # CLI reads the table for its choices, and its ``--help`` should not wait for them.
    np = LazyModule("numpy")


def _special():
    from scipy import special

    return special


@dataclass(frozen=True)
class Activation:
    """A row of ``ACTIVATIONS``."""

    name: str
    code: int
    title: str  # as a learner reads it: "ReLU"
    init: str  # "he" (N(0, 2/i), for ReLU-like units) or "glorot" (U(±√(6/(i+o))))
    formula: str  # σ(z), as the trace prints it
    derivative: str  # σ′(z), as the trace prints it
    reference: Callable[[np.ndarray], np.ndarray]  # σ in float64 (numpy/scipy)
    # σ′ in float64; None for softmax, whose σ′ is a Jacobian (applied by the kernels)
    reference_grad: Callable[[np.ndarray], np.ndarray] | None
    aliases: tuple[str, ...] = ()
    elementwise: bool = True  # False for softmax, which works on whole rows
    output: bool = False  # offered as an output layer's σ (identity, sigmoid, softmax)


def _expit_grad(z: np.ndarray) -> np.ndarray:
    s = _special().expit(z)
    return s * (1.0 - s)


_ROWS = (
    Activation(
        "identity", codes.IDENTITY, "identity", "glorot",
        "identity(z) = z", "σ′(z) = 1",
        lambda z: np.array(z, np.float64), lambda z: np.ones_like(z, np.float64),
        aliases=("linear", "none"),
        output=True,
    ),
    Activation(
        "sigmoid", codes.SIGMOID, "sigmoid", "glorot",
        "sigmoid σ(z) = 1/(1 + e^(−z))", "σ′(z) = σ(z)(1 − σ(z))",
        lambda z: _special().expit(z), _expit_grad,
        aliases=("logistic",),
        output=True,
    ),
    Activation(
        "tanh", codes.TANH, "tanh", "glorot",
        "tanh σ(z) = (e^z − e^(−z))/(e^z + e^(−z))", "σ′(z) = 1 − tanh²(z)",
        lambda z: 2.0 * _special().expit(2.0 * np.asarray(z, np.float64)) - 1.0,
        lambda z: 1.0 - np.tanh(np.asarray(z, np.float64)) ** 2,
    ),
    Activation(
        "relu", codes.RELU, "ReLU", "he",
        "ReLU σ(z) = max(0, z)", "σ′(z) = 1 if z > 0 else 0",
        lambda z: np.maximum(z, 0.0), lambda z: (np.asarray(z) > 0).astype(np.float64),
    ),
    Activation(
        "softmax", codes.SOFTMAX, "softmax", "glorot",
        "softmax σ(z)ⱼ = e^(zⱼ)/Σₖ e^(zₖ)",
        "σ′ is the Jacobian diag(a) − aᵀa; applied: a ⊙ (∂L/∂a − Σⱼ ∂L/∂aⱼ·aⱼ)",
        lambda z: _special().softmax(np.atleast_2d(np.asarray(z, np.float64)), axis=1), None,
        elementwise=False,
        output=True,
    ),
    Activation(
        "leaky_relu", codes.LEAKY_RELU, "leaky ReLU", "he",
        f"leaky ReLU σ(z) = z if z > 0 else {codes.LEAKY_SLOPE:g}·z",
        f"σ′(z) = 1 if z > 0 else {codes.LEAKY_SLOPE:g}",
        lambda z: np.where(np.asarray(z) > 0, z, codes.LEAKY_SLOPE * np.asarray(z, np.float64)),
        lambda z: np.where(np.asarray(z) > 0, 1.0, codes.LEAKY_SLOPE),
        aliases=("leakyrelu", "leaky-relu"),
    ),
    Activation(
        "softplus", codes.SOFTPLUS, "softplus", "he",
        "softplus σ(z) = log(1 + e^z)", "σ′(z) = 1/(1 + e^(−z)), the sigmoid",
        lambda z: np.logaddexp(0.0, np.asarray(z, np.float64)),
        lambda z: _special().expit(np.asarray(z, np.float64)),
    ),
)  # fmt: skip

ACTIVATIONS: dict[str, Activation] = {row.name: row for row in _ROWS}
ALIASES: dict[str, str] = {alias: row.name for row in _ROWS for alias in row.aliases}


def canonical(name: str) -> str:
    """Return the canonical activation name, or raise ``ConfigError`` listing valid ones."""
    key = str(name).strip().lower()
    key = ALIASES.get(key, key)
    if key not in ACTIVATIONS:
        valid = ", ".join(ACTIVATIONS)
        raise ConfigError(f"unknown activation {name!r}; valid activations: {valid}")
    return key


def code(name: str) -> int:
    """Kernel code of an activation name."""
    return ACTIVATIONS[canonical(name)].code


def by_code(value: int) -> Activation:
    """The row of a kernel code; an unknown code raises ``ConfigError``."""
    for row in _ROWS:
        if row.code == value:
            return row
    raise ConfigError(f"unknown activation code {value!r}")
