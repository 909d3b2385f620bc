"""The ``nnlite`` command line, through typer's ``CliRunner`` (plus two real subprocesses).

Claims checked: the default ``train`` learns the digits; outside a terminal it logs one
plain line per epoch; a saved model evaluates and predicts on its own held-out split;
the seed makes a run reproducible; every user mistake ends with a non-zero exit code
and one ``error:`` line (no traceback); ``--help`` works everywhere without numba.
Kept fast: small ``--epochs``, ``-q``, one module-wide default run.
"""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import typer.main
from typer.testing import CliRunner

import cli

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def invoke(*args: str):
    return runner.invoke(cli.app, [str(a) for a in args])


def plain(text: str) -> str:
    """Output without colour codes (rich may colour if it was first imported in a tty)."""
    return ANSI.sub("", text)


def ok(result) -> str:
    """Assert a command succeeded; return its stdout."""
    assert result.exit_code == 0, (result.output, result.exception)
    return plain(result.stdout)


def summary_value(output: str, key: str) -> str:
    """The value of a row of the summary table, e.g. ``validation accuracy``."""
    match = re.search(rf"^│ {re.escape(key)}\s+│\s+(.*?) │$", output, re.M)
    assert match, f"no {key!r} row in:\n{output}"
    return match.group(1)


def percent(output: str, key: str) -> float:
    return float(summary_value(output, key).rstrip("%"))


def clean_error(result, phrase: str) -> str:
    """Assert a non-zero exit with one ``error:`` line on stderr that contains ``phrase``."""
    err = plain(result.stderr)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # not a crash
    assert "Traceback" not in result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase.lower() in lines[0].lower(), lines[0]
    return lines[0]


