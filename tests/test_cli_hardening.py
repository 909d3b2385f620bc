"""The command line never loses work and names the learner traps.

Claims checked, each through the real commands (``CliRunner``): every output target
(``--save``, ``--plot``, ``predict --output``) is checked before any training, so a
typo costs nothing; an existing file is replaced only with ``--overwrite``; a second
run saving to the same path is refused at its start; a write that fails at the end
names the path and where the model is safe instead; a device node or FIFO is written
in place, never replaced; ``--resume`` refuses options the checkpoint fixes and data
that changed; the learner traps give their message (raw pixels scaled, chance level
with dead ReLUs, huge inputs, vanishing gradients); choices are case-insensitive;
out-of-range numbers are one line, never a traceback.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import cli
from nnlite import Dense, Sequential, datasets, files, io, models, runs
from nnlite.models import Callback

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def one_line_error(result, phrase: str, code: int = 1) -> str:
    err = ANSI.sub("", result.stderr)
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase in lines[0], lines[0]
    return lines[0]


def warnings_of(result) -> list[str]:
    err = ANSI.sub("", result.stderr)
    return [line for line in err.splitlines() if line.startswith("warning: ")]


@pytest.fixture
def no_training(monkeypatch):
    """Make any training fail loudly: a refusal must come before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the work started before the output target was checked")

    for work in ("fit", "predict", "evaluate"):
        monkeypatch.setattr(models.Sequential, work, refuse)


# -- outputs are checked before the work --------------------------------------------------


@pytest.mark.parametrize(
    "target,phrase",
    [
        ("missing/m.npz", "directory 'missing' does not exist"),
        (".", "is not a file name"),
        ("/", "is not a file name"),
        ("subdir", "is a directory"),
        ("taken.npz", "already exists; add --overwrite"),
    ],
)
def test_a_bad_save_target_is_refused_before_training(tmp_path, monkeypatch, no_training, target, phrase):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "subdir").mkdir()
    (tmp_path / "taken.npz").write_bytes(b"an earlier model")
    line = one_line_error(invoke("train", "--save", target, "-q"), phrase)
    assert line.startswith("error: --save")
    assert (tmp_path / "taken.npz").read_bytes() == b"an earlier model"


def test_an_output_target_is_refused_before_predicting(tmp_path, no_training):
    model = tmp_path / "m.npz"
    io.save(Sequential([Dense(10, "softmax")], n_inputs=64), model, extra={"dataset": "digits"})
    (tmp_path / "preds.csv").write_text("mine\n")
    one_line_error(invoke("predict", model, "--output", tmp_path / "preds.csv"), "already exists")
    assert (tmp_path / "preds.csv").read_text() == "mine\n"
    one_line_error(invoke("predict", model, "--output", tmp_path / "no" / "p.csv"), "does not exist")


def test_plot_targets_are_refused_before_the_work(tmp_path, no_training):
    pytest.importorskip("matplotlib", reason="--plot needs the plot extra (CI installs it last)")
    (tmp_path / "curves.png").write_bytes(b"old")
    one_line_error(invoke("train", "--plot", tmp_path / "curves.png", "-q"), "already exists")
    one_line_error(invoke("train", "--plot", tmp_path / "no" / "c.png"), "does not exist")
    model = tmp_path / "m.npz"
    io.save(Sequential([Dense(10, "softmax")], n_inputs=64), model, extra={"dataset": "digits"})
    one_line_error(invoke("evaluate", model, "--plot", tmp_path / "curves.png"), "already exists")
    assert (tmp_path / "curves.png").read_bytes() == b"old"


def test_overwrite_replaces_an_existing_model(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"an earlier model")
    result = invoke("train", "-e", "2", "-q", "--save", target, "--overwrite")
    assert result.exit_code == 0, result.output
    assert io.load(target).history.loss  # a model now, not the old bytes


def test_a_second_run_saving_to_the_same_path_is_refused_at_its_start(tmp_path, no_training):
    target = tmp_path / "m.npz"
    with files.claim(target):  # what a running `nnlite train --save m.npz` holds
        one_line_error(invoke("train", "--save", target, "-q"), "being written by another nnlite run")
    assert not target.exists()


def test_a_failed_save_at_the_end_names_the_path_and_where_the_model_is_safe(tmp_path, disk_full):
    target = disk_full(tmp_path / "m.npz")
    line = one_line_error(invoke("train", "-e", "2", "-q", "--save", target), "No space left")
    rescued = re.search(r"safe in '([^']+)'", line).group(1)
    assert str(target) in line and Path(rescued).parent == tmp_path
    assert io.load(rescued).history.loss and not target.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a device node needs root")
def test_predict_output_to_a_device_node_writes_it_in_place(tmp_path):
    model = tmp_path / "m.npz"
    io.save(Sequential([Dense(10, "softmax")], n_inputs=64), model, extra={"dataset": "digits"})
    node = tmp_path / "null"  # a private /dev/null, so the real one is never at risk
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    result = invoke("predict", model, "--output", node)
    assert result.exit_code == 0, result.output
    assert stat.S_ISCHR(node.stat().st_mode)
    assert sorted(tmp_path.iterdir()) == sorted([model, node])  # nothing else written


