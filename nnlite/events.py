"""Trace events: what a learner sees at each step of training, as plain data.

Owns: the event dataclasses — the batch of a step; forward propagation layer
by layer, left to right; the loss; backward propagation, right to left; the
update; the loss after it; on request, each hidden unit's map over the plane of 2-D
data before and after the step; and each learning-rule step of Rosenblatt's
perceptron — and their JSON form (one object per event, full arrays). They
sit below the model: ``nnlite.trace`` fills them while it watches the
training driver (``models.Trainer``) take its steps, and ``nnlite.ui``
renders them. Imports numpy and nnlite's errors only; never renders.

Fields made with ``optional()`` (the optimiser's state, the schedule's α,
the L1/L2 penalty, dropout's mask) are None in a trace of plain SGD and are
then left out of the JSON form, so such a trace reads and prints as it did
before they existed, and a JSON trace written before them still loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import numpy as np

from nnlite.display import Displayable
from nnlite.errors import DataError


def optional() -> Any:
    """A field that is None unless the trace uses it; the JSON form leaves a None out."""
    return field(default=None, metadata={"optional": True})


# ---------------------------------------------------------------------------
# Events. Arrays are numpy arrays in the trace's dtype (copies, never views);
# ``to_json`` turns them into nested lists. ``step``, ``epoch`` and ``layer``
# count from 1 as a learner does; sample indices (``rows``) count from 0.
# ---------------------------------------------------------------------------


@dataclass(repr=False)
class Event(Displayable):
    """Base of every trace event; ``kind`` names it in the JSON form.

    In a notebook an event shows as one line and its arrays as labelled matrices
    (``nnlite.ui.notebook.EventView``); a whole step shows through ``nnlite.trace.Trace``.
    """

    kind: ClassVar[str] = "event"
    view_kind: ClassVar[str] = "event"

    def __repr__(self) -> str:
        """One line: the scalars with their values, the arrays with their shapes."""
        parts = []
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                parts.append(f"{f.name} {'×'.join(map(str, value.shape)) or 'scalar'}")
            elif isinstance(value, (bool, int, float, str)) or value is None or (
                isinstance(value, list) and len(value) <= 8
                and all(isinstance(v, (bool, int, float, str)) for v in value)
            ):  # fmt: skip
                if value is not None or not f.metadata.get("optional"):
                    parts.append(f"{f.name}={value!r}")
            else:
                parts.append(f"{f.name}=…")
        return f"{type(self).__name__}({', '.join(parts)})"

    def to_json(self) -> dict[str, Any]:
        """The event as a JSON-able dict: ``{"kind": ..., field: value, ...}``."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.metadata.get("optional"):
                continue
            out[f.name] = _plain(value)
        return out

    def to_line(self) -> str:
        """One line of JSON (NaN and infinity written as JavaScript does)."""
        return json.dumps(self.to_json())


@dataclass(repr=False)
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
    # Beyond plain SGD (all None in a plain trace): the optimiser (``Optimizer.as_dict()``,
    # its "lr" is α₀ = ``lr``), the schedule (``Schedule.as_dict()``), the penalties λ₁ and
    # λ₂ on every layer's W, the dropout rate p after each hidden layer and the seed of
    # dropout's masks (``codes.dropout_unit(dropout_seed, t, layer, r·width + c)``).
    optimizer: dict[str, Any] | None = optional()
    schedule: dict[str, Any] | None = optional()
    l1: float | None = optional()
    l2: float | None = optional()
    dropout: float | None = optional()
    dropout_seed: int | None = optional()


@dataclass(repr=False)
class Step(Event):
    """The start of one training step: its mini-batch."""

    kind: ClassVar[str] = "step"
    step: int
    epoch: int
    rows: list[int]  # sample indices in the data set
    X: np.ndarray  # (m, n_in), a⁰
    Y: np.ndarray  # (m, o), the targets
    lr: float | None = optional()  # α of this step (after the schedule)
    t: int | None = optional()  # the update's number, from 1 (Adam's t)


