"""Loss functions by name, and which output activation each pairs with.

Owns: the table from a loss's name to its kernel code, validation of the
(output activation, loss) pair, and the rule that softmax + categorical
cross-entropy (and sigmoid + binary cross-entropy) are differentiated
together, so dZ = (P − Y)/n without forming the softmax Jacobian. The
formulas live in ``nnlite/kernels/cpu.py``.
"""

from __future__ import annotations

import warnings

from nnlite.errors import ConfigError

LOSSES: dict[str, int] = {"mse": 0, "bce": 1, "cce": 2}
ALIASES: dict[str, str] = {
    "mean_squared_error": "mse",
    "binary_crossentropy": "bce",
    "binary_cross_entropy": "bce",
    "categorical_crossentropy": "cce",
    "categorical_cross_entropy": "cce",
    "cross_entropy": "cce",
}
TITLES: dict[str, str] = {
    "mse": "mean squared error",
    "bce": "binary cross-entropy",
    "cce": "categorical cross-entropy",
}
FUSED: set[tuple[str, str]] = {("softmax", "cce"), ("sigmoid", "bce")}


def canonical(name: str) -> str:
    """Return the canonical loss name, or raise ``ConfigError`` listing valid ones."""
    key = str(name).strip().lower().replace("-", "_")
    key = ALIASES.get(key, key)
    if key not in LOSSES:
        raise ConfigError(f"unknown loss {name!r}; valid losses: {', '.join(LOSSES)}")
    return key


def code(name: str) -> int:
    """Kernel code of a loss name."""
    return LOSSES[canonical(name)]


def default_for(output_activation: str) -> str:
    """The loss a learner would pair with an output activation."""
    return {"softmax": "cce", "sigmoid": "bce"}.get(output_activation, "mse")


def check_pair(output_activation: str, loss: str, n_outputs: int) -> None:
    """Refuse (output activation, loss) pairs whose log would see values outside (0, 1).

    Cross-entropy takes log P, so P must be a probability: softmax (or sigmoid)
    outputs. Softmax with MSE is allowed but warned about: it trains slowly,
    because the softmax Jacobian shrinks the gradient where P is confidently
    wrong.
    """
    if loss in ("bce", "cce") and output_activation not in ("sigmoid", "softmax"):
        raise ConfigError(
            f"{TITLES[loss]} needs probabilities, but the output activation is "
            f"{output_activation!r}; use a sigmoid or softmax output, or --loss mse"
        )
    if loss == "cce" and n_outputs == 1:
        raise ConfigError(
            "categorical cross-entropy needs one output unit per class; "
            "for a single output unit use --loss bce with a sigmoid"
        )
    if output_activation == "softmax" and loss == "mse":
        warnings.warn(
            "softmax output with mean squared error: gradients vanish when the network is "
            "confidently wrong; categorical cross-entropy (cce) is the usual pairing",
            stacklevel=3,
        )
