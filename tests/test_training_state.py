"""Momentum, checkpoints, Ctrl-C and resume: ``Sequential.fit`` and ``nnlite train``.

Momentum is checked through the real ``fit`` path against a float64 recurrence
written PyTorch's way (``reference.momentum_step``) with gradients from the
float64 reference. Resuming is checked bit for bit: a fit stopped half-way,
saved, loaded and resumed must end on exactly the θ (and history) of the same
fit run without a stop.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import reference as ref
from fresh_process import assert_prints_ok
from typer.testing import CliRunner

import cli
from nnlite import Dense, Sequential, io, models
from nnlite.errors import ConfigError, DataError, ModelFileError
from nnlite.models import Callback

ROOT = Path(__file__).resolve().parents[1]


def _linear_problem(n=12, i=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, i))
    y = X @ rng.normal(size=(i, 1)) + 0.1 * rng.normal(size=(n, 1))
    return X, y


@pytest.mark.parametrize("nesterov", [False, True])
def test_fit_with_momentum_follows_the_float64_recurrence(nesterov):
    """Full-batch steps of a linear model: θ after 4 epochs equals PyTorch's recurrence."""
    X, y = _linear_problem()
    model = Sequential([Dense(1, "identity")], loss="mse", dtype=np.float64, n_inputs=3, seed=1)
    W, b = model.layers[0].W.copy(), model.layers[0].b.copy()
    lr, mu = 0.05, 0.9
    model.fit(X, y, epochs=4, batch_size=len(X), lr=lr, momentum=mu, nesterov=nesterov,
              shuffle=False)  # fmt: skip
    VW, Vb = np.zeros_like(W), np.zeros_like(b)
    for _ in range(4):
        P = X @ W + b
        dP = ref.loss_grad(P, y, "mse", 0.0)  # ∂L/∂P of the mean squared error
        dW, db = X.T @ dP, dP.sum(axis=0)
        W, VW = ref.momentum_step(W, dW, VW, lr, mu, nesterov)
        b, Vb = ref.momentum_step(b, db, Vb, lr, mu, nesterov)
    np.testing.assert_allclose(model.layers[0].W, W, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(model.layers[0].b, b, rtol=1e-12, atol=1e-14)


def test_momentum_reaches_a_lower_loss_than_plain_sgd_on_an_ill_conditioned_problem():
    """The reason momentum exists: along a shallow valley plain steps crawl."""
    X, y = _linear_problem(n=40, i=4, seed=3)
    X[:, 0] *= 10.0  # curvatures differ by ~100: a long narrow valley
    results = {}
    for mu in (0.0, 0.9):
        m = Sequential([Dense(1, "identity")], loss="mse", dtype=np.float64, n_inputs=4, seed=0)
        h = m.fit(X, y, epochs=60, batch_size=40, lr=0.004, momentum=mu, shuffle=False)
        results[mu] = h.loss[-1]
    assert results[0.9] < 0.5 * results[0.0], results


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"momentum": 1.0}, "momentum must be in"),
        ({"momentum": -0.1}, "momentum must be in"),
        ({"momentum": float("nan")}, "momentum must be in"),
        ({"nesterov": True}, "Nesterov momentum needs"),
        ({"checkpoint_every": -1}, "checkpoint_every"),
        ({"resume": True}, "nothing to resume"),
    ],
)
def test_bad_optimiser_settings_are_refused(kwargs, message):
    X, y = _linear_problem()
    model = Sequential([Dense(1, "identity")], loss="mse", n_inputs=3)
    with pytest.raises(ConfigError, match=message):
        model.fit(X, y, epochs=1, **kwargs)


class StopAfter(Callback):
    """Asks fit to stop after ``n`` progress reports (chunks); counts checkpoints."""

    def __init__(self, n: int | None):
        self.n, self.seen, self.checkpoints = n, 0, []

    def on_batch_end(self, epoch, batches_done, logs):
        self.seen += 1
        if self.n is not None and self.seen >= self.n:
            self.stop_training = True

    def on_checkpoint(self, model, interrupted):
        self.checkpoints.append((len(model.history.loss), interrupted))