@dataclass(repr=False)
class Forward(Event):
    """The linear step of layer ℓ: Z = A_prev·W + b.

    With dropout p on the layer's input: D = A_prev ⊙ ``mask`` (``mask`` =
    keep/(1 − p), keep = [``codes.dropout_unit(seed, t, ℓ − 1, r·i + c)`` ≥ p]),
    and Z = D·W + b. ``D`` is the dropped input the step used.
    """

    kind: ClassVar[str] = "forward"
    step: int
    layer: int
    A_prev: np.ndarray  # (m, i)
    W: np.ndarray  # (i, o)
    b: np.ndarray  # (o,)
    Z: np.ndarray  # (m, o)
    p: float | None = optional()  # the dropout rate on the input
    mask: np.ndarray | None = optional()  # (m, i): keep/(1 − p), 0 or 1/(1 − p)
    D: np.ndarray | None = optional()  # (m, i): A_prev ⊙ mask


@dataclass(repr=False)
class Activation(Event):
    """The activation of layer ℓ: A = σ(Z)."""

    kind: ClassVar[str] = "activation"
    step: int
    layer: int
    activation: str
    Z: np.ndarray
    A: np.ndarray


@dataclass(repr=False)
class Loss(Event):
    """L(P, Y) before the update (``when="before"``) or after it (``"after"``).

    With L1/L2 penalties, ``value`` = ``data_loss`` + ``penalty`` (λ₁·Σ|W| + λ₂·ΣW²
    over the layers, with W before the step for "before", after it for "after"):
    "before" is the value the step reported. With dropout both are computed with
    the step's masks.
    """

    kind: ClassVar[str] = "loss"
    step: int
    when: str
    loss: str
    P: np.ndarray
    Y: np.ndarray
    value: float
    eps: float
    data_loss: float | None = optional()  # L(P, Y) alone
    penalty: float | None = optional()  # λ₁·Σ|W| + λ₂·ΣW², summed over the layers


