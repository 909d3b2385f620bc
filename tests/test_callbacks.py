"""Tests of nnlite.callbacks (early stopping, checkpoints) and nnlite.ui.fit_progress.

EarlyStopping is checked against Keras's rule written out here from Keras 3's source
(``keras/src/callbacks/early_stopping.py``), over hand-picked and hypothesis-drawn
sequences of the monitored figure, then inside real fits (the restored θ is the best
epoch's, the fit stops where the rule says). ModelCheckpoint files are read back with
``nnlite.io.load``. The progress view is rendered to a string console.
"""

from __future__ import annotations

import io as stdio
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from nnlite import Dense, Sequential, datasets
from nnlite import io as nnio
from nnlite.callbacks import CallbackList, EarlyStopping, LambdaCallback, ModelCheckpoint
from nnlite.errors import ConfigError
from nnlite.optim import Optimizer
from nnlite.ui.fit_progress import epoch_line, figures, progress_callback

# ------------------------------------------------------------------ Keras's rule, by hand


def keras_rule(values, patience, min_delta, mode, baseline, start_from_epoch):
    """(stopped_epoch, best, best_epoch) as Keras 3's EarlyStopping computes them."""
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    delta = -abs(min_delta) if mode == "min" else abs(min_delta)
    best, best_epoch, wait, stopped = (math.inf if mode == "min" else -math.inf), 0, 0, 0
    weights_seen = False
    for epoch, current in enumerate(values):
        if epoch < start_from_epoch:
            continue
        if not weights_seen:
            weights_seen, best_epoch = True, epoch
        wait += 1
        if better(current - delta, best):
            best, best_epoch = current, epoch
            if baseline is None or better(current - delta, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch, best, best_epoch
    return stopped, best, best_epoch


class FakeModel:
    """What EarlyStopping uses of a model: θ, set_parameters, stop_training."""

    def __init__(self) -> None:
        self.theta = np.zeros(3)
        self.stop_training = False

    def set_parameters(self, theta):
        self.theta[...] = theta


def drive(cb, values, key="val_loss"):
    """Feed ``values`` epoch by epoch as a fit would; θ of epoch e is [e, e, e]."""
    model = FakeModel()
    cb.set_model(model)
    cb.on_train_begin({"epochs": len(values), "batches_per_epoch": 1, "first_epoch": 0})
    for epoch, value in enumerate(values):
        model.theta[...] = epoch
        cb.on_epoch_end(epoch, {"loss": 1.0, key: value})
        if model.stop_training:
            break
    cb.on_train_end({})
    return model, epoch


@pytest.mark.parametrize(
    "values, kwargs, stopped, best_epoch",
    [
        # patience 2: epoch 1 is best, 2 and 3 do not improve → stop after epoch 3
        ([1.0, 0.9, 0.95, 0.97, 0.8], {"patience": 2}, 3, 1),
        # patience 0: the first epoch without improvement stops (epoch 2)
        ([1.0, 0.9, 0.95, 0.5], {"patience": 0}, 2, 1),
        # min_delta 0.1: 0.95 is not 0.1 below 1.0 → no improvement, stop after epoch 1
        ([1.0, 0.95, 0.92], {"patience": 1, "min_delta": 0.1}, 1, 0),
        # never stops after the first epoch of the fit, even with patience 0 and no
        # improvement there (inf does not improve on inf)
        ([1.0, 2.0, 3.0], {"patience": 0}, 1, 0),
        ([math.inf, 1.0, 2.0], {"patience": 0}, 2, 1),
        # nothing watched before start_from_epoch 2
        ([1.0, 2.0, 3.0, 4.0, 5.0], {"patience": 1, "start_from_epoch": 2}, 3, 2),
        # baseline 0.5: improvements above it do not restart the count (without: stop at 3)
        ([1.0, 0.9, 0.95, 0.97], {"patience": 2, "baseline": 0.5}, 2, 1),
    ],
)
def test_early_stopping_stops_where_keras_stops(values, kwargs, stopped, best_epoch):
    cb = EarlyStopping(monitor="val_loss", restore_best_weights=True, **kwargs)
    model, last = drive(cb, values)
    assert (cb.stopped_epoch, cb.best_epoch) == (stopped, best_epoch)
    assert last == (stopped if stopped else len(values) - 1)
    assert np.all(model.theta == best_epoch)  # θ of the best epoch put back at the end


def test_early_stopping_on_accuracy_waits_for_a_rise():
    cb = EarlyStopping(monitor="val_accuracy", patience=1)
    assert cb.mode == "max"
    drive(cb, [0.5, 0.6, 0.55, 0.7], key="val_accuracy")
    assert (cb.stopped_epoch, cb.best_epoch, cb.best) == (2, 1, 0.6)


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(st.floats(0, 10, allow_nan=False), min_size=1, max_size=12),
    patience=st.integers(0, 4),
    min_delta=st.sampled_from([0.0, 0.05, -0.5]),
    mode=st.sampled_from(["min", "max"]),
    baseline=st.one_of(st.none(), st.floats(0, 10)),
    start=st.integers(0, 3),
)
def test_early_stopping_agrees_with_keras_rule(values, patience, min_delta, mode, baseline, start):
    cb = EarlyStopping("val_loss", patience, min_delta, mode, True, baseline, start)
    model, _ = drive(cb, values)
    stopped, best, best_epoch = keras_rule(values, patience, min_delta, mode, baseline, start)
    assert cb.stopped_epoch == stopped
    assert cb.best == best
    if start < len(values):
        assert cb.best_epoch == best_epoch and np.all(model.theta == best_epoch)
    else:  # never watched: nothing to restore
        assert cb.best_weights is None and np.all(model.theta == len(values) - 1)


