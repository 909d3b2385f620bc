"""Learning-rate schedules: how α changes over a run.

Owns: ``SCHEDULES``, the table of schedules by name — each row its formula,
its parameters (name, symbol, default, check, help) in the order of the
kernels' schedule vector, and its code (``nnlite/kernels/codes.py``) — and
``Schedule``, a row with values. The rate itself is one plain function,
``codes.schedule_rate``, which the CPU kernels compile, the CUDA driver calls
on the host each step (in float64, as the CPU does) and ``Schedule.rate``
calls, so the progress bar and the trace show the α the kernels used.

Time counts epochs (``per="epoch"``, the default: PyTorch's schedulers stepped
once an epoch, Keras's ``LearningRateScheduler``) or updates (``per="step"``:
Keras's ``LearningRateSchedule`` objects, the "decay" of Neural Networks from
Scratch), starting at 0. Imports the kernel codes and nnlite's errors only.

To add a schedule: a row here, a code in ``codes.py`` and its line in
``codes.schedule_rate``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlite.config import check_number, parse_spec
from nnlite.errors import ConfigError
from nnlite.kernels import codes


def _number(value: Any, name: str) -> float:
    return check_number(value, name)

def _in(name: str, low: float, high: float, low_open: bool = False, high_open: bool = True):
    def check(value: Any) -> float:
        x = _number(value, name)
        if x < low or x > high or (low_open and x == low) or (high_open and x == high):
            lo, hi = "(" if low_open else "[", ")" if high_open else "]"
            raise ConfigError(f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {value}")
        return x

    return check


def _positive(name: str, zero: bool = False) -> Callable[[Any], float]:
    def check(value: Any) -> float:
        x = _number(value, name)
        if x < 0 or (x == 0 and not zero):
            raise ConfigError(f"{name} must be {'non-negative' if zero else 'positive'}, got {value}")
        return x

    return check


@dataclass(frozen=True)
class Param:
    """One parameter of a schedule: its name in the API (and ``name=value`` in the CLI)."""

    name: str
    symbol: str
    default: float
    check: Callable[[Any], float]
    help: str


@dataclass(frozen=True)
class Row:
    """A row of ``SCHEDULES``."""

    name: str
    code: int
    formula: str
    params: tuple[Param, ...]  # in the order of the schedule vector's slots a, b, c
    help: str


SCHEDULES: dict[str, Row] = {
    "constant": Row("constant", codes.CONSTANT, "α", (), "α throughout"),
    "step": Row(
        "step", codes.STEP, "α·γ^⌊t/s⌋",
        (Param("gamma", "γ", 0.5, _in("gamma", 0, 1, low_open=True, high_open=False),
               "factor applied every s epochs (steps)"),
         Param("step_size", "s", 10, _positive("step_size"), "epochs (steps) between cuts")),
        "step decay: α multiplied by γ every s epochs",
    ),
    "exponential": Row(
        "exponential", codes.EXPONENTIAL, "α·γ^(t/s)",
        (Param("gamma", "γ", 0.95, _in("gamma", 0, 1, low_open=True, high_open=False),
               "factor per s epochs (steps)"),
         Param("every", "s", 1, _positive("every"), "the time unit s")),
        "exponential decay: α·γ^(t/s)",
    ),
    "inverse-time": Row(
        "inverse-time", codes.INVERSE_TIME, "α/(1 + k·t)",
        (Param("decay", "k", 0.01, _positive("decay", zero=True), "decay k"),),
        "inverse-time decay α/(1 + k·t) (Neural Networks from Scratch's decay, per step)",
    ),
    "cosine": Row(
        "cosine", codes.COSINE, "α_min + (α − α_min)·(1 + cos(π·min(t, T)/T))/2",
        (Param("period", "T", 10, _positive("period"), "epochs (steps) from α down to α_min"),
         Param("min_lr", "α_min", 0.0, _positive("min_lr", zero=True), "the last rate α_min")),
        "cosine annealing from α to α_min over T epochs (steps), then α_min",
    ),
}  # fmt: skip

ALIASES = {"inverse_time": "inverse-time", "inversetime": "inverse-time", "none": "constant",
           "exp": "exponential", "cos": "cosine"}  # fmt: skip
PER = ("epoch", "step")


class Schedule:
    """A schedule from ``SCHEDULES`` with its parameter values and its time unit.

    ``Schedule("step", gamma=0.5, step_size=5)`` halves α every 5 epochs;
    ``Schedule("inverse-time", decay=1e-3, per="step")`` is α/(1 + 10⁻³·t) over
    updates t. Values are validated on construction.
    """

    def __init__(self, name: str = "constant", per: str = "epoch", **values: Any) -> None:
        key = ALIASES.get(str(name).strip().lower(), str(name).strip().lower())
        if key not in SCHEDULES:
            raise ConfigError(
                f"unknown learning-rate schedule {name!r}; valid schedules: {', '.join(SCHEDULES)}"
            )
        if per not in PER:
            raise ConfigError(f"a schedule counts time per 'epoch' or per 'step', not {per!r}")
        row = SCHEDULES[key]
        known = {p.name for p in row.params}
        unknown = sorted(set(values) - known)
        if unknown:
            names = ", ".join(known) or "none"
            raise ConfigError(
                f"the {key} schedule has no parameter {unknown[0]!r}; its parameters: {names}"
            )
        self.name, self.per = key, per
        self.values = {p.name: p.check(values.get(p.name, p.default)) for p in row.params}

    @property
    def row(self) -> Row:
        return SCHEDULES[self.name]

    def vector(self) -> np.ndarray:
        """The kernels' schedule vector (code, per step, a, b, c), float64."""
        v = np.zeros(codes.SCHEDULE_SIZE, np.float64)
        v[0], v[1] = self.row.code, 1.0 if self.per == "step" else 0.0
        for k, p in enumerate(self.row.params):
            v[2 + k] = self.values[p.name]
        return v

    def rate(self, alpha0: float, time: float) -> float:
        """α after ``time`` epochs (or steps), as the kernels compute it."""
        v = self.vector()
        return float(codes.schedule_rate(int(v[0]), alpha0, time, v[2], v[3], v[4]))

    def formula(self) -> str:
        """The formula with the values, for the trace and the progress bar."""
        text = self.row.formula
        for p in self.row.params:
            text += f", {p.symbol} = {self.values[p.name]:g}"
        return f"{text} (t in {self.per}s)"

    def as_dict(self) -> dict[str, Any]:
        return {"name": self.name, "per": self.per, **self.values}

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Schedule:
        values = {k: v for k, v in record.items() if k not in ("name", "per")}
        return cls(record.get("name", "constant"), record.get("per", "epoch"), **values)

    @classmethod
    def parse(cls, text: str) -> Schedule:
        """``name[:key=value,...]``, as the CLI's ``--lr-schedule`` takes it.

        ``step:gamma=0.5,step_size=5``; ``inverse-time:decay=1e-3,per=step``.
        """
        name, values = parse_spec(text, "schedule parameters", "step:gamma=0.5")
        per = values.pop("per", "epoch")
        return cls(name, per=per, **values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Schedule) and self.as_dict() == other.as_dict()

    def __repr__(self) -> str:
        inner = "".join(f", {k}={v!r}" for k, v in self.values.items())
        return f"Schedule({self.name!r}, per={self.per!r}{inner})"


CONSTANT = Schedule()
