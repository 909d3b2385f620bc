"""``keras.optimizers`` on nnlite: Keras's names and default values, nnlite's updates.

Owns: the optimizer classes ``SGD``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adagrad`` (Keras's
arguments and defaults), ``get`` (a name or an object, as ``compile`` takes it), and the
submodule ``schedules`` (``ExponentialDecay``, ``InverseTimeDecay``, ``CosineDecay``). Each
turns into one row of nnlite's optimizer table (``nnlite.optim``) and, when
``learning_rate`` is a schedule, one of nnlite's schedules (``nnlite.schedules``, applied
per step, as Keras applies its schedules at every update). Imports ``nnlite.optim`` and
``nnlite.schedules`` when an optimizer is turned into nnlite's, and ``nnlite.errors``.

Where Keras's arithmetic differs, nnlite follows PyTorch's algorithm boxes (see the
README): Adam's and RMSprop's ε is added to √v̂ after the bias correction as in
``torch.optim`` (Keras adds it to √v with the correction folded into the step: the same
for ε → 0, different by about ε in the denominator); Adagrad's accumulator starts at 0,
as PyTorch's does, where Keras's ``initial_accumulator_value`` is 0.1. The default
VALUES stay Keras's, so a Keras program trains with what it asked for: ``learning_rate``
0.001 (SGD: 0.01), Adam's and AdamW's ``epsilon`` 1e-7, RMSprop's ``rho`` 0.9 (PyTorch's
is 0.99), AdamW's ``weight_decay`` 0.004.

Omits: gradient clipping (``clipnorm``, ``clipvalue``), AMSGrad, centred RMSprop,
weight decay outside AdamW (use ``kernel_regularizer``), exponential moving averages of
the weights, and the other Keras optimizers.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from nnlite.config import check_number
from nnlite.errors import ConfigError
from nnlite.keras._cover import not_covered

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "get", "schedules"]

# Keras's arguments that change nothing when left at these values; others are refused.
_NEUTRAL = {
    "weight_decay": (None, 0, 0.0),
    "clipnorm": (None,),
    "clipvalue": (None,),
    "global_clipnorm": (None,),
    "use_ema": (False,),
    "ema_momentum": (0.99,),
    "ema_overwrite_frequency": (None,),
    "loss_scale_factor": (None,),
    "gradient_accumulation_steps": (None,),
    "name": None,  # any name
    "jit_compile": None,
    "amsgrad": (False,),
    "centered": (False,),
    "initial_accumulator_value": None,  # documented: nnlite's accumulator starts at 0
}


def _finite(value: Any, name: str) -> float:
    return check_number(value, name)

# --------------------------------------------------------------------------- schedules


class LearningRateSchedule:
    """A Keras learning-rate schedule: α as a function of the step (updates taken before)."""

    def __init__(self, **config: Any) -> None:
        self.config = config

    def __call__(self, step: int) -> float:
        """α at ``step``, as nnlite's schedule computes it."""
        return self.to_nnlite().rate(self.initial_learning_rate, step)

    @property
    def initial_learning_rate(self) -> float:
        return self.config["initial_learning_rate"]

    def to_nnlite(self) -> Any:
        """The same schedule as an ``nnlite.schedules.Schedule`` applied per step."""
        raise NotImplementedError

    def get_config(self) -> dict[str, Any]:
        return dict(self.config)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({inner})"


def _schedule(name: str, **params: Any) -> Any:
    from nnlite.schedules import Schedule

    schedule = Schedule(name, per="step", **params)
    validate = getattr(schedule, "validate", None)
    return validate() if validate is not None else schedule


def _steps(value: Any, name: str) -> float:
    out = _finite(value, name)
    if out <= 0:
        raise ConfigError(f"{name} must be positive, got {value!r}", param=name)
    return out


