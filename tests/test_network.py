"""Whole networks: forward and backward propagation against float64 references and
finite differences, the compiled training loop, and the Sequential/Perceptron models."""

import warnings

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import Dense, Perceptron, Sequential, losses
from nnlite.errors import ConfigError, DataError, DivergenceError
from nnlite.kernels import cpu

ARCHS = [
    # (hidden activations, output activation, loss, output units)
    (("sigmoid",), "sigmoid", "mse", 1),
    (("tanh", "relu"), "softmax", "cce", 4),
    (("relu",), "sigmoid", "bce", 3),
    (("identity", "tanh"), "identity", "mse", 2),
    (("sigmoid",), "softmax", "mse", 3),
    ((), "sigmoid", "bce", 1),
    (("tanh",), "sigmoid", "cce", 3),
    (("leaky_relu", "softplus"), "softmax", "cce", 3),
    (("softplus",), "leaky_relu", "mse", 2),
]


def _problem(rng, n, n_in, hidden, out_act, loss, n_out, dtype=np.float64):
    dims = [n_in] + [int(u) for u in rng.integers(2, 6, len(hidden))] + [n_out]
    acts = list(hidden) + [out_act]
    X = rng.normal(size=(n, n_in)).astype(dtype)
    if loss == "cce" or out_act == "softmax":
        Y = np.zeros((n, n_out), dtype)
        Y[np.arange(n), rng.integers(0, n_out, n)] = 1
    elif loss == "bce":
        Y = rng.integers(0, 2, (n, n_out)).astype(dtype)
    else:
        Y = rng.normal(size=(n, n_out)).astype(dtype)
    model = Sequential([Dense(u, a) for u, a in zip(dims[1:], acts)], loss=loss, dtype=dtype)
    model.build(n_in, seed=int(rng.integers(1000)))
    model.theta[...] = rng.normal(scale=0.7, size=model.theta.size)  # biases too
    return model, X, Y, dims, acts


def _analytic_grad(model, X, Y):
    buf = model.buffers(X.shape[0])
    cpu.forward_pass(X, model.theta, model._dims, model._acts, buf["Z"], buf["A"])
    cpu.backward_pass(
        X, Y, model.theta, model._dims, model._acts, losses.code(model.loss), 1e-12, buf["Z"], buf["A"], buf["dZ"], buf["dA"], buf["grad"],
    )  # fmt: skip
    return buf


@pytest.mark.parametrize("hidden,out_act,loss,n_out", ARCHS)
@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 7), n_in=st.integers(1, 5), seed=st.integers(0, 2**31))
def test_backprop_gradients_match_finite_differences(hidden, out_act, loss, n_out, n, n_in, seed):
    """∂L/∂θ from backward propagation equals central finite differences (scipy) to 1e-6."""
    rng = np.random.default_rng(seed)
    model, X, Y, dims, acts = _problem(rng, n, n_in, hidden, out_act, loss, n_out)
    if "relu" in acts:  # keep pre-activations away from ReLU's kink, where L is not differentiable
        buf = model.buffers(n)
        cpu.forward_pass(X, model.theta, model._dims, model._acts, buf["Z"], buf["A"])
        for layer, act in enumerate(acts):
            if act == "relu" and np.abs(model.layer_view(buf["Z"], layer, n)).min() < 1e-3:
                return
    grad = _analytic_grad(model, X, Y)["grad"]
    numeric = ref.central_fprime(model.theta.copy(), ref.network_loss, X, Y, dims, acts, loss)
    scale = max(np.abs(numeric).max(), 1e-3)
    assert np.abs(grad - numeric).max() / scale <= 1e-6