def test_early_stopping_refuses_bad_settings_in_one_line():
    for kwargs, word in [
        ({"patience": -1}, "patience"),
        ({"mode": "up"}, "mode"),
        ({"monitor": "lr"}, "mode='min'"),
        ({"min_delta": math.nan}, "min_delta"),
        ({"start_from_epoch": 1.5}, "start_from_epoch"),
    ]:
        with pytest.raises(ConfigError, match=word) as info:
            EarlyStopping(**kwargs)
        assert "\n" not in str(info.value)


# ------------------------------------------------------------------ inside real fits


@pytest.fixture(scope="module")
def digits():
    d = datasets.load("digits")
    return d.X, d.y


def small_fit(digits, callbacks, epochs=30, **kwargs):
    """A fit that overfits 60 digits within a few epochs (val_loss turns up at epoch 5)."""
    X, y = digits
    model = Sequential([Dense(32, "relu"), Dense(10, "softmax")])
    thetas = []
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: thetas.append(model.theta.copy()))
    kwargs.setdefault("validation_data", (X[1000:1400], y[1000:1400]))
    model.fit(
        X[:60], y[:60], epochs=epochs, batch_size=10, optimizer=Optimizer("adam", lr=0.05),
        callbacks=[keep, *callbacks], seed=1, **kwargs,
    )  # fmt: skip
    return model, thetas


@pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")
def test_a_fit_stops_early_and_ends_with_the_best_epochs_weights(digits):
    es = EarlyStopping(monitor="val_loss", patience=1, restore_best_weights=True)
    model, thetas = small_fit(digits, [es])
    val = model.history.val_loss
    stopped, best, best_epoch = keras_rule(val, 1, 0.0, "min", None, 0)
    assert stopped > 0 and len(val) == stopped + 1  # it stopped, where the rule says
    assert (es.stopped_epoch, es.best_epoch, es.best) == (stopped, best_epoch, best)
    assert best_epoch < stopped and not np.array_equal(thetas[-1], thetas[best_epoch])
    np.testing.assert_array_equal(model.theta, thetas[best_epoch])
    assert not model.history.interrupted and model.resume_state is None  # a normal end
    loss, _ = model.evaluate(*[a[1000:1400] for a in digits])
    assert loss == pytest.approx(val[best_epoch], rel=1e-5)


@pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")
def test_without_restore_the_last_epochs_weights_stay(digits):
    es = EarlyStopping(monitor="val_loss", patience=1)
    model, thetas = small_fit(digits, [es])
    assert es.stopped_epoch > 0
    np.testing.assert_array_equal(model.theta, thetas[-1])


def test_monitoring_validation_without_validation_data_names_the_fix(digits):
    with pytest.raises(ConfigError) as info:
        small_fit(digits, [EarlyStopping(monitor="val_loss")], validation_data=None)
    message = str(info.value)
    assert "validation_split=" in message and "validation_data=" in message
    assert "\n" not in message
    # told at the start when the fit says it has none (nnlite.keras does)
    cb = EarlyStopping()
    with pytest.raises(ConfigError, match="no validation data"):
        cb.on_train_begin({"epochs": 1, "batches_per_epoch": 1, "validation": False})
    with pytest.raises(ConfigError, match="'val_acc'; the fit reports 'loss'"):
        drive(EarlyStopping(monitor="val_acc"), [1.0])


@pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")
def test_model_checkpoint_writes_the_improving_epochs_models(digits, tmp_path):
    es = EarlyStopping(monitor="val_loss", patience=1)
    ckpt = ModelCheckpoint(tmp_path / "m-{epoch:02d}-{val_loss:.3f}", save_best_only=True)
    model, thetas = small_fit(digits, [es, ckpt])
    val = model.history.val_loss
    improving = [e for e in range(len(val)) if val[e] == min(val[: e + 1])]
    assert len(ckpt.saved) == len(improving) < len(val)
    for path, epoch in zip(ckpt.saved, improving):
        assert path.name == f"m-{epoch + 1:02d}-{val[epoch]:.3f}.npz"
        loaded = nnio.load(path)
        np.testing.assert_array_equal(loaded.theta, thetas[epoch])
        assert loaded.resume_state is None
    every = ModelCheckpoint(tmp_path / "all.npz")
    model, thetas = small_fit(digits, [every], epochs=2)
    assert every.saved == [tmp_path / "all.npz"] * 2
    np.testing.assert_array_equal(nnio.load(tmp_path / "all.npz").theta, thetas[-1])


@pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")
def test_a_checkpoint_after_an_interrupted_fit_is_a_model_not_its_stale_resume_state(
    digits, tmp_path
):
    X, y = digits
    model = Sequential([Dense(10, "softmax")])
    interrupt = LambdaCallback(
        on_epoch_end=lambda epoch, logs: setattr(interrupt, "stop_training", True)
    )
    model.fit(X[:100], y[:100], epochs=3, callbacks=[interrupt], seed=0)
    assert model.history.interrupted and model.resume_state["epochs_done"] == 1
    ckpt = ModelCheckpoint(tmp_path / "after-{epoch}.npz")
    model.fit(X[:100], y[:100], epochs=2, callbacks=[ckpt], seed=0)
    for path in ckpt.saved:  # a resume state from epoch 1 would not fit: io would refuse it
        loaded = nnio.load(path)
        assert loaded.resume_state is None and len(loaded.history.loss) > 1


def test_model_checkpoint_refuses_a_name_with_a_figure_the_fit_lacks(tmp_path):
    with pytest.raises(ConfigError, match="'val_los'"):
        ModelCheckpoint(tmp_path / "m-{val_los:.2f}")
    ckpt = ModelCheckpoint(tmp_path / "m-{val_loss:.2f}")
    ckpt.set_model(FakeModel())
    with pytest.raises(ConfigError, match="val_loss"):
        ckpt.on_epoch_end(0, {"loss": 1.0})


