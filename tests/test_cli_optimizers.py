"""``nnlite train`` with the optimisers, schedules, penalties, dropout and early stopping.

Claims: each flag reaches the fit it names (the saved model and run record say so, and
the trained θ equals the library's fit with the same settings); a mistake in any of them
is one ``error:`` line naming the flag; a resumed run refuses other values.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_cli import clean_error, invoke, ok, summary_value

from nnlite import Dense, Dropout, Sequential, io, runs
from nnlite.optim import Optimizer
from nnlite.schedules import Schedule

FLAGS = ("train", "--dataset", "digits", "--layers", "16", "--epochs", "3", "-q", "--seed", "4")


def test_train_with_adam_a_schedule_l2_and_dropout_equals_the_library_fit(tmp_path):
    path = tmp_path / "m.npz"
    out = ok(invoke(*FLAGS, "--optimizer", "adam:beta2=0.99", "--lr-schedule",
                    "step:gamma=0.5,step_size=1", "--l2", "1e-4", "--dropout", "0.25",
                    "--save", path))  # fmt: skip
    assert summary_value(out, "optimizer") == "adam (α 0.001, β₁ 0.9, β₂ 0.99, ε 1e-08)"
    assert summary_value(out, "α schedule") == "step (γ 0.5, s 1; t in epochs)"
    assert summary_value(out, "last α") == "0.00025"  # 0.001·0.5² in the third epoch
    model = io.load(path)
    assert [type(x).__name__ for x in model.stack] == ["Dense", "Dropout", "Dense"]
    assert model.layers[0].l2 == model.layers[1].l2 == 1e-4
    run = model.extra
    assert run["optimizer"] == Optimizer("adam", beta2=0.99).validate().as_dict()
    assert run["lr_schedule"] == Schedule("step", gamma=0.5, step_size=1).as_dict()
    # the same fit through the library, from the run record's own data split
    data = runs.run_data(run)
    _, X, y, val = data[:4]
    again = Sequential([Dense(16, "relu", l2=1e-4), Dropout(0.25), Dense(10, "softmax", l2=1e-4)])
    again.build(X.shape[1], seed=4)
    again.fit(X, y, epochs=3, batch_size=32, seed=4, validation_data=val,
              optimizer=Optimizer("adam", beta2=0.99), schedule=Schedule("step", gamma=0.5,
                                                                         step_size=1))  # fmt: skip
    np.testing.assert_array_equal(model.theta, again.theta)


def test_the_default_lr_is_the_optimizers_own():
    out = ok(invoke(*FLAGS, "--optimizer", "rmsprop"))
    assert summary_value(out, "optimizer").startswith("rmsprop (α 0.01, ρ 0.99, ε 1e-08, μ 0)")
    out = ok(invoke(*FLAGS))
    assert summary_value(out, "learning rate α") == "0.1"


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (("--optimizer", "adamx"), "unknown optimizer 'adamx'"),
        (("--optimizer", "adam", "--momentum", "0.9"), "adam has no hyper-parameter --momentum"),
        (("--optimizer", "adam:beta1"), "optimizer settings are key=value"),
        (("--optimizer", "adam:beta2=1"), "beta2 must be in [0, 1)"),
        (("--lr-schedule", "cosine:T=3"), "the cosine schedule has no parameter 'T'"),
        (("--lr-schedule", "linear"), "unknown learning-rate schedule 'linear'"),
        (("--dropout", "1"), "Dropout rate must be in [0, 1)"),
        (("--layers", "none", "--dropout", "0.2"), "dropout acts after hidden layers"),
        (("--l2", "-1"), "--l2"),
        (("--early-stopping", "3", "--val-split", "0"), "early stopping watches the validation"),
    ],
)
def test_mistakes_in_the_new_flags_are_one_line(args, phrase):
    clean_error(invoke("train", "--dataset", "digits", "--epochs", "1", *args), phrase)


def test_early_stopping_stops_and_keeps_the_best_epoch(tmp_path):
    path = tmp_path / "m.npz"
    # a large α on a small net: the validation loss soon stops improving
    out = ok(invoke("train", "--dataset", "digits", "--layers", "8", "--epochs", "60", "-q",
                    "--optimizer", "adam", "--lr", "0.05", "--early-stopping", "2",
                    "--save", path))  # fmt: skip
    row = summary_value(out, "early stopping")
    stopped, best = (int(w) for w in row.replace(";", " ").split() if w.isdigit())
    model = io.load(path)
    assert len(model.history.val_loss) == stopped < 60
    assert best == int(np.argmin(model.history.val_loss)) + 1 == stopped - 2
    assert model.extra["early_stopping"] == 2


def test_a_resumed_run_refuses_another_optimizer_or_schedule(tmp_path):
    from nnlite.models import Callback

    class Stop(Callback):
        def on_epoch_end(self, epoch, logs):
            self.stop_training = True

    opt, schedule = Optimizer("adam").validate(), Schedule("cosine", period=4)
    run = runs.new_run(dataset="digits", val_split=None, seed=4, epochs=3, batch_size=32,
                       lr=opt.lr, momentum=0.0, nesterov=False, data_dir=None, optimizer=opt,
                       lr_schedule=schedule)  # fmt: skip
    data = runs.run_data(run)
    model = runs.new_model(data, run, layers="16", activation="relu", output="auto",
                           loss="auto", dtype="float32", device="cpu")  # fmt: skip
    _, X, y, val = data[:4]
    model.fit(X, y, epochs=3, batch_size=32, seed=4, validation_data=val, optimizer=opt,
              schedule=schedule, callback=Stop())  # fmt: skip
    path = tmp_path / "ck.npz"
    io.save(model, path, extra=run)
    clean_error(invoke("train", "--resume", path, "--optimizer", "sgd"),
                "the checkpoint fixes it")  # fmt: skip
    clean_error(invoke("train", "--resume", path, "--lr-schedule", "constant"),
                "the checkpoint fixes it")  # fmt: skip
    out = ok(invoke("train", "--resume", path, "-q", "--optimizer", "adam"))
    assert summary_value(out, "α schedule") == "cosine (T 4, α_min 0; t in epochs)"