def test_predict_output_to_a_fifo_streams_the_predictions(tmp_path):
    model = tmp_path / "m.npz"
    io.save(Sequential([Dense(10, "softmax")], n_inputs=64), model, extra={"dataset": "digits"})
    fifo = tmp_path / "preds.csv"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    time.sleep(0.2)
    result = invoke("predict", model, "--output", fifo)
    reader.join(20)
    assert result.exit_code == 0, result.output
    assert got and got[0].startswith("class,p0,") and got[0].count("\n") == 360
    assert stat.S_ISFIFO(fifo.stat().st_mode)


# -- resuming -------------------------------------------------------------------------------


class _Stop(Callback):
    def on_epoch_end(self, epoch, logs):
        self.stop_training = True


def _checkpoint(tmp_path: Path, dataset: str) -> Path:
    """A checkpoint as `nnlite train --save` writes at Ctrl-C (stopped after epoch 1)."""
    ds, X, y, val, _, _ = runs.load_split(dataset, None, None, 0)
    model = Sequential([Dense(16, "relu"), Dense(ds.n_classes, "softmax")])
    model.build(X.shape[1], seed=0)
    model.fit(X, y, epochs=4, lr=0.1, batch_size=32, seed=0, validation_data=val, callback=_Stop())
    run = {"dataset": dataset, "val_split": None, "seed": 0, "epochs": 4, "batch_size": 32,
           "lr": 0.1, "momentum": 0.0, "nesterov": False, "data_dir": None}  # fmt: skip
    return io.save(model, tmp_path / "ckpt.npz", extra=run)


@pytest.mark.parametrize(
    "option,value,fixed",
    [
        ("--lr", "0.5", "(0.1)"),
        ("--layers", "32", "(16)"),
        ("--activation", "tanh", "(relu)"),
        ("--batch-size", "8", "(32)"),
        ("--seed", "3", "(0)"),
        ("--momentum", "0.9", "(0.0)"),
        ("--dtype", "float64", "(float32)"),
    ],
)
def test_resume_refuses_an_option_the_checkpoint_fixes(tmp_path, option, value, fixed):
    ckpt = _checkpoint(tmp_path, "digits")
    before = ckpt.read_bytes()
    line = one_line_error(invoke("train", "--resume", ckpt, option, value), "the checkpoint fixes it")
    assert line.startswith(f"error: {option} {value}:") and fixed in line
    assert ckpt.read_bytes() == before


def test_resume_accepts_options_equal_to_the_checkpoints(tmp_path):
    ckpt = _checkpoint(tmp_path, "digits")
    result = invoke("train", "--resume", ckpt, "--lr", "0.1", "--layers", "16", "-d", "Digits", "-q")
    assert result.exit_code == 0, result.output
    assert io.load(ckpt).resume_state is None and len(io.load(ckpt).history.loss) == 4


