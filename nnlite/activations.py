"""Activation functions by name.

Owns: the table from an activation's name to its kernel code, and name
validation. The formulas themselves live once, in ``nnlite/kernels/cpu.py``
(σ, σ′) and its CUDA twin. Imports numpy-free constants only.
"""

from __future__ import annotations

from nnlite.errors import ConfigError

# name -> kernel code (the codes are the kernels' IDENTITY, SIGMOID, ...).
ACTIVATIONS: dict[str, int] = {"identity": 0, "sigmoid": 1, "tanh": 2, "relu": 3, "softmax": 4}
ALIASES: dict[str, str] = {"linear": "identity", "none": "identity", "logistic": "sigmoid"}

# Weight initialisation that keeps the variance of Z stable for each activation:
# He for ReLU (half the units are off), Glorot for the others.
INIT: dict[str, str] = {
    "identity": "glorot",
    "sigmoid": "glorot",
    "tanh": "glorot",
    "relu": "he",
    "softmax": "glorot",
}


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
    return ACTIVATIONS[canonical(name)]
