"""The rooms of nnlite: the library names parameters, the CLI names flags; the core never renders.

- Library errors about a parameter spell it as the Python API does (``'val_split' must be…``,
  ``lr=0.5``, ``data_dir=DIR``) and list it in ``params``; the CLI's one handler spells it as
  the command's flag (``--val-split``, ``--lr 0.5``, ``--data-dir DIR``), the flags read from
  the commands' typer options.
- The core (``nnlite/`` outside ``nnlite/ui/``) imports neither rich, typer nor the UI
  package, never prints, and only ``config.py`` reads environment variables.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import cli
from nnlite import Dense, Sequential, io, runs
from nnlite.errors import ConfigError, DataError, spell_params
from nnlite.models import Callback

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _error_line(args: list[str]) -> str:
    result = runner.invoke(cli.app, [str(a) for a in args])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


# -- spell_params: the text rule ---------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(st.text(), st.integers(), st.floats(allow_nan=False), st.booleans()))
def test_spell_params_gives_the_value_as_it_was_typed(value):
    message = f"batch_size={value!r}: the checkpoint fixes it; leave 'batch_size' out"
    expected = f"--batch-size {value}: the checkpoint fixes it; leave --batch-size out"
    assert spell_params(message, ("batch_size",), _flag) == expected


def test_spell_params_leaves_other_words_and_other_parameters_alone():
    text = "sample, samples, sample_size, --sample, x.sample, 'samples', resample; loss='mse'"
    assert spell_params(text, ("sample",), _flag) == text
    assert spell_params("'lr' must be > 0", ("lr",), lambda name: None) == "'lr' must be > 0"
    assert spell_params("epochs=1: already done 1 epochs", ("epochs",), _flag) == (
        "--epochs 1: already done 1 epochs"
    )
    assert spell_params("use output='softmax' with loss='cce'", ("output", "loss"), _flag) == (
        "use --output softmax with --loss cce"
    )


def test_the_cli_reads_each_commands_flags_from_its_typer_options():
    trace = cli._flags(cli.trace)
    assert trace["sample"] == "--sample" and trace["batch_size"] == "--batch-size"
    assert trace["output_format"] == "--format"  # the declared flag, not the parameter name
    predict = cli._flags(cli.predict)
    assert predict["model_path"] == "MODEL" and predict["images"] == "--images"
    assert cli._flags(cli.train)["val_split"] == "--val-split"  # no declared flag: typer's
    assert cli._flags(cli.gradcheck)["n_outputs"] == "--outputs"  # gradient_check's name for it
    assert "n_outputs" not in cli._flags(cli.train)


# -- one mistake, told in the library's words and in the CLI's ----------------------------------


def test_val_split_is_a_parameter_in_python_and_a_flag_on_the_command_line():
    with pytest.raises(ConfigError, match=r"^'val_split' must be in \[0, 1\), got 1\.5$") as info:
        runs.load_split("moons", None, 1.5, 0)
    assert info.value.params == ("val_split",)
    line = _error_line(["train", "-d", "moons", "--val-split", "1.5"])
    assert line == "error: --val-split must be in [0, 1), got 1.5"


def test_a_layer_spec_without_units_points_to_none_in_each_spelling():
    with pytest.raises(ConfigError, match=r"\(layers='none' for no hidden layer\)$"):
        runs.hidden_layers("16,0")
    line = _error_line(["gradcheck", "--layers", "16,0"])
    assert line.endswith("(--layers none for no hidden layer)"), line


def test_resume_refuses_a_setting_by_its_parameter_name_and_the_cli_by_its_flag(tmp_path):
    """A checkpoint as `nnlite train --save` writes it at Ctrl-C (stopped after epoch 1)."""
    checkpoint = tmp_path / "ckpt.npz"
    ds, X, y, val, _, _ = runs.load_split("xor", None, None, 0)

    class Stop(Callback):
        def on_epoch_end(self, epoch, logs):
            self.stop_training = True

    net = Sequential([Dense(3, "relu"), Dense(1, "sigmoid")]).build(X.shape[1], seed=0)
    net.fit(X, y, epochs=3, lr=0.1, batch_size=4, seed=0, callback=Stop())
    run = runs.new_run(dataset="xor", val_split=None, seed=0, epochs=3, batch_size=4, lr=0.1,
                       momentum=0.0, nesterov=False, data_dir=None)  # fmt: skip
    io.save(net, checkpoint, extra=run)
    with pytest.raises(ConfigError) as info:
        runs.resume(checkpoint, {"lr": 0.5, "layers": "3"})
    assert str(info.value) == (
        "lr=0.5: the checkpoint fixes it (0.1); leave 'lr' out to resume, or start a new run"
    )
    with pytest.raises(ConfigError, match=r"^dataset='Moons ': the checkpoint fixes it \(xor\)"):
        runs.resume(checkpoint, {"dataset": "Moons "})
    line = _error_line(["train", "--resume", checkpoint, "-d", "Moons "])
    assert line == (
        "error: --dataset Moons : the checkpoint fixes it (xor); leave --dataset out to resume, "
        "or start a new run"
    )
    with pytest.raises(ConfigError, match=r"^epochs=1: the run has already done 1 epochs$"):
        runs.resume(checkpoint, {}, epochs=1)
    assert _error_line(["train", "--resume", checkpoint, "-e", "1"]) == (
        "error: --epochs 1: the run has already done 1 epochs"
    )


def test_missing_mnist_files_say_data_dir_in_python_and_data_dir_flag_on_the_command_line(
    tmp_path, monkeypatch
):
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    from nnlite import datasets

    with pytest.raises(DataError, match=r"with data_dir=DIR or NNLITE_DATA=DIR$"):
        datasets.load_mnist(tmp_path)
    line = _error_line(["train", "-d", "mnist", "--data-dir", tmp_path, "-q"])
    assert line.endswith("with --data-dir DIR or NNLITE_DATA=DIR"), line


# -- the core: no rendering, no printing, no environment ---------------------------------------

CORE = sorted(
    p for p in (ROOT / "nnlite").rglob("*.py") if (ROOT / "nnlite" / "ui") not in p.parents
)


def _imports(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


# The one door from the core to the UI: ``fit(verbose=1|2)`` asks for a progress display
# (Keras's habit), and only then loads it, inside ``fit``.
# nnlite.keras is a front end whose Keras API prints (summary(), verbose): its door is the
# same, inside the functions that show something.
UI_DOORS = {
    "nnlite/models.py": {"nnlite.ui.fit_progress", "nnlite.ui.fit_progress.progress_callback"},
    "nnlite/keras/models.py": {"nnlite.ui.fit_progress", "nnlite.ui.model_summary"},
    "nnlite/display.py": {"nnlite.ui.notebook", "nnlite.ui.notebook.view"},  # when shown
}


@pytest.mark.parametrize("path", CORE, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_core_imports_no_ui_and_never_prints(path):
    tree = ast.parse(path.read_text(), str(path))
    banned = re.compile(r"^(rich|typer|click|nnlite\.ui|cli)(\.|$)")
    door = UI_DOORS.get(str(path.relative_to(ROOT)), set())
    assert not {name for name in _imports(tree) if banned.match(name)} - door
    assert "nnlite.ui" not in {n for n in _imports(tree) if n.startswith("nnlite.")}
    top_level = {n for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))
                 for n in _imports(node)}  # the door is never opened at import  # fmt: skip
    assert not top_level & door
    prints = [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name) and n.func.id == "print"]  # fmt: skip
    assert not prints, f"print() at lines {prints}"


def _reads_environment(tree: ast.AST) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb"):
            if not isinstance(node.ctx, ast.Store):
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            if {a.name for a in node.names} & {"environ", "getenv", "environb"}:
                lines.append(node.lineno)
    return lines


_ENV_CASES = [
    p
    for p in CORE + sorted((ROOT / "nnlite" / "ui").rglob("*.py"))
    if p != ROOT / "nnlite" / "config.py"
]


@pytest.mark.parametrize("path", _ENV_CASES, ids=lambda p: str(p.relative_to(ROOT)))
def test_only_config_reads_environment_variables(path):
    lines = _reads_environment(ast.parse(path.read_text(), str(path)))
    assert not lines, f"{path.name} reads the environment at lines {lines} (use nnlite.config)"
