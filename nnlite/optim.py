"""Optimisers: how θ moves once ∂L/∂θ is known.

Owns: ``OPTIMIZERS``, the table of optimisers by name — each row its
hyper-parameters (name, symbol, default, validation, help), its per-parameter
state slots and the update code its kernels run (``nnlite/kernels/codes.py``)
— and ``Optimizer``, a row with values: stored as given, validated once
(``validate``), turned into what the compiled loops take (``code``,
``hyper_vector``, ``slots``). ``SGD`` is the optimiser of the lesson, W ← W −
α·dW, with optional momentum μ (classical or Nesterov's); AdaGrad, RMSProp,
Adam and AdamW are the adaptive methods a learner meets next, each exactly
as PyTorch's ``torch.optim`` algorithm box writes it (the README says where
Keras differs). The updates themselves are kernels, one per device
(``optimizer_update`` in ``kernels/cpu.py`` and ``kernels/cuda.py``).
Imports the kernel codes and nnlite's errors only.

To add an optimiser: a row here, an update code in ``codes.py``, and its line
in ``optimizer_update`` on each device. Omits: AMSGrad, centred RMSProp,
Adam's coupled weight decay (use an L2 penalty), AdaGrad's lr_decay (use a
schedule).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlite.config import check_number
from nnlite.errors import ConfigError
from nnlite.kernels import codes


def _number(value: Any, name: str) -> float:
    return check_number(value, name, finite=False)  # each check below bounds it

def _learning_rate(value: Any) -> float:
    lr = _number(value, "learning rate")
    if not math.isfinite(lr) or lr <= 0:
        raise ConfigError(f"learning rate must be positive and finite, got {value}")
    return lr


def _momentum(value: Any) -> float:
    mu = _number(value, "momentum")
    if not 0 <= mu < 1:  # also refuses NaN
        raise ConfigError(f"momentum must be in [0, 1), got {value}")
    return mu


def _fraction(name: str) -> Callable[[Any], float]:
    """A check for a decay rate in [0, 1) (β₁, β₂, ρ)."""

    def check(value: Any) -> float:
        x = _number(value, name)
        if not 0 <= x < 1:  # also refuses NaN
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
        return x

    return check


def _positive(name: str, zero: bool = False) -> Callable[[Any], float]:
    """A check for a finite number > 0 (≥ 0 with ``zero``): ε, λ."""

    def check(value: Any) -> float:
        x = _number(value, name)
        if not math.isfinite(x) or x < 0 or (x == 0 and not zero):
            bound = "non-negative" if zero else "positive"
            raise ConfigError(f"{name} must be {bound} and finite, got {value}")
        return x

    return check


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ConfigError(f"{name} must be true or false, got {value!r}")
    return bool(value)


@dataclass(frozen=True)
class Hyper:
    """One hyper-parameter of an optimiser: its name in the API and the CLI, and its rule."""

    name: str
    symbol: str
    default: float | bool
    check: Callable[[Any], float | bool]  # the value, validated; raises ConfigError
    help: str


@dataclass(frozen=True)
class Rule:
    """A row of ``OPTIMIZERS``: one optimiser."""

    name: str
    title: str
    formula: str
    hyper: tuple[Hyper, ...]  # in the order of the kernels' hyper-parameter vector
    state: tuple[str, ...]  # every state slot it may keep per parameter, in the kernels' order
    code: Callable[[dict[str, Any]], int]  # the update code for these (valid) values
    slots: Callable[[dict[str, Any]], tuple[str, ...]]  # the slots kept for these values
    check: Callable[[dict[str, Any]], None] = lambda values: None  # rules across values


def _sgd_check(values: dict[str, Any]) -> None:
    if values["nesterov"] and values["momentum"] == 0:
        raise ConfigError("Nesterov momentum needs a momentum above 0 (e.g. 0.9)")


_ADAM_HYPER = (
    Hyper("lr", "α", 0.001, _learning_rate, "learning rate α"),
    Hyper("beta1", "β₁", 0.9, _fraction("beta1"), "decay β₁ of the gradient's average M"),
    Hyper("beta2", "β₂", 0.999, _fraction("beta2"), "decay β₂ of the squared gradient's average V"),
    Hyper("eps", "ε", 1e-8, _positive("eps"), "ε added to √V̂"),
)

OPTIMIZERS: dict[str, Rule] = {
    "sgd": Rule(
        name="sgd",
        title="(stochastic mini-batch) gradient descent",
        formula="W ← W − α·dW;  with momentum μ: V ← μ·V − α·dW, W ← W + V",
        hyper=(
            Hyper("lr", "α", 0.1, _learning_rate, "learning rate α: the size of each step"),
            Hyper(
                "momentum",
                "μ",
                0.0,
                _momentum,
                "momentum μ in [0, 1): V ← μ·V − α·dW, W ← W + V (0: plain SGD)",
            ),
            Hyper(
                "nesterov",
                "",
                False,
                lambda v: _flag(v, "nesterov"),
                "Nesterov's momentum: W ← W + μ·V − α·dW (needs momentum)",
            ),
        ),  # fmt: skip
        state=("velocity",),
        code=lambda v: codes.MOMENTUM if v["momentum"] else codes.SGD,
        slots=lambda v: ("velocity",) if v["momentum"] else (),
        check=_sgd_check,
    ),
    "adagrad": Rule(
        name="adagrad",
        title="AdaGrad (Duchi et al. 2011)",
        formula="S ← S + dW²;  W ← W − α·dW/(√S + ε)",
        hyper=(
            Hyper("lr", "α", 0.01, _learning_rate, "learning rate α"),
            Hyper("eps", "ε", 1e-10, _positive("eps"), "ε added to √S (PyTorch's 1e-10)"),
        ),
        state=("sum",),
        code=lambda v: codes.ADAGRAD,
        slots=lambda v: ("sum",),
    ),
    "rmsprop": Rule(
        name="rmsprop",
        title="RMSProp (Hinton 2012)",
        formula="V ← ρ·V + (1−ρ)·dW²;  W ← W − α·dW/(√V + ε);  "
        "with momentum μ: B ← μ·B + dW/(√V + ε), W ← W − α·B",
        hyper=(
            Hyper("lr", "α", 0.01, _learning_rate, "learning rate α"),
            Hyper("rho", "ρ", 0.99, _fraction("rho"), "decay ρ of the squared-gradient average"),
            Hyper("eps", "ε", 1e-8, _positive("eps"), "ε added to √V"),
            Hyper("momentum", "μ", 0.0, _momentum, "momentum μ in [0, 1) (0: none)"),
        ),
        state=("square_avg", "buffer"),
        code=lambda v: codes.RMSPROP,
        slots=lambda v: ("square_avg", "buffer") if v["momentum"] else ("square_avg",),
    ),
    "adam": Rule(
        name="adam",
        title="Adam (Kingma & Ba 2015)",
        formula="M ← β₁·M + (1−β₁)·dW;  V ← β₂·V + (1−β₂)·dW²;  "
        "M̂ = M/(1−β₁ᵗ), V̂ = V/(1−β₂ᵗ);  W ← W − α·M̂/(√V̂ + ε)",
        hyper=_ADAM_HYPER,
        state=("m", "v"),
        code=lambda v: codes.ADAM,
        slots=lambda v: ("m", "v"),
    ),
    "adamw": Rule(
        name="adamw",
        title="AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019)",
        formula="W ← W − α·λ·W;  then Adam's step",
        hyper=(
            *_ADAM_HYPER,
            Hyper("weight_decay", "λ", 0.01, _positive("weight_decay", zero=True),
                  "decoupled weight decay λ: W ← W − α·λ·W before each step"),
        ),  # fmt: skip
        state=("m", "v"),
        code=lambda v: codes.ADAMW,
        slots=lambda v: ("m", "v"),
    ),
}


class Optimizer:
    """An optimiser from ``OPTIMIZERS`` with its hyper-parameter values.

    Values are stored as given and validated by ``validate`` (once, when a fit
    starts); missing ones take the table's defaults. Hyper-parameters read as
    attributes: ``opt.lr``.
    """

    def __init__(self, name: str = "sgd", **values: Any) -> None:
        self.name = name
        self.values = dict(values)

    @property
    def rule(self) -> Rule:
        key = str(self.name).strip().lower()
        if key not in OPTIMIZERS:
            raise ConfigError(
                f"unknown optimizer {self.name!r}; valid optimizers: {', '.join(OPTIMIZERS)}"
            )
        return OPTIMIZERS[key]

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def validate(self) -> Optimizer:
        """Check every value against the table (unknown names refused); returns ``self``."""
        rule = self.rule
        known = {h.name for h in rule.hyper}
        unknown = sorted(set(self.values) - known)
        if unknown:
            raise ConfigError(
                f"{rule.name} has no hyper-parameter {unknown[0]!r}; "
                f"its hyper-parameters: {', '.join(h.name for h in rule.hyper)}"
            )
        values = {h.name: h.check(self.values.get(h.name, h.default)) for h in rule.hyper}
        rule.check(values)
        self.name, self.values = rule.name, values
        return self

    @property
    def code(self) -> int:
        """The update code the kernels run (``codes.SGD``, ``codes.MOMENTUM``, …)."""
        return self.rule.code(self.values)

    @property
    def slots(self) -> tuple[str, ...]:
        """Names of the state kept per parameter (rows of the state array, in order)."""
        return self.rule.slots(self.values)

    def hyper_vector(self) -> np.ndarray:
        """The values in the table's order as float64 (true/false as 1.0/0.0); [0] is α."""
        return np.array([float(self.values[h.name]) for h in self.rule.hyper], np.float64)

    def as_dict(self) -> dict[str, Any]:
        """``{"name": ..., hyper-parameter: value, ...}``, JSON-able (for checkpoints)."""
        return {"name": self.name, **self.values}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Optimizer:
        """The optimiser ``as_dict`` wrote, validated."""
        values = {k: v for k, v in record.items() if k != "name"}
        return cls(record.get("name", "sgd"), **values).validate()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Optimizer) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"Optimizer({self.name!r}, {inner})"


