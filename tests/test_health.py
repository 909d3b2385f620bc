"""Layer health (issue 19 part 3): ``nnlite.health``, its record in ``fit`` and the model file,
and the failures ``nnlite.diagnose`` names from it.

Claims checked: each figure (‖W‖, ‖ΔW‖/‖W‖, saturated and dead shares, ‖∂L/∂W‖) equals an
independent float64 NumPy forward and backward pass written here over small odd shapes;
``fit`` records a row per epoch (every k-th on tiny data sets, always the last), each
update ratio over exactly its epoch, without changing θ; a resumed run continues the record
(through the model file too); the model file round-trips it, old files without it still
load and continue it, and a malformed record is refused in one line; a large learning rate
with ReLU, a deep sigmoid network with tiny weights and a saturated tanh layer each end
with their failure named (the ratio measured, the layers named), a healthy run with none.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import Dense, Sequential, datasets, diagnose, health, io
from nnlite.errors import LearnerWarning, ModelFileError
from nnlite.models import Callback

DATA = Path(__file__).resolve().parent / "data"


# -- an independent float64 reference ----------------------------------------------------


def reference_pass(theta, X, Y, dims, acts, loss):
    """(every layer's A, every layer's ∂L/∂W) in float64, by the chain rule written out."""
    params = ref.unpack(ref.f64(theta), dims)
    inputs, Zs, As = [], [], []
    A = ref.f64(X)
    for (W, b), name in zip(params, acts):
        inputs.append(A)
        Z, A = ref.dense_forward(A, W, b, name)
        Zs.append(Z)
        As.append(A)
    n, o = As[-1].shape
    if (acts[-1], loss) in (("softmax", "cce"), ("sigmoid", "bce")):
        # The lesson's fused gradient, dZ = (P − Y)/n (bce: its mean over n·o values): it
        # is what the chain rule gives, without the probability clipping's step at eps.
        dZ_out = (As[-1] - ref.f64(Y)) / (n if loss == "cce" else n * o)
    else:
        dA = ref.loss_grad(As[-1], Y, loss, 1e-12)
        dZ_out = ref.activation_jacobian_vjp(Zs[-1], dA, acts[-1])
    grads = [None] * len(params)
    for layer in reversed(range(len(params))):
        dZ = (
            dZ_out
            if layer == len(params) - 1
            else ref.activation_jacobian_vjp(Zs[layer], dA, acts[layer])
        )
        dW, _, dA = ref.dense_backward(inputs[layer], params[layer][0], dZ)
        grads[layer] = dW
    return As, grads


def reference_figures(theta0, theta1, X, Y, dims, acts, loss):
    """The health figures of θ₁ (θ₀: the epoch's start), from the definitions in the docs."""
    As, grads = reference_pass(theta1, X, Y, dims, acts, loss)
    before, after = ref.unpack(ref.f64(theta0), dims), ref.unpack(ref.f64(theta1), dims)
    out = np.full((len(acts), 5), np.nan)
    for i, ((W0, _), (W1, _), A, G, name) in enumerate(zip(before, after, As, grads, acts)):
        out[i, 0] = np.sqrt((W1**2).sum())
        out[i, 1] = np.sqrt(((W1 - W0) ** 2).sum()) / np.sqrt((W0**2).sum())
        if name == "sigmoid":  # σ′ = a(1 − a) < 1 % of ¼ on ≥ 90 % of the rows
            out[i, 2] = np.mean((A * (1 - A) < 0.0025).mean(axis=0) >= 0.9)
        if name == "tanh":  # σ′ = 1 − a² < 1 % of 1
            out[i, 2] = np.mean((1 - A**2 < 0.01).mean(axis=0) >= 0.9)
        if name == "relu":  # never positive on the sample
            out[i, 3] = np.mean((A <= 0).all(axis=0))
        out[i, 4] = np.sqrt((G**2).sum())
    return out


HEADS = [("softmax", "cce", 3), ("sigmoid", "bce", 1), ("identity", "mse", 2)]


@settings(max_examples=40, deadline=None)
@given(
    n=st.sampled_from([1, 3, 5, 7]),
    n_in=st.sampled_from([1, 3, 5]),
    hidden=st.lists(
        st.tuples(st.sampled_from([1, 3, 5]), st.sampled_from(["sigmoid", "tanh", "relu"])),
        min_size=0, max_size=3,
    ),
    head=st.sampled_from(HEADS),
    scale=st.sampled_from([0.3, 1.0, 8.0]),  # 8: some units saturate, some ReLUs die
    seed=st.integers(0, 2**16),
)  # fmt: skip
def test_each_figure_equals_an_independent_float64_forward_and_backward_pass(
    n, n_in, hidden, head, scale, seed
):
    out, loss, units = head
    layers = [Dense(u, a) for u, a in hidden] + [Dense(units, out)]
    model = Sequential(layers, loss=loss, dtype=np.float64, n_inputs=n_in, seed=seed)
    rng = np.random.default_rng(seed)
    model.theta[...] = rng.normal(0, scale, model.theta.size)
    X = rng.normal(size=(n, n_in))
    labels = rng.integers(0, units if units > 1 else 2, size=n)
    Y = model.targets(labels if out != "identity" else rng.normal(size=(n, units)))
    theta0 = model.theta.copy()
    probe = health.Probe(model, X, Y)
    probe.begin(model)
    model.theta += rng.normal(0, 0.1 * scale, model.theta.size)  # the epoch's update
    got = probe.measure(model)
    dims = [n_in] + [x.units for x in layers]
    expected = reference_figures(
        theta0, model.theta, X, Y, dims, [x.activation for x in layers], loss
    )
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)
    assert np.array_equal(np.isnan(got), np.isnan(expected))


