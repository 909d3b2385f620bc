"""One table of kernel cases, used for the CPU kernels and again for their CUDA twins.

A case builds the arguments of one kernel call (inputs, then preallocated
outputs, then scalars — the kernels' shared contract), names which
arguments are outputs, and gives the float64 reference from
``tests/reference.py``. A runner (CPU: call directly; CUDA: copy to the
device, launch, copy back) poisons every output with NaN before the call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import reference as ref

ACT_CODES = {name: code for code, name in enumerate(ref.ACT_NAMES)}
LOSS_CODES = {name: code for code, name in enumerate(ref.LOSS_NAMES)}
EPS = {np.dtype(np.float32): 1e-7, np.dtype(np.float64): 1e-12}

# One tolerance table per dtype: (rtol, atol) against the float64 reference.
TOL = {np.dtype(np.float32): (2e-4, 2e-5), np.dtype(np.float64): (1e-10, 1e-12)}


@dataclass
class Case:
    """One kernel call: ``make(rng, n, i, o, dtype) -> args``; ``outputs``: indices of outputs."""

    name: str
    kernel: str
    make: Callable[..., list]
    outputs: tuple[int, ...]
    reference: Callable[[list], list]
    returns: bool = False  # the kernel returns a value compared with reference's last item
    poison: bool = True  # False for in-place updates (the output is also an input)
    extra: dict[str, Any] = field(default_factory=dict)


def _probs(rng, n, o, dtype):
    return ref.activation(rng.normal(size=(n, o)), "softmax").astype(dtype)


def _one_hot(rng, n, o, dtype):
    Y = np.zeros((n, o), dtype)
    Y[np.arange(n), rng.integers(0, o, n)] = 1
    return Y


def _normal(rng, shape, dtype, scale=1.0):
    return (scale * rng.normal(size=shape)).astype(dtype)


def _empty(shape, dtype):
    return np.empty(shape, dtype)


def _cases() -> list[Case]:
    cases: list[Case] = []
    for act, code in ACT_CODES.items():
        cases.append(
            Case(
                f"dense_forward[{act}]",
                "dense_forward",
                lambda rng, n, i, o, dt, code=code: [
                    _normal(rng, (n, i), dt),
                    _normal(rng, (i, o), dt),
                    _normal(rng, (o,), dt),
                    _empty((n, o), dt),
                    _empty((n, o), dt),
                    code,
                ],  # fmt: skip
                (3, 4),
                lambda a, act=act: list(ref.dense_forward(a[0], a[1], a[2], act)),
            )
        )
        cases.append(
            Case(
                f"activation_forward[{act}]",
                "activation_forward",
                lambda rng, n, i, o, dt, code=code: [
                    _normal(rng, (n, o), dt, 3.0),
                    _empty((n, o), dt),
                    code,
                ],
                (1,),
                lambda a, act=act: [ref.activation(a[0], act)],
            )
        )

        def make_grad(rng, n, i, o, dt, code=code, act=act):
            Z = _normal(rng, (n, o), dt, 2.0)
            if act == "relu":  # keep z away from the kink at 0, where σ′ is a convention
                Z[np.abs(Z) < 1e-3] = 0.5
            A = ref.activation(Z, act).astype(dt)
            return [Z, A, _normal(rng, (n, o), dt), _empty((n, o), dt), code]

        cases.append(
            Case(
                f"activation_grad[{act}]",
                "activation_grad",
                make_grad,
                (3,),
                lambda a, act=act: [ref.activation_jacobian_vjp(a[0], a[2], act)],
            )
        )
    cases.append(
        Case(
            "dense_backward",
            "dense_backward",
            lambda rng, n, i, o, dt: [
                _normal(rng, (n, i), dt),
                _normal(rng, (i, o), dt),
                _normal(rng, (n, o), dt),
                _empty((i, o), dt),
                _empty((o,), dt),
                _empty((n, i), dt),
                True,
            ],  # fmt: skip
            (3, 4, 5),
            lambda a: list(ref.dense_backward(a[0], a[1], a[2])),
        )
    )
    cases.append(
        Case(
            "column_sum",
            "column_sum",
            lambda rng, n, i, o, dt: [_normal(rng, (n, o), dt), _empty((o,), dt)],
            (1,),
            lambda a: [ref.f64(a[0]).sum(axis=0)],
        )
    )
    cases.append(
        Case(
            "dense_sgd_update",
            "dense_sgd_update",
            lambda rng, n, i, o, dt: [
                _normal(rng, (i, o), dt), _normal(rng, (n, i), dt), _normal(rng, (n, o), dt), 0.05,
            ],  # fmt: skip
            (0,),
            lambda a: [ref.f64(a[0]) - 0.05 * (ref.f64(a[1]).T @ ref.f64(a[2]))],
            poison=False,
        )
    )

    def loss_inputs(loss, rng, n, o, dt):
        if loss == "mse":
            return _normal(rng, (n, o), dt), _normal(rng, (n, o), dt)
        if loss == "bce":
            P = rng.uniform(0.02, 0.98, (n, o)).astype(dt)
            return P, rng.integers(0, 2, (n, o)).astype(dt)
        return _probs(rng, n, o, dt), _one_hot(rng, n, o, dt)

    for loss in ref.LOSS_NAMES:
        with_eps = loss != "mse"

        def make_loss(rng, n, i, o, dt, loss=loss, with_eps=with_eps):
            P, Y = loss_inputs(loss, rng, n, o, dt)
            return [P, Y] + ([EPS[np.dtype(dt)]] if with_eps else [])

        def make_grad_l(rng, n, i, o, dt, loss=loss, with_eps=with_eps):
            P, Y = loss_inputs(loss, rng, n, o, dt)
            return [P, Y, _empty((n, o), dt)] + ([EPS[np.dtype(dt)]] if with_eps else [])

        cases.append(
            Case(
                f"{loss}_loss",
                f"{loss}_loss",
                make_loss,
                (),
                lambda a, loss=loss: [ref.loss(a[0], a[1], loss, 1e-12)],
                returns=True,
            )
        )
        cases.append(
            Case(
                f"{loss}_grad",
                f"{loss}_grad",
                make_grad_l,
                (2,),
                lambda a, loss=loss: [ref.loss_grad(a[0], a[1], loss, 1e-12)],
            )
        )
    # The fused gradients: softmax then CCE, and sigmoid then BCE, differentiated together
    # (reference: the chain rule the long way, through the activation's Jacobian).
    cases.append(
        Case(
            "softmax_cce_grad",
            "softmax_cce_grad",
            lambda rng, n, i, o, dt: [
                _probs(rng, n, o, dt),
                _one_hot(rng, n, o, dt),
                _empty((n, o), dt),
            ],  # fmt: skip
            (2,),
            lambda a: [
                ref.activation_jacobian_vjp(
                    np.log(ref.f64(a[0])), ref.loss_grad(a[0], a[1], "cce", 1e-300), "softmax"
                )
            ],
        )
    )
    cases.append(
        Case(
            "sigmoid_bce_grad",
            "sigmoid_bce_grad",
            lambda rng, n, i, o, dt: [
                rng.uniform(0.02, 0.98, (n, o)).astype(dt),
                rng.integers(0, 2, (n, o)).astype(dt),
                _empty((n, o), dt),
            ],  # fmt: skip
            (2,),
            lambda a: [
                ref.activation_jacobian_vjp(
                    special_logit(a[0]), ref.loss_grad(a[0], a[1], "bce", 1e-300), "sigmoid"
                )
            ],
        )
    )
    cases.append(
        Case(
            "sgd_update",
            "sgd_update",
            lambda rng, n, i, o, dt: [_normal(rng, (i, o), dt), _normal(rng, (i, o), dt), 0.05],
            (0,),
            lambda a: [ref.f64(a[0]) - 0.05 * ref.f64(a[1])],
            poison=False,
        )
    )

    for nesterov in (False, True):
        cases.append(
            Case(
                f"momentum_update{'_nesterov' if nesterov else ''}",
                "momentum_update",
                lambda rng, n, i, o, dt, nesterov=nesterov: [
                    _normal(rng, (i, o), dt), _normal(rng, (i, o), dt),
                    _normal(rng, (i, o), dt, 0.1), 0.05, 0.9, nesterov,
                ],  # fmt: skip
                (0, 2),
                lambda a: ref.momentum_step(*a),
                poison=False,
            )
        )

    def make_perceptron(rng, n, i, o, dt):
        X = rng.integers(-3, 4, (n, i)).astype(dt)
        w = rng.integers(-2, 3, i).astype(dt)
        b = np.array([rng.integers(-2, 3)], dt)
        return [X, w, b, 0.5, np.empty(n, np.int64)]

    cases.append(
        Case(
            "perceptron_predict",
            "perceptron_predict",
            make_perceptron,
            (4,),
            lambda a: [(ref.f64(a[0]) @ ref.f64(a[1]) + float(a[2][0]) >= a[3]).astype(np.int64)],
            poison=False,  # int64 output cannot hold NaN; it is filled with -1 instead
            extra={"fill": -1},
        )
    )
    return cases


def special_logit(P):
    P = ref.f64(P)
    return np.log(P) - np.log1p(-P)


CASES = _cases()
CASE_IDS = [c.name for c in CASES]


def run_cpu(case: Case, args: list):
    """Call the CPU kernel; return (outputs, return value)."""
    from nnlite.kernels import cpu

    for k in case.outputs:
        if case.poison:
            args[k][...] = np.nan
        elif "fill" in case.extra:
            args[k][...] = case.extra["fill"]
    value = getattr(cpu, case.kernel)(*args)
    return [args[k] for k in case.outputs], value


def check(case: Case, args_before: list, outputs: list, value, dtype) -> None:
    """Assert outputs (and the return value) match the float64 reference within TOL[dtype]."""
    rtol, atol = TOL[np.dtype(dtype)]
    expected = case.reference(args_before)
    if case.returns:
        np.testing.assert_allclose(float(value), expected[-1], rtol=rtol, atol=atol)
        return
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        assert got.dtype == (np.int64 if want.dtype == np.int64 else np.dtype(dtype)), got.dtype
        assert np.isfinite(got).all(), "an output kept its NaN poison: the kernel did not write it"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(1.0, np.abs(want).max()))
