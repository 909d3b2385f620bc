"""One table of kernel calls, shared by ``nnlite compare`` and the kernel tests.

Owns: ``KernelCase`` (one call of a kernel that ``cpu.py`` and ``cuda.py`` both define: how
to build its arguments at any shape and dtype, which arguments it writes, whether it returns
a value or updates an input in place, what is written into its outputs before the call) and
``cases()``, the table itself. The activation cases are generated from
``nnlite.activations.ACTIVATIONS`` and the loss cases from ``nnlite.losses.LOSSES``, so an
activation added to its table is compared by ``nnlite compare`` and tested by
``tests/test_kernels.py`` and ``tests/test_cuda_kernels.py`` with no edit here; the tests
then look up its float64 reference in ``tests/reference.py`` by name and fail until it has
one.

Arguments follow the kernels' contract: inputs, then preallocated outputs, then scalars. A
builder ``make(rng, n, i, o, dtype)`` draws the same random numbers whatever the dtype (it
only casts at the end), so the float32 and float64 arguments built from one seed hold the
same values up to rounding: ``compare`` runs the float64 call as its reference.

Imports: numpy, ``nnlite.activations`` and ``nnlite.losses`` (names and codes). The CPU kernels
only inside the one builder that needs one (``activation_grad``'s input ``A = σ(Z)``), so
importing this module compiles nothing.

Omits: references and tolerances (the tests own them: ``tests/kernel_cases.py`` adds the
float64 reference of each case from ``tests/reference.py``, which never imports nnlite),
running the kernels (``compare.py`` and the tests do, each its own way), and the
whole-network drivers (``forward_pass``, ``train_batches``, ...), which are tested as drivers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nnlite import activations, losses

# The eps the loss kernels clip probabilities with, per dtype (as the models pass it).
EPS = {np.dtype(np.float32): 1e-7, np.dtype(np.float64): 1e-12}
LR = 0.05  # the learning rate of the update cases
MU = 0.9  # the momentum of the momentum cases
# The adaptive updates' hyper-parameters: PyTorch's defaults, except ρ (0.9 shows more of the
# new gradient), a step t > 1 (so Adam's bias corrections are neither 1 nor trivial) and a
# decay for AdamW. Dropout: a rate, a seed, a step and a layer; L1/L2: λ₁ and λ₂.
RHO, BETA1, BETA2, EPS_ADAPTIVE, STEP_T, DECAY = 0.9, 0.9, 0.999, 1e-8, 3, 0.1
P_DROP, SEED, LAYER = 0.3, 20251203, 1
L1, L2 = 1e-3, 1e-2


def _layer(n: int, i: int, o: int) -> str:
    return f"{n}×{i}→{o}"


def _rows(n: int, i: int, o: int) -> str:
    return f"{n}×{o}"


def _weights(n: int, i: int, o: int) -> str:
    return f"{i}×{o}"


@dataclass(frozen=True)
class KernelCase:
    """One kernel call, built at any shape ``(n, i, o)`` (batch × inputs → outputs).

    Attributes
    ----------
    name : str
        Unique: the kernel, then its variant in brackets (``"dense_forward[relu]"``).
    kernel : str
        The function's name in ``nnlite.kernels.cpu`` and ``nnlite.kernels.cuda``.
    make : callable
        ``make(rng, n, i, o, dtype) -> list``: the arguments, float arrays of ``dtype``.
    outputs : tuple of int
        Indices of the arguments the kernel writes (empty when it only returns a value).
    returns : bool
        The kernel returns a scalar (a loss).
    fill : float, int or None
        Written into every output before the call, so an element the kernel skips shows
        (NaN; -1 for an int64 output); None for an update in place, whose output is an input.
    min_outputs : int
        The smallest ``o`` that makes the case meaningful (a softmax or a categorical
        cross-entropy over one class is trivially 1 or 0).
    shape : callable
        ``shape(n, i, o) -> str``: the dimensions the arguments use, for ``compare``'s table.
    activation, loss : str or None
        The table name the case was generated from, if any (the tests' reference takes it).
    """

    name: str
    kernel: str
    make: Callable[..., list]
    outputs: tuple[int, ...]
    returns: bool = False
    fill: float | int | None = np.nan
    min_outputs: int = 1
    shape: Callable[[int, int, int], str] = _layer
    activation: str | None = None
    loss: str | None = None

    @property
    def label(self) -> str:
        """The name as ``compare`` shows it: ``"dense_forward (relu)"``."""
        return self.name.replace("[", " (").replace("]", ")")


# ---------------------------------------------------------------------------- builders


def _normal(rng, shape, dtype, scale=1.0):
    return (scale * rng.normal(size=shape)).astype(dtype)


def _empty(shape, dtype):
    return np.empty(shape, dtype)


def _distribution(rng, n, o, dtype):
    """Rows of probabilities (a softmax of normal logits) and one-hot targets."""
    Z = rng.normal(size=(n, o))
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    P = (E / E.sum(axis=1, keepdims=True)).astype(dtype)
    Y = np.zeros((n, o), dtype)
    Y[np.arange(n), rng.integers(0, o, n)] = 1
    return P, Y


def _independent(rng, n, o, dtype):
    """Probabilities in (0.02, 0.98), one per output unit, and 0/1 targets."""
    P = rng.uniform(0.02, 0.98, (n, o)).astype(dtype)
    return P, rng.integers(0, 2, (n, o)).astype(dtype)


def _regression(rng, n, o, dtype):
    return _normal(rng, (n, o), dtype), _normal(rng, (n, o), dtype)


# Per loss: its (prediction, target) inputs, whether its kernels take eps, and min_outputs.
# A loss added to ``nnlite.losses.LOSSES`` needs a row here (``cases`` says so).
_LOSS_INPUTS = {
    "mse": (_regression, False, 1),
    "bce": (_independent, True, 1),
    "cce": (_distribution, True, 2),
}


# ------------------------------------------------------------------------------- table


def _activation_cases(name: str, code: int) -> list[KernelCase]:
    """dense_forward, activation_forward and activation_grad for one activation."""
    # A softmax over one unit is 1 whatever z; its cases want a real distribution.
    min_o = 2 if name == "softmax" else 1

    def forward(rng, n, i, o, dtype):
        X, W, b = _normal(rng, (n, i), dtype), _normal(rng, (i, o), dtype), _normal(rng, o, dtype)
        return [X, W, b, _empty((n, o), dtype), _empty((n, o), dtype), code]

    def elementwise(rng, n, i, o, dtype):
        return [_normal(rng, (n, o), dtype, 3.0), _empty((n, o), dtype), code]

    def grad(rng, n, i, o, dtype):
        from nnlite.kernels import cpu

        Z = _normal(rng, (n, o), dtype, 2.0)
        # Away from 0, where piecewise activations (ReLU) have a kink and σ′ is a convention.
        Z[np.abs(Z) < 1e-3] = 0.5
        A = _empty((n, o), dtype)
        cpu.activation_forward(Z, A, code)
        return [Z, A, _normal(rng, (n, o), dtype), _empty((n, o), dtype), code]

    return [
        KernelCase(f"dense_forward[{name}]", "dense_forward", forward, (3, 4),
                   min_outputs=min_o, activation=name),
        KernelCase(f"activation_forward[{name}]", "activation_forward", elementwise, (1,),
                   min_outputs=min_o, shape=_rows, activation=name),
        KernelCase(f"activation_grad[{name}]", "activation_grad", grad, (3,),
                   min_outputs=min_o, shape=_rows, activation=name),
    ]  # fmt: skip


def _loss_cases(name: str) -> list[KernelCase]:
    """``{name}_loss`` (returns L) and ``{name}_grad`` (writes ∂L/∂P) for one loss."""
    try:
        inputs, takes_eps, min_o = _LOSS_INPUTS[name]
    except KeyError:
        raise LookupError(
            f"nnlite/kernels/cases.py: loss {name!r} has no row in _LOSS_INPUTS "
            "(how to draw its predictions and targets)"
        ) from None

    def value(rng, n, i, o, dtype):
        P, Y = inputs(rng, n, o, dtype)
        return [P, Y] + ([EPS[np.dtype(dtype)]] if takes_eps else [])

    def grad(rng, n, i, o, dtype):
        P, Y = inputs(rng, n, o, dtype)
        return [P, Y, _empty((n, o), dtype)] + ([EPS[np.dtype(dtype)]] if takes_eps else [])

    return [
        KernelCase(f"{name}_loss", f"{name}_loss", value, (), returns=True,
                   min_outputs=min_o, shape=_rows, loss=name),
        KernelCase(f"{name}_grad", f"{name}_grad", grad, (2,),
                   min_outputs=min_o, shape=_rows, loss=name),
    ]  # fmt: skip


def _dense_backward(rng, n, i, o, dtype):
    X, W, dZ = _normal(rng, (n, i), dtype), _normal(rng, (i, o), dtype), _normal(rng, (n, o), dtype)
    return [X, W, dZ, _empty((i, o), dtype), _empty((o,), dtype), _empty((n, i), dtype), True]


def _column_sum(rng, n, i, o, dtype):
    return [_normal(rng, (n, o), dtype), _empty((o,), dtype)]


def _dense_sgd_update(rng, n, i, o, dtype):
    W, X, dZ = _normal(rng, (i, o), dtype), _normal(rng, (n, i), dtype), _normal(rng, (n, o), dtype)
    return [W, X, dZ, LR]


def _softmax_cce_grad(rng, n, i, o, dtype):
    P, Y = _distribution(rng, n, o, dtype)
    return [P, Y, _empty((n, o), dtype)]


def _sigmoid_bce_grad(rng, n, i, o, dtype):
    P, Y = _independent(rng, n, o, dtype)
    return [P, Y, _empty((n, o), dtype)]


def _sgd_update(rng, n, i, o, dtype):
    return [_normal(rng, (i, o), dtype), _normal(rng, (i, o), dtype), LR]


def _momentum(nesterov: bool):
    def make(rng, n, i, o, dtype):
        W, dW = _normal(rng, (i, o), dtype), _normal(rng, (i, o), dtype)
        return [W, dW, _normal(rng, (i, o), dtype, 0.1), LR, MU, nesterov]

    return make


def _adagrad_update(rng, n, i, o, dtype):
    W, dW = _normal(rng, (i, o), dtype), _normal(rng, (i, o), dtype)
    S = np.abs(_normal(rng, (i, o), dtype, 0.1))  # Σ g² so far: never negative
    return [W, dW, S, LR, EPS_ADAPTIVE]


def _rmsprop(mu: float):
    def make(rng, n, i, o, dtype):
        W, dW = _normal(rng, (i, o), dtype), _normal(rng, (i, o), dtype)
        V = np.abs(_normal(rng, (i, o), dtype, 0.1))  # a running mean of g²
        B = _normal(rng, (i, o), dtype, 0.1)
        return [W, dW, V, B, LR, RHO, EPS_ADAPTIVE, mu]

    return make


def _adam(decay: float):
    def make(rng, n, i, o, dtype):
        W, dW = _normal(rng, (i, o), dtype), _normal(rng, (i, o), dtype)
        M = _normal(rng, (i, o), dtype, 0.1)
        V = np.abs(_normal(rng, (i, o), dtype, 0.01))
        return [W, dW, M, V, LR, BETA1, BETA2, EPS_ADAPTIVE, decay, STEP_T]

    return make


def _with_zeros(rng, W):
    """W with about one weight in five exactly 0, where sign(W) = 0 (the L1 term's kink)."""
    W[rng.random(W.shape) < 0.2] = 0
    return W


def _penalty_grad(rng, n, i, o, dtype):
    W = _with_zeros(rng, _normal(rng, (i, o), dtype))
    return [W, _normal(rng, (i, o), dtype), L1, L2]


def _dropout_forward(rng, n, i, o, dtype):
    return [_normal(rng, (n, o), dtype), _empty((n, o), dtype), P_DROP, SEED, STEP_T, LAYER]


def _dropout_backward(rng, n, i, o, dtype):
    return [_normal(rng, (n, o), dtype), P_DROP, SEED, STEP_T, LAYER]


def _perceptron_predict(rng, n, i, o, dtype):
    # Small integers: every sum is exact, so both devices decide every row alike.
    X = rng.integers(-3, 4, (n, i)).astype(dtype)
    w = rng.integers(-2, 3, i).astype(dtype)
    b = np.array([rng.integers(-2, 3)], dtype)
    return [X, w, b, 0.5, np.empty(n, np.int64)]


@functools.cache
def cases() -> tuple[KernelCase, ...]:
    """Every kernel case, in a fixed order: per activation, dense layer, per loss, the rest.

    Raises ``LookupError`` when a loss of ``nnlite.losses.LOSSES`` has no input builder.
    """
    table: list[KernelCase] = []
    for name in activations.ACTIVATIONS:
        table += _activation_cases(name, activations.code(name))
    table += [
        KernelCase("dense_backward", "dense_backward", _dense_backward, (3, 4, 5)),
        KernelCase("column_sum", "column_sum", _column_sum, (1,), shape=_rows),
        KernelCase("dense_sgd_update", "dense_sgd_update", _dense_sgd_update, (0,), fill=None,
                   shape=lambda n, i, o: f"{i}×{o}, n={n}"),
    ]  # fmt: skip
    for name in losses.LOSSES:
        table += _loss_cases(name)
    # The fused output gradients: softmax then CCE, sigmoid then BCE, differentiated together.
    table += [
        KernelCase("softmax_cce_grad", "softmax_cce_grad", _softmax_cce_grad, (2,),
                   min_outputs=2, shape=_rows),
        KernelCase("sigmoid_bce_grad", "sigmoid_bce_grad", _sigmoid_bce_grad, (2,), shape=_rows),
        KernelCase("sgd_update", "sgd_update", _sgd_update, (0,), fill=None, shape=_weights),
        KernelCase("momentum_update", "momentum_update", _momentum(False), (0, 2), fill=None,
                   shape=_weights),
        KernelCase("momentum_update[nesterov]", "momentum_update", _momentum(True), (0, 2),
                   fill=None, shape=_weights),
        # The adaptive updates (in place: W and each state array they keep).
        KernelCase("adagrad_update", "adagrad_update", _adagrad_update, (0, 2), fill=None,
                   shape=_weights),
        KernelCase("rmsprop_update", "rmsprop_update", _rmsprop(0.0), (0, 2), fill=None,
                   shape=_weights),
        KernelCase("rmsprop_update[momentum]", "rmsprop_update", _rmsprop(MU), (0, 2, 3),
                   fill=None, shape=_weights),
        KernelCase("adam_update", "adam_update", _adam(0.0), (0, 2, 3), fill=None,
                   shape=_weights),
        KernelCase("adam_update[adamw]", "adam_update", _adam(DECAY), (0, 2, 3), fill=None,
                   shape=_weights),
        # Regularisation: the L1/L2 penalty's gradient (the penalty itself is a float64 sum on
        # the CPU, not a kernel of the input's dtype); inverted dropout both ways.
        KernelCase("penalty_grad", "penalty_grad", _penalty_grad, (1,), fill=None,
                   shape=_weights),
        KernelCase("dropout_forward", "dropout_forward", _dropout_forward, (1,), shape=_rows),
        KernelCase("dropout_backward", "dropout_backward", _dropout_backward, (0,), fill=None,
                   shape=_rows),
        KernelCase("perceptron_predict", "perceptron_predict", _perceptron_predict, (4,),
                   fill=-1, shape=lambda n, i, o: f"{n}×{i}"),
    ]  # fmt: skip
    names = [c.name for c in table]
    assert len(set(names)) == len(names), "kernel case names must be unique"
    return tuple(table)
