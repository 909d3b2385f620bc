"""Trace mode: every number of a training step, as plain events.

Owns: the trace events — dataclasses that hold what a learner sees at each
step (the batch; forward propagation layer by layer, left to right; the loss;
backward propagation, right to left; the SGD update; the loss after it; and
each learning-rule step of Rosenblatt's perceptron) — their JSON form (one
object per event, full arrays), and the tracer that produces them. Also Matt
Mazur's published worked example, "A Step by Step Backpropagation Example"
(2015), as a ready-made network.

How the numbers are made: the tracer calls the compiled kernels that training
uses (``dense_forward``, ``loss_value``, ``output_grad``, ``activation_grad``,
``dense_backward``, ``dense_sgd_update``, ``sgd_update``, ``perceptron_predict``,
``perceptron_step``), one call at a time on the same views into θ, and copies
what each call wrote into an event. It computes no number of the lesson
itself, so a trace cannot disagree with training (``train_batches`` chains
the same calls inside one compiled loop). With ``device="cuda"`` the same
calls go to the CUDA twins.

Imports: numpy, nnlite's tables, models, data sets and kernels. Never typer or
rich; never prints: ``nnlite/ui_trace.py`` renders, ``cli.py`` wires.

Omits: shuffling (the trace walks the samples in order, starting at
``sample``, so a learner can follow them), validation data, the fast
compiled loop, and optimisers other than SGD.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from nnlite import activations, datasets, losses
from nnlite.config import CLIP_EPS
from nnlite.errors import ConfigError, DataError
from nnlite.kernels import get_backend, memory_for, resolve_device
from nnlite.layers import Dense
from nnlite.models import Sequential
from nnlite.optim import SGD

MODELS = ("mlp", "perceptron")
EXAMPLES = ("mazur",)

DEFAULT_DATASET = "xor"
DEFAULT_HIDDEN = (2,)  # 2-2-1 on XOR: the smallest network that needs its hidden layer
DEFAULT_ACTIVATION = "sigmoid"
DEFAULT_LR = 0.5
DEFAULT_ETA = 1.0
DEFAULT_PERCEPTRON_EPOCHS = 20  # a trace of XOR shows it never settles; 20 epochs are plenty

# ---------------------------------------------------------------------------
# Events. Arrays are numpy arrays in the trace's dtype (copies, never views);
# ``to_json`` turns them into nested lists. ``step``, ``epoch`` and ``layer``
# count from 1 as a learner does; sample indices (``rows``) count from 0.
# ---------------------------------------------------------------------------


@dataclass
class Event:
    """Base of every trace event; ``kind`` names it in the JSON form."""

    kind: ClassVar[str] = "event"

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-able dict: ``{"kind": ..., field: value, ...}``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            out[f.name] = _plain(getattr(self, f.name))
        return out

    def to_line(self) -> str:
        """One line of JSON (NaN and infinity written as JavaScript does)."""
        return json.dumps(self.to_json())


@dataclass
class NetworkTrace(Event):
    """First event of a network trace: the network, the data and the settings."""

    kind: ClassVar[str] = "trace"
    dataset: str
    n_samples: int
    dims: list[int]  # (n_in, units₁, …, units_L)
    activations: list[str]  # σ of each layer
    loss: str
    lr: float
    batch_size: int
    steps: int
    steps_per_epoch: int
    first_sample: int
    dtype: str
    device: str
    eps: float  # probabilities are clipped to [eps, 1 − eps] before a log
    seed: int
    example: str | None = None
    hold_biases: bool = False
    unfused: bool = False
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Step(Event):
    """The start of one training step: its mini-batch."""

    kind: ClassVar[str] = "step"
    step: int
    epoch: int
    rows: list[int]  # sample indices in the data set
    X: np.ndarray  # (m, n_in), a⁰
    Y: np.ndarray  # (m, o), the targets


@dataclass
class Forward(Event):
    """The linear step of layer ℓ: Z = A_prev·W + b."""

    kind: ClassVar[str] = "forward"
    step: int
    layer: int
    A_prev: np.ndarray  # (m, i)
    W: np.ndarray  # (i, o)
    b: np.ndarray  # (o,)
    Z: np.ndarray  # (m, o)


@dataclass
class Activation(Event):
    """The activation of layer ℓ: A = σ(Z)."""

    kind: ClassVar[str] = "activation"
    step: int
    layer: int
    activation: str
    Z: np.ndarray
    A: np.ndarray


@dataclass
class Loss(Event):
    """L(P, Y) before the update (``when="before"``) or after it (``"after"``)."""

    kind: ClassVar[str] = "loss"
    step: int
    when: str
    loss: str
    P: np.ndarray
    Y: np.ndarray
    value: float
    eps: float


@dataclass
class Backward(Event):
    """Backward through layer ℓ: ∂L/∂Z, then ∂L/∂W, ∂L/∂b and ∂L/∂A_prev.

    On the output layer ``dA`` is ∂L/∂P from the loss, or None when the loss
    and the output activation are differentiated together (``fused``: then
    dZ = (P − Y)/n directly). ``sigma_prime`` is σ′(Z) as the kernel computes
    it (``activation_grad`` with ∂L/∂A = 1), shown beside dZ = dA ⊙ σ′(Z).
    ``dA_prev`` is None on the first layer: the input needs no gradient.
    """

    kind: ClassVar[str] = "backward"
    step: int
    layer: int
    activation: str
    output: bool
    fused: bool
    Z: np.ndarray
    A: np.ndarray
    dA: np.ndarray | None
    sigma_prime: np.ndarray | None  # σ′(Z) elementwise; None for softmax or a fused output
    dZ: np.ndarray
    A_prev: np.ndarray
    W: np.ndarray
    dW: np.ndarray
    db: np.ndarray
    dA_prev: np.ndarray | None
    loss: str | None = None  # output layer only
    Y: np.ndarray | None = None  # output layer only
    eps: float | None = None  # output layer only


@dataclass
class Unfused(Event):
    """The long way round beside a fused output gradient (``--unfused``).

    ``dP`` = ∂L/∂P from the loss's own gradient kernel, ``dZ`` = that pushed
    back through the activation's Jacobian (``activation_grad``), ``dZ_fused``
    = the fused (P − Y)/n that training uses; ``max_diff`` = max |dZ − dZ_fused|.
    """

    kind: ClassVar[str] = "unfused"
    step: int
    layer: int
    activation: str
    loss: str
    Z: np.ndarray
    P: np.ndarray
    Y: np.ndarray
    dP: np.ndarray
    dZ: np.ndarray
    dZ_fused: np.ndarray
    max_diff: float
    eps: float


@dataclass
class Update(Event):
    """One SGD update of a parameter: ``after`` = ``before`` − lr·``grad``.

    For W the step is computed as training computes it, from the product
    (``dense_sgd_update``): it can differ from ``before − lr·grad`` in the last bit.
    """

    kind: ClassVar[str] = "update"
    step: int
    layer: int
    param: str  # "W" or "b"
    lr: float
    before: np.ndarray
    grad: np.ndarray
    after: np.ndarray


@dataclass
class PerceptronTrace(Event):
    """First event of a perceptron trace: the gate's truth table and the settings."""

    kind: ClassVar[str] = "perceptron-trace"
    gate: str
    X: np.ndarray  # (4, 2)
    y: list[int]
    eta: float
    threshold: float
    max_epochs: int
    dtype: str
    device: str