def theta(path: Path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as npz:
        return npz["theta"]


@pytest.fixture(scope="module")
def default_run():
    """``nnlite train`` with every default (digits, 100 epochs), run once."""
    return invoke("train")


# -- train ----------------------------------------------------------------------------


def test_train_defaults_learn_the_digits(default_run):
    out = ok(default_run)
    assert "digits" in out
    assert summary_value(out, "epochs × batch size") == "100 × 32"
    assert percent(out, "validation accuracy") >= 95.0


def test_train_outside_a_terminal_prints_one_plain_line_per_epoch(default_run):
    out = ok(default_run)
    epochs = [int(m) for m in re.findall(r"^epoch (\d+)/100  loss \S+  acc ", out, re.M)]
    assert epochs == list(range(1, 101))
    assert "\r" not in default_run.stdout  # no progress-bar redraws
    assert default_run.stderr == ""


def test_train_quiet_prints_only_the_summary():
    out = ok(invoke("train", "-d", "moons", "--epochs", "3", "-q"))
    assert "epoch 1/" not in out
    assert "network" not in out  # no model table
    assert "train accuracy" in out


def test_summary_durations_use_milliseconds_under_a_second():
    """A 3-epoch run on the moons takes a few ms: "0.00 s" would say nothing."""
    from nnlite.ui.format import seconds

    assert (seconds(0.0031), seconds(1.5)) == ("3.1 ms", "1.50 s")
    out = ok(invoke("train", "-d", "moons", "--epochs", "3", "-q"))
    for key in ("training time", "kernel start-up (JIT or cache)"):
        value = summary_value(out, key)
        assert re.fullmatch(r"\d+\.\d ms|\d+\.\d\d s", value), value
        assert value.endswith(" ms") or float(value[:-2]) >= 1, value
    # nnlite compare's training caption: the digits train in a few ms on either device
    from nnlite.ui import compare as compare_view

    run = {"loss": [1.0], "accuracy": [0.5]}
    caption = compare_view.training_table({
        "cpu": {**run, "seconds": 0.0028, "warm_up_seconds": 0.012},
        "cuda": {**run, "seconds": 0.036, "warm_up_seconds": 1.25},
        "max_loss_difference": 7e-8, "network": "64-64-10", "data": "digits", "batch_size": 32,
        "lr": 0.1,
    }).caption  # fmt: skip
    assert "CPU 2.8 ms, CUDA 36.0 ms (kernel start-up 12.0 ms / 1.25 s)" in caption, caption


def test_train_xor_with_a_hidden_layer_reaches_100_percent():
    out = ok(
        invoke(
            "train",
            "--dataset",
            "xor",
            "--layers",
            "4",
            "--activation",
            "tanh",
            "--epochs",
            "2000",
            "--batch-size",
            "4",
            "--lr",
            "0.5",
            "-q",
        )  # fmt: skip
    )
    assert summary_value(out, "train accuracy") == "100.00%"
    assert "validation accuracy" not in out  # 4 samples: nothing held out


def test_train_layers_none_is_softmax_regression():
    out = ok(invoke("train", "-d", "blobs", "--layers", "none", "--epochs", "5"))
    assert "Dense(3, 'softmax')" in out and "relu" not in out


def test_save_then_evaluate_and_predict_on_the_held_out_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # short paths: the summary table cuts long ones
    model = tmp_path / "m.npz"
    out = ok(invoke("train", "--epochs", "5", "--layers", "32", "--save", "m", "-q"))
    assert summary_value(out, "saved to") == "m.npz" and model.is_file()
    val_acc = summary_value(out, "validation accuracy")

    ev = ok(invoke("evaluate", model))
    assert summary_value(ev, "accuracy") == val_acc
    held_out = int(re.search(r"20% held out \((\d+)\)", ev).group(1))
    assert 355 <= held_out <= 365  # 20% of 1,797

    preds = tmp_path / "preds.csv"
    pr = ok(invoke("predict", model, "--show", "3", "--output", preds))
    shown = re.findall(r"^│\s+(\d+) │", pr, re.M)
    assert shown == ["0", "1", "2"]
    assert f"accuracy on these {held_out} samples: {val_acc}" in pr
    with open(preds, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["class"] + [f"p{j}" for j in range(10)]
    assert len(rows) == 1 + held_out
    P = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    assert np.allclose(P.sum(axis=1), 1, atol=1e-4)  # softmax rows
    assert [int(r[0]) for r in rows[1:]] == P.argmax(axis=1).tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "preds.csv"]


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    def run(seed: int, name: str) -> np.ndarray:
        path = tmp_path / name
        ok(
            invoke(
                "train", "-d", "spirals", "-l", "16", "-e", "3", "--seed", seed, "-s", path, "-q"
            )
        )
        return theta(path)

    a, b, c = run(5, "a.npz"), run(5, "b.npz"), run(6, "c.npz")
    assert a.tobytes() == b.tobytes()
    assert a.shape == c.shape and not np.array_equal(a, c)


# -- user mistakes ---------------------------------------------------------------------


@pytest.fixture
def bad_csvs(tmp_path):
    nan = tmp_path / "nan.csv"
    nan.write_text("a,b,y\n1,2,0\nnan,3,1\n4,5,1\n")
    label = tmp_path / "label.csv"
    label.write_text("a,b,y\n1,2,0\n2,3,1\n3,4,5\n")
    return {"nan": nan, "label": label, "missing": tmp_path / "nofile.csv", "dir": tmp_path}


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["-d", "nosuch"], "valid names: and, or"),
        (["--layers", "x,y"], "e.g. 64,32"),
        (["--layers", "x"], "e.g. 64,32"),
        (["--layers", "64,"], "e.g. 64,32"),
        (["--layers", "0"], "at least one unit"),
        (["--layers", "64,-3"], "at least one unit"),
        (["-d", "{missing}"], "file not found"),
        (["-d", "{nan}"], "line 3"),
        (["-d", "{label}"], "0..k-1"),
        (["--lr", "-1"], "learning rate must be positive"),
        (["--lr", "nan"], "learning rate must be positive"),
        (["--val-split", "1.5"], "--val-split must be in [0, 1)"),
        (["--save", "{dir}/nowhere/m.npz"], "does not exist"),
        (["-d", "xor", "--loss", "cce", "--output", "sigmoid"], "one output unit per class"),
        (["-d", "moons", "--loss", "bce", "--output", "identity"], "needs probabilities"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else None,
)
def test_train_mistake_gives_one_clean_error_line(bad_csvs, args, phrase):
    args = [a.format(**bad_csvs) for a in args]
    clean_error(invoke("train", *args, "--epochs", "1", "-q"), phrase)


def test_save_into_a_missing_directory_fails_before_training(tmp_path):
    result = invoke("train", "--save", tmp_path / "nowhere" / "m.npz", "--epochs", "1")
    clean_error(result, "does not exist")
    assert "epoch 1/1" not in result.stdout  # refused before the work, not after


@pytest.mark.parametrize(
    ("args", "phrase"),
    [
        (["--activation", "swish"], "'swish' is not one of"),
        (["--epochs", "0"], "--epochs"),
        (["--batch-size", "0"], "--batch-size"),
        (["--dtype", "float16"], "float16"),
        (["--no-such-option"], "no such option"),
    ],
)
def test_train_bad_option_is_a_one_line_usage_error(args, phrase):
    """typer's own checks (choices, ranges, unknown options) also give one line, exit code 2."""
    result = invoke("train", *args)
    assert result.exit_code == 2, result.output
    line = clean_error(result, phrase)
    assert "(see 'nnlite train --help')" in line
    assert "Value error" not in line  # pydantic's prefix is dropped


def test_an_unknown_command_is_a_one_line_usage_error():
    result = invoke("trian")
    assert result.exit_code == 2, result.output
    line = clean_error(result, "No such command 'trian'.")
    assert "'train'" in line  # click's suggestion (its wording differs between releases)


def test_no_command_shows_the_help():
    result = invoke()
    assert result.exit_code == 2 and "Usage:" in plain(result.output), result.output
    assert "error:" not in plain(result.output)


