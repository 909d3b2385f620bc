"""The concept tables (activations, losses, optimizers) and the kernels that read them.

Each table is the one place a concept is named; these tests hold the tables, the kernel
codes (``nnlite/kernels/codes.py``) and the CPU kernels to each other, and check the
generic optimizer update against the float64 recurrence of ``tests/reference.py``.
The CUDA side of the same contracts is in ``tests/test_cuda_kernels.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

from nnlite import activations, losses, optim
from nnlite.errors import ConfigError
from nnlite.kernels import codes, cpu

# Values where a naive σ overflows or loses everything: large |z| in both dtypes.
Z_EDGES = np.array([[-1e4, -88.0, -30.0, -1.0, -1e-3, 0.0, 1e-3, 1.0, 30.0, 88.0, 1e4]])


def test_every_activation_row_has_its_own_known_code_and_the_codes_all_have_a_row():
    table_codes = [row.code for row in activations.ACTIVATIONS.values()]
    assert sorted(table_codes) == sorted(set(table_codes)) == sorted(codes.ACTIVATION_CODES)
    for name, row in activations.ACTIVATIONS.items():
        assert activations.code(name) == row.code and activations.by_code(row.code) is row
        assert row.init in ("he", "glorot") and row.formula and row.derivative
    assert list(activations.ACTIVATIONS) == list(ref.ACT_NAMES)  # the references' code order
    with pytest.raises(ConfigError, match="unknown activation code 99"):
        activations.by_code(99)


@pytest.mark.parametrize("name", list(activations.ACTIVATIONS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_each_activation_kernel_matches_the_table_reference_and_the_independent_one(name, dtype):
    """σ and σ′ of the CPU kernels against the table's scipy reference and tests/reference.py,
    including |z| up to 10⁴, where e^z overflows a float32 (softplus, sigmoid)."""
    row = activations.ACTIVATIONS[name]
    Z = Z_EDGES.astype(dtype)
    if not row.elementwise:  # softmax: rows of moderate logits with one huge one
        Z = np.array([[1.0, 2.0, 3.0], [-1e4, 0.0, 1e4]], dtype)
    A = np.full_like(Z, np.nan)
    cpu.activation_forward(Z, A, row.code)
    assert np.isfinite(A).all()
    want = row.reference(Z.astype(np.float64))
    np.testing.assert_allclose(A, want, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(want, ref.activation(Z, name), rtol=1e-12, atol=1e-300)
    dA = np.ones_like(Z)
    dZ = np.full_like(Z, np.nan)
    cpu.activation_grad(Z, A, dA, dZ, row.code)
    np.testing.assert_allclose(dZ, ref.activation_jacobian_vjp(Z, dA, name), rtol=1e-6, atol=1e-7)
    if row.reference_grad is not None:
        np.testing.assert_allclose(row.reference_grad(Z.astype(np.float64)), dZ, rtol=1e-6,
                                   atol=1e-7)  # fmt: skip


def test_unknown_codes_raise_instead_of_computing_something():
    Z = np.zeros((2, 3))
    with pytest.raises(ValueError, match="unknown activation code"):
        cpu.activation_forward(Z, Z.copy(), 99)
    with pytest.raises(ValueError, match="unknown activation code"):
        cpu.activation_grad(Z, Z, Z, Z.copy(), -1)
    with pytest.raises(ValueError, match="unknown activation code"):
        cpu.dense_forward(Z, np.zeros((3, 3)), np.zeros(3), Z.copy(), Z.copy(), 7)
    with pytest.raises(ValueError, match="unknown loss code"):
        cpu.output_grad(Z, Z, Z, Z.copy(), Z.copy(), codes.IDENTITY, 5, 1e-12)
    theta = np.zeros(4)
    with pytest.raises(ValueError, match="unknown optimizer code"):
        cpu.optimizer_update(theta, theta, np.zeros((1, 4)), 0, 4, 42, np.array([0.1]), 0.1, 1)


def test_the_loss_table_and_the_kernels_fuse_the_same_pairs():
    for row in losses.LOSSES.values():
        partner = -1 if row.fused_with is None else activations.code(row.fused_with)
        assert codes.FUSED_WITH[row.code] == partner, row.name
        for act in codes.ACTIVATION_CODES:
            fused = (activations.by_code(act).name, row.name) in losses.FUSED
            assert bool(cpu.is_fused(act, row.code)) == fused
    assert sorted(r.code for r in losses.LOSSES.values()) == sorted(codes.LOSS_CODES)
    assert list(losses.LOSSES) == list(ref.LOSS_NAMES)


def test_the_optimizer_table_lays_out_the_hyper_parameters_as_the_kernels_read_them():
    sgd = optim.OPTIMIZERS["sgd"]
    names = [h.name for h in sgd.hyper]
    assert names.index("lr") == codes.LR
    assert names.index("momentum") == codes.MU and names.index("nesterov") == codes.NESTEROV
    opt = optim.SGD(0.05, momentum=0.9, nesterov=True).validate()
    np.testing.assert_array_equal(opt.hyper_vector(), [0.05, 0.9, 1.0])
    assert opt.code == codes.MOMENTUM and opt.slots == ("velocity",)
    plain = optim.SGD(0.05).validate()
    assert plain.code == codes.SGD and plain.slots == ()
    assert optim.Optimizer.from_dict(opt.as_dict()) == opt
    for rule in optim.OPTIMIZERS.values():
        assert {rule.code(h) for h in _hyper_samples(rule)} <= set(codes.OPTIMIZER_CODES)


def _hyper_samples(rule):
    defaults = {h.name: h.check(h.default) for h in rule.hyper}
    yield defaults
    if rule.name == "sgd":
        yield {**defaults, "momentum": 0.5}


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lr": 0}, "learning rate must be positive"),
        ({"lr": float("nan")}, "learning rate must be positive"),
        ({"lr": "fast"}, "learning rate must be a number"),
        ({"lr": True}, "learning rate must be a number"),
        ({"momentum": 1.0}, r"momentum must be in \[0, 1\)"),
        ({"nesterov": True}, "Nesterov momentum needs a momentum above 0"),
        ({"nesterov": "yes", "momentum": 0.5}, "nesterov must be true or false"),
        ({"beta": 0.9}, "sgd has no hyper-parameter 'beta'; its hyper-parameters: lr, momentum"),
    ],
)
def test_hyper_parameters_are_validated_once_by_the_table(values, message):
    with pytest.raises(ConfigError, match=message):
        optim.Optimizer("sgd", **values).validate()


def test_an_unknown_optimizer_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown optimizer 'adamax'; valid optimizers: sgd"):
        optim.Optimizer("adamax").validate()


@pytest.mark.parametrize("nesterov", [False, True])
def test_optimizer_update_on_one_layer_follows_the_momentum_recurrence_and_touches_nothing_else(
    nesterov,
):
    """The update a layer takes inside the backward pass: θ[off:off+count] only."""
    rng = np.random.default_rng(3)
    theta = rng.normal(size=17)
    grad = rng.normal(size=17)
    state = rng.normal(size=(1, 17))
    off, count = 5, 7
    hyper = optim.SGD(0.1, momentum=0.8, nesterov=nesterov).validate().hyper_vector()
    want_w, want_v = ref.momentum_step(theta[off : off + count], grad[off : off + count],
                                       state[0, off : off + count], 0.1, 0.8, nesterov)  # fmt: skip
    new_theta, new_state = theta.copy(), state.copy()
    cpu.optimizer_update(new_theta, grad, new_state, off, count, codes.MOMENTUM, hyper, 0.1, 1)
    np.testing.assert_allclose(new_theta[off : off + count], want_w, rtol=1e-13)
    np.testing.assert_allclose(new_state[0, off : off + count], want_v, rtol=1e-13)
    outside = np.r_[0:off, off + count : 17]
    np.testing.assert_array_equal(new_theta[outside], theta[outside])
    np.testing.assert_array_equal(new_state[0, outside], state[0, outside])

    plain = theta.copy()
    cpu.optimizer_update(plain, grad, state[:, :1], off, count, codes.SGD, np.array([0.1]), 0.1,
                         1)  # fmt: skip
    np.testing.assert_allclose(plain[off : off + count],
                               theta[off : off + count] - 0.1 * grad[off : off + count])  # fmt: skip
    np.testing.assert_array_equal(plain[outside], theta[outside])


def test_fit_takes_an_optimizer_from_the_table_with_the_same_bits_as_its_keywords():
    from nnlite import Dense, Sequential

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 3)), rng.integers(0, 3, 30)

    def fitted(**kwargs):
        model = Sequential([Dense(4, "leaky_relu"), Dense(3, "softmax")], n_inputs=3, seed=2)
        model.fit(X, y, epochs=2, batch_size=7, seed=3, **kwargs)
        return model.theta

    keywords = fitted(lr=0.05, momentum=0.9, nesterov=True)
    np.testing.assert_array_equal(
        fitted(optimizer=optim.SGD(0.05, momentum=0.9, nesterov=True)), keywords
    )
    np.testing.assert_array_equal(fitted(optimizer="sgd"), fitted())  # the table's defaults
    with pytest.raises(ConfigError, match="give 'lr' to the optimizer, not to fit"):
        fitted(lr=0.5, optimizer="sgd")
    with pytest.raises(ConfigError, match="unknown optimizer 'adamax'"):
        fitted(optimizer="adamax")
    with pytest.raises(ConfigError, match="'optimizer' must be an nnlite.optim.Optimizer"):
        fitted(optimizer=0.1)
