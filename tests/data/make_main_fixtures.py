"""How the ``main-5cf111d-*`` model files were made: ``io.save`` of main at commit 5cf111d.

Run from a checkout of that commit: ``python tests/data/make_main_fixtures.py tests/data``.
``tests/test_io.py`` loads them with today's reader and checks every array
against ``main-5cf111d-digests.json`` and that the checkpoint still resumes bit for bit.
"""

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from nnlite import io
from nnlite.layers import Dense
from nnlite.models import Callback, Sequential


def data():
    """The two data sets, drawn in this order from one generator (the test draws them again)."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([0.5, -1.0, 2.0]) + 0.1
    Xc = rng.normal(size=(8300, 4))
    yc = rng.integers(0, 3, size=8300)
    return X, y, Xc, yc


MODEL_RUN = {"dataset": "data.csv", "val_split": 0.2, "seed": 1, "epochs": 3, "batch_size": 8,
             "lr": 0.05, "momentum": 0.0, "nesterov": False, "data_dir": None}  # fmt: skip
CHECKPOINT_RUN = {"dataset": "cls.npz", "val_split": None, "seed": 2, "epochs": 4,
                  "batch_size": 1, "lr": 0.01, "momentum": 0.9, "nesterov": True,
                  "data_dir": "/somewhere"}  # fmt: skip


class StopInEpoch2(Callback):
    """Stop after the first chunk of epoch 2 and save the checkpoint."""

    def __init__(self, out: Path) -> None:
        self.out = out

    def on_batch_end(self, epoch, done, logs):
        if epoch == 1:
            self.stop_training = True

    def on_checkpoint(self, model, interrupted):
        io.save(model, self.out / "main-5cf111d-checkpoint.npz", extra=CHECKPOINT_RUN)


def main(out: Path) -> None:
    X, y, Xc, yc = data()
    # 1. a finished float64 regression model (NaN accuracies in its history)
    m = Sequential([Dense(4, "relu"), Dense(1, "identity")], dtype=np.float64, n_inputs=3, seed=1)
    m.fit(X, y, epochs=3, batch_size=8, lr=0.05, validation_data=(X[:8], y[:8]))
    io.save(m, out / "main-5cf111d-model.npz", extra=MODEL_RUN)
    # 2. a float32 checkpoint stopped inside epoch 2 (position 8192), Nesterov momentum
    c = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], n_inputs=4, seed=2)
    fit = {"batch_size": 1, "lr": 0.01, "momentum": 0.9, "nesterov": True, "seed": 2}
    assert c.fit(Xc, yc, epochs=4, callback=StopInEpoch2(out), **fit).interrupted
    digests = {}
    for name in ("main-5cf111d-model.npz", "main-5cf111d-checkpoint.npz"):
        with np.load(out / name) as z:
            digests[name] = {k: hashlib.sha256(z[k].tobytes()).hexdigest() for k in z.files}
    text = json.dumps(digests, indent=1, sort_keys=True) + "\n"
    (out / "main-5cf111d-digests.json").write_text(text)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