def test_resume_refuses_data_that_changed_but_kept_its_shape(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ds = datasets.make_blobs(120, centers=3, seed=1)
    rows = np.column_stack([ds.X, ds.y])
    np.savetxt("blobs.csv", rows, delimiter=",", fmt="%.6g")
    ckpt = _checkpoint(tmp_path, "blobs.csv")
    rows[7, 0] += 1.0  # one value edited; same size
    np.savetxt("blobs.csv", rows, delimiter=",", fmt="%.6g")
    one_line_error(invoke("train", "--resume", ckpt, "-q"), "training data differ")


# -- learner traps --------------------------------------------------------------------------


def test_raw_pixel_npz_is_scaled_and_said_so(tmp_path):
    ds = datasets.load_digits()
    images = np.round(ds.X * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.savez(tmp_path / "pixels.npz", X=images, y=ds.y)
    result = invoke("train", "-d", tmp_path / "pixels.npz", "-e", "15", "-q")
    assert result.exit_code == 0, result.output
    (note,) = [w for w in warnings_of(result) if "raw pixel" in w]
    assert "looks like raw pixel values 0..255" in note and "scaled to 0..1 (÷ 255)" in note
    accuracy = float(re.search(r"validation accuracy\s+│\s+([\d.]+)%", result.stdout).group(1))
    assert accuracy > 85  # unscaled, the same run ends at chance (test_diagnose)


def test_a_far_too_large_learning_rate_says_the_run_ended_at_chance_and_why():
    result = invoke("train", "--lr", "5", "-e", "20", "-q")
    assert result.exit_code == 0, result.output
    (line,) = [w for w in warnings_of(result) if "chance level" in w]
    assert "ln 10" in line and "ReLUs are dead" in line and "learning rate 5" in line


def test_a_deep_sigmoid_network_at_chance_says_vanishing_gradients():
    result = invoke("train", "--layers", ",".join(["16"] * 20), "-a", "Sigmoid", "-e", "3", "-q")
    assert result.exit_code == 0, result.output
    assert any("vanishing gradients" in w for w in warnings_of(result))


def test_huge_inputs_diverge_with_the_inputs_named(tmp_path):
    ds = datasets.load_digits()
    np.savetxt(tmp_path / "huge.csv", np.column_stack([ds.X * 1e30, ds.y]), delimiter=",")
    line = one_line_error(invoke("train", "-d", tmp_path / "huge.csv", "-e", "3"), "diverged")
    assert "the inputs are huge" in line


@pytest.mark.parametrize(
    "args",
    [
        ["train", "--activation", "ReLU", "--output", "SoftMax", "--loss", "CCE", "--dtype",
         "Float32", "--device", "CPU", "-e", "1", "-q"],
        ["perceptron", "--gate", "XOR"],
        ["trace", "--activation", "TANH", "--format", "JSON", "--model", "MLP"],
        ["gradcheck", "--activation", "RELU", "--output", "Sigmoid", "--outputs", "1"],
    ],
)  # fmt: skip
def test_choices_are_case_insensitive(args):
    result = invoke(*args)
    assert result.exit_code in (0, 1), result.output  # perceptron xor: 0; never a usage error
    assert "Invalid value" not in result.output


def test_data_download_takes_the_name_in_any_case(tmp_path):
    result = invoke("data", "download", "MNIST", "--data-dir", tmp_path, "--mirror",
                    "http://127.0.0.1:9/", "-q")  # fmt: skip
    one_line_error(result, "download failed")  # the name was accepted; the mirror is not there


@pytest.mark.parametrize(
    "args,phrase,code",
    [
        (["train", "--seed", "-1"], "'--seed'", 2),
        (["train", "--layers", "99999999999"], "a layer has at most 16,777,216 units", 1),
        (["train", "--layers", "100000,100000"], "nnlite builds networks of up to", 1),
        (["gradcheck", "--samples", "1e11"], "'--samples'", 2),
        (["gradcheck", "--samples", "100000000000"], "at most 10,000", 1),
        (["trace", "--seed", "-1"], "'--seed'", 2),
    ],
)
def test_numbers_out_of_range_are_one_line_never_a_traceback(args, phrase, code):
    one_line_error(invoke(*args), phrase, code)


def test_no_install_hint_names_the_unrelated_registry_package():
    """The registry name nnlite with an extra would fetch an unrelated PyPI project (and torch)."""
    pattern = re.compile(r"""pip install +['"]?nnlite\[""")
    sources = [ROOT / "cli.py", *sorted((ROOT / "nnlite").rglob("*.py")), ROOT / "README.md"]
    hits = [f"{p.name}:{i}" for p in sources for i, line in enumerate(p.read_text().splitlines(), 1)
            if pattern.search(line)]  # fmt: skip
    assert hits == []


def test_a_keras_mnist_style_npz_trains_on_its_own_test_split(tmp_path):
    ds = datasets.load_digits()
    images = np.round(ds.X * 255).astype(np.uint8).reshape(-1, 8, 8)
    np.savez(tmp_path / "keras.npz", x_train=images[:1500], y_train=ds.y[:1500],
             x_test=images[1500:], y_test=ds.y[1500:])  # fmt: skip
    result = invoke("train", "-d", tmp_path / "keras.npz", "-e", "10")
    assert result.exit_code == 0, result.output
    assert "published test set (297)" in " ".join(result.stdout.split())
    assert any("scaled to 0..1" in w for w in warnings_of(result))


def test_one_hot_label_rows_are_classes_in_the_cli_as_in_the_api(tmp_path):
    ds = datasets.load_digits()
    np.savez(tmp_path / "onehot.npz", X=ds.X, y=np.eye(10)[ds.y])
    result = invoke("train", "-d", tmp_path / "onehot.npz", "-e", "10", "-q")
    assert result.exit_code == 0, result.output
    accuracy = re.search(r"validation accuracy\s+│\s+([\d.]+)%", result.stdout)
    assert accuracy and float(accuracy.group(1)) > 85  # classes: an accuracy, softmax + cce
    assert "(loss: cce)" in invoke("train", "-d", tmp_path / "onehot.npz", "-e", "1").stdout


def test_a_reader_that_stops_early_is_not_an_error_line(tmp_path):
    """`nnlite predict … --output /dev/stdout | head -30`: no 'Broken pipe' line, no traceback.

    30 lines: the reader goes away while the predictions (not rich's table, whose own
    broken-pipe handling would end the command first) are being written.
    """
    model = tmp_path / "m.npz"
    io.save(Sequential([Dense(3, "softmax")], n_inputs=2), model, extra={"dataset": "x"})
    blobs = datasets.make_blobs(20_000, centers=3, seed=0)  # ~1 MB of predictions: > a pipe
    np.savetxt(tmp_path / "b.csv", np.column_stack([blobs.X, blobs.y]), delimiter=",")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    script = (f"'{sys.executable}' cli.py predict '{model}' -d '{tmp_path / 'b.csv'}' "
              "--output /dev/stdout | head -30")  # fmt: skip
    done = subprocess.run(["bash", "-c", script], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.stdout.count("\n") == 30 and "class,p0" in done.stdout
    assert "error" not in done.stderr.lower() and "Traceback" not in done.stderr, done.stderr
