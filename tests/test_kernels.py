"""CPU kernels against independent float64 references, over hypothesis-drawn shapes.

Shapes include 1 and odd sizes; every case runs in float32 and float64 and
every output is NaN-poisoned before the call, so a kernel that skips an
element fails. The same case table (``kernel_cases.py``) drives the CUDA tests.
"""

import copy
import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kernel_cases import CASE_IDS, CASES, check, reference_of, run_cpu

from nnlite.kernels import cpu

DTYPES = [np.float32, np.float64]
dims = st.integers(min_value=1, max_value=13)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@settings(max_examples=15, deadline=None)
@given(n=dims, i=dims, o=dims, seed=st.integers(0, 2**32 - 1))
def test_cpu_kernel_matches_float64_reference(case, dtype, n, i, o, seed):
    rng = np.random.default_rng(seed)
    o = max(o, case.min_outputs)  # e.g. a distribution over one class is trivial
    args = case.make(rng, n, i, o, dtype)
    before = copy.deepcopy(args)
    outputs, value = run_cpu(case, args)
    check(case, before, outputs, value, dtype)


def test_every_kernel_case_has_a_reference():
    """No case goes unchecked: each one (an activation or loss added to nnlite's tables gets
    its cases by itself) has a float64 reference in tests/reference.py that accepts it."""
    rng = np.random.default_rng(0)
    missing = []
    for case in CASES:
        args = case.make(rng, 3, 4, max(5, case.min_outputs), np.float64)
        try:
            expected = reference_of(case)(args)
        except (KeyError, ValueError) as exc:  # no entry, or reference.py does not know the name
            missing.append(f"{case.name}: {exc!r}")
            continue
        assert len(expected) == (1 if case.returns else len(case.outputs)), case.name
    assert not missing, "kernel cases without a float64 reference: " + "; ".join(missing)


def test_the_activation_cases_follow_the_activation_table():
    """Three cases per activation of nnlite.activations, each calling the kernel with its code."""
    from nnlite import activations

    for name, row in activations.ACTIVATIONS.items():
        code = row.code
        mine = [c for c in CASES if c.activation == name]
        kernels = {"dense_forward", "activation_forward", "activation_grad"}
        assert {c.kernel for c in mine} == kernels
        for case in mine:
            assert case.make(np.random.default_rng(0), 2, 3, 4, np.float32)[-1] == code, case.name


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_kernels_keep_the_input_dtype(dtype):
    """No float64 leaks: every float output and scalar result has the input's dtype."""
    rng = np.random.default_rng(0)
    for case in CASES:
        args = case.make(rng, 3, 4, 5, dtype)
        outputs, value = run_cpu(case, args)
        for out in outputs:
            if out.dtype.kind == "f":
                assert out.dtype == np.dtype(dtype), case.name
        if case.returns:  # numba boxes scalars as Python floats: check the compiled type
            kernel = getattr(cpu, case.kernel)
            sigs = [
                s
                for s in kernel.nopython_signatures
                if str(s.args[0].dtype) == np.dtype(dtype).name
            ]
            assert sigs and all(str(s.return_type) == np.dtype(dtype).name for s in sigs), case.name


def test_every_public_kernel_has_a_case_or_a_driver_test():
    """The case table covers the kernels; the whole-network drivers are tested in test_network."""
    drivers = {
        "forward_pass", "backward_pass", "train_batches", "evaluate_rows", "count_correct",
        "loss_value", "output_grad", "is_fused", "perceptron_step", "perceptron_epoch",
        "sigmoid", "sigmoid_grad", "tanh_grad", "relu", "relu_grad", "identity",
        "leaky_relu", "leaky_relu_grad", "softplus", "softplus_grad",  # via activation_*
        "loss_grad",  # via output_grad
        "optimizer_update",  # tests/test_optim.py
        # tests/test_optimizers.py: each update against its published recurrence (through
        # optimizer_update); dropout's masks statistically; the penalty and its gradient,
        # and dropout, in a whole fit against a float64 NumPy loop
        "adagrad_update", "rmsprop_update", "adam_update", "dropout_forward",
        "dropout_backward", "penalty", "penalty_grad", "network_penalty",
    }  # fmt: skip
    public = {
        name for name, obj in vars(cpu).items()
        if not name.startswith("_") and hasattr(obj, "py_func")
        and obj.py_func.__module__ == cpu.__name__  # blas.gemm: tests/test_blas.py
    }  # fmt: skip
    covered = {c.kernel for c in CASES}
    assert public - covered - drivers == set()


def test_sigmoid_does_not_overflow_at_extremes():
    Z = np.array([[-1000.0, -50.0, 0.0, 50.0, 1000.0]], np.float32)
    A = np.empty_like(Z)
    cpu.activation_forward(Z, A, cpu.SIGMOID)
    assert np.isfinite(A).all()
    np.testing.assert_allclose(A, [[0.0, 1.9287e-22, 0.5, 1.0, 1.0]], rtol=1e-4, atol=0)