def test_the_figures_are_taken_on_the_fixed_sample_of_the_training_rows():
    ds = datasets.load_digits()
    X, Y = ds.X.astype(np.float32), np.eye(10, dtype=np.float32)[ds.y]
    model = Sequential([Dense(8, "relu"), Dense(10, "softmax")], n_inputs=64, seed=1)
    probe = health.Probe(model, X, Y)
    rows = np.linspace(0, len(X) - 1, diagnose.SAMPLE_ROWS).astype(int)
    assert np.array_equal(probe.X, X[rows]) and np.array_equal(probe.Y, Y[rows])
    probe.begin(model)
    got = probe.measure(model)
    expected = reference_figures(model.theta, model.theta, X[rows], Y[rows], [64, 8, 10],
                                 ["relu", "softmax"], "cce")  # fmt: skip
    np.testing.assert_allclose(got[:, health.GRAD_NORM], expected[:, 4], rtol=1e-4)
    assert got[0, health.DEAD] == expected[0, 3]


# -- the record in fit ------------------------------------------------------------------


class _Thetas(Callback):
    """θ at each epoch's end, as the fit's callbacks see it."""

    def __init__(self):
        self.seen = []

    def on_epoch_end(self, epoch, logs):
        self.seen.append(self.model.theta.copy())


@pytest.fixture(scope="module")
def digits():
    ds = datasets.load_digits()
    return ds.X, ds.y


def _quiet_fit(model, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LearnerWarning)
        return model.fit(*args, **kwargs)


