"""The kernel case table (``nnlite.kernels.cases``) with a float64 reference for every case.

The table says how to call each kernel (the same table ``nnlite compare`` runs); this file
adds only what the tests must own: the independent float64 reference of each case, from
``tests/reference.py`` (which never imports nnlite), found by the case's name, and one
tolerance table per dtype. A case without a reference is an error (``reference_of`` raises,
``test_every_kernel_case_has_a_reference`` fails): no case goes unchecked. The activation and
loss cases are generated from nnlite's tables; their reference is ``reference.py``'s function
of the same name, which raises ``ValueError`` for a name it does not know.

A runner (CPU: call directly; CUDA: copy to the device, launch, copy back) writes each
case's ``fill`` (NaN) into every output before the call.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import reference as ref

from nnlite.kernels.cases import KernelCase, cases

f64 = ref.f64

# One tolerance table per dtype: (rtol, atol) against the float64 reference.
TOL = {np.dtype(np.float32): (2e-4, 2e-5), np.dtype(np.float64): (1e-10, 1e-12)}

Reference = Callable[[list], list]  # args before the call -> expected outputs (a value last)


def _keep(shape, p, seed, t, layer):
    """keep/(1 − p) for an (n, o) input: keep = [dropout_unit(seed, t, layer, r·o + c) ≥ p].

    The units come from ``codes.dropout_unit``, the hash that defines the masks (the
    reference for the arithmetic around it; tests/test_optimizers.py tests the hash's
    statistics).
    """
    from nnlite.kernels import codes

    n, o = shape
    u = np.array([[codes.dropout_unit(seed, t, layer, r * o + c) for c in range(o)]
                  for r in range(n)]).reshape(shape)  # fmt: skip
    return (u >= p) / (1.0 - p)


def _logit(P):
    P = f64(P)
    return np.log(P) - np.log1p(-P)


# Generated from nnlite.activations: kernel -> reference given the activation's name.
BY_ACTIVATION: dict[str, Callable[[str], Reference]] = {
    "dense_forward": lambda act: lambda a: list(ref.dense_forward(a[0], a[1], a[2], act)),
    "activation_forward": lambda act: lambda a: [ref.activation(a[0], act)],
    "activation_grad": lambda act: lambda a: [ref.activation_jacobian_vjp(a[0], a[2], act)],
}
# Generated from nnlite.losses: "{loss}_loss" and "{loss}_grad" -> reference given the loss.
BY_LOSS: dict[str, Callable[[str], Reference]] = {
    "loss": lambda loss: lambda a: [ref.loss(a[0], a[1], loss, 1e-12)],
    "grad": lambda loss: lambda a: [ref.loss_grad(a[0], a[1], loss, 1e-12)],
}
# Every other case, by name.
BY_NAME: dict[str, Reference] = {
    "dense_backward": lambda a: list(ref.dense_backward(a[0], a[1], a[2])),
    "column_sum": lambda a: [f64(a[0]).sum(axis=0)],
    "dense_sgd_update": lambda a: [f64(a[0]) - a[3] * (f64(a[1]).T @ f64(a[2]))],
    # The fused gradients, the long way: the loss's ∂L/∂P through the activation's Jacobian
    # (z recovered from P: log for softmax, up to a constant per row; the logit for sigmoid).
    "softmax_cce_grad": lambda a: [
        ref.activation_jacobian_vjp(
            np.log(f64(a[0])), ref.loss_grad(a[0], a[1], "cce", 1e-300), "softmax"
        )
    ],
    "sigmoid_bce_grad": lambda a: [
        ref.activation_jacobian_vjp(
            _logit(a[0]), ref.loss_grad(a[0], a[1], "bce", 1e-300), "sigmoid"
        )
    ],
    "sgd_update": lambda a: [f64(a[0]) - a[2] * f64(a[1])],
    "momentum_update": lambda a: ref.momentum_step(*a),
    "momentum_update[nesterov]": lambda a: ref.momentum_step(*a),
    "perceptron_predict": lambda a: [
        (f64(a[0]) @ f64(a[1]) + float(a[2][0]) >= a[3]).astype(np.int64)
    ],
    "adagrad_update": lambda a: ref.adagrad_step(*a),
    "rmsprop_update": lambda a: ref.rmsprop_step(*a)[:2],  # μ = 0: B is not an output
    "rmsprop_update[momentum]": lambda a: ref.rmsprop_step(*a),
    "adam_update": lambda a: ref.adam_step(*a[:4], a[9], *a[4:9]),  # (…, t, α, β₁, β₂, ε, λ)
    "adam_update[adamw]": lambda a: ref.adam_step(*a[:4], a[9], *a[4:9]),
    "penalty_grad": lambda a: [f64(a[1]) + a[2] * np.sign(f64(a[0])) + 2 * a[3] * f64(a[0])],
    "dropout_forward": lambda a: [f64(a[0]) * _keep(a[0].shape, *a[2:])],
    "dropout_backward": lambda a: [f64(a[0]) * _keep(a[0].shape, *a[1:])],
}


def reference_of(case: KernelCase) -> Reference:
    """The float64 reference of ``case``; ``KeyError`` when there is none."""
    if case.activation is not None:
        return BY_ACTIVATION[case.kernel](case.activation)
    if case.loss is not None:
        return BY_LOSS[case.kernel.removeprefix(f"{case.loss}_")](case.loss)
    return BY_NAME[case.name]


CASES = list(cases())
CASE_IDS = [c.name for c in CASES]


def run_cpu(case: KernelCase, args: list):
    """Fill the outputs, call the CPU kernel; return (outputs, return value)."""
    from nnlite.kernels import cpu

    if case.fill is not None:
        for k in case.outputs:
            args[k][...] = case.fill
    value = getattr(cpu, case.kernel)(*args)
    return [args[k] for k in case.outputs], value


def check(case: KernelCase, args_before: list, outputs: list, value, dtype) -> None:
    """Assert outputs (and the return value) match the float64 reference within TOL[dtype]."""
    rtol, atol = TOL[np.dtype(dtype)]
    expected = reference_of(case)(args_before)
    if case.returns:
        np.testing.assert_allclose(float(value), expected[-1], rtol=rtol, atol=atol)
        return
    assert len(outputs) == len(expected)
    for got, want in zip(outputs, expected):
        assert got.dtype == (np.int64 if want.dtype == np.int64 else np.dtype(dtype)), got.dtype
        assert np.isfinite(got).all(), "an output kept its NaN poison: the kernel did not write it"
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol * max(1.0, np.abs(want).max()))