def _digits_run(momentum=0.9, nesterov=True):
    from nnlite import datasets

    ds = datasets.load("digits")
    model = Sequential([Dense(16, "relu"), Dense(10, "softmax")], n_inputs=64, seed=5)
    kwargs = dict(batch_size=16, lr=0.05, momentum=momentum, nesterov=nesterov, seed=5,
                  validation_data=(ds.X[:200], ds.y[:200]))  # fmt: skip
    return ds.X, ds.y, model, kwargs


@pytest.mark.parametrize("stop_after", [3, 5, 8])  # mid-epoch, mid-epoch, an epoch's end
def test_a_stopped_saved_and_resumed_fit_ends_bit_identical(monkeypatch, tmp_path, stop_after):
    # Small chunks: several progress reports (stop points) per epoch of 1,797 samples.
    monkeypatch.setattr(models, "SAMPLES_PER_CHUNK", 400)
    X, y, whole, kwargs = _digits_run()
    whole.fit(X, y, epochs=3, **kwargs)

    _, _, part, _ = _digits_run()
    stopper = StopAfter(stop_after)
    history = part.fit(X, y, epochs=3, callback=stopper, **kwargs)
    assert history.interrupted and part.resume_state is not None
    assert stopper.checkpoints == [(len(history.loss), True)]
    path = io.save(part, tmp_path / "ckpt.npz", extra={"note": "test"})

    resumed = io.load(path)
    state = resumed.resume_state
    assert state["epochs_done"] == len(resumed.history.loss)
    done = state["epochs_done"]
    resumed.fit(X, y, epochs=3 - done, resume=True, **kwargs)
    np.testing.assert_array_equal(resumed.theta, whole.theta)
    assert resumed.history.loss == whole.history.loss
    assert resumed.history.val_accuracy == whole.history.val_accuracy
    assert resumed.resume_state is None and not resumed.history.interrupted


def test_checkpoint_every_n_epochs_is_resumable_and_reports_each_checkpoint(monkeypatch):
    X, y, whole, kwargs = _digits_run(momentum=0.5, nesterov=False)
    whole.fit(X, y, epochs=4, **kwargs)
    _, _, part, _ = _digits_run(momentum=0.5, nesterov=False)
    seen = StopAfter(None)
    part.fit(X, y, epochs=2, checkpoint_every=1, callback=seen, **kwargs)
    assert seen.checkpoints == [(1, False), (2, False)]
    assert part.resume_state is None  # a finished fit leaves nothing to resume
    # The checkpoint after epoch 2, captured as the callback saw it:
    _, _, again, _ = _digits_run(momentum=0.5, nesterov=False)
    states = []
    cb = StopAfter(None)
    cb.on_checkpoint = lambda model, interrupted: states.append(dict(model.resume_state))
    again.fit(X, y, epochs=2, checkpoint_every=2, callback=cb, **kwargs)
    again.resume_state = states[-1]
    again.fit(X, y, epochs=2, resume=True, **kwargs)
    np.testing.assert_array_equal(again.theta, whole.theta)


def test_resume_refuses_other_data_or_settings(monkeypatch):
    monkeypatch.setattr(models, "SAMPLES_PER_CHUNK", 400)
    X, y, model, kwargs = _digits_run()
    model.fit(X, y, epochs=2, callback=StopAfter(2), **kwargs)
    with pytest.raises(DataError, match="1,797 samples, this data has 1,000"):
        model.fit(X[:1000], y[:1000], epochs=1, resume=True, **kwargs)
    with pytest.raises(ConfigError, match="lr = 0.05, not 0.1"):
        model.fit(X, y, epochs=1, resume=True, **{**kwargs, "lr": 0.1})
    with pytest.raises(ConfigError, match="batch_size = 16, not 32"):
        model.fit(X, y, epochs=1, resume=True, **{**kwargs, "batch_size": 32})


