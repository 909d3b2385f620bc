"""The adaptive optimisers, learning-rate schedules, L1/L2 penalties and dropout on the CPU.

Each kernel against a float64 recurrence written from the published definition
(tests/reference.py), over hypothesis-drawn sizes; a whole fit against a NumPy
float64 training loop written from the definitions, step for step; and resume,
reproducibility and reporting.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import Dense, Sequential
from nnlite.errors import ConfigError
from nnlite.kernels import codes, cpu
from nnlite.layers import Dropout
from nnlite.optim import OPTIMIZERS, Adam, AdamW, Optimizer, RMSProp
from nnlite.schedules import SCHEDULES, Schedule

OPTIMIZER_CASES = {
    "adagrad": dict(lr=0.05, eps=1e-10),
    "rmsprop": dict(lr=0.01, rho=0.9, eps=1e-8, momentum=0.0),
    "rmsprop[momentum]": dict(lr=0.01, rho=0.9, eps=1e-8, momentum=0.8),
    "adam": dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8),
    "adamw": dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8, weight_decay=0.1),
}


def _optimizer(case: str) -> Optimizer:
    return Optimizer(case.split("[")[0], **OPTIMIZER_CASES[case]).validate()


def _reference_steps(case, W, grads, values):
    """W and the state after each gradient in ``grads``, by the float64 recurrence."""
    name = case.split("[")[0]
    W = ref.f64(W)
    S1, S2 = np.zeros_like(W), np.zeros_like(W)
    for t, g in enumerate(grads, 1):
        if name == "adagrad":
            W, S1 = ref.adagrad_step(W, g, S1, values["lr"], values["eps"])
        elif name == "rmsprop":
            W, S1, S2 = ref.rmsprop_step(W, g, S1, S2, values["lr"], values["rho"], values["eps"],
                                         values["momentum"])  # fmt: skip
        else:
            W, S1, S2 = ref.adam_step(W, g, S1, S2, t, values["lr"], values["beta1"],
                                      values["beta2"], values["eps"],
                                      values.get("weight_decay", 0.0))  # fmt: skip
    return W, S1, S2


@pytest.mark.parametrize("case", list(OPTIMIZER_CASES))
@settings(max_examples=12, deadline=None)
@given(size=st.integers(1, 41), steps=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_each_optimizer_kernel_follows_its_published_recurrence(case, size, steps, seed):
    rng = np.random.default_rng(seed)
    opt = _optimizer(case)
    W0 = rng.normal(size=size)
    grads = [rng.normal(size=size) * 10.0 ** rng.uniform(-3, 1) for _ in range(steps)]
    want_W, want_1, want_2 = _reference_steps(case, W0, grads, opt.values)
    for dtype, rtol in ((np.float64, 1e-12), (np.float32, 2e-4)):
        theta = W0.astype(dtype)
        state = np.zeros((max(len(opt.slots), 1), size), dtype)
        for t, g in enumerate(grads, 1):
            cpu.optimizer_update(theta, g.astype(dtype), state, 0, size, opt.code,
                                 opt.hyper_vector(), opt.lr, t)  # fmt: skip
        scale = np.abs(W0).max() + opt.lr * steps  # each step moves W by about α at most
        np.testing.assert_allclose(theta, want_W, rtol=rtol, atol=rtol * scale)
        np.testing.assert_allclose(state[0], want_1, rtol=rtol * 10, atol=1e-30)
        if len(opt.slots) > 1:
            np.testing.assert_allclose(state[1], want_2, rtol=rtol * 10, atol=1e-30)


def test_the_optimizer_update_touches_only_its_range_and_refuses_an_unknown_code():
    rng = np.random.default_rng(5)
    opt = Adam(lr=0.1).validate()
    theta, grad = rng.normal(size=19), rng.normal(size=19)
    state = np.zeros((2, 19))
    new = theta.copy()
    cpu.optimizer_update(new, grad, state, 4, 9, opt.code, opt.hyper_vector(), 0.1, 1)
    outside = np.r_[0:4, 13:19]
    np.testing.assert_array_equal(new[outside], theta[outside])
    assert not np.any(state[:, outside])
    # Adam's first step moves each coordinate by α·sign(g) (M̂ = g, V̂ = g²), up to ε
    np.testing.assert_allclose(new[4:13] - theta[4:13], -0.1 * np.sign(grad[4:13]), rtol=1e-6)
    with pytest.raises(ValueError, match="unknown optimizer code"):
        cpu.optimizer_update(new, grad, state, 0, 19, 99, opt.hyper_vector(), 0.1, 1)


@pytest.mark.parametrize("name", list(SCHEDULES))
@pytest.mark.parametrize("per", ["epoch", "step"])
def test_each_schedule_gives_its_textbook_rate_in_python_and_in_the_kernel(name, per):
    values = {p.name: p.default for p in SCHEDULES[name].params}
    if name == "step":
        values["step_size"] = 3
    s = Schedule(name, per=per, **values)
    v = s.vector()
    for t in (0, 1, 2, 3, 7, 10, 11, 250):
        want = ref.scheduled_rate(name, 0.2, t, **values)
        assert s.rate(0.2, t) == pytest.approx(want, rel=1e-14, abs=1e-300)
        got = cpu._schedule_rate(int(v[0]), 0.2, t, v[2], v[3], v[4])
        assert got == pytest.approx(want, rel=1e-14, abs=1e-300)


def test_schedules_refuse_bad_names_and_values_in_one_line():
    with pytest.raises(ConfigError, match="unknown learning-rate schedule 'stpe'"):
        Schedule("stpe")
    with pytest.raises(ConfigError, match="gamma must be in"):
        Schedule("step", gamma=1.5)
    with pytest.raises(ConfigError, match="has no parameter 'decay'"):
        Schedule("cosine", decay=0.1)
    with pytest.raises(ConfigError, match="per 'epoch' or per 'step'"):
        Schedule("cosine", per="batch")
    s = Schedule.parse("inverse-time:decay=1e-3,per=step")
    assert s == Schedule("inverse-time", per="step", decay=0.001)


def test_optimizer_rows_refuse_bad_values():
    with pytest.raises(ConfigError, match="beta2 must be in"):
        Adam(beta2=1.0).validate()
    with pytest.raises(ConfigError, match="eps must be positive"):
        RMSProp(eps=0).validate()
    with pytest.raises(ConfigError, match="weight_decay must be non-negative"):
        AdamW(weight_decay=-1).validate()
    with pytest.raises(ConfigError, match="adam has no hyper-parameter 'momentum'"):
        Optimizer("adam", momentum=0.9).validate()
    assert set(OPTIMIZERS) == {"sgd", "adagrad", "rmsprop", "adam", "adamw"}


# ---------------------------------------------------------------------------
# A whole fit against a NumPy float64 training loop written from the definitions.
# ---------------------------------------------------------------------------


def _keep(seed, t, layer, shape, p):
    """Inverted dropout's keep mask ⊙ 1/(1 − p) for one layer's input at step t."""
    n, o = shape
    u = np.array([[codes.dropout_unit(seed, t, layer, r * o + c) for c in range(o)]
                  for r in range(n)])  # fmt: skip
    return (u >= p) / (1.0 - p)


def _reference_fit(theta, dims, acts, X, Y, epochs, batch, opt, schedule, penalties, drops, seed):
    """θ after ``epochs`` of mini-batch training, in float64, from the definitions."""
    theta = ref.f64(theta).copy()
    params = ref.unpack(theta, dims)  # views into theta
    rng = np.random.default_rng(seed)
    drop_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
    state = [np.zeros_like(theta) for _ in range(2)]
    t, n = 0, X.shape[0]
    losses = []
    for epoch in range(epochs):
        order = rng.permutation(n)
        total = 0.0
        for s in range(0, n, batch):
            rows = order[s : s + batch]
            Xm, Ym = ref.f64(X[rows]), ref.f64(Y[rows])
            t += 1
            time = t - 1 if schedule.per == "step" else epoch
            lr = ref.scheduled_rate(schedule.name, opt.lr, time, **schedule.values)
            inputs, Zs, masks = [], [], []
            A = Xm
            for layer, ((W, b), act) in enumerate(zip(params, acts)):
                mask = _keep(drop_seed, t, layer, A.shape, drops[layer]) if drops[layer] else 1.0
                D = A * mask
                Z = D @ W + b
                inputs.append(D), Zs.append(Z), masks.append(mask)
                A = ref.activation(Z, act)
            P = A
            loss = -np.sum(Ym * np.log(np.maximum(P, 1e-12))) / len(rows)
            for (W, _), (l1, l2) in zip(params, penalties):
                loss += l1 * np.abs(W).sum() + l2 * (W * W).sum()
            total += loss * len(rows)
            grad = np.zeros_like(theta)
            gparams = ref.unpack(grad, dims)
            dZ = (P - Ym) / len(rows)  # softmax + cross-entropy
            for layer in range(len(params) - 1, -1, -1):
                (W, _), (dW, db), (l1, l2) = params[layer], gparams[layer], penalties[layer]
                dW[...] = inputs[layer].T @ dZ + l1 * np.sign(W) + 2 * l2 * W
                db[...] = dZ.sum(axis=0)
                if layer:
                    dA = (dZ @ W.T) * masks[layer]
                    dZ = ref.activation_jacobian_vjp(Zs[layer - 1], dA, acts[layer - 1])
            name = opt.name
            v = opt.values
            if name == "adagrad":
                theta[...], state[0][...] = ref.adagrad_step(theta, grad, state[0], lr, v["eps"])
            elif name == "rmsprop":
                theta[...], state[0][...], state[1][...] = ref.rmsprop_step(
                    theta, grad, state[0], state[1], lr, v["rho"], v["eps"], v["momentum"])
            else:
                theta[...], state[0][...], state[1][...] = ref.adam_step(
                    theta, grad, state[0], state[1], t, lr, v["beta1"], v["beta2"], v["eps"],
                    v.get("weight_decay", 0.0))  # fmt: skip
        losses.append(total / n)
    return theta, losses


FIT_CASES = [
    ("adam", Schedule("inverse-time", per="step", decay=0.05)),
    ("adamw", Schedule("cosine", period=3, min_lr=0.001)),
    ("rmsprop[momentum]", Schedule("step", gamma=0.5, step_size=2)),
    ("adagrad", Schedule("exponential", per="step", gamma=0.9, every=2)),
]


@pytest.mark.parametrize(("case", "schedule"), FIT_CASES, ids=[c for c, _ in FIT_CASES])
def test_a_fit_with_penalties_dropout_and_a_schedule_equals_the_float64_definition(case, schedule):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(23, 5))
    y = rng.integers(0, 3, size=23)
    opt = _optimizer(case)
    model = Sequential([Dropout(0.2), Dense(7, "tanh", l1=1e-3), Dropout(0.3),
                        Dense(6, "relu", l2=1e-2), Dense(3, "softmax", l1=1e-3, l2=1e-3)],
                       dtype=np.float64, n_inputs=5, seed=2)  # fmt: skip
    theta0 = model.theta.copy()
    history = model.fit(X, y, epochs=4, batch_size=5, optimizer=opt, schedule=schedule, seed=9)
    Y = np.eye(3)[y]
    penalties = [(x.l1, x.l2) for x in model.layers]
    want, losses = _reference_fit(theta0, [5, 7, 6, 3], ["tanh", "relu", "softmax"], X, Y, 4, 5,
                                  opt, schedule, penalties, [0.2, 0.3, 0.0], 9)  # fmt: skip
    np.testing.assert_allclose(model.theta, want, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(history.loss, losses, rtol=1e-9)
    want_lr = [ref.scheduled_rate(schedule.name, opt.lr,
                                  (5 * (e + 1) - 1) if schedule.per == "step" else e,
                                  **schedule.values) for e in range(4)]  # fmt: skip
    np.testing.assert_allclose(history.lr, want_lr, rtol=1e-12)


def test_dropout_masks_are_seeded_and_off_when_predicting():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)

    def run(seed):
        m = Sequential([Dense(8, "relu"), Dropout(0.5), Dense(2, "softmax")], n_inputs=6, seed=0)
        m.fit(X, y, epochs=3, batch_size=8, optimizer="adam", seed=seed)
        return m

    a, b, c = run(1), run(1), run(2)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert not np.array_equal(a.theta, c.theta)  # other seed, other masks and order
    # predict and evaluate use every unit: the same as a network without the Dropout layer
    plain = Sequential([Dense(8, "relu"), Dense(2, "softmax")], n_inputs=6)
    plain.set_parameters(a.theta)
    np.testing.assert_array_equal(a.predict(X), plain.predict(X))
    np.testing.assert_array_equal(a.predict(X), a.predict(X))


def test_dropout_keeps_each_unit_with_probability_one_minus_p_and_preserves_its_mean():
    """Inverted dropout: P(keep) = 1 − p (a binomial test) and E[D] = A (a z-test)."""
    from scipy.stats import binomtest

    p = 0.3
    A = np.full((400, 250), 2.0)
    D = np.empty_like(A)
    cpu.dropout_forward(A, D, p, 12345, 7, 1)
    kept = int(np.count_nonzero(D))
    assert binomtest(kept, A.size, 1 - p).pvalue > 1e-3
    np.testing.assert_allclose(D[D != 0], 2.0 / (1 - p))
    # E[D] = A: the mean over 10⁵ draws is within 4 standard errors of 2
    se = 2.0 * math.sqrt(p / (1 - p)) / math.sqrt(A.size)
    assert abs(D.mean() - 2.0) < 4 * se
    # the backward pass uses the same mask
    dD = np.ones_like(A)
    cpu.dropout_backward(dD, p, 12345, 7, 1)
    np.testing.assert_array_equal(dD != 0, D != 0)


def test_reported_losses_include_the_penalty_as_keras_reports_them():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 2, size=30)
    model = Sequential([Dense(4, "tanh", l2=0.05), Dense(2, "softmax", l1=0.02)],
                       dtype=np.float64, n_inputs=3)  # fmt: skip
    history = model.fit(X[:20], y[:20], epochs=2, optimizer="adam", validation_data=(X[20:], y[20:]))
    loss, _ = model.evaluate(X[20:], y[20:])
    P = model.predict(X[20:])
    data = -np.mean(np.log(P[np.arange(10), y[20:]]))
    W1, W2 = model.layers[0].W, model.layers[1].W
    want = data + 0.05 * (W1**2).sum() + 0.02 * np.abs(W2).sum()
    assert loss == pytest.approx(want, rel=1e-10)
    assert history.val_loss[-1] == pytest.approx(want, rel=1e-10)
    assert model.penalty() > 0


def test_an_interrupted_adam_fit_with_dropout_and_a_schedule_resumes_bit_for_bit(tmp_path):
    from nnlite import io
    from nnlite.models import Callback

    rng = np.random.default_rng(8)
    X = rng.normal(size=(50, 4)).astype(np.float32)
    y = rng.integers(0, 3, size=50)

    def model():
        return Sequential([Dense(9, "relu", l2=1e-3), Dropout(0.25), Dense(3, "softmax")],
                          n_inputs=4, seed=3)  # fmt: skip

    kwargs = dict(epochs=5, batch_size=4, optimizer=AdamW(lr=0.01), seed=6,
                  schedule=Schedule("cosine", per="step", period=40))  # fmt: skip
    whole = model()
    whole.fit(X, y, **kwargs)

    class StopAt(Callback):
        def on_epoch_end(self, epoch, logs):
            self.stop_training = epoch == 1

    part = model()
    part.fit(X, y, callback=StopAt(), **kwargs)
    assert part.history.interrupted
    io.save(part, tmp_path / "ck.npz")
    again = io.load(tmp_path / "ck.npz")
    again.fit(X, y, resume=True, **{**kwargs, "epochs": 3})
    np.testing.assert_array_equal(again.theta, whole.theta)
    assert again.history.loss == whole.history.loss
    with pytest.raises(ConfigError, match="schedule"):
        again2 = io.load(tmp_path / "ck.npz")
        again2.fit(X, y, resume=True, **{**kwargs, "epochs": 3, "schedule": Schedule()})


def test_model_stop_training_ends_the_fit_normally_after_the_epoch():
    from nnlite.models import Callback

    class Stop(Callback):
        ended = None

        def on_epoch_end(self, epoch, logs):
            if epoch == 1:
                self.model.stop_training = True

        def on_train_end(self, logs):
            Stop.ended = logs

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(20, 2)), rng.integers(0, 2, size=20)
    m = Sequential([Dense(2, "softmax")])
    h = m.fit(X, y, epochs=6, callbacks=[Stop()])
    assert len(h.loss) == 2 and not h.interrupted and m.resume_state is None
    assert Stop.ended["loss"] == h.loss[-1]


def test_validation_split_holds_out_the_last_rows_like_keras():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(10, 2)), rng.integers(0, 2, size=10)
    m = Sequential([Dense(2, "softmax")], dtype=np.float64, n_inputs=2)
    ref_model = Sequential([Dense(2, "softmax")], dtype=np.float64, n_inputs=2)
    h = m.fit(X, y, epochs=2, validation_split=0.25, seed=1)
    # Keras's split point: ⌊10·(1 − 0.25)⌋ = 7 training rows, the last 3 for validation
    h2 = ref_model.fit(X[:7], y[:7], epochs=2, validation_data=(X[7:], y[7:]), seed=1)
    assert h.val_loss == h2.val_loss and h.loss == h2.loss
    with pytest.raises(ConfigError, match="not both"):
        m.fit(X, y, validation_split=0.2, validation_data=(X, y))