class ExponentialDecay(LearningRateSchedule):
    """α = α₀·rate^(step/decay_steps); ``staircase``: α₀·rate^⌊step/decay_steps⌋.

    nnlite's ``exponential`` schedule (``staircase``: its ``step`` schedule), per step.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str | None = None) -> None:  # fmt: skip
        super().__init__(
            initial_learning_rate=_finite(initial_learning_rate, "initial_learning_rate"),
            decay_steps=_steps(decay_steps, "decay_steps"),
            decay_rate=_finite(decay_rate, "decay_rate"),
            staircase=bool(staircase),
        )

    def to_nnlite(self) -> Any:
        c = self.config
        if c["staircase"]:
            return _schedule("step", gamma=c["decay_rate"], step_size=c["decay_steps"])
        return _schedule("exponential", gamma=c["decay_rate"], every=c["decay_steps"])


class InverseTimeDecay(LearningRateSchedule):
    """α = α₀ / (1 + rate·step/decay_steps): nnlite's ``inverse_time`` with k = rate/decay_steps."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str | None = None) -> None:  # fmt: skip
        if staircase:
            raise ConfigError(
                "InverseTimeDecay(staircase=True) is not in nnlite: its inverse-time schedule "
                "decays at every step"
            )
        super().__init__(
            initial_learning_rate=_finite(initial_learning_rate, "initial_learning_rate"),
            decay_steps=_steps(decay_steps, "decay_steps"),
            decay_rate=_finite(decay_rate, "decay_rate"),
            staircase=False,
        )

    def to_nnlite(self) -> Any:
        return _schedule(
            "inverse_time", decay=self.config["decay_rate"] / self.config["decay_steps"]
        )