def test_gradient_check_can_fail():
    """The finite-difference check catches a wrong gradient (a flipped sign in one entry)."""
    rng = np.random.default_rng(1)
    model, X, Y, dims, acts = _problem(rng, 5, 3, ("tanh",), "softmax", "cce", 3)
    grad = _analytic_grad(model, X, Y)["grad"].copy()
    grad[0] = -grad[0] if abs(grad[0]) > 1e-4 else grad[0] + 1e-3
    numeric = ref.central_fprime(model.theta.copy(), ref.network_loss, X, Y, dims, acts, "cce")
    assert np.abs(grad - numeric).max() / np.abs(numeric).max() > 1e-6


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hidden,out_act,loss,n_out", ARCHS)
def test_forward_pass_matches_reference(hidden, out_act, loss, n_out, dtype):
    rng = np.random.default_rng(3)
    model, X, Y, dims, acts = _problem(rng, 9, 4, hidden, out_act, loss, n_out, dtype)
    P = model.predict(X)
    want = ref.network_forward(X, ref.unpack(model.theta.astype(np.float64), dims), acts)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(P, want, rtol=tol, atol=tol)
    loss_value, _ = model.evaluate(X, Y)
    assert loss_value == pytest.approx(
        ref.loss(want, Y, loss, 1e-12), rel=1e-4 if dtype == np.float32 else 1e-10
    )


def test_one_full_batch_step_is_theta_minus_lr_times_gradient():
    """With batch_size = n and no shuffle, one epoch is one step θ ← θ − α·∇L(θ)."""
    rng = np.random.default_rng(5)
    model, X, Y, dims, acts = _problem(rng, 6, 3, ("tanh",), "softmax", "cce", 3)
    theta0 = model.theta.copy()
    numeric = ref.central_fprime(theta0, ref.network_loss, X, Y, dims, acts, "cce")
    model.fit(X, Y, epochs=1, batch_size=6, lr=0.3, shuffle=False)
    np.testing.assert_allclose(model.theta, theta0 - 0.3 * numeric, atol=1e-7)
    assert model.history.loss[0] == pytest.approx(ref.network_loss(theta0, X, Y, dims, acts, "cce"))


def test_batch_size_one_is_one_update_per_sample_in_order():
    """Pure SGD: batch_size = 1 without shuffling updates θ once per sample, in order."""
    rng = np.random.default_rng(6)
    model, X, Y, dims, acts = _problem(rng, 4, 2, ("sigmoid",), "sigmoid", "mse", 1)
    theta = model.theta.copy()
    for r in range(4):
        g = ref.central_fprime(
            theta, ref.network_loss, X[r : r + 1], Y[r : r + 1], dims, acts, "mse"
        )
        theta = theta - 0.5 * g
    model.fit(X, Y, epochs=1, batch_size=1, lr=0.5, shuffle=False)
    np.testing.assert_allclose(model.theta, theta, atol=1e-7)


def test_last_partial_batch_is_trained():
    """n = 7 with batch_size 3: batches of 3, 3 and 1 — all seven samples count."""
    rng = np.random.default_rng(7)
    model, X, Y, dims, acts = _problem(rng, 7, 2, ("tanh",), "sigmoid", "bce", 1)
    theta = model.theta.copy()
    for s in (0, 3, 6):
        Xm, Ym = X[s : s + 3], Y[s : s + 3]
        theta = theta - 0.2 * ref.central_fprime(theta, ref.network_loss, Xm, Ym, dims, acts, "bce")
    model.fit(X, Y, epochs=1, batch_size=3, lr=0.2, shuffle=False)
    np.testing.assert_allclose(model.theta, theta, atol=1e-7)
    assert model.history.samples == 7


def test_same_seed_same_run_different_seed_different_run():
    X = np.random.default_rng(0).normal(size=(50, 4)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)

    def run(seed):
        m = Sequential([Dense(8, "relu"), Dense(2, "softmax")])
        m.fit(X, y, epochs=5, batch_size=8, lr=0.1, seed=seed)
        return m.theta.copy(), list(m.history.loss)

    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]
    assert not np.array_equal(a[0], c[0])


