"""Trace mode: every number of a training step, as the step itself computed it.

Owns: the tracer — it checks the options, builds the network (or copies the
learner's own model, or Matt Mazur's published worked example, "A Step by
Step Backpropagation Example" (2015)), and runs training one batch at a time
while it watches — and the perceptron's trace. The events it yields are the
dataclasses of ``nnlite.events`` (re-exported here); ``run`` returns them as a
``Trace``, an iterator that also runs a step at a time (``Trace.step()`` →
``TraceStep``) and shows itself in a notebook (``nnlite.display``).

How the numbers are made: a network trace does not train by itself. It runs
the model's own training step (``models.Trainer.step``: the compiled
``train_batches`` that ``fit`` runs, CPU or CUDA) on one batch at a time, and
a ``_StepObserver`` reads what the step left in its buffers (every Z, A, dZ,
∂L/∂A and the updated θ) and turns it into events. So a trace cannot
disagree with training. What the step never stores (∂L/∂W, folded into
plain SGD's update; σ′ for display; the long way round of ``unfused``; the
loss after the update) is computed from those buffers with the same kernels.
Beyond plain SGD (``optimizer``, ``lr_schedule``, ``l1``/``l2``, ``dropout``)
the observer also reads the step's clock (t, and α from the schedule), the
optimiser's state before and after, the gradient the optimiser got (penalty
included) and each dropped input; it recomputes each dropout mask from
``codes.dropout_unit`` and the penalty and its gradient with the CPU kernels
(``network_penalty``, ``penalty_grad``), for display.
The perceptron's trace calls ``perceptron_predict`` and ``perceptron_step``
one sample at a time.

Imports: numpy, nnlite's tables, events, models, data sets and kernels.
Never typer or rich; never prints: ``nnlite/ui/trace.py`` renders, ``cli.py``
wires.

Omits: shuffling (the trace walks the samples in order, starting at
``sample``, so a learner can follow them), validation data, dropout on the
network's inputs (``dropout`` acts after each hidden layer, as ``nnlite
train --dropout``), and per-layer penalties (``l1``/``l2`` apply to every
layer).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nnlite import activations, datasets, losses, runs
from nnlite.config import CLIP_EPS
from nnlite.display import Displayable
from nnlite.errors import ConfigError, DataError
from nnlite.events import (
    EVENTS,
    Activation,
    Backward,
    Event,
    Forward,
    Loss,
    NetworkTrace,
    NeuronMaps,
    PerceptronEpoch,
    PerceptronStep,
    PerceptronTrace,
    Step,
    Unfused,
    Update,
    from_json,
    starts_step,
)
from nnlite.kernels import codes, cpu, get_backend, memory_for, resolve_device
from nnlite.layers import Dense, Dropout
from nnlite.models import Sequential, Trainer
from nnlite.optim import SGD, Optimizer
from nnlite.schedules import Schedule

__all__ = [  # the events, re-exported: ``nnlite.trace`` is where a learner meets them
    "EVENTS", "Activation", "Backward", "Event", "Forward", "Loss", "NetworkTrace",
    "NeuronMaps", "PerceptronEpoch", "PerceptronStep", "PerceptronTrace", "Step", "Unfused", "Update",
    "Trace", "TraceStep", "from_json", "run", "starts_step",
]  # fmt: skip

MODELS = ("mlp", "perceptron")
EXAMPLES = ("mazur",)

DEFAULT_DATASET = "xor"
DEFAULT_HIDDEN = (2,)  # 2-2-1 on XOR: the smallest network that needs its hidden layer
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_LR = 0.5
DEFAULT_ETA = 1.0
DEFAULT_PERCEPTRON_EPOCHS = 20  # a trace of XOR shows it never settles; 20 epochs are plenty
NEURON_GRID = (16, 12)  # the neuron maps' grid: columns × rows (a terminal's 16 × 6 cells)
MAX_NEURON_UNITS = 8  # neuron maps: hidden layers this wide or narrower

# ---------------------------------------------------------------------------
# Matt Mazur, "A Step by Step Backpropagation Example" (2015),
# https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/
# His w1…w8 in nnlite's row convention (row = input, column = neuron):
# net_h1 = w1·i1 + w2·i2 + b1 and net_h2 = w3·i1 + w4·i2 + b1, so
# W¹ = [[w1, w3], [w2, w4]]; likewise W² = [[w5, w7], [w6, w8]].
# ---------------------------------------------------------------------------

MAZUR = {
    "X": [[0.05, 0.10]],
    "Y": [[0.01, 0.99]],
    "W1": [[0.15, 0.25], [0.20, 0.30]],
    "b1": [0.35, 0.35],
    "W2": [[0.40, 0.50], [0.45, 0.55]],
    "b2": [0.60, 0.60],
    "lr": 0.5,
}
MAZUR_NOTES = [
    'Matt Mazur, "A Step by Step Backpropagation Example" (2015): '
    "https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/",
    "his weights in nnlite's layout (row = input, column = neuron): "
    "W¹ = [[w1 w3] [w2 w4]], W² = [[w5 w7] [w6 w8]]; his h1 h2 are a¹, his o1 o2 are a²",
    "his E_total = ½Σ(target − out)² is nnlite's mse 1/(n·o)·Σ(p − y)² for n = 1 sample "
    "and o = 2 outputs, so the same kernels give his numbers",
    "he holds the biases fixed: only W¹ and W² are updated",
]


# ---------------------------------------------------------------------------
# A trace a step at a time: what a notebook (or any caller) takes from ``run``.
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class TraceStep(Displayable):
    """One step of a trace, as ``Trace.step()`` returns it.

    ``events``: the step's events (the first step's begin with the trace's header);
    ``number``: the step's number (a perceptron's: the epoch), 0 for a header with no step,
    None once the trace had ended; ``header``: the trace's first event; ``taken``: the
    steps taken so far; ``unit``: "step" or "epoch". In a notebook it shows the panels
    ``nnlite trace`` prints for that step.
    """

    events: list[Event]
    number: int | None
    header: Event | None
    taken: int
    unit: str

    view_kind = "trace-step"

    def __repr__(self) -> str:
        if self.number is None:
            return f"TraceStep(ended after {self.taken} {self.unit}{'s' * (self.taken != 1)})"
        return f"TraceStep({self.unit} {self.number}, {len(self.events)} events)"


class Trace(Displayable):
    """The events of a trace, run lazily: iterate over them, or take them a step at a time.

    ``step()`` runs the next step and returns it (``TraceStep``; the first also holds the
    header): in a notebook, running a cell with ``t.step()`` again shows the next step.
    ``all()`` runs the rest and returns every event from the header on; a ``Trace`` left
    at the end of a notebook cell does that and shows the whole trace. ``seen``: the
    events taken so far; ``ended``: the trace has no more.
    """

    view_kind = "trace"

    def __init__(self, events: Iterator[Event]) -> None:
        self._events = events
        self._held: Event | None = None  # the event that opens the next step, read early
        self.seen: list[Event] = []
        self.header: Event | None = None
        self.ended = False
        self.taken = 0

    def __iter__(self) -> Trace:
        return self

    def __next__(self) -> Event:
        if self._held is not None:
            event, self._held = self._held, None
            return event
        try:
            event = next(self._events)
        except StopIteration:
            self.ended = True
            raise
        if self.header is None:
            self.header = event
        self.seen.append(event)
        return event

    def close(self) -> None:
        """Stop the trace (its network keeps what it has learnt so far; your own model traced
        with ``model=`` is never changed: the trace trains a copy)."""
        close = getattr(self._events, "close", None)
        if close is not None:
            close()
        self.ended = True

    def step(self) -> TraceStep:
        """Run the next step (a perceptron's next epoch) and return its events."""
        events: list[Event] = []
        for event in self:
            if starts_step(event) and any(starts_step(e) for e in events):
                self._held = event
                break
            events.append(event)
        unit = "epoch" if isinstance(self.header, PerceptronTrace) else "step"
        opener = next((e for e in events if starts_step(e)), None)
        if not events:
            return TraceStep([], None, self.header, self.taken, unit)
        if opener is None:
            number = 0
        else:
            number = opener.step if isinstance(opener, Step) else opener.epoch
            self.taken += 1
        return TraceStep(events, number, self.header, self.taken, unit)

    def all(self) -> list[Event]:
        """Run the trace to its end; every event from the header on."""
        for _ in self:
            pass
        return list(self.seen)

    def __repr__(self) -> str:
        return f"Trace({len(self.seen)} events so far{', ended' if self.ended else ''})"


# ---------------------------------------------------------------------------
# Entry point.
# ---------------------------------------------------------------------------


def run(
    *,
    model: Any = "mlp",
    example: Any = None,
    dataset: str | None = None,
    layers: Sequence[int] | None = None,
    activation: Any = None,
    output: Any = None,
    loss: Any = None,
    lr: float | None = None,
    steps: int | None = None,
    epochs: int | None = None,
    sample: int | None = None,
    batch_size: int | None = None,
    seed: int = 0,
    dtype: Any = None,
    unfused: bool = False,
    device: Any = "cpu",
    gate: Any = None,
    threshold: float | None = None,
    optimizer: Any = None,
    lr_schedule: Any = None,
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
    neurons: bool = False,
    x: Any = None,
    y: Any = None,
) -> Trace:
    """Check the options and return the trace: an iterator of events, header first.

    ``None`` means "not given" (the default applies). The options are
    checked here, before anything runs; the steps run lazily, as the
    iterator is consumed, so an interactive view can pause between them. The
    ``Trace`` returned also runs a step at a time (``step()``), and shows itself in a
    notebook.

    Network (``model="mlp"``): ``dataset`` (default xor), ``layers`` (hidden
    sizes, default [2]), ``activation`` (hidden σ, default sigmoid),
    ``output`` (auto: sigmoid for two classes, softmax for more, identity
    for regression), ``loss`` (auto: cce after softmax, else mse), ``lr``
    (α, default 0.5), ``steps`` (default 1) or ``epochs``, ``sample`` (the
    first sample, default 0), ``batch_size`` (default 1), ``seed`` (initial
    weights), ``dtype`` (float32, or float64 for reference checks; the
    example defaults to float64 on the CPU), ``unfused``, ``device``.
    ``example="mazur"`` fixes the network, data and weights to Mazur's.

    Beyond plain SGD (not with the example): ``optimizer`` (a name or spec
    such as ``"adam:beta2=0.99"``, as ``nnlite train --optimizer`` takes it,
    or an ``Optimizer``; default SGD; ``lr`` then defaults to the optimiser's
    own α, except SGD's 0.5), ``lr_schedule`` (a ``Schedule`` or a spec such
    as ``"step:gamma=0.5,step_size=2,per=step"``), ``l1`` and ``l2`` (penalties
    on every layer's W) and ``dropout`` (rate p after each hidden layer; the
    masks are drawn from ``seed``, as ``fit(seed=...)`` draws them). The
    trace then shows each step's α and t, the masks, the penalty in the loss
    and in ∂L/∂W, and the optimiser's state before and after each update.

    ``neurons``: after each step, a ``NeuronMaps`` event with every hidden unit's
    activation over the plane, before and after the step (networks with 2 inputs and at
    most ``MAX_NEURON_UNITS`` units a hidden layer). Off by default, so a trace without it
    is unchanged.

    Your own model (``model=`` a built ``Sequential``, nnlite's or ``nnlite.keras``'s, e.g.
    after ``fit``) on your data ``x`` and ``y``: the trace starts from the model's weights
    as they are now and takes its layers, loss, penalties and dropout from it; ``lr``,
    ``steps``/``epochs``, ``sample``, ``batch_size``, ``optimizer``, ``lr_schedule``,
    ``seed`` (dropout's masks), ``dtype``, ``device``, ``unfused`` and ``neurons`` as
    above. An ``nnlite.keras`` model's compiled optimizer (with its schedule) is the
    default, ``lr`` replacing its α; its state (Adam's moments) starts afresh. The trace
    trains a copy: the model itself is not changed.

    Perceptron (``model="perceptron"``): ``gate`` (default and), ``lr`` (η,
    default 1), ``threshold`` (θ, default 0), ``epochs`` (give up after this
    many, default 20), ``dtype``, ``device``.

    Raises ``ConfigError`` (or ``DataError``, ``DeviceError``) with a
    one-line message for a bad option or combination.
    """
    own = _own_network(model)  # the learner's own Sequential, or None
    kind = "mlp" if own is not None else _choice(model, MODELS, "model")
    if own is None:
        _refuse(f"model={kind!r}; x and y go with your own model (model=<your Sequential>)",
                x=x, y=y)  # fmt: skip
    beyond = {  # the options beyond plain SGD; 0 means not given
        "optimizer": optimizer, "lr_schedule": lr_schedule,
        "l1": l1 or None, "l2": l2 or None, "dropout": dropout or None,
    }  # fmt: skip
    if kind == "perceptron":
        _refuse(
            "model='perceptron'",
            example=example, dataset=dataset, layers=layers, activation=activation,
            output=output, loss=loss, steps=steps, sample=sample, batch_size=batch_size,
            unfused=unfused or None, neurons=neurons or None, **beyond,
        )  # fmt: skip
        return Trace(_perceptron(
            gate=_choice(gate if gate is not None else "and", ("and", "or", "nand", "xor"), "gate"),
            eta=_rate(DEFAULT_ETA if lr is None else lr),
            threshold=_finite(0.0 if threshold is None else threshold, "threshold"),
            max_epochs=_count(DEFAULT_PERCEPTRON_EPOCHS if epochs is None else epochs, "epochs"),
            dtype=dtype,
            device=device,
        ))
    _refuse(
        "a network; the perceptron takes them: add model='perceptron'",
        gate=gate,
        threshold=threshold,
    )
    if own is not None:
        _refuse(
            "your own model (it has its layers, loss, penalties and dropout)",
            example=example, dataset=dataset, layers=layers, activation=activation,
            output=output, loss=loss, l1=l1 or None, l2=l2 or None, dropout=dropout or None,
        )  # fmt: skip
        net, X, Y = _own(own, x, y, dtype, device)
        ds_name, caught = "your x, y", []
        compiled = getattr(model, "optimizer", None) if own is not model else None
        if optimizer is None and compiled is not None:  # nnlite.keras: as compiled
            opt, kschedule = compiled.to_nnlite()
            opt = Optimizer(opt.name, **{**opt.values, **({} if lr is None else {"lr": lr})})
            opt.validate()
            schedule = _schedule(kschedule if lr_schedule is None else lr_schedule)
        else:
            opt, schedule = _optimizer(optimizer, lr), _schedule(lr_schedule)
        l1, l2, dropout = _own_penalties(net)
        notes, name, hold_biases = [OWN_NOTE], None, False
        if opt.name != "sgd" or opt.values.get("momentum"):
            notes.append(f"{opt.name}'s state (what it keeps between steps) starts from zero "
                         "here, not from where fit left it")  # fmt: skip
    elif example is not None:
        name = _choice(example, EXAMPLES, "example")
        _refuse(
            f"example={name!r} (it fixes the network, the data and the weights)",
            dataset=dataset, layers=layers, activation=activation, output=output, loss=loss,
            sample=sample, batch_size=batch_size, unfused=unfused or None, **beyond,
        )  # fmt: skip
        net, X, Y, ds_name = _mazur(dtype, device)
        caught: list[str] = []
        notes = list(MAZUR_NOTES)
        hold_biases = True
        opt, schedule = SGD(_rate(MAZUR["lr"] if lr is None else lr)).validate(), Schedule()
    else:
        opt = _optimizer(optimizer, lr)
        schedule = _schedule(lr_schedule)
        l1, l2 = _penalty(l1, "l1"), _penalty(l2, "l2")
        dropout = _dropout(dropout)
        net, X, Y, ds_name, caught = _network(
            dataset, layers, activation, output, loss, dtype, device, seed, l1, l2, dropout
        )
        notes, name, hold_biases = [], None, False
    if example is None:
        if unfused and (net.layers[-1].activation, net.loss) not in losses.FUSED:
            raise ConfigError(
                "'unfused' shows the long way round beside a fused gradient, so it needs "
                "output='softmax' with loss='cce' (or a sigmoid output with loss='bce'), "
                f"not {net.layers[-1].activation} with {net.loss}",
                param=("unfused", "output", "loss"),
            )
    lr = float(opt.lr)
    plain = opt.code == codes.SGD and schedule.name == "constant" and not (l1 or l2 or dropout)
    n = X.shape[0]
    B = min(_count(1 if batch_size is None else batch_size, "batch_size"), n)
    first = 0 if sample is None else _index(sample, n, ds_name)
    per_epoch = -(-n // B)
    if steps is not None and epochs is not None:
        raise ConfigError(
            "give 'steps' or 'epochs', not both (an epoch is one pass over the data)",
            param=("steps", "epochs"),
        )
    if epochs is not None:
        total = _count(epochs, "epochs") * per_epoch
    else:
        total = _count(1 if steps is None else steps, "steps")
    header = NetworkTrace(
        dataset=ds_name,
        n_samples=n,
        dims=[net.n_inputs] + [layer.units for layer in net.layers],
        activations=[layer.activation for layer in net.layers],
        loss=net.loss,
        lr=lr,
        batch_size=B,
        steps=total,
        steps_per_epoch=per_epoch,
        first_sample=first,
        dtype=np.dtype(net.dtype).name,
        device=net.memory.device,
        eps=float(CLIP_EPS[np.dtype(net.dtype)]),
        seed=int(seed),
        example=name,
        hold_biases=hold_biases,
        unfused=bool(unfused),
        warnings=caught,
        notes=notes,
    )
    if not plain:
        header.optimizer, header.schedule = opt.as_dict(), schedule.as_dict()
        header.l1, header.l2, header.dropout = l1, l2, dropout
    maps = _neuron_mapper(net, X) if neurons else None
    return Trace(_network_steps(net, X, Y, header, opt, schedule, maps))


def _neuron_mapper(net: Sequential, X: np.ndarray) -> Any:
    """θ → each hidden layer's activations over the data's plane (``regions.region_grid``).

    Refuses (one line) networks with no plane (not 2 inputs), no hidden layer, or a hidden
    layer wider than ``MAX_NEURON_UNITS``. The maps are computed by a copy of the network
    (its own kernels, θ set per call), so the traced model's θ is never touched.
    """
    from nnlite import regions

    if net.n_inputs != 2:
        raise ConfigError(
            f"'neurons' draws maps over the plane of 2-input data; this network has "
            f"{net.n_inputs} inputs", param="neurons",
        )  # fmt: skip
    if len(net.layers) < 2:
        raise ConfigError("'neurons' maps hidden units, and this network has no hidden layer",
                          param="neurons")  # fmt: skip
    for index, layer in enumerate(net.layers[:-1]):
        if layer.units > MAX_NEURON_UNITS:
            raise ConfigError(
                f"'neurons' maps hidden layers of at most {MAX_NEURON_UNITS} units; "
                f"layer {index + 1} has {layer.units}", param="neurons",
            )  # fmt: skip
    copy = Sequential(
        [Dense(x.units, x.activation) for x in net.layers], loss=net.loss, dtype=net.dtype,
        device=net.device, n_inputs=2,
    )  # fmt: skip
    extent = regions.plane(X)
    cols, rows = NEURON_GRID

    def maps(theta: np.ndarray) -> regions.Grid:
        copy.set_parameters(theta)
        return regions.region_grid(copy, None, cols, rows, hidden=True, extent=extent)

    return maps


# ---------------------------------------------------------------------------
# Option checks.
# ---------------------------------------------------------------------------


def _name(value: Any) -> str:
    return str(getattr(value, "value", value)).strip().lower()


def _choice(value: Any, choices: Sequence[str], what: str) -> str:
    key = _name(value)
    if key not in choices:
        raise ConfigError(f"unknown {what} {value!r}; valid: {', '.join(choices)}")
    return key


def _refuse(context: str, **given: Any) -> None:
    """Refuse options that do not apply in ``context`` (``None`` means not given).

    ``context`` names its own parameter as ``name='value'`` (``model='perceptron'``).
    """
    bad = [name for name, value in given.items() if value is not None]
    if bad:
        names = ", ".join(f"{name!r}" for name in bad)
        raise ConfigError(
            f"{names} cannot be used with {context}", param=(*bad, "model", "example")
        )


def _count(value: Any, name: str) -> int:
    """``value`` as a positive int; ``name``: the parameter (or words naming it) for the error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        what = f"{name!r}" if name.isidentifier() else name
        raise ConfigError(f"{what} must be a positive integer, got {value!r}", param=name)
    return int(value)


def _index(value: Any, n: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ConfigError(
            f"'sample' must be 0..{n - 1} for {name} ({n} samples), got {value!r}",
            param="sample",
        )
    return int(value)


def _finite(value: Any, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be finite, got {value}")
    return value


def _rate(value: Any) -> float:
    """α (or η), checked as ``SGD`` checks it."""
    opt = SGD(value)
    opt.validate()
    return float(opt.lr)


def _optimizer(optimizer: Any, lr: Any) -> Optimizer:
    """The optimiser to trace, validated: SGD at α = ``lr`` (default 0.5) when none is given.

    A spec (``"adam:beta2=0.99"``) is read as ``nnlite train --optimizer`` reads it,
    ``lr`` joining its values; without an α anywhere SGD takes the trace's 0.5 and the
    others their own default. An ``Optimizer`` carries its own α.
    """
    if optimizer is None:
        return SGD(_rate(DEFAULT_LR if lr is None else lr)).validate()
    if isinstance(optimizer, Optimizer):
        if lr is not None:
            raise ConfigError(
                "give the learning rate in the optimizer or as 'lr', not both",
                param=("lr", "optimizer"),
            )
        return Optimizer(optimizer.name, **optimizer.values).validate()
    spec = str(getattr(optimizer, "value", optimizer))
    name, _, rest = spec.partition(":")
    keys = {item.partition("=")[0].strip() for item in rest.split(",")}
    if lr is None and name.strip().lower() == "sgd" and "lr" not in keys:
        lr = DEFAULT_LR
    return runs.parse_optimizer(spec, lr=lr)


def _schedule(spec: Any) -> Schedule:
    if spec is None:
        return Schedule()
    if isinstance(spec, Schedule):
        return spec
    return Schedule.parse(str(getattr(spec, "value", spec)))


def _penalty(value: Any, name: str) -> float:
    layer = Dense(1, l1=value) if name == "l1" else Dense(1, l2=value)
    layer.validate()  # Dense's own check of λ
    return float(getattr(layer, name))


def _dropout(value: Any) -> float:
    layer = Dropout(value)
    layer.validate()
    return float(layer.rate)


def _default_dtype(dtype: Any, device: Any, example: bool) -> Any:
    if dtype is not None:
        return np.dtype(_name(dtype)) if _name(dtype) in ("float32", "float64") else dtype
    if example and resolve_device(device) == "cpu":
        return np.float64  # the article's numbers have nine digits: float32 keeps seven
    return np.float32


# ---------------------------------------------------------------------------
# Building the traced network.
# ---------------------------------------------------------------------------


def _output_layer(ds: datasets.Dataset, output: str) -> tuple[int, str]:
    """Units and σ of the output layer for the data (what ``nnlite train`` picks)."""
    if ds.n_classes is None:
        units = 1 if ds.y.ndim == 1 else ds.y.shape[1]
        return units, "identity" if output == "auto" else output
    if ds.n_classes <= 2:
        act = "sigmoid" if output == "auto" else output
        return (2 if act == "softmax" else 1), act
    return ds.n_classes, "softmax" if output == "auto" else output


def _network(
    dataset: str | None,
    layers: Sequence[int] | None,
    activation: Any,
    output: Any,
    loss: Any,
    dtype: Any,
    device: Any,
    seed: int,
    l1: float = 0.0,
    l2: float = 0.0,
    dropout: float = 0.0,
) -> tuple[Sequential, np.ndarray, np.ndarray, str, list[str]]:
    ds = datasets.load(DEFAULT_DATASET if dataset is None else dataset, seed=seed)
    hidden = list(DEFAULT_HIDDEN if layers is None else layers)
    for units in hidden:
        _count(units, "every hidden layer size")
    act = activations.canonical(DEFAULT_ACTIVATION if activation is None else _name(activation))
    if act == "softmax":
        raise ConfigError(
            "softmax belongs on the output layer only: use output='softmax'", param="output"
        )
    out_name = "auto" if output is None else _name(output)
    if out_name != "auto":
        out_name = activations.canonical(out_name)
    units, out_act = _output_layer(ds, out_name)
    loss_name = "auto" if loss is None else _name(loss)
    if loss_name == "auto":
        # The lesson meets MSE first; cross-entropy is the partner of softmax.
        loss_name = "cce" if out_act == "softmax" else "mse"
    if dropout and not hidden:
        raise ConfigError(
            "'dropout' acts after hidden layers, and this network has none", param="dropout"
        )
    stack: list[Any] = []
    for u in hidden:  # each hidden layer, then its dropout (as ``nnlite train`` builds it)
        stack.append(Dense(u, act, l1=l1, l2=l2))
        if dropout:
            stack.append(Dropout(dropout))
    net = Sequential(
        stack + [Dense(units, out_act, l1=l1, l2=l2)],
        loss=loss_name,
        dtype=_default_dtype(dtype, device, example=False),
        device=_name(device),
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.build(ds.n_features, seed=seed)
    notes = [str(w.message) for w in caught]
    if out_act == "softmax" and net.loss == "bce":
        notes.append(
            "softmax output with binary cross-entropy: bce treats each output as a separate "
            "yes/no probability, but softmax makes them compete (they sum to 1); "
            "categorical cross-entropy (cce) is the usual pairing"
        )
    X = np.ascontiguousarray(ds.X, dtype=net.dtype)
    Y = net.targets(ds.y)
    return net, X, Y, ds.name, notes


OWN_NOTE = (
    "your own model, from its weights as they are now; the trace trains a copy, so the "
    "model itself is not changed"
)


def _own_network(model: Any) -> Sequential | None:
    """The learner's network behind ``model`` (a ``Sequential``, or ``nnlite.keras``'s), or None.

    None for a name ("mlp", "perceptron"); a ``ConfigError`` for anything else, or for a
    model with no weights yet.
    """
    if isinstance(model, str) or hasattr(model, "value"):  # a name (or the CLI's enum)
        return None
    net = getattr(model, "network", model)  # nnlite.keras holds its nnlite network there
    if net is not None and not isinstance(net, Sequential):
        raise ConfigError(
            f"model must be 'mlp', 'perceptron' or your own Sequential model (nnlite's "
            f"or nnlite.keras's), got {type(model).__name__}",
            param="model",
        )
    if net is None or not net.built:
        raise ConfigError(
            "your model has no weights yet: fit it (or build it) first, then trace it",
            param="model",
        )
    return net


def _own(
    own: Sequential, x: Any, y: Any, dtype: Any, device: Any
) -> tuple[Sequential, np.ndarray, np.ndarray]:
    """A copy of the learner's network (same layers, loss and θ) and their data as rows."""
    if x is None or y is None:
        raise ConfigError(
            "tracing your own model needs your data: give x= and y= (what you fit it on)",
            param=("x", "y"),
        )
    stack = [
        Dropout(layer.rate) if isinstance(layer, Dropout)
        else Dense(layer.units, layer.activation, l1=layer.l1, l2=layer.l2)
        for layer in own.stack
    ]  # fmt: skip
    net = Sequential(
        stack,
        loss=own.loss,
        dtype=own.dtype if dtype is None else _default_dtype(dtype, device, example=False),
        device=_name(device),
    )
    net.build(own.n_inputs)
    net.set_parameters(own.theta.astype(net.dtype))
    try:
        X = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise DataError(f"x is not a numeric array: {exc}") from None
    if X.ndim > 2:  # images: one row per sample, as Flatten (and nnlite.keras) makes them
        X = X.reshape(X.shape[0], -1)
    X = np.ascontiguousarray(net._inputs(X))
    Y = net.targets(y)
    if len(X) != len(Y):
        raise DataError(f"x has {len(X)} samples but y has {len(Y)}")
    if len(X) == 0:
        raise DataError("x has no samples")
    return net, X, Y


def _own_penalties(net: Sequential) -> tuple[float, float, float]:
    """(λ₁, λ₂, dropout p) of the learner's network, as one value each the trace can show.

    The trace shows one λ₁ and one λ₂ for every layer, and one rate p of dropout after
    every hidden layer (none on the inputs); other models are refused in one line.
    """
    records = net.architecture()["layers"]
    l1s = {r.get("l1", 0.0) for r in records}
    l2s = {r.get("l2", 0.0) for r in records}
    drops = {r.get("dropout", 0.0) for r in records[1:]}
    if records[0].get("dropout", 0.0):
        raise ConfigError(
            "the trace shows dropout after hidden layers, and your model drops its inputs "
            "too: trace a model without Dropout before its first Dense layer",
            param="model",
        )
    if len(l1s) > 1 or len(l2s) > 1 or len(drops) > 1:
        raise ConfigError(
            "the trace shows one l1, one l2 and one dropout rate for every layer, and your "
            "model's layers have different ones",
            param="model",
        )
    return float(l1s.pop()), float(l2s.pop()), float(drops.pop()) if drops else 0.0


def _mazur(dtype: Any, device: Any) -> tuple[Sequential, np.ndarray, np.ndarray, str]:
    net = Sequential(
        [Dense(2, "sigmoid"), Dense(2, "sigmoid")],
        loss="mse",
        dtype=_default_dtype(dtype, device, example=True),
        device=_name(device),
    )
    net.build(2)
    net.layers[0].W[...] = MAZUR["W1"]
    net.layers[0].b[...] = MAZUR["b1"]
    net.layers[1].W[...] = MAZUR["W2"]
    net.layers[1].b[...] = MAZUR["b2"]
    X = np.array(MAZUR["X"], dtype=net.dtype)
    Y = np.array(MAZUR["Y"], dtype=net.dtype)
    return net, X, Y, "mazur"


# ---------------------------------------------------------------------------
# The traced training loop: the model's own training step (``models.Trainer``),
# one batch at a time, watched by ``_StepObserver``.
# ---------------------------------------------------------------------------


class _StepObserver:
    """Turns what one training step left in the trainer's arrays into events.

    Before the step it copies θ (each W and b as the step found them). After
    it, the step's own buffers hold everything forward and backward
    propagation computed (Z and A of every layer, ∂L/∂P, every dZ and ∂L/∂A);
    θ holds the updated W and b. What the step never stores is computed here
    from those buffers with the same kernels, for display only: ∂L/∂W =
    A_prevᵀ·dZ and ∂L/∂b = Σₙ dZ (``dense_backward``; plain SGD folds ∂L/∂W
    into its update), σ′(Z) (``activation_grad`` with ∂L/∂A = 1), the long way
    round of ``--unfused``, and the loss after the update (``forward_pass`` and
    ``loss_value``, into buffers of its own). Nothing here changes θ.

    Beyond plain SGD (``rich``) it also copies the optimiser's state before the
    step and reads, after it: t and α (the trainer's clock and schedule), the
    state after, the gradient the optimiser got (in the step's ``grad`` buffer,
    penalty included, whenever the update is not plain SGD without penalty),
    and each hidden layer's dropped input (``Dbuf``). For display it
    recomputes each dropout mask (``codes.dropout_unit``), ∂L/∂D = dZ·Wᵀ before
    the mask (``dense_backward``, W before the step), the penalty and its
    gradient (the CPU kernels ``network_penalty`` and ``penalty_grad``, on host
    copies) and Adam's M̂ and V̂.
    """

    def __init__(self, net: Sequential, h: NetworkTrace):
        mem, B, dims = net.memory, h.batch_size, h.dims
        self.net, self.h = net, h
        self.acts = [activations.code(name) for name in h.activations]
        self.fused = (h.activations[-1], h.loss) in losses.FUSED
        self.grad = mem.put(np.zeros(net.theta.size, net.dtype))  # ∂L/∂θ, for display
        self.grads = net.param_views(self.grad)
        self.ones = [mem.put(np.ones((B, o), net.dtype)) for o in dims[1:]]
        self.slopes = [mem.put(np.zeros((B, o), net.dtype)) for o in dims[1:]]
        if h.unfused:
            self.dP_u = mem.put(np.zeros((B, dims[-1]), net.dtype))
            self.dZ_u = mem.put(np.zeros((B, dims[-1]), net.dtype))
        self.Z_after = mem.put(np.zeros(B * net._units, net.dtype))  # the forward pass after
        self.A_after = mem.put(np.zeros(B * net._units, net.dtype))
        self.rich = h.optimizer is not None  # beyond plain SGD: state, α, t, penalty, masks
        self.layer_hyper = net.layer_hyper()  # (λ₁, λ₂, input dropout p) per layer
        self.penalised = [bool(l1 or l2) for l1, l2, _ in self.layer_hyper]
        self.drop = [float(p) for p in self.layer_hyper[:, codes.DROP]]
        if any(self.drop):
            self.dD = mem.put(np.zeros(B * net._units, net.dtype))  # ∂L/∂D, before the mask
        self.events: list[Event] = []

    def host(self, a: Any) -> np.ndarray:
        return np.array(self.net.memory.get(a), copy=True)  # a copy: the buffers are reused

    def before_step(self, trainer: Trainer, rows: np.ndarray) -> None:
        self.before = self.host(trainer.theta)
        if self.rich:
            self.state_before = self.host(trainer.state)

    def after_step(self, trainer: Trainer, rows: np.ndarray, stats: np.ndarray) -> None:
        net, h = self.net, self.h
        k = net.kernels
        L, m, eps, step = len(self.acts), rows.size, h.eps, self.step_number
        view = net.layer_view
        buf = trainer.buf
        Zs = [view(buf["Z"], layer, m) for layer in range(L)]
        As = [view(buf["A"], layer, m) for layer in range(L)]
        dZs = [view(buf["dZ"], layer, m) for layer in range(L)]
        dAs = [view(buf["dA"], layer, m) for layer in range(L)]
        Xm = trainer.Xb[:m]  # the batch as the step gathered it
        Xh, Yh = self.host(Xm), self.host(trainer.Yb[:m])
        before = net.param_views(self.before)
        after = net.param_views(self.host(trainer.theta))
        out = self.events
        self.t = int(trainer.clock[codes.CLOCK_STEP])  # this step's t (the step stored it)
        self.lr = trainer.rate() if self.rich else h.lr  # α of this step
        seed = int(trainer.clock[codes.CLOCK_SEED])
        clock = {"lr": self.lr, "t": self.t} if self.rich else {}
        out.append(Step(step=step, epoch=self.epoch, rows=[int(r) for r in rows], X=Xh, Y=Yh,
                        **clock))  # fmt: skip

        # Forward propagation, left to right: z = a·W + b, a = σ(z) (as the step did it);
        # with dropout on a hidden layer's output, the next layer reads d = a ⊙ mask.
        A_prev = Xh
        inputs: list[Any] = []  # each layer's input as the step used it (device arrays)
        masks: list[np.ndarray | None] = []
        for layer in range(L):
            W, b = before[layer]
            p, dropped = self.drop[layer], {}
            inputs.append(As[layer - 1] if layer > 0 else Xm)
            masks.append(None)
            if p > 0 and layer > 0:  # the trace drops hidden layers' outputs only
                masks[layer] = _mask(seed, self.t, layer, m, A_prev.shape[1], p, net.dtype)
                inputs[layer] = view(trainer.Dbuf, layer - 1, m)
                dropped = {"p": p, "mask": masks[layer], "D": self.host(inputs[layer])}
            out.append(Forward(step, layer + 1, A_prev, W.copy(), b.copy(), self.host(Zs[layer]),
                               **dropped))  # fmt: skip
            out.append(Activation(step, layer + 1, h.activations[layer], self.host(Zs[layer]),
                                  self.host(As[layer])))  # fmt: skip
            A_prev = self.host(As[layer])
        parts = {}
        if self.rich and any(self.penalised):  # L = data loss + λ₁·Σ|W| + λ₂·ΣW², W before
            data = float(k.loss_value(As[-1], trainer.Yb[:m], losses.code(h.loss), eps))
            parts = {"data_loss": data, "penalty": self._penalty(self.before)}
        out.append(Loss(step, "before", h.loss, self.host(As[-1]), Yh.copy(), float(stats[3]),
                        eps, **parts))  # fmt: skip

        # Backward propagation, right to left.
        if h.unfused:
            P, dP, dZ = As[-1], self.dP_u[:m], self.dZ_u[:m]
            k.loss_grad(P, trainer.Yb[:m], dP, losses.code(h.loss), eps)  # ∂L/∂p
            k.activation_grad(Zs[-1], P, dP, dZ, self.acts[-1])  # ∂L/∂z = Jᵀ·∂L/∂p
            long_way, short_way = self.host(dZ), self.host(dZs[-1])
            out.append(Unfused(
                step, L, h.activations[-1], h.loss, self.host(Zs[-1]), self.host(P), Yh.copy(),
                self.host(dP), long_way, short_way, float(np.max(np.abs(long_way - short_way))),
                eps,
            ))  # fmt: skip
        # The gradient the optimiser got: in the step's grad buffer, unless plain SGD without
        # penalty folded ∂L/∂W into its update (then computed here, as before).
        stored = self.rich and (trainer.opt.code != codes.SGD or any(self.penalised))
        step_grads = net.param_views(self.host(buf["grad"])) if stored else None
        W_now = net.param_views(trainer.theta)  # dense_backward reads W only for a dX
        W_then = net.param_views(net.memory.put(self.before)) if any(self.drop) else W_now
        self.shown: list[tuple[np.ndarray, np.ndarray]] = [None] * L  # type: ignore[list-item]
        for layer in range(L - 1, -1, -1):
            last = layer == L - 1
            slope = None
            if h.activations[layer] != "softmax" and not (last and self.fused):
                k.activation_grad(Zs[layer], As[layer], self.ones[layer][:m],
                                  self.slopes[layer][:m], self.acts[layer])  # fmt: skip
                slope = self.host(self.slopes[layer][:m])
            dW, db = self.grads[layer]
            A_prev, extra = inputs[layer], {}
            if masks[layer] is not None:  # ∂L/∂d = ∂L/∂z·Wᵀ (W before the step), then ⊙ mask
                dD = view(self.dD, layer - 1, m)
                k.dense_backward(A_prev, W_then[layer][0], dZs[layer], dW, db, dD, True)
                extra = {"mask": masks[layer], "dD_prev": self.host(dD)}
            else:
                k.dense_backward(A_prev, W_now[layer][0], dZs[layer], dW, db, A_prev, False)
            W = before[layer][0]
            dW, db = self.host(dW), self.host(db)
            if stored:
                if self.penalised[layer]:  # ∂L/∂W = a_prevᵀ·∂L/∂z + λ₁·sign(W) + 2λ₂·W
                    l1, l2, _ = self.layer_hyper[layer]
                    pen = np.zeros_like(W)
                    cpu.penalty_grad(W, pen, l1, l2)
                    extra.update(dW_data=dW, dW_penalty=pen)
                dW, db = (g.copy() for g in step_grads[layer])
            self.shown[layer] = (dW, db)
            out.append(Backward(
                step=step, layer=layer + 1, activation=h.activations[layer], output=last,
                fused=last and self.fused, Z=self.host(Zs[layer]), A=self.host(As[layer]),
                dA=None if last and self.fused else self.host(dAs[layer]), sigma_prime=slope,
                dZ=self.host(dZs[layer]), A_prev=self.host(A_prev), W=W.copy(),
                dW=dW, db=db,
                dA_prev=self.host(dAs[layer - 1]) if layer > 0 else None,
                loss=h.loss if last else None, Y=Yh.copy() if last else None,
                eps=eps if last else None, **extra,
            ))  # fmt: skip

        # The update the step took: W ← W − α·∂L/∂W, b ← b − α·∂L/∂b (or the optimiser's rule).
        state_after = self.host(trainer.state) if self.rich else None
        for layer in range(L):
            for j, (name, was, now) in enumerate(zip("Wb", before[layer], after[layer])):
                if name == "b" and h.hold_biases:
                    continue
                rule = self._rule(trainer.opt, state_after, layer, j, was, now) if self.rich else {}
                out.append(Update(step, layer + 1, name, self.lr, was.copy(),
                                  self.shown[layer][j].copy(), now.copy(), **rule))  # fmt: skip

    def _penalty(self, theta: np.ndarray) -> float:
        """λ₁·Σ|W| + λ₂·ΣW² of the flat ``theta`` (a host copy), as the step adds it."""
        return float(cpu.network_penalty(theta, self.net._dims, self.layer_hyper))

    def _rule(
        self, opt: Optimizer, state_after: np.ndarray, layer: int, j: int, was: np.ndarray,
        now: np.ndarray,
    ) -> dict[str, Any]:  # fmt: skip
        """The optimiser's side of one parameter's update: its state, M̂ and V̂, the change."""
        views = self.net.param_views
        slots = opt.slots
        rule: dict[str, Any] = {"rule": opt.name, "t": self.t}
        if slots:
            rule["state_before"] = {s: views(row)[layer][j].copy()
                                    for s, row in zip(slots, self.state_before)}  # fmt: skip
            rule["state_after"] = {s: views(row)[layer][j].copy()
                                   for s, row in zip(slots, state_after)}  # fmt: skip
        start = was
        if opt.name in ("adam", "adamw"):
            v, t, dt = opt.values, self.t, was.dtype
            M, V = rule["state_after"]["m"], rule["state_after"]["v"]
            rule["m_hat"] = (M / (1.0 - v["beta1"] ** t)).astype(dt)  # M̂ = M/(1 − β₁ᵗ)
            rule["v_hat"] = (V / (1.0 - v["beta2"] ** t)).astype(dt)  # V̂ = V/(1 − β₂ᵗ)
            if opt.name == "adamw" and v["weight_decay"] > 0:  # W·(1 − α·λ), as the kernel
                start = was * dt.type(1.0 - self.lr * v["weight_decay"])
                rule["decayed"] = start
        rule["change"] = now - start
        return rule

    def loss_after(self, trainer: Trainer, m: int) -> Loss:
        """The loss on the same batch after the update (forward pass and loss; θ unchanged).

        With dropout, the forward pass uses the step's masks (the objective it descended);
        with a penalty, the loss includes it at the W after the step.
        """
        net, h, k = self.net, self.h, self.net.kernels
        Xm, Ym = trainer.Xb[:m], trainer.Yb[:m]
        if any(self.drop):
            P, value = self._forward_dropped(trainer, m)
        else:
            k.forward_pass(Xm, trainer.theta, net._dims, net._acts, self.Z_after, self.A_after)
            P = net.layer_view(self.A_after, len(self.acts) - 1, m)
            value = float(k.loss_value(P, Ym, losses.code(h.loss), h.eps))
            P = self.host(P)
        parts = {}
        if self.rich and any(self.penalised):
            parts = {"data_loss": value, "penalty": self._penalty(self.host(trainer.theta))}
            value = value + parts["penalty"]
        return Loss(step=self.step_number, when="after", loss=h.loss, P=P,
                    Y=self.host(Ym), value=value, eps=h.eps, **parts)  # fmt: skip

    def _forward_dropped(self, trainer: Trainer, m: int) -> tuple[np.ndarray, float]:
        """P and the data loss after the step, through this step's dropout masks (host, CPU)."""
        net, h = self.net, self.h
        A_prev = self.host(trainer.Xb[:m])
        seed = int(trainer.clock[codes.CLOCK_SEED])
        for layer, (W, b) in enumerate(net.param_views(self.host(trainer.theta))):
            D = A_prev
            if self.drop[layer] > 0:
                D = np.empty_like(A_prev)
                cpu.dropout_forward(A_prev, D, self.drop[layer], seed, self.t, layer)
            Z = np.empty((m, W.shape[1]), net.dtype)
            A = np.empty_like(Z)
            cpu.dense_forward(D, W, b, Z, A, self.acts[layer])  # z = d·W + b, a = σ(z)
            A_prev = A
        Y = self.host(trainer.Yb[:m])
        return A_prev, float(cpu.loss_value(A_prev, Y, losses.code(h.loss), h.eps))


def _mask(seed: int, t: int, layer: int, m: int, width: int, p: float, dtype: Any) -> np.ndarray:
    """Inverted dropout's mask of ``layer``'s (m, width) input at step t: keep/(1 − p).

    keep(r, c) = ``codes.dropout_unit(seed, t, layer, r·width + c)`` ≥ p, the rule the
    kernels follow (the function's integer arithmetic works on a NumPy int64 array).
    """
    u = codes.dropout_unit(seed, t, layer, np.arange(m * width, dtype=np.int64))
    dt = np.dtype(dtype)
    return np.where(u >= p, dt.type(1.0 / (1.0 - p)), dt.type(0)).reshape(m, width)


def _network_steps(
    net: Sequential, X: np.ndarray, Y: np.ndarray, h: NetworkTrace, opt: Optimizer,
    schedule: Schedule, maps: Any = None,
) -> Iterator[Event]:  # fmt: skip
    mem = net.memory
    # The model's own training step; on the CPU its θ is net.theta itself. Dropout's
    # masks come from ``seed``, as ``fit(seed=...)`` draws them.
    trainer = Trainer(net, opt, h.batch_size, schedule=schedule, seed=h.seed)
    if h.dropout:
        h.dropout_seed = int(trainer.clock[codes.CLOCK_SEED])
    watch = _StepObserver(net, h)
    Xd, Yd = mem.put(X), mem.put(Y)
    B, n = h.batch_size, h.n_samples
    order = [(h.first_sample + r) % n for r in range(n)]  # the data in order, from ``sample``
    yield h
    for s in range(h.steps):
        epoch, j = divmod(s, h.steps_per_epoch)
        rows = order[j * B : (j + 1) * B]
        watch.step_number, watch.epoch, watch.events = s + 1, epoch + 1, []
        trainer.clock[codes.CLOCK_EPOCH] = epoch  # a per-epoch schedule's time
        trainer.step(Xd, Yd, rows, watch)
        if h.hold_biases:  # Mazur's convention: only the weights learn; b goes back
            theta = watch.host(trainer.theta)
            for (_, b_now), (_, b_was) in zip(net.param_views(theta),
                                              net.param_views(watch.before)):  # fmt: skip
                b_now[...] = b_was
            mem.copy_into(trainer.theta, theta)
        watch.events.append(watch.loss_after(trainer, len(rows)))
        if maps is not None:  # each hidden unit over the plane, before and after
            was, now = maps(watch.before), maps(watch.host(trainer.theta))
            watch.events.append(NeuronMaps(
                step=s + 1, x1=was.x1, x2=was.x2,
                before={str(i + 1): a for i, a in enumerate(was.hidden)},
                after={str(i + 1): a for i, a in enumerate(now.hidden)},
            ))  # fmt: skip
        yield from watch.events
    mem.get(trainer.theta, out=net.theta)  # the trained θ back on the model (a no-op on the CPU)


# ---------------------------------------------------------------------------
# The perceptron: ``perceptron_epoch`` one sample at a time.
# ---------------------------------------------------------------------------


def _perceptron(
    gate: str, eta: float, threshold: float, max_epochs: int, dtype: Any, device: Any
) -> Iterator[Event]:
    k = get_backend(_name(device))
    mem = memory_for(k)
    dt = np.dtype(_default_dtype(dtype, device, example=False))
    if dt not in mem.dtypes:
        raise ConfigError(
            f"the {mem.device} kernels compute in {' or '.join(d.name for d in mem.dtypes)}, "
            f"not {dt.name}"
        )
    ds = datasets.gate(gate)
    X = np.ascontiguousarray(ds.X, dtype=dt)
    header = PerceptronTrace(
        gate, X.copy(), [int(v) for v in ds.y], eta, threshold, max_epochs, dt.name, mem.device
    )
    return _perceptron_steps(k, mem, X, ds.y, header)


def _perceptron_steps(
    k: Any, mem: Any, X: np.ndarray, y: np.ndarray, h: PerceptronTrace
) -> Iterator[Event]:
    def host(a: Any) -> np.ndarray:
        return np.array(mem.get(a), copy=True)

    n, i = X.shape
    w = mem.put(np.zeros(i, X.dtype))  # Rosenblatt starts from w = 0, b = 0
    b = mem.put(np.zeros(1, X.dtype))
    w_col = w.reshape((i, 1))  # the same memory as w, as an (i, 1) matrix
    S = mem.put(np.zeros((1, 1), X.dtype))
    A = mem.put(np.zeros((1, 1), X.dtype))
    out = mem.put(np.zeros(1, np.int64))
    identity = activations.code("identity")
    yield h
    for epoch in range(1, h.max_epochs + 1):
        updates = 0
        for r in range(n):
            x_row = mem.put(np.ascontiguousarray(X[r : r + 1]))  # (1, i)
            x = mem.put(np.ascontiguousarray(X[r]))  # (i,)
            w_was, b_was = host(w), float(host(b)[0])
            k.dense_forward(x_row, w_col, b, S, A, identity)  # Σ wᵢxᵢ + b
            k.perceptron_predict(x_row, w, b, h.threshold, out)  # ŷ = [Σ wᵢxᵢ + b ≥ θ]
            y_hat = int(host(out)[0])
            err = int(k.perceptron_step(x, int(y[r]), w, b, h.eta, h.threshold))  # the rule
            updates += err != 0
            yield PerceptronStep(
                epoch=epoch, sample=r, x=X[r].copy(), y=int(y[r]), w=w_was, b=b_was,
                weighted_sum=float(host(S)[0, 0]), threshold=h.threshold, y_hat=y_hat,
                error=err, eta=h.eta, w_after=host(w), b_after=float(host(b)[0]),
            )  # fmt: skip
        outcome = "converged" if updates == 0 else ("gave up" if epoch == h.max_epochs else None)
        yield PerceptronEpoch(epoch, updates, outcome, host(w), float(host(b)[0]))
        if outcome is not None:
            return