def test_diverging_run_stops_and_names_epoch_batch_and_remedy():
    result = invoke("train", "--lr", "1e10", "--epochs", "20")
    line = clean_error(result, "diverged")
    assert re.search(r"epoch \d+, batch \d+", line)
    assert "smaller" in line
    assert "nan" not in plain(result.stdout).lower()


def test_evaluate_missing_model(tmp_path):
    clean_error(invoke("evaluate", tmp_path / "missing.npz"), "does not exist")


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_evaluate_and_predict_refuse_a_corrupt_model(tmp_path, damage):
    model = tmp_path / "m.npz"
    ok(invoke("train", "-d", "moons", "-e", "2", "-s", model, "-q"))
    data = model.read_bytes()
    model.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"garbage" * 40)
    for command in ("evaluate", "predict"):
        line = clean_error(invoke(command, model), str(model))
        assert "not" in line and "model" in line
        assert "allow_pickle" not in line


def test_predict_output_onto_a_directory_names_it(tmp_path):
    model = tmp_path / "m.npz"
    ok(invoke("train", "-d", "moons", "-e", "2", "-s", model, "-q"))
    (tmp_path / "out").mkdir()
    line = clean_error(invoke("predict", model, "--show", "0", "-o", tmp_path / "out"), "directory")
    assert str(tmp_path / "out") in line and ".tmp" not in line


# -- perceptron, datasets, help ----------------------------------------------------------


@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_perceptron_learns_separable_gates(gate):
    out = ok(invoke("perceptron", "--gate", gate))
    assert "converged after" in out
    assert "✗" not in out  # every row of the truth table right


def test_perceptron_says_it_cannot_learn_xor():
    out = " ".join(ok(invoke("perceptron", "--gate", "xor")).split())
    assert "did not converge" in out
    assert "XOR is not linearly separable" in out
    assert "cannot learn it" in out


def test_datasets_lists_every_built_in_name():
    from nnlite import datasets

    out = ok(invoke("datasets"))
    names = re.findall(r"^│ ([\w-]+)\s+│", out, re.M)
    assert names == list(datasets.NAMES)


def _commands() -> list[str]:
    return sorted(typer.main.get_command(cli.app).commands)


def test_every_command_has_help():
    assert {"train", "perceptron", "evaluate", "predict", "datasets"} <= set(_commands())
    top = ok(invoke("--help"))
    commands = " ".join(top.split("Commands:")[1].split())
    assert "show how it learned." in commands and "..." not in commands  # whole sentences
    for name in _commands():
        assert name in top
        out = ok(invoke(name, "--help"))
        assert "Usage:" in out and name in out
        assert "<bool>" not in out  # a flag takes no value


def test_help_imports_neither_numba_nor_typers_rich_help():
    """Fast help: no numba, and not typer's rich formatter (rich.markdown, markdown_it)."""
    code = (
        "import sys\n"
        "import cli\n"
        "before = set(sys.modules)  # some typer releases import their rich help with typer\n"
        "for argv in (['--help'], *[[c, '--help'] for c in sys.argv[1:]]):\n"
        "    try:\n"
        "        cli.app(argv, prog_name='nnlite')\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, None), (argv, e.code)\n"
        "print('NUMBA' if 'numba' in sys.modules else 'NO-NUMBA', file=sys.stderr)\n"
        "added = set(sys.modules) - before\n"
        "print(sorted({'typer.rich_utils', 'rich.markdown'} & added), file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code, *_commands()],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.strip().splitlines()[-2:] == ["NO-NUMBA", "[]"], proc.stderr


def test_real_process_error_is_one_line_on_stderr_with_exit_1():
    proc = subprocess.run(
        [sys.executable, "cli.py", "train", "--dataset", "nosuch"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.startswith("error: unknown data set 'nosuch'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_the_installed_distribution_adds_only_the_nnlite_package_and_its_command(tmp_path):
    """No top-level ``cli`` module in site-packages, where another distribution's would collide.

    Asked in a fresh process outside the checkout, so it sees what is installed, not the
    repository (its cli.py, or the egg-info a build leaves in it).
    """
    code = (
        "import importlib.metadata as md, importlib.util, json\n"
        "d = md.distribution('nnlite')\n"
        "direct = json.loads(d.read_text('direct_url.json') or '{}')\n"
        "tops = sorted({f.parts[0] for f in d.files or []})\n"
        "print(json.dumps({'editable': direct.get('dir_info', {}).get('editable', False),\n"
        "  'tops': tops, 'scripts': [[e.name, e.value] for e in d.entry_points],\n"
        "  'cli': importlib.util.find_spec('cli') is not None}))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    if found["editable"]:
        pytest.skip("an editable install lists no files; CI installs the package itself")
    tops = {t for t in found["tops"] if not t.endswith(".dist-info") and t not in ("..", "bin")}
    assert tops == {"nnlite"}, found["tops"]
    assert found["scripts"] == [["nnlite", "nnlite.cli.cli:main"]]
    assert not found["cli"]  # nothing importable as a top-level cli