def test_initialisation_glorot_for_sigmoid_he_for_relu():
    m = Sequential([Dense(400, "relu"), Dense(300, "tanh")], n_inputs=500, seed=0)
    W1, W2 = m.layers[0].W, m.layers[1].W
    assert W1.std() == pytest.approx(np.sqrt(2 / 500), rel=0.02)  # He: N(0, 2/i)
    limit = np.sqrt(6 / (400 + 300))
    assert np.abs(W2).max() <= limit and np.abs(W2).max() > 0.99 * limit  # Glorot uniform
    assert np.all(m.layers[0].b == 0) and np.all(m.layers[1].b == 0)


def test_layer_views_share_memory_with_theta():
    m = Sequential([Dense(3, "tanh"), Dense(2, "softmax")], n_inputs=4)
    m.layers[1].b[...] = 7
    assert np.count_nonzero(m.theta == 7) == 2
    assert m.theta.size == 4 * 3 + 3 + 3 * 2 + 2


def test_xor_needs_a_hidden_layer_and_learns_with_one():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    m = Sequential([Dense(4, "tanh"), Dense(1, "sigmoid")], loss="mse")
    m.fit(X, y, epochs=2000, batch_size=4, lr=0.5, seed=1)
    assert m.history.accuracy[-1] == 1.0
    assert m.history.loss[-1] < 0.01 < m.history.loss[0]
    np.testing.assert_array_equal(m.predict_classes(X), y)


def test_predict_in_chunks_equals_one_pass():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2500, 6)).astype(np.float32)
    m = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], n_inputs=6)
    P = m.predict(X)
    want = ref.network_forward(
        X, ref.unpack(m.theta.astype(np.float64), [6, 5, 3]), ["tanh", "softmax"]
    )
    np.testing.assert_allclose(P, want, rtol=1e-5, atol=1e-6)


def test_validation_figures_are_recorded_each_epoch():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    m = Sequential([Dense(4, "tanh"), Dense(1, "sigmoid")])
    h = m.fit(X, y, epochs=3, validation_data=(X[:10], y[:10]))
    assert len(h.val_loss) == len(h.val_accuracy) == 3
    assert h.val_loss[-1] == pytest.approx(m.evaluate(X[:10], y[:10])[0])


def test_accuracy_is_recorded_for_classes_only():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 2))
    classes = (X[:, 0] > 0).astype(int)
    values = 0.5 + 0.25 * np.tanh(X[:, :1])  # targets in (0, 1) that are not classes
    labels = rng.integers(0, 3, 30)
    one_hot = np.eye(3)[labels]
    soft = 0.5 * one_hot + 0.5 / 3  # rows that sum to 1 but are not one-hot
    for y, o, classify in ((classes, 1, True), (values, 1, False), (labels, 3, True),
                           (one_hot, 3, True), (soft, 3, False)):  # fmt: skip
        m = Sequential([Dense(3, "tanh"), Dense(o, "sigmoid")], loss="mse")
        h = m.fit(X, y, epochs=2, batch_size=8, seed=0)
        assert [np.isfinite(a) for a in h.accuracy] == [classify, classify]
        assert np.isfinite(m.evaluate(X, y)[1]) == classify


def test_divergence_names_epoch_batch_and_layer():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(64, 5)).astype(np.float32) * 10
    y = rng.normal(size=64).astype(np.float32)
    m = Sequential([Dense(16, "tanh"), Dense(16, "tanh"), Dense(1, "identity")])
    with pytest.raises(DivergenceError) as info:
        m.fit(X, y, epochs=50, batch_size=8, lr=10.0, seed=0)
    msg = str(info.value)
    assert "epoch" in msg and "batch" in msg and "learning rate" in msg
    assert info.value.layer is not None and f"layer {info.value.layer + 1}" in msg


