"""The learner traps, in the Python API: ``nnlite.diagnose`` and ``Sequential.fit``'s warnings.

Claims checked: raw 0–255 pixels are recognised (uint8, or whole numbers up to 255 in
image-sized rows) and scaled data is not; ``fit`` warns about them with the words the
CLI uses; a run that ends at chance level says so with the measured cause (dead ReLUs
counted as an independent float64 forward pass counts them; vanishing gradients from
gradient norms equal to finite differences of a float64 reference); a good run says
nothing; a divergence from huge inputs blames the inputs; resuming on other data of the
same size is refused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import reference as ref
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import Dense, Sequential, datasets, diagnose
from nnlite.errors import DataError, DivergenceError, LearnerWarning
from nnlite.models import Callback


@pytest.fixture(scope="module")
def digits():
    ds = datasets.load_digits()
    return ds.X, ds.y


def _fit(X, y, layers, **kwargs):
    model = Sequential(layers)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, y, **kwargs)
    return model, history, [str(w.message) for w in caught if w.category is LearnerWarning]


# -- raw pixels ---------------------------------------------------------------------------


def test_raw_pixels_are_recognised_and_scaled_ones_are_not(digits):
    X = digits[0]
    raw = np.round(X * 255)
    assert diagnose.pixel_scale(raw.astype(np.uint8)) == 255.0
    assert diagnose.pixel_scale(raw.astype(np.float32)) == 255.0
    assert diagnose.pixel_scale(raw.reshape(-1, 8, 8)) == 255.0  # image-shaped
    assert diagnose.pixel_scale(X) is None  # the shipped digits, 0..1
    assert diagnose.pixel_scale(raw / 255) is None
    assert diagnose.pixel_scale(X * 16) is None  # counts 0..16: not "far above 1"
    assert diagnose.pixel_scale(raw[:, :10]) is None  # 10 float features: not an image
    assert diagnose.pixel_scale(raw[:, :10].astype(np.uint8)) == 255.0  # bytes are pixels
    assert diagnose.pixel_scale(raw + 0.5) is None  # not whole numbers
    assert diagnose.pixel_scale(raw - 128) is None  # negative


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 3000),
    cols=st.integers(64, 800),
    top=st.integers(32, 255),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_whole_number_image_data_up_to_255_is_raw_pixels_until_divided_by_255(
    rows, cols, top, seed
):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, top + 1, size=(rows, cols)).astype(np.float32)
    X[0, 0] = top  # the top value is present (sampled rows always include row 0)
    assert diagnose.pixel_scale(X) == 255.0
    assert diagnose.pixel_scale(X / np.float32(255)) is None


def test_fit_warns_about_raw_pixels_in_the_words_the_cli_uses(digits):
    X, y = digits
    raw = np.round(X * 255).astype(np.uint8)
    _, history, messages = _fit(raw, y, [Dense(32, "relu"), Dense(10, "softmax")], epochs=3)
    first = messages[0]
    assert first.startswith(diagnose.raw_pixels_message(raw))
    assert "X / 255" in first
    assert history.accuracy[-1] < 0.3  # the trap is real: it learns (almost) nothing
    # and the end-of-run diagnosis names the inputs as the cause
    assert any("chance level" in m and "far from unit scale" in m for m in messages[1:])
    _, good, quiet = _fit(raw / 255, y, [Dense(32, "relu"), Dense(10, "softmax")], epochs=3)
    assert quiet == [] and good.accuracy[-1] > 0.8


# -- the end of a run ----------------------------------------------------------------------


def test_a_good_run_says_nothing(digits):
    X, y = digits
    _, history, messages = _fit(X, y, [Dense(32, "relu"), Dense(10, "softmax")], epochs=5)
    assert messages == [] and history.diagnosis == []


def test_a_too_large_learning_rate_ends_at_chance_with_dead_relus_named(digits):
    X, y = digits
    model, history, messages = _fit(
        X, y, [Dense(64, "relu"), Dense(10, "softmax")], epochs=20, lr=5.0
    )
    assert messages == history.diagnosis and len(messages) == 1
    line = messages[0]
    assert "chance level" in line and "ln 10" in line
    assert "ReLUs are dead" in line and "learning rate 5 is probably too large" in line
    # The dead share, counted independently: a float64 forward pass over the same rows.
    rows = diagnose.sample_rows(X)
    params = ref.unpack(model.theta, [64, 64, 10])
    hidden = ref.activation(ref.f64(rows) @ ref.f64(params[0][0]) + params[0][1], "relu")
    share = float(np.mean(np.all(hidden <= 0, axis=0)))
    assert f"{share:.0%} of layer 1's ReLUs" in line
    assert dict(diagnose.dead_relus(model, X, model.targets(y)))[1] == pytest.approx(share)


def test_a_deep_sigmoid_network_at_chance_names_vanishing_gradients(digits):
    X, y = digits
    layers = [Dense(16, "sigmoid") for _ in range(20)] + [Dense(10, "softmax")]
    model, history, messages = _fit(X, y, layers, epochs=3)
    assert len(messages) == 1 and "chance level" in messages[0]
    assert "vanishing gradients: 20 sigmoid hidden layers" in messages[0]


def test_gradient_norms_equal_finite_differences_of_a_float64_reference():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(7, 3))
    y = rng.integers(0, 2, size=7)
    model = Sequential(
        [Dense(4, "sigmoid"), Dense(3, "tanh"), Dense(2, "softmax")],
        dtype=np.float64,
        n_inputs=3,
        seed=2,
    )
    Y = model.targets(y)
    dims, acts = [3, 4, 3, 2], ["sigmoid", "tanh", "softmax"]
    numeric = ref.central_fprime(model.theta, ref.network_loss, X, Y, dims, acts, "cce")
    expected = [float(np.linalg.norm(W)) for W, _ in ref.unpack(numeric, dims)]
    got = diagnose.gradient_norms(model, X, Y)
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_regression_targets_are_never_called_chance_level():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(50, 2))
    y = rng.normal(size=(50, 1))
    _, history, messages = _fit(X, y, [Dense(4, "tanh"), Dense(1, "identity")], epochs=1)
    assert messages == []


def test_divergence_from_huge_inputs_blames_the_inputs_not_the_learning_rate(digits):
    X, y = digits
    model = Sequential([Dense(16, "relu"), Dense(10, "softmax")])
    with pytest.raises(DivergenceError) as info:
        model.fit(X * np.float32(1e30), y, epochs=2)
    assert "the inputs are huge (largest |x| = 1e+30)" in str(info.value)
    assert "learning rate" not in str(info.value).split("Likely cause:")[1].split(";")[0]
    model = Sequential([Dense(16, "relu"), Dense(10, "softmax")])
    with pytest.raises(DivergenceError, match="learning rate 1e\\+10 is probably too large"):
        model.fit(X, y, epochs=20, lr=1e10)


# -- resuming -------------------------------------------------------------------------------


class _StopAfterFirstEpoch(Callback):
    def on_epoch_end(self, epoch, logs):
        self.stop_training = True


def test_resume_refuses_other_data_of_the_same_size(digits):
    X, y = digits
    model = Sequential([Dense(8, "relu"), Dense(10, "softmax")])
    model.fit(X, y, epochs=3, callback=_StopAfterFirstEpoch())
    assert len(model.resume_state["data_sha256"]) == 64
    other = X.copy()
    other[5, 3] += 0.25
    with pytest.raises(DataError, match="digests differ"):
        model.fit(other, y, epochs=2, resume=True)
    model.fit(X, y, epochs=2, resume=True)  # the same data: continues
    assert len(model.history.loss) == 3


def test_a_healthy_last_batch_spares_the_dead_relu_forward_pass(digits, monkeypatch):
    """A dead unit is 0 on every row, so a batch where most units fire proves none is reported."""
    X, y = digits
    model, _, _ = _fit(X, y, [Dense(32, "relu"), Dense(10, "softmax")], epochs=2)
    Y = model.targets(y)
    calls = []
    real = type(model).layer_outputs
    monkeypatch.setattr(type(model), "layer_outputs", lambda m, *a: calls.append(1) or real(m, *a))
    recent = model.layer_outputs(X[:64], Y[:64])
    calls.clear()
    assert diagnose.dead_relus(model, X, Y, recent) == [] and calls == []
    silent = [np.zeros_like(a) for a in recent]  # a batch on which every unit was 0
    assert diagnose.dead_relus(model, X, Y, silent) == diagnose.dead_relus(model, X, Y)
    assert calls == [1, 1]


def test_a_loss_that_ends_above_its_start_is_named_overshoot_in_the_api_as_in_the_cli():
    """Full-batch gradient descent on least squares past 2/L: each step overshoots the bottom."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3))
    y = X @ np.array([[1.0], [-2.0], [0.5]])
    model, history, messages = _fit(X, y, [Dense(1, "identity")], epochs=3, batch_size=64,
                                    lr=1.1)  # fmt: skip
    assert history.loss[-1] > history.start_loss
    assert messages == history.diagnosis == [
        f"the loss rose from {history.start_loss:.4g} before training to "
        f"{history.loss[-1]:.4g}: the learning rate 1.1 is probably too large (overshoot); "
        "try a smaller one"
    ]
    _, calm, quiet = _fit(X, y, [Dense(1, "identity")], epochs=3, batch_size=64, lr=0.5)
    assert quiet == [] and calm.loss[-1] < calm.start_loss