@dataclass
class PerceptronStep(Event):
    """The learning rule on one sample: Σ wᵢxᵢ + b, ŷ = [Σ ≥ θ], y − ŷ, the update."""

    kind: ClassVar[str] = "perceptron-step"
    epoch: int
    sample: int
    x: np.ndarray
    y: int
    w: np.ndarray
    b: float
    weighted_sum: float
    threshold: float
    y_hat: int
    error: int
    eta: float
    w_after: np.ndarray
    b_after: float


@dataclass
class PerceptronEpoch(Event):
    """End of a pass over the truth table; ``outcome`` is set on the last one."""

    kind: ClassVar[str] = "perceptron-epoch"
    epoch: int
    updates: int
    outcome: str | None  # None, "converged" or "gave up"
    w: np.ndarray
    b: float


EVENTS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        NetworkTrace, Step, Forward, Activation, Loss, Backward, Unfused, Update,
        PerceptronTrace, PerceptronStep, PerceptronEpoch,
    )
}  # fmt: skip


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_json(obj: dict[str, Any] | str) -> Event:
    """The event back from its JSON form (a dict or one line); arrays come back as float64."""
    if isinstance(obj, str):
        obj = json.loads(obj)
    cls = EVENTS.get(obj.get("kind"))
    if cls is None:
        raise DataError(
            f"unknown trace event kind {obj.get('kind')!r}; known kinds: {', '.join(EVENTS)}"
        )
    kwargs = {}
    for f in fields(cls):
        value = obj.get(f.name)
        if value is not None and "ndarray" in str(f.type):
            value = np.asarray(value, dtype=np.float64)
        kwargs[f.name] = value
    return cls(**kwargs)


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
) -> Iterator[Event]:
    """Check the options and return the trace: an iterator of events, header first.

    ``None`` means "not given" (the default applies). The options are
    checked here, before anything runs; the steps run lazily, as the
    iterator is consumed, so an interactive view can pause between them.

    Network (``model="mlp"``): ``dataset`` (default xor), ``layers`` (hidden
    sizes, default [2]), ``activation`` (hidden σ, default sigmoid),
    ``output`` (auto: sigmoid for two classes, softmax for more, identity
    for regression), ``loss`` (auto: cce after softmax, else mse), ``lr``
    (α, default 0.5), ``steps`` (default 1) or ``epochs``, ``sample`` (the
    first sample, default 0), ``batch_size`` (default 1), ``seed`` (initial
    weights), ``dtype`` (float32, or float64 for reference checks; the
    example defaults to float64 on the CPU), ``unfused``, ``device``.
    ``example="mazur"`` fixes the network, data and weights to Mazur's.

    Perceptron (``model="perceptron"``): ``gate`` (default and), ``lr`` (η,
    default 1), ``threshold`` (θ, default 0), ``epochs`` (give up after this
    many, default 20), ``dtype``, ``device``.

    Raises ``ConfigError`` (or ``DataError``, ``DeviceError``) with a
    one-line message for a bad option or combination.
    """
    kind = _choice(model, MODELS, "model")
    if kind == "perceptron":
        _refuse(
            "--model perceptron",
            example=example, dataset=dataset, layers=layers, activation=activation,
            output=output, loss=loss, steps=steps, sample=sample, batch_size=batch_size,
            unfused=unfused or None,
        )  # fmt: skip
        return _perceptron(
            gate=_choice(gate if gate is not None else "and", ("and", "or", "nand", "xor"), "gate"),
            eta=_rate(DEFAULT_ETA if lr is None else lr),
            threshold=_finite(0.0 if threshold is None else threshold, "threshold"),
            max_epochs=_count(DEFAULT_PERCEPTRON_EPOCHS if epochs is None else epochs, "epochs"),
            dtype=dtype,
            device=device,
        )
    _refuse(
        "a network; the perceptron takes them: add --model perceptron",
        gate=gate,
        threshold=threshold,
    )
    if example is not None:
        name = _choice(example, EXAMPLES, "example")
        _refuse(
            f"--example {name} (it fixes the network, the data and the weights)",
            dataset=dataset, layers=layers, activation=activation, output=output, loss=loss,
            sample=sample, batch_size=batch_size, unfused=unfused or None,
        )  # fmt: skip
        net, X, Y, ds_name = _mazur(dtype, device)
        caught: list[str] = []
        notes = list(MAZUR_NOTES)
        lr = MAZUR["lr"] if lr is None else lr
        hold_biases = True
    else:
        net, X, Y, ds_name, caught = _network(
            dataset, layers, activation, output, loss, dtype, device, seed
        )
        notes, name, hold_biases = [], None, False
        if unfused and (net.layers[-1].activation, net.loss) not in losses.FUSED:
            raise ConfigError(
                "--unfused shows the long way round beside a fused gradient, so it needs "
                "--output softmax with --loss cce (or a sigmoid output with --loss bce), "
                f"not {net.layers[-1].activation} with {net.loss}"
            )
    lr = _rate(DEFAULT_LR if lr is None else lr)
    n = X.shape[0]
    B = min(_count(1 if batch_size is None else batch_size, "--batch-size"), n)
    first = 0 if sample is None else _index(sample, n, ds_name)
    per_epoch = -(-n // B)
    if steps is not None and epochs is not None:
        raise ConfigError("give --steps or --epochs, not both (an epoch is one pass over the data)")
    if epochs is not None:
        total = _count(epochs, "--epochs") * per_epoch
    else:
        total = _count(1 if steps is None else steps, "--steps")
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
    return _network_steps(net, X, Y, header)


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
    """Refuse options that do not apply in ``context`` (``None`` means not given)."""
    bad = [f"--{name.replace('_', '-')}" for name, value in given.items() if value is not None]
    if bad:
        raise ConfigError(f"{', '.join(bad)} cannot be used with {context}")


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _index(value: Any, n: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 0 <= value < n:
        raise ConfigError(f"--sample must be 0..{n - 1} for {name} ({n} samples), got {value!r}")
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
) -> tuple[Sequential, np.ndarray, np.ndarray, str, list[str]]:
    ds = datasets.load(DEFAULT_DATASET if dataset is None else dataset, seed=seed)
    hidden = list(DEFAULT_HIDDEN if layers is None else layers)
    for units in hidden:
        _count(units, "every hidden layer size")
    act = activations.canonical(DEFAULT_ACTIVATION if activation is None else _name(activation))
    if act == "softmax":
        raise ConfigError("softmax belongs on the output layer only: use --output softmax")
    out_name = "auto" if output is None else _name(output)
    if out_name != "auto":
        out_name = activations.canonical(out_name)
    units, out_act = _output_layer(ds, out_name)
    loss_name = "auto" if loss is None else _name(loss)
    if loss_name == "auto":
        # The lesson meets MSE first; cross-entropy is the partner of softmax.
        loss_name = "cce" if out_act == "softmax" else "mse"
    net = Sequential(
        [Dense(u, act) for u in hidden] + [Dense(units, out_act)],
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


def _param_views(flat: Any, dims: Sequence[int], layer: int) -> tuple[Any, Any]:
    """(W, b) of ``layer`` as views into a flat vector laid out like θ (see ``cpu._param_views``)."""
    off = sum(dims[k] * dims[k + 1] + dims[k + 1] for k in range(layer))
    i, o = dims[layer], dims[layer + 1]
    return flat[off : off + i * o].reshape((i, o)), flat[off + i * o : off + i * o + o]


# ---------------------------------------------------------------------------
# The traced training loop: ``train_batches`` one kernel call at a time.
# ---------------------------------------------------------------------------


def _network_steps(
    net: Sequential, X: np.ndarray, Y: np.ndarray, h: NetworkTrace
) -> Iterator[Event]:
    k, mem = net.kernels, net.memory

    def host(a: Any) -> np.ndarray:
        return np.array(mem.get(a), copy=True)  # a copy: the buffers are reused

    dims = h.dims
    L = len(h.activations)
    acts = [activations.code(name) for name in h.activations]
    loss_code = losses.code(h.loss)
    eps = h.eps
    fused = (h.activations[-1], h.loss) in losses.FUSED
    B, n = h.batch_size, h.n_samples
    buf = {name: mem.put(a) for name, a in net.buffers(B).items()}
    theta = mem.put(net.theta)  # on the CPU, net.theta itself: each layer's W and b are views
    params = [_param_views(theta, dims, layer) for layer in range(L)]
    grads = [_param_views(buf["grad"], dims, layer) for layer in range(L)]
    if h.unfused:
        dP_u = mem.put(np.zeros((B, dims[-1]), net.dtype))
        dZ_u = mem.put(np.zeros((B, dims[-1]), net.dtype))
    # σ′(Z) for display, from the kernel itself: activation_grad with ∂L/∂A = 1.
    ones = [mem.put(np.ones((B, o), net.dtype)) for o in dims[1:]]
    slopes = [mem.put(np.zeros((B, o), net.dtype)) for o in dims[1:]]
    order = [(h.first_sample + r) % n for r in range(n)]  # the data in order, from --sample

    def forward(Xm: Any, m: int) -> tuple[list[Any], list[Any]]:
        Zs = [net.layer_view(buf["Z"], layer, m) for layer in range(L)]
        As = [net.layer_view(buf["A"], layer, m) for layer in range(L)]
        return Zs, As

    yield h
    for s in range(h.steps):
        epoch, j = divmod(s, h.steps_per_epoch)
        rows = order[j * B : (j + 1) * B]
        m = len(rows)
        Xh = np.ascontiguousarray(X[rows])
        Yh = np.ascontiguousarray(Y[rows])
        Xm, Ym = mem.put(Xh), mem.put(Yh)
        step = s + 1
        yield Step(step=step, epoch=epoch + 1, rows=rows, X=Xh.copy(), Y=Yh.copy())

        # Forward propagation, left to right: z = a·W + b, a = σ(z).
        Zs, As = forward(Xm, m)
        A_prev = Xm
        for layer in range(L):
            W, b = params[layer]
            k.dense_forward(A_prev, W, b, Zs[layer], As[layer], acts[layer])
            yield Forward(step, layer + 1, host(A_prev), host(W), host(b), host(Zs[layer]))
            yield Activation(
                step, layer + 1, h.activations[layer], host(Zs[layer]), host(As[layer])
            )
            A_prev = As[layer]
        P = As[-1]
        before = float(k.loss_value(P, Ym, loss_code, eps))
        yield Loss(step, "before", h.loss, host(P), Yh.copy(), before, eps)

        # Backward propagation, right to left.
        dZs = [net.layer_view(buf["dZ"], layer, m) for layer in range(L)]
        dAs = [net.layer_view(buf["dA"], layer, m) for layer in range(L)]
        k.output_grad(Zs[-1], P, Ym, dAs[-1], dZs[-1], acts[-1], loss_code, eps)
        if h.unfused:
            dP, dZ = dP_u[:m], dZ_u[:m]
            if h.loss == "cce":
                k.cce_grad(P, Ym, dP, eps)  # ∂L/∂p = −y/p/n
            else:
                k.bce_grad(P, Ym, dP, eps)  # ∂L/∂p = (p − y)/(p(1 − p))/(n·o)
            k.activation_grad(Zs[-1], P, dP, dZ, acts[-1])  # ∂L/∂z = Jᵀ·∂L/∂p
            long_way, short_way = host(dZ), host(dZs[-1])
            yield Unfused(
                step, L, h.activations[-1], h.loss, host(Zs[-1]), host(P), Yh.copy(), host(dP),
                long_way, short_way, float(np.max(np.abs(long_way - short_way))), eps,
            )  # fmt: skip
        for layer in range(L - 1, -1, -1):
            last = layer == L - 1
            if not last:
                # ∂L/∂z = ∂L/∂a ⊙ σ′(z); ∂L/∂a came from the layer above as its dX.
                k.activation_grad(Zs[layer], As[layer], dAs[layer], dZs[layer], acts[layer])
            slope = None
            if h.activations[layer] != "softmax" and not (last and fused):
                k.activation_grad(
                    Zs[layer], As[layer], ones[layer][:m], slopes[layer][:m], acts[layer]
                )
                slope = host(slopes[layer][:m])
            W, _ = params[layer]
            dW, db = grads[layer]
            if layer > 0:
                A_prev = As[layer - 1]
                k.dense_backward(A_prev, W, dZs[layer], dW, db, dAs[layer - 1], True)
            else:
                A_prev = Xm
                k.dense_backward(Xm, W, dZs[0], dW, db, Xm, False)  # the input needs no dX
            yield Backward(
                step=step,
                layer=layer + 1,
                activation=h.activations[layer],
                output=last,
                fused=last and fused,
                Z=host(Zs[layer]),
                A=host(As[layer]),
                dA=None if last and fused else host(dAs[layer]),
                sigma_prime=slope,
                dZ=host(dZs[layer]),
                A_prev=host(A_prev),
                W=host(W),
                dW=host(dW),
                db=host(db),
                dA_prev=host(dAs[layer - 1]) if layer > 0 else None,
                loss=h.loss if last else None,
                Y=Yh.copy() if last else None,
                eps=eps if last else None,
            )

        # Gradient descent: W ← W − α·∂L/∂W, b ← b − α·∂L/∂b, on the views into θ.
        # W takes the step as training does: from ∂L/∂W = A_prevᵀ·dZ in one product
        # (``dense_sgd_update``), so the trace stays bit-identical to ``fit``.
        for layer in range(L):
            for name, param, grad in zip("Wb", params[layer], grads[layer]):
                if name == "b" and h.hold_biases:
                    continue
                was = host(param)
                if name == "W":
                    A_prev = As[layer - 1] if layer > 0 else Xm
                    k.dense_sgd_update(param, A_prev, dZs[layer], h.lr)
                else:
                    k.sgd_update(param, grad, h.lr)
                yield Update(step, layer + 1, name, h.lr, was, host(grad), host(param))

        # The loss on the same batch after the update.
        Zs, As = forward(Xm, m)
        A_prev = Xm
        for layer in range(L):
            W, b = params[layer]
            k.dense_forward(A_prev, W, b, Zs[layer], As[layer], acts[layer])
            A_prev = As[layer]
        after = float(k.loss_value(As[-1], Ym, loss_code, eps))
        yield Loss(step, "after", h.loss, host(As[-1]), Yh.copy(), after, eps)
    mem.get(theta, out=net.theta)  # the trained θ back on the model (a no-op on the CPU)


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