def test_finite_inputs_whose_sum_overflows_are_accepted():
    """The finite check sums X's rows first; an overflowing sum of finite numbers must pass."""
    big = np.finfo(np.float32).max
    X = np.array([[big, big]] * 4 + [[-big, 1.0]], np.float32)  # Σ overflows float32
    with np.errstate(over="ignore"):
        assert not np.isfinite(X.sum())
    m = Sequential([Dense(2, "relu"), Dense(2, "softmax")])
    m.build(2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no overflow warning reaches the user
        np.testing.assert_array_equal(m._inputs(X), X)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 12),
    k=st.integers(1, 9),
    data=st.data(),
    bad=st.sampled_from([None, np.nan, np.inf, -np.inf]),
)
def test_the_finite_check_finds_any_nan_or_infinity_and_nothing_else(n, k, data, bad):
    """Finite values of any size pass (their row sums may overflow); one NaN or ±∞ anywhere
    is a DataError naming its row."""
    finite = st.floats(width=32, allow_nan=False, allow_infinity=False)
    X = np.array(data.draw(st.lists(finite, min_size=n * k, max_size=n * k)), np.float32)
    X = X.reshape(n, k)
    m = Sequential([Dense(2, "relu"), Dense(2, "softmax")])
    m.build(k, seed=0)
    if bad is None:
        np.testing.assert_array_equal(m._inputs(X), X)
        return
    i, j = data.draw(st.integers(0, n - 1)), data.draw(st.integers(0, k - 1))
    X[i, j] = bad
    with pytest.raises(DataError, match=rf"NaN or infinity \(first in row {i}\)"):
        m._inputs(X)


def test_bad_inputs_are_clear_errors():
    m = Sequential([Dense(3, "relu"), Dense(4, "softmax")])
    X = np.ones((5, 2))
    with pytest.raises(DataError, match="label 4 is out of range"):
        m.fit(X, [0, 1, 2, 3, 4])
    with pytest.raises(DataError, match="NaN"):
        m.fit(np.array([[1.0, np.nan]] * 5), [0] * 5)
    with pytest.raises(DataError, match=r"NaN or infinity \(first in row 3\)"):
        m.fit(np.array([[1.0, 2.0]] * 3 + [[-np.inf, 0.0], [np.inf, 0.0]]), [0] * 5)
    with pytest.raises(DataError, match="5 samples but y has 4"):
        m.fit(X, [0, 1, 2, 3])
    with pytest.raises(ConfigError, match="learning rate"):
        m.fit(X, [0] * 5, lr=-1)
    with pytest.raises(ConfigError, match="valid activations"):
        Sequential([Dense(3, "swish")]).build(2)
    with pytest.raises(ConfigError, match="needs probabilities"):
        Sequential([Dense(3, "relu")], loss="cce").build(2)
    with pytest.raises(ConfigError, match="output layer only"):
        Sequential([Dense(3, "softmax"), Dense(2, "softmax")]).build(2)
    m.fit(X, [0, 1, 2, 3, 0], epochs=1)
    with pytest.raises(DataError, match="expects 2"):
        m.predict(np.ones((2, 3)))


@pytest.mark.parametrize(
    "gate,y", [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("nand", [1, 1, 1, 0])]
)
def test_perceptron_learns_linearly_separable_gates(gate, y):
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    p = Perceptron().fit(X, y)
    assert p.converged
    np.testing.assert_array_equal(p.predict(X), y)
    assert p.updates_per_epoch[-1] == 0 and p.n_updates > 0


def test_perceptron_never_converges_on_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    p = Perceptron(max_epochs=200).fit(X, [0, 1, 1, 0])
    assert not p.converged and p.epochs == 200
    assert (p.predict(X) != [0, 1, 1, 0]).any()


def test_a_rising_loss_is_reported_as_overshoot():
    """Cross-entropy is clipped, so a far too large α gives a finite but rising loss."""
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 0)
    m = Sequential([Dense(16, "relu"), Dense(3, "softmax")])
    m.fit(X, y, epochs=5, lr=10.0)
    assert m.history.overshoot()
    good = Sequential([Dense(16, "relu"), Dense(3, "softmax")])
    good.fit(X, y, epochs=5, lr=0.1)
    assert not good.history.overshoot()
