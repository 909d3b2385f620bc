"""The summary of a run stopped by Ctrl-C counts the interrupted epoch.

A run stopped 40,960 samples into its first epoch used to report "0 × 32" epochs × batch
size and "samples / second 0": the samples of an epoch that did not finish were never
added to ``History.samples``. These tests stop ``fit`` inside an epoch the way the CLI's
Ctrl-C handler does (a callback's ``stop_training``) and read the summary rows.
"""

from __future__ import annotations

import numpy as np

from nnlite import Dense, Sequential, datasets, models, optim
from nnlite.models import Callback
from nnlite.ui import tables

BATCH = 16


class StopAfter(Callback):
    """Sets ``stop_training`` after ``n`` progress reports, as the Ctrl-C handler does."""

    def __init__(self, n: int):
        self.n, self.seen = n, 0

    def on_batch_end(self, epoch, batches_done, logs):
        self.seen += 1
        if self.seen >= self.n:
            self.stop_training = True


def _run():
    ds = datasets.load("digits")
    model = Sequential([Dense(16, "relu"), Dense(10, "softmax")], n_inputs=64, seed=5)
    return ds.X, ds.y, model, dict(batch_size=BATCH, lr=0.05, seed=5)


def _rows(history, model, n):
    opt = optim.SGD(0.05).validate()
    rows = tables.training_rows(
        history, model.resume_state, epochs=3, samples=n, batch_size=BATCH, optimizer=opt,
        schedule=None, compile_s=0.0, device="cpu", validation=False,
    )  # fmt: skip
    return dict(rows)


def test_a_fit_stopped_inside_its_first_epoch_counts_its_samples_and_its_part_epoch(monkeypatch):
    monkeypatch.setattr(models, "SAMPLES_PER_CHUNK", 400)  # several stop points an epoch
    X, y, model, kwargs = _run()
    history = model.fit(X, y, epochs=3, callback=StopAfter(2), **kwargs)
    position = model.resume_state["position"]
    assert history.interrupted and model.resume_state["epochs_done"] == 0 and 0 < position < len(y)
    assert history.samples == position  # the samples trained on, not 0
    rows = _rows(history, model, len(y))
    assert rows["epochs × batch size"] == f"{position / len(y):.2f} × {BATCH}"
    assert rows["epochs × batch size"] != f"0 × {BATCH}"
    rate = float(rows["samples / second"].replace(",", ""))
    assert rate > 0 and np.isclose(rate, position / history.seconds, rtol=1e-3, atol=1)
    assert f"{position:,} samples of epoch 1" in rows["stopped (Ctrl-C)"]


def test_a_stopped_and_resumed_fit_counts_every_sample_once(monkeypatch):
    monkeypatch.setattr(models, "SAMPLES_PER_CHUNK", 400)
    X, y, whole, kwargs = _run()
    whole.fit(X, y, epochs=2, **kwargs)
    _, _, part, _ = _run()
    part.fit(X, y, epochs=2, callback=StopAfter(3), **kwargs)
    assert 0 < part.history.samples < 2 * len(y)
    part.fit(X, y, epochs=2 - part.resume_state["epochs_done"], resume=True, **kwargs)
    assert part.history.samples == whole.history.samples == 2 * len(y)
    np.testing.assert_array_equal(part.theta, whole.theta)