class CosineDecay(LearningRateSchedule):
    """α = α₀·[(1 − alpha)·½(1 + cos(π·min(step, T)/T)) + alpha], T = ``decay_steps``.

    nnlite's ``cosine`` schedule with period T and α_min = alpha·α₀ (Keras's ``alpha``
    is a fraction of α₀, nnlite's ``min_lr`` a rate).
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str | None = None, warmup_target: Any = None,
                 warmup_steps: int = 0) -> None:  # fmt: skip
        if warmup_target is not None or warmup_steps:
            raise ConfigError("CosineDecay's warm-up is not in nnlite: leave warmup_steps at 0")
        super().__init__(
            initial_learning_rate=_finite(initial_learning_rate, "initial_learning_rate"),
            decay_steps=_steps(decay_steps, "decay_steps"),
            alpha=_finite(alpha, "alpha"),
        )

    def to_nnlite(self) -> Any:
        c = self.config
        return _schedule(
            "cosine", period=c["decay_steps"], min_lr=c["alpha"] * c["initial_learning_rate"]
        )


_SCHEDULES = {cls.__name__: cls for cls in (ExponentialDecay, InverseTimeDecay, CosineDecay)}

schedules = types.ModuleType(
    __name__ + ".schedules",
    "``keras.optimizers.schedules`` on nnlite: " + ", ".join(_SCHEDULES) + ".",
)
schedules.LearningRateSchedule = LearningRateSchedule
for _name, _cls in _SCHEDULES.items():
    setattr(schedules, _name, _cls)
schedules.__all__ = ["LearningRateSchedule", *_SCHEDULES]


def _schedules_getattr(name: str) -> Any:
    raise not_covered("schedules", name)


schedules.__getattr__ = _schedules_getattr
sys.modules[schedules.__name__] = schedules  # ``from nnlite.keras.optimizers.schedules import``


# -------------------------------------------------------------------------- optimizers


class Optimizer:
    """A Keras optimizer: its arguments as given; ``to_nnlite`` makes nnlite's.

    ``learning_rate``: a number, or a schedule from ``schedules``.
    """

    row = ""  # the nnlite optimizer row
    # Keras's argument → nnlite's hyper-parameter name, in Keras's order
    names: dict[str, str] = {}
    defaults: dict[str, Any] = {}

    def __init__(self, learning_rate: Any = 0.001, **kwargs: Any) -> None:
        if "lr" in kwargs:
            raise ConfigError(
                f"{type(self).__name__} takes learning_rate=, not lr= (Keras 3 removed lr=)",
                param="lr",
            )
        values = dict(self.defaults)
        for key, value in kwargs.items():
            if key in self.names:
                values[key] = value
            elif key in _NEUTRAL and (_NEUTRAL[key] is None or value in _NEUTRAL[key]):
                continue
            elif key in _NEUTRAL:
                raise ConfigError(
                    f"{type(self).__name__}({key}={value!r}) is not in nnlite: leave {key} "
                    f"at its default{self._hint(key)}",
                    param=key,
                )
            else:
                raise ConfigError(
                    f"{type(self).__name__} has no argument {key!r}; its arguments: "
                    f"learning_rate, {', '.join(self.names)}",
                    param=key,
                )
        if isinstance(learning_rate, LearningRateSchedule):
            self.learning_rate: Any = learning_rate
        else:
            self.learning_rate = _finite(learning_rate, "learning_rate")
        self.values = values

    @staticmethod
    def _hint(key: str) -> str:
        return {"weight_decay": " (AdamW has it; or use kernel_regularizer=l2(...))"}.get(key, "")

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def to_nnlite(self) -> tuple[Any, Any]:
        """``(nnlite.optim.Optimizer, nnlite.schedules.Schedule or None)``, validated."""
        from nnlite.optim import Optimizer as NnliteOptimizer

        rate = self.learning_rate
        schedule = rate.to_nnlite() if isinstance(rate, LearningRateSchedule) else None
        lr = rate.initial_learning_rate if schedule is not None else rate
        hyper = {self.names[k]: v for k, v in self.values.items()}
        return NnliteOptimizer(self.row, lr=lr, **hyper).validate(), schedule

    def get_config(self) -> dict[str, Any]:
        """JSON-able: the class, the learning rate (or its schedule) and the arguments."""
        rate = self.learning_rate
        if isinstance(rate, LearningRateSchedule):
            rate = {"schedule": type(rate).__name__, **rate.get_config()}
        return {"class": type(self).__name__, "learning_rate": rate, **self.values}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.values.items())
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r}, {inner})"


class SGD(Optimizer):
    """Gradient descent, with momentum μ (``nesterov``: Nesterov's). Keras's α default 0.01."""

    row = "sgd"
    names = {"momentum": "momentum", "nesterov": "nesterov"}
    defaults = {"momentum": 0.0, "nesterov": False}

    def __init__(self, learning_rate: Any = 0.01, **kwargs: Any) -> None:
        super().__init__(learning_rate, **kwargs)


class RMSprop(Optimizer):
    """v ← ρv + (1 − ρ)g²; θ ← θ − α·g/(√v + ε) (with ``momentum``: through a buffer)."""

    row = "rmsprop"
    names = {"rho": "rho", "momentum": "momentum", "epsilon": "eps"}
    defaults = {"rho": 0.9, "momentum": 0.0, "epsilon": 1e-7}


class Adam(Optimizer):
    """Adam: m and v moving averages of g and g², bias-corrected; θ ← θ − α·m̂/(√v̂ + ε)."""

    row = "adam"
    names = {"beta_1": "beta1", "beta_2": "beta2", "epsilon": "eps"}
    defaults = {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}


class AdamW(Optimizer):
    """Adam with decoupled weight decay: θ ← θ·(1 − α·λ) before each Adam step."""

    row = "adamw"
    names = {"weight_decay": "weight_decay", "beta_1": "beta1", "beta_2": "beta2",
             "epsilon": "eps"}  # fmt: skip
    defaults = {"weight_decay": 0.004, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}


class Adagrad(Optimizer):
    """s ← s + g²; θ ← θ − α·g/(√s + ε) (s starts at 0, as PyTorch's; Keras's at 0.1)."""

    row = "adagrad"
    names = {"epsilon": "eps"}
    defaults = {"epsilon": 1e-7}


_OPTIMIZERS = {cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad)}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name (``"adam"``, Keras's defaults) or an optimizer object."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _OPTIMIZERS:
        return _OPTIMIZERS[identifier.lower()]()
    raise ConfigError(
        f"optimizer {identifier!r} is not one nnlite covers; its optimizers: "
        f"{', '.join(_OPTIMIZERS)} (or keras.optimizers.Adam(learning_rate=...), ...)",
        param="optimizer",
    )


def from_config(config: Any) -> Optimizer:
    """The optimizer ``Optimizer.get_config`` described (a saved model's), rebuilt and checked."""
    known = {cls.__name__ for cls in _OPTIMIZERS.values()}
    if (
        not isinstance(config, dict)
        or not isinstance(config.get("class"), str)
        or (config["class"] not in known)
    ):
        raise ConfigError(f"not an optimizer record: {str(config)[:80]}")
    cls = _OPTIMIZERS[config["class"].lower()]
    rate = config.get("learning_rate", 0.001)
    values = {k: v for k, v in config.items() if k not in ("class", "learning_rate")}
    unknown = set(values) - set(cls.names)
    if unknown:
        raise ConfigError(f"{cls.__name__} record has unknown keys {sorted(unknown)}")
    if isinstance(rate, dict):
        name = rate.get("schedule")
        if not isinstance(name, str) or name not in _SCHEDULES:
            raise ConfigError(f"not a learning-rate schedule record: {str(rate)[:80]}")
        try:
            rate = _SCHEDULES[name](**{k: v for k, v in rate.items() if k != "schedule"})
        except TypeError:
            raise ConfigError(f"{name} record has unknown keys: {sorted(rate)}") from None
    return cls(rate, **values)


def __getattr__(name: str) -> Any:
    raise not_covered("optimizers", name)