def test_a_damaged_checkpoint_is_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(models, "SAMPLES_PER_CHUNK", 400)
    X, y, model, kwargs = _digits_run()
    model.fit(X, y, epochs=2, callback=StopAfter(2), **kwargs)
    model.resume_state["order"] = model.resume_state["order"][:-1]
    path = io.save(model, tmp_path / "bad.npz")
    with pytest.raises(ModelFileError, match="damaged checkpoint"):
        io.load(path)


def test_a_momentum_run_compiles_one_training_loop_after_warm_up():
    """warm_up(SGD with momentum) compiles the loop fit runs; validation reuses it (fresh process)."""
    code = """
import numpy as np
from nnlite import Dense, Sequential, losses
from nnlite.kernels import codes, cpu
from nnlite.optim import SGD
rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
model = Sequential([Dense(5, "tanh"), Dense(1, "sigmoid")], n_inputs=3)
model.warm_up(SGD(0.1, momentum=0.9))
model.fit(X, y, epochs=2, momentum=0.9, validation_data=(X, y))
code = (losses.code(model.loss), int(model._acts[-1]))
assert cpu._for_config(*code, codes.MOMENTUM, False, False, False).signatures
assert not cpu._for_config(*code, codes.SGD, False, False, False).signatures, "a second training loop was compiled"
print("ok")
"""
    assert_prints_ok(code)


# ------------------------------------------------------------------- the CLI


def test_cli_momentum_and_checkpoint_errors(tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli.app, ["train", "-e", "1", "--momentum", "1.5"])
    assert r.exit_code == 1 and "momentum must be in [0, 1)" in r.output
    r = runner.invoke(cli.app, ["train", "-e", "1", "--nesterov"])
    assert r.exit_code == 1 and "Nesterov momentum needs" in r.output
    r = runner.invoke(cli.app, ["train", "-e", "1", "--checkpoint-every", "1"])
    assert r.exit_code == 1 and "--checkpoint-every needs --save" in r.output
    finished = tmp_path / "done.npz"
    r = runner.invoke(cli.app, ["train", "-e", "1", "-q", "-s", str(finished)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["train", "--resume", str(finished)])
    assert r.exit_code == 1 and "finished model, not an interrupted run" in r.output
    r = runner.invoke(cli.app, ["train", "--resume", str(tmp_path / "missing.npz")])
    assert r.exit_code == 1 and "does not exist" in r.output


def test_ctrl_c_saves_a_checkpoint_and_resume_matches_an_uninterrupted_run(tmp_path):
    """A real SIGINT to ``nnlite train``: exit 130, a checkpoint, then --resume to the end."""
    args = ["-d", "digits", "-e", "40", "-b", "8", "--momentum", "0.9", "--seed", "3"]
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    whole = tmp_path / "whole.npz"
    r = subprocess.run([sys.executable, "cli.py", "train", *args, "-q", "-s", str(whole)],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr

    ckpt = tmp_path / "ckpt.npz"
    proc = subprocess.Popen(
        [sys.executable, "cli.py", "train", *args, "-s", str(ckpt)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    for line in proc.stdout:  # one line per epoch outside a terminal
        if line.startswith("epoch 3/"):
            proc.send_signal(signal.SIGINT)
            break
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 130, err
    assert "stopped (Ctrl-C)" in out and "nnlite train --resume" in out
    state = io.load(ckpt).resume_state
    assert state is not None and 3 <= state["epochs_done"] < 40

    r = subprocess.run([sys.executable, "cli.py", "train", "--resume", str(ckpt), "-q"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr
    final = io.load(ckpt)
    assert final.resume_state is None
    np.testing.assert_array_equal(final.theta, io.load(whole).theta)
    assert final.history.loss == io.load(whole).history.loss