@dataclass(repr=False)
class Backward(Event):
    """Backward through layer ℓ: ∂L/∂Z, then ∂L/∂W, ∂L/∂b and ∂L/∂A_prev.

    On the output layer ``dA`` is ∂L/∂P from the loss, or None when the loss
    and the output activation are differentiated together (``fused``: then
    dZ = (P − Y)/n directly). ``sigma_prime`` is σ′(Z) as the kernel computes
    it (``activation_grad`` with ∂L/∂A = 1), shown beside dZ = dA ⊙ σ′(Z).
    ``dA_prev`` is None on the first layer: the input needs no gradient.

    With dropout on the layer's input, ``A_prev`` is the dropped input D the
    step used, ``mask`` its mask, ``dD_prev`` = ∂L/∂D = dZ·Wᵀ and ``dA_prev`` =
    ``dD_prev`` ⊙ ``mask``. With a penalty, ``dW`` (what the optimiser got) =
    ``dW_data`` (A_prevᵀ·dZ) + ``dW_penalty`` (λ₁·sign(W) + 2λ₂·W).
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
    dW_data: np.ndarray | None = optional()  # A_prevᵀ·dZ, with a penalty
    dW_penalty: np.ndarray | None = optional()  # λ₁·sign(W) + 2λ₂·W
    mask: np.ndarray | None = optional()  # the dropout mask of the layer's input
    dD_prev: np.ndarray | None = optional()  # dZ·Wᵀ, before the mask


@dataclass(repr=False)
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


@dataclass(repr=False)
class Update(Event):
    """One update of a parameter; plain SGD: ``after`` = ``before`` − lr·``grad``.

    For W the step is computed as training computes it, from the product
    (``dense_sgd_update``): it can differ from ``before − lr·grad`` in the last bit.

    Another optimiser (``rule``: its row in ``nnlite.optim.OPTIMIZERS``; set
    whenever the trace is not plain SGD) at step ``t`` with α = ``lr``: its
    state rows before and after (by slot name: velocity, sum, square_avg,
    buffer, m, v), and the step it took, ``change`` = ``after`` − ``before``.
    Adam and AdamW also give the bias-corrected M̂ = M/(1 − β₁ᵗ) and V̂ =
    V/(1 − β₂ᵗ) (``m_hat``, ``v_hat``); AdamW its decayed W·(1 − α·λ)
    (``decayed``), and then ``change`` = ``after`` − ``decayed`` = −α·M̂/(√V̂ + ε).
    """

    kind: ClassVar[str] = "update"
    step: int
    layer: int
    param: str  # "W" or "b"
    lr: float
    before: np.ndarray
    grad: np.ndarray
    after: np.ndarray
    rule: str | None = optional()
    t: int | None = optional()
    state_before: dict[str, np.ndarray] | None = optional()
    state_after: dict[str, np.ndarray] | None = optional()
    m_hat: np.ndarray | None = optional()
    v_hat: np.ndarray | None = optional()
    decayed: np.ndarray | None = optional()
    change: np.ndarray | None = optional()


@dataclass(repr=False)
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


@dataclass(repr=False)
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


@dataclass(repr=False)
class PerceptronEpoch(Event):
    """End of a pass over the truth table; ``outcome`` is set on the last one."""

    kind: ClassVar[str] = "perceptron-epoch"
    epoch: int
    updates: int
    outcome: str | None  # None, "converged" or "gave up"
    w: np.ndarray
    b: float


@dataclass(repr=False)
class NeuronMaps(Event):
    """Each hidden unit's activation over the plane of 2-D data, before and after a step.

    Only in a trace that asks for it (``nnlite.trace.run(neurons=True)``; ``nnlite trace
    --neurons``). ``before`` and ``after`` map a hidden layer's number ("1", "2", …) to its
    activations A at the centres of a grid over the data's plane, (rows, cols, units): row 0
    at the top (x₂ = ``x2[0]``, the largest), column 0 at the left (x₁ = ``x1[0]``). Computed
    with the model's own forward kernels (``nnlite.regions.region_grid``).
    """

    kind: ClassVar[str] = "neuron-maps"
    step: int
    x1: np.ndarray  # (cols,)
    x2: np.ndarray  # (rows,)
    before: dict[str, np.ndarray]
    after: dict[str, np.ndarray]


EVENTS: dict[str, type[Event]] = {
    cls.kind: cls
    for cls in (
        NetworkTrace, Step, Forward, Activation, Loss, Backward, Unfused, Update,
        PerceptronTrace, PerceptronStep, PerceptronEpoch, NeuronMaps,
    )
}  # fmt: skip


def starts_step(event: Event) -> bool:
    """True for the event that opens what a learner takes at a time: a network's ``Step``,
    or the first sample of a perceptron's epoch."""
    return isinstance(event, Step) or (isinstance(event, PerceptronStep) and event.sample == 0)


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def from_json(obj: dict[str, Any] | str) -> Event:
    """The event back from its JSON form (a dict or one line); arrays come back as float64.

    A field the object lacks takes its default (an older trace lacks the optional ones).
    """
    if isinstance(obj, str):
        obj = json.loads(obj)
    cls = EVENTS.get(obj.get("kind"))
    if cls is None:
        raise DataError(
            f"unknown trace event kind {obj.get('kind')!r}; known kinds: {', '.join(EVENTS)}"
        )
    kwargs = {}
    for f in fields(cls):
        if f.name not in obj and f.metadata.get("optional"):
            continue
        value = obj.get(f.name)
        if isinstance(value, dict) and "ndarray" in str(f.type):
            value = {k: np.asarray(v, dtype=np.float64) for k, v in value.items()}
        elif value is not None and "ndarray" in str(f.type):
            value = np.asarray(value, dtype=np.float64)
        kwargs[f.name] = value
    return cls(**kwargs)