def test_fit_records_every_kth_epoch_and_the_last_each_over_its_own_epoch(digits):
    X, y = digits
    X, y = X[:300], y[:300]  # 300 rows: measured every min(16, ⌈EVERY_ROWS / 300⌉) epochs
    every = min(health.MAX_EVERY, -(-health.EVERY_ROWS // len(X)))
    assert 3 < every < 20
    epochs = every + 3
    model = Sequential([Dense(12, "tanh"), Dense(10, "softmax")], n_inputs=64, seed=3)
    start = model.theta.copy()
    thetas = _Thetas()
    history = _quiet_fit(model, X, y, epochs=epochs, callbacks=[thetas], lr=0.5)
    table = health.table(history)
    assert table.shape == (epochs, 2, len(health.FIGURES))
    measured = [e for e in range(epochs) if not np.isnan(table[e]).all()]
    assert measured == [every - 1, epochs - 1]  # the every-th and the last
    Y = model.targets(y).astype(np.float32)
    rows = np.linspace(0, len(X) - 1, diagnose.SAMPLE_ROWS).astype(int)
    before = [start, *thetas.seen]
    for e in measured:
        expected = reference_figures(before[e], thetas.seen[e], X[rows], Y[rows], [64, 12, 10],
                                     ["tanh", "softmax"], "cce")  # fmt: skip
        np.testing.assert_allclose(table[e], expected, rtol=2e-4, atol=1e-6)


def test_recording_health_changes_neither_theta_nor_the_losses(digits, monkeypatch):
    X, y = digits
    runs = []
    for record in (True, False):
        if not record:
            monkeypatch.setattr(health.Probe, "measure", lambda self, m: np.zeros((2, 5)))
        model = Sequential([Dense(16, "relu"), Dense(10, "softmax")], n_inputs=64, seed=4)
        history = _quiet_fit(model, X, y, epochs=3, momentum=0.9)
        runs.append((model.theta.copy(), list(history.loss)))
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]


class _StopAt(Callback):
    def on_batch_end(self, epoch, done, logs):
        if epoch == 1 and done >= 3:
            self.stop_training = True


def test_a_resumed_run_continues_the_record_through_its_checkpoint_file(digits, tmp_path):
    X, y = digits
    whole = Sequential([Dense(16, "relu"), Dense(10, "softmax")], n_inputs=64, seed=5)
    _quiet_fit(whole, X, y, epochs=4, batch_size=8, lr=0.05, seed=5)
    model = Sequential([Dense(16, "relu"), Dense(10, "softmax")], n_inputs=64, seed=5)
    _quiet_fit(model, X, y, epochs=4, batch_size=8, lr=0.05, seed=5, callback=_StopAt())
    done, mid = len(model.history.loss), model.resume_state["position"] > 0
    assert 1 <= done < 4 and len(model.history.health) == done
    io.save(model, tmp_path / "ckpt.npz")
    resumed = io.load(tmp_path / "ckpt.npz")
    _quiet_fit(resumed, X, y, epochs=4 - done, batch_size=8, lr=0.05, seed=5, resume=True)
    got, expected = health.table(resumed.history), health.table(whole.history)
    assert got.shape == expected.shape == (4, 2, 5)
    # θ at every epoch's end is the uninterrupted run's, bit for bit: so are the figures,
    # except, when the fit stopped inside an epoch, that epoch's update ratio (measured
    # from the checkpoint onwards).
    same = (np.isnan(expected) & np.isnan(got)) | (got == expected)
    if mid:
        same[done, :, health.UPDATE_RATIO] = True
    assert same.all()


def test_the_model_file_keeps_the_record_and_old_files_load_and_continue_it(digits, tmp_path):
    X, y = digits
    model = Sequential([Dense(16, "sigmoid"), Dense(10, "softmax")], n_inputs=64, seed=6)
    _quiet_fit(model, X, y, epochs=3)
    io.save(model, tmp_path / "m.npz")
    loaded = io.load(tmp_path / "m.npz")
    assert np.array_equal(health.table(loaded.history), health.table(model.history), equal_nan=True)
    record, _ = io.read_record(tmp_path / "m.npz")
    assert "health" not in record["history"]  # the record read back is JSON, as before
    old = io.load(DATA / "main-5cf111d-model.npz")  # written before health was recorded
    assert old.history.health == [] and old.history.loss
    Xo = np.random.default_rng(0).normal(size=(40, old.n_inputs))
    yo = np.random.default_rng(1).integers(0, old.n_outputs, 40)
    epochs = len(old.history.loss)
    _quiet_fit(old, Xo, yo if old.n_outputs > 1 else yo % 2, epochs=1)
    table = health.table(old.history)
    assert table.shape[0] == epochs + 1 and np.isnan(table[:epochs]).all()
    assert not np.isnan(table[-1, :, health.GRAD_NORM]).any()


def _rewrite(saved: Path, target: Path, names, values):
    """``saved`` again with its health figures' names and array replaced (JSON + npz, no pickle)."""
    record, theta = io.read_record(saved)
    if names is not None:
        record["history"]["health"] = names
    arrays = {"theta": theta}
    if values is not None:
        arrays["health"] = values
    meta = np.frombuffer(json.dumps(record).encode(), np.uint8)
    np.savez(target, meta=meta, **arrays)
    return target


@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits):
    X, y = digits
    model = Sequential([Dense(8, "relu"), Dense(10, "softmax")], n_inputs=64, seed=7)
    _quiet_fit(model, X, y, epochs=2)
    path = tmp_path_factory.mktemp("health") / "m.npz"
    io.save(model, path)
    return path, health.table(model.history)


def _with(table, where, value):
    table = table.copy()
    table[where] = value
    return table