def test_callback_list_passes_every_event_and_any_stop():
    heard = []
    calls = {
        name: (lambda *args, name=name: heard.append((name, args[0] if args else None)))
        for name in ("on_train_begin", "on_epoch_begin", "on_batch_end", "on_epoch_end",
                     "on_train_end")
    }  # fmt: skip
    a, b = LambdaCallback(**calls), LambdaCallback(on_epoch_end=calls["on_epoch_end"])
    both = CallbackList([a, b])
    model = FakeModel()
    both.set_model(model)
    assert a.model is model and b.model is model
    both.on_train_begin({})
    both.on_epoch_begin(0)
    both.on_batch_end(0, 1, {})
    both.on_epoch_end(0, {})
    both.on_train_end({})
    assert [h[0] for h in heard] == ["on_train_begin", "on_epoch_begin", "on_batch_end",
                                     "on_epoch_end", "on_epoch_end", "on_train_end"]  # fmt: skip
    assert not both.stop_training
    b.stop_training = True
    assert both.stop_training
    with pytest.raises(ConfigError):
        CallbackList([object()])
    with pytest.raises(ConfigError, match="callable"):
        LambdaCallback(on_epoch_end=3)


# ------------------------------------------------------------------ fit(verbose=...)


def render(verbose, terminal, **fit):
    """The text fit(verbose=...) leaves on a console, and the fit's history."""
    buffer = stdio.StringIO()
    console = Console(file=buffer, force_terminal=terminal, width=200, color_system=None)
    X, y = datasets.load("digits").X[:200], datasets.load("digits").y[:200]
    model = Sequential([Dense(10, "softmax")])
    progress = progress_callback(verbose, console=console)
    model.fit(X, y, epochs=3, batch_size=50, lr=0.5, callbacks=[progress], seed=0, **fit)
    return buffer.getvalue(), model.history


@pytest.mark.parametrize("verbose, terminal", [(1, False), (2, False), (2, True)])
def test_verbose_leaves_one_plain_line_per_epoch(verbose, terminal):
    text, history = render(verbose, terminal, validation_split=0.25)
    lines = text.splitlines()
    assert len(lines) == 3 and "\x1b" not in text and "\r" not in text
    for epoch, line in enumerate(lines):
        assert line.startswith(f"Epoch {epoch + 1}/3 - 3/3 - ")
        assert f"loss: {history.loss[epoch]:.4f}" in line
        assert f"accuracy: {history.accuracy[epoch]:.4f}" in line
        assert f"val_loss: {history.val_loss[epoch]:.4f}" in line
        assert "lr:" not in line  # a constant rate is not shown


def test_verbose_1_in_a_terminal_draws_a_bar_then_the_epochs_line():
    text, history = render(1, True)
    assert "━" in text and "0/4" in text  # the live bar was drawn
    for epoch in range(3):
        assert f"Epoch {epoch + 1}/3 - 4/4 - " in text
        assert f"loss: {history.loss[epoch]:.4f}" in text


def test_the_rate_is_shown_when_a_schedule_changes_it():
    text, history = render(2, False, schedule="exponential")
    lines = text.splitlines()
    assert "lr:" not in lines[0] and f"lr: {history.lr[1]:.4g}" in lines[1]
    line = epoch_line(1, 5, 10, 0.5, {"loss": 0.5, "lr": 0.01}, with_lr=True)
    assert line == "Epoch 1/5 - 10/10 - 500.0 ms - loss: 0.5000 - lr: 0.01"
    assert figures({"val_acc": 0.5, "acc": 0.25, "loss": 1.0}, False) == (
        "loss: 1.0000 - acc: 0.2500 - val_acc: 0.5000"
    )


def test_verbose_0_shows_nothing_and_bad_values_are_refused():
    text, _ = render(0, True)
    assert text == ""
    for bad in (3, -1, "yes", 1.0):
        with pytest.raises(ConfigError, match="verbose"):
            progress_callback(bad)