def test_softmax_is_stable_for_huge_logits():
    """The row-max shift: e^1000 would overflow, softmax([1000, 1000]) is still [½, ½]."""
    Z = np.array([[1000.0, 1000.0], [-1000.0, 0.0]], np.float32)
    A = np.empty_like(Z)
    cpu.activation_forward(Z, A, cpu.SOFTMAX)
    np.testing.assert_allclose(A, [[0.5, 0.5], [0.0, 1.0]], atol=1e-7)


def test_cross_entropy_clips_zero_probabilities():
    """log never sees 0: a confidently wrong prediction costs −log(eps), not infinity."""
    P = np.array([[0.0, 1.0]], np.float32)
    Y = np.array([[1.0, 0.0]], np.float32)
    eps = 1e-7
    assert cpu.cce_loss(P, Y, eps) == pytest.approx(-np.log(eps), rel=1e-5)
    assert np.isfinite(cpu.bce_loss(P, Y, eps))


def test_hand_worked_dense_forward_and_backward():
    """A 1-sample, 2-input, 2-unit sigmoid layer worked by hand.

    x = [1, 2]; W = [[0.1, 0.2], [0.3, 0.4]]; b = [0.5, -0.5]
    z = x·W + b = [1·0.1 + 2·0.3 + 0.5, 1·0.2 + 2·0.4 − 0.5] = [1.2, 0.5]
    a = σ(z) = [1/(1+e^−1.2), 1/(1+e^−0.5)] = [0.768525, 0.622459]
    with dA = [1, −1]: dZ = dA ⊙ a(1−a) = [0.177894, −0.235004]
    dW = xᵀ·dZ = [[0.177894, −0.235004], [0.355788, −0.470008]]; db = dZ
    dX = dZ·Wᵀ = [0.1·0.177894 − 0.2·0.235004, 0.3·0.177894 − 0.4·0.235004]
       = [−0.029211, −0.040633]
    """
    X = np.array([[1.0, 2.0]])
    W = np.array([[0.1, 0.2], [0.3, 0.4]])
    b = np.array([0.5, -0.5])
    Z, A = np.empty((1, 2)), np.empty((1, 2))
    cpu.dense_forward(X, W, b, Z, A, cpu.SIGMOID)
    np.testing.assert_allclose(Z, [[1.2, 0.5]], atol=1e-12)
    np.testing.assert_allclose(A, [[0.768525, 0.622459]], atol=1e-6)
    dZ = np.empty((1, 2))
    cpu.activation_grad(Z, A, np.array([[1.0, -1.0]]), dZ, cpu.SIGMOID)
    np.testing.assert_allclose(dZ, [[0.177894, -0.235004]], atol=1e-6)
    dW, db, dX = np.empty((2, 2)), np.empty(2), np.empty((1, 2))
    cpu.dense_backward(X, W, dZ, dW, db, dX, True)
    np.testing.assert_allclose(dW, [[0.177894, -0.235004], [0.355788, -0.470008]], atol=1e-6)
    np.testing.assert_allclose(db, [0.177894, -0.235004], atol=1e-6)
    np.testing.assert_allclose(dX, [[-0.029211, -0.040633]], atol=1e-6)


def test_one_sgd_step_exact_values():
    """W ← W − α·dW with α = 0.5: [[1, 2], [3, 4]] − 0.5·[[2, −2], [0.5, 8]] = [[0, 3], [2.75, 0]]."""
    W = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    cpu.sgd_update(W, np.array([[2.0, -2.0], [0.5, 8.0]], np.float32), 0.5)
    np.testing.assert_array_equal(W, [[0.0, 3.0], [2.75, 0.0]])


def test_perceptron_step_applies_the_learning_rule():
    """x = [1, 1], y = 1, w = [0, 0], b = 0, θ = 0.5: Σ = 0 < θ → ŷ = 0, error 1,
    w ← w + η·1·x = [0.5, 0.5] and b ← 0.5 with η = 0.5."""
    w = np.zeros(2)
    b = np.zeros(1)
    err = cpu.perceptron_step(np.array([1.0, 1.0]), 1, w, b, 0.5, 0.5)
    assert err == 1
    np.testing.assert_array_equal(w, [0.5, 0.5])
    np.testing.assert_array_equal(b, [0.5])
    # now Σ = 0.5 + 0.5 + 0.5 = 1.5 ≥ θ: right, so nothing changes
    assert cpu.perceptron_step(np.array([1.0, 1.0]), 1, w, b, 0.5, 0.5) == 0
    np.testing.assert_array_equal(w, [0.5, 0.5])


def test_perceptron_fires_exactly_at_the_threshold():
    out = np.empty(1, np.int64)
    cpu.perceptron_predict(np.array([[1.0]]), np.array([0.25]), np.array([0.25]), 0.5, out)
    assert out[0] == 1


def test_kernel_docstrings_open_with_their_equation():
    for name in ("dense_forward", "dense_backward", "sgd_update", "softmax_cce_grad"):
        doc = inspect.getdoc(getattr(cpu, name))
        assert "=" in doc.splitlines()[0] or "←" in doc.splitlines()[0], name