NAMES = list(health.FIGURES)
BAD = {
    "infinity": (lambda t: _with(t, (0, 0, 0), np.inf), NAMES, "holds an infinity"),
    "negative norm": (lambda t: _with(t, (1, 1, 4), -1.0), NAMES, "negative"),
    "share above 1": (lambda t: _with(t, (0, 0, health.DEAD), 1.5), NAMES, "share above 1"),
    "too many epochs": (lambda t: np.concatenate([t, t]), NAMES, "shape"),
    "too few layers": (lambda t: t[:, :1], NAMES, "shape"),
    "float32": (lambda t: t.astype(np.float32), NAMES, "float32"),
    "2-D": (lambda t: t.reshape(len(t), -1), NAMES, "shape"),
    "unknown figures": (lambda t: t, ["weight_norm", "x", "y", "z", "w"], "must name the figures"),
    "names as a string": (lambda t: t, "weight_norm", "must name the figures"),
    "no array": (lambda t: None, NAMES, "no health array"),
    "no names": (lambda t: t, None, "without the history naming"),
}


@pytest.mark.parametrize("case", BAD)
def test_a_malformed_health_record_is_refused_in_one_line_naming_the_file(saved, tmp_path, case):
    path, table = saved
    make, names, phrase = BAD[case]
    bad = _rewrite(path, tmp_path / "bad.npz", names=names, values=make(table))
    with pytest.raises(ModelFileError) as caught:
        io.load(bad)
    message = str(caught.value)
    assert "\n" not in message and str(bad) in message and phrase in message


def test_the_rewritten_file_itself_loads_when_nothing_is_wrong(saved, tmp_path):
    path, table = saved  # the control for the refusals above
    good = _rewrite(path, tmp_path / "good.npz", NAMES, table)
    assert np.array_equal(health.table(io.load(good).history), table, equal_nan=True)


# -- the failures named ------------------------------------------------------------------


def _diagnosed(model, X, y, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, y, **kwargs)
    messages = [str(w.message) for w in caught if w.category is LearnerWarning]
    assert messages == history.diagnosis
    return history, messages


def _sample(model, X, y):
    rows = np.linspace(0, len(X) - 1, diagnose.SAMPLE_ROWS).astype(int)
    return X[rows], model.targets(y)[rows]


def test_a_large_learning_rate_kills_relus_and_the_share_is_named(digits):
    X, y = digits
    model = Sequential([Dense(64, "relu"), Dense(10, "softmax")], n_inputs=64)
    history, messages = _diagnosed(model, X, y, epochs=20, lr=5.0)
    As, _ = reference_pass(
        model.theta, *_sample(model, X, y), [64, 64, 10], ["relu", "softmax"], "cce"
    )
    share = np.mean((As[0] <= 0).all(axis=0))
    assert share >= 0.5 and len(messages) == 1
    assert f"{share:.0%} of layer 1's ReLUs are dead" in messages[0]
    assert "learning rate 5 is probably too large" in messages[0]


def test_a_deep_sigmoid_network_with_tiny_weights_names_its_vanishing_gradients(digits):
    X, y = digits
    model = Sequential(
        [Dense(32, "sigmoid") for _ in range(5)] + [Dense(10, "softmax")], n_inputs=64
    )
    model.theta *= 0.1  # tiny initial weights: each layer shrinks the gradient by ¼ · ‖W‖
    history, messages = _diagnosed(model, X, y, epochs=5)
    dims, acts = [64] + [32] * 5 + [10], ["sigmoid"] * 5 + ["softmax"]
    _, grads = reference_pass(model.theta, *_sample(model, X, y), dims, acts, "cce")
    ratio = np.linalg.norm(grads[-1]) / np.linalg.norm(grads[0])
    assert ratio >= diagnose.VANISHING and len(messages) == 1 and "chance level" in messages[0]
    power = str(round(math.log10(ratio))).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
    assert (
        f"gradients shrink 10{power}× from layer 6 to layer 1: vanishing gradients" in messages[0]
    )