class SGD(Optimizer):
    """(Stochastic mini-batch) gradient descent with learning rate ``lr`` (α).

    ``momentum`` μ in [0, 1): V ← μ·V − α·dW, W ← W + V (μ = 0: plain SGD).
    ``nesterov``: W ← W + μ·V − α·dW instead (needs μ > 0).
    """

    def __init__(self, lr: Any = 0.1, momentum: Any = 0.0, nesterov: Any = False) -> None:
        super().__init__("sgd", lr=lr, momentum=momentum, nesterov=nesterov)


class AdaGrad(Optimizer):
    """AdaGrad: S ← S + dW², W ← W − α·dW/(√S + ε) (PyTorch's ``torch.optim.Adagrad``)."""

    def __init__(self, lr: Any = 0.01, eps: Any = 1e-10) -> None:
        super().__init__("adagrad", lr=lr, eps=eps)


class RMSProp(Optimizer):
    """RMSProp: V ← ρ·V + (1−ρ)·dW², W ← W − α·dW/(√V + ε) (``torch.optim.RMSprop``).

    ``momentum`` μ > 0: B ← μ·B + dW/(√V + ε), W ← W − α·B.
    """

    def __init__(self, lr: Any = 0.01, rho: Any = 0.99, eps: Any = 1e-8, momentum: Any = 0.0):
        super().__init__("rmsprop", lr=lr, rho=rho, eps=eps, momentum=momentum)


class Adam(Optimizer):
    """Adam: bias-corrected averages of dW and dW² (``torch.optim.Adam``)."""

    def __init__(
        self, lr: Any = 0.001, beta1: Any = 0.9, beta2: Any = 0.999, eps: Any = 1e-8
    ) -> None:
        super().__init__("adam", lr=lr, beta1=beta1, beta2=beta2, eps=eps)


class AdamW(Optimizer):
    """AdamW: W ← W − α·λ·W, then Adam's step (``torch.optim.AdamW``)."""

    def __init__(
        self, lr: Any = 0.001, beta1: Any = 0.9, beta2: Any = 0.999, eps: Any = 1e-8,
        weight_decay: Any = 0.01,
    ) -> None:  # fmt: skip
        super().__init__(
            "adamw", lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay
        )


def hyper_names() -> dict[str, Hyper]:
    """Every hyper-parameter of every optimiser, by name (for run records)."""
    return {h.name: h for rule in OPTIMIZERS.values() for h in rule.hyper}