def test_a_saturated_layer_is_named_with_its_share(digits):
    X, y = digits
    model = Sequential([Dense(32, "tanh"), Dense(32, "sigmoid"), Dense(10, "softmax")], n_inputs=64)
    model.layers[1].b[...] = -12.0  # every unit of layer 2 pinned near 0: σ′ ≈ 6·10⁻⁶
    history, messages = _diagnosed(model, X, y, epochs=5)
    As, _ = reference_pass(model.theta, *_sample(model, X, y), [64, 32, 32, 10],
                           ["tanh", "sigmoid", "softmax"], "cce")  # fmt: skip
    share = np.mean((As[1] * (1 - As[1]) < 0.0025).mean(axis=0) >= 0.9)
    assert share >= 0.5 and len(messages) == 1 and "chance level" in messages[0]
    assert f"{share:.0%} of layer 2's sigmoid units are saturated" in messages[0]


def test_a_stalled_regression_names_its_vanishing_gradients_without_being_at_chance():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = X @ rng.normal(size=(4, 1))
    model = Sequential(
        [Dense(16, "sigmoid") for _ in range(5)] + [Dense(1, "identity")], n_inputs=4
    )
    model.theta *= 0.05
    model.layers[-1].W[...] = 0.0  # the output starts at 0 and learns only its bias
    _, messages = _diagnosed(model, X, y, epochs=3, lr=0.01)
    # Its first batch's loss happens to be lower than the last epoch's: the loss "rose", yet
    # the measured vanishing gradient, not the learning rate, is named.
    assert len(messages) == 1 and messages[0].startswith(("the loss barely fell", "the loss rose"))
    assert "from layer 6 to layer 1: vanishing gradients" in messages[0]
    assert "overshoot" not in messages[0]


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_a_healthy_run_names_no_failure(digits, activation):
    X, y = digits
    model = Sequential(
        [Dense(32, activation), Dense(16, activation), Dense(10, "softmax")], n_inputs=64
    )
    history, messages = _diagnosed(
        model, X, y, epochs=5, lr=1.0 if activation == "sigmoid" else 0.1
    )
    assert messages == [] and history.accuracy[-1] > 0.6


class _StopAfter(Callback):
    """Keras's way of ending a fit early (``EarlyStopping``): model.stop_training."""

    def on_epoch_end(self, epoch, logs):
        self.model.stop_training = epoch == 2


def test_early_stopping_on_an_unmeasured_epoch_still_measures_the_last(digits):
    X, y = digits
    model = Sequential([Dense(8, "relu"), Dense(10, "softmax")], n_inputs=64, seed=8)
    history = _quiet_fit(model, X[:300], y[:300], epochs=10, callbacks=[_StopAfter()])
    table = health.table(history)  # measured every 16th epoch: epoch 3 would not be
    assert table.shape[0] == 3 and np.isnan(table[:2]).all()
    assert not np.isnan(table[2, :, health.GRAD_NORM]).any()


CUDA_RUN = """
import numpy as np
from nnlite import Dense, Sequential, health
from nnlite.models import Callback

class Thetas(Callback):
    def __init__(self):
        self.seen = []
    def on_epoch_end(self, epoch, logs):
        self.seen.append(self.model.theta.copy())

rng = np.random.default_rng(0)
X, y = rng.normal(size=(20, 3)).astype(np.float32), rng.integers(0, 2, 20)
layers = lambda: [Dense(4, "tanh"), Dense(2, "softmax")]
gpu = Sequential(layers(), device="cuda", n_inputs=3, seed=1)
seen = Thetas()
history = gpu.fit(X, y, epochs=3, batch_size=8, callbacks=[seen])
assert np.array_equal(seen.seen[-1], gpu.theta)  # what was seen at the last epoch's end
assert not np.array_equal(seen.seen[1], seen.seen[2])
cpu = Sequential(layers(), n_inputs=3, seed=1)
probe = health.Probe(cpu, X, cpu.targets(y))
cpu.theta[...] = seen.seen[1]
probe.begin(cpu)
cpu.theta[...] = seen.seen[2]
expected = probe.measure(cpu)
got = health.table(history)
assert got.shape == (3, 2, 5) and np.isnan(got[:2]).all(), got
np.testing.assert_array_equal(got[2], expected)
print("ok")
"""


def test_on_cuda_the_figures_are_measured_on_the_host_theta_of_each_epoch(tmp_path):
    """In the CUDA simulator: θ is on the device during the fit, on the host at epoch ends."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    done = subprocess.run([sys.executable, "-c", CUDA_RUN], env=env, capture_output=True,
                          text=True, timeout=600, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr
