"""The layer-health view (``nnlite.ui.health``) and ``nnlite train --stats``.

Claims checked: sparklines map values to ▁…█ (NaN skipped, long histories averaged); the
table fits 50, 80 and 200 columns in and out of a terminal with no line wider than the
width, every layer and its dead/saturated share still there (the narrower, the fewer
sparklines and columns); NO_COLOR keeps an alarming share's meaning in a "!"; the view is
drawn live below the bars in a terminal; ``--stats`` prints the final table once outside a
terminal, and ``--help`` names it.
"""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import cli
from nnlite import Dense, Sequential, datasets, health
from nnlite.errors import LearnerWarning
from nnlite.models import Callback
from nnlite.ui.health import HealthTable, HealthView, sparkline
from nnlite.ui.progress import TrainingProgress

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_sparklines_map_the_range_to_eight_bars_skip_nan_and_average_long_histories():
    assert sparkline(np.arange(8.0), 8) == "▁▂▃▄▅▆▇█"
    assert sparkline([1.0, np.nan, 2.0], 8) == "▁█"
    # means 1.5, 5.5, 9.5, 13.5: ⌊8·(0, ⅓, ⅔, 1)⌋ = 0, 2, 5, 8 → bars 1, 3, 6, 8
    assert sparkline(np.arange(16.0), 4) == "▁▃▆█"
    assert sparkline([1e-4, 1e-3, 1e-2], 3, log=True) == "▁▅█"
    assert (
        sparkline([3.0, 3.0], 4) == "▁▁"
        and sparkline([np.nan], 4) == ""
        and sparkline([1.0], 0) == ""
    )


@pytest.fixture(scope="module")
def trained():
    """A run with a dead ReLU layer (lr 5), a tanh layer and a softmax output."""
    ds = datasets.load_digits()
    model = Sequential([Dense(64, "relu"), Dense(16, "tanh"), Dense(10, "softmax")], n_inputs=64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LearnerWarning)
        model.fit(ds.X, ds.y, epochs=12, lr=5.0)
    return model


def _render(renderable, width, terminal, **kwargs):
    out = Console(
        file=io.StringIO(), width=width, force_terminal=terminal, color_system=None, **kwargs
    )
    out.print(renderable)
    return ANSI.sub("", out.file.getvalue())


@pytest.mark.parametrize("terminal", [True, False])
@pytest.mark.parametrize("width", [50, 80, 200])
def test_the_table_fits_each_width_and_keeps_every_layer_and_its_share(trained, width, terminal):
    shown = _render(HealthTable(health.table(trained.history), trained.layers), width, terminal)
    lines = shown.splitlines()
    assert max(cell_len(line) for line in lines) <= width
    dead = health.table(trained.history)[-1, 0, health.DEAD]
    assert dead >= 0.5  # the run built to kill its ReLUs did
    for label in ("1 relu 64", "2 tanh 16", "3 softmax 10"):
        assert sum(line.startswith(label) for line in lines) == 1
    assert f"{dead:.0%} dead!" in shown and "sat" in shown and "‖∂L/∂W‖" in shown
    sparks = sum(ch in "▁▂▃▄▅▆▇█" for ch in shown)
    if width == 200:
        measured = (~np.isnan(health.table(trained.history)).all(axis=(1, 2))).sum()
        # 3 layers × 4 figures, softmax's share aside, one bar per measured epoch
        assert "‖W‖" in shown and sparks == (3 * 4 - 1) * measured
    if width == 50:
        assert sparks == 0  # dropped before anything wraps


def test_no_color_keeps_the_alarm_in_characters(trained, monkeypatch):
    table = HealthTable(health.table(trained.history), trained.layers)
    colour = Console(file=io.StringIO(), width=80, force_terminal=True, color_system="truecolor")
    colour.print(table)
    assert "\x1b[" in colour.file.getvalue()  # red in colour…
    monkeypatch.setenv("NO_COLOR", "1")
    plain = Console(file=io.StringIO(), width=80, force_terminal=True)
    plain.print(table)
    text = plain.file.getvalue()
    assert "\x1b[31" not in text and "dead!" in text and "! at least 50%" in text


def test_a_record_with_no_measured_epoch_says_so():
    layers = [Dense(3, "relu")]
    empty = np.full((2, 1, len(health.FIGURES)), np.nan)
    assert "no epoch measured yet" in _render(HealthTable(empty, layers), 50, False)


def test_the_view_is_drawn_live_below_the_bars_in_a_terminal():
    ds = datasets.load_digits()
    model = Sequential([Dense(8, "relu"), Dense(10, "softmax")], n_inputs=64)
    out = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    view = HealthView()
    with TrainingProgress(out=out, views=[view]) as bars:
        model.fit(ds.X, ds.y, epochs=2, callback=bars, callbacks=[view])
    last = ANSI.sub("", out.file.getvalue()).rsplit("epochs", 1)[1]
    assert "layer health at epoch 2" in last and "1 relu 8" in last
    assert view.table() is view.__rich__()


def test_train_stats_prints_the_final_table_once_outside_a_terminal():
    args = ["train", "-d", "xor", "--layers", "4", "-a", "tanh", "-e", "20", "-q"]
    plain = CliRunner().invoke(cli.app, args)
    shown = CliRunner().invoke(cli.app, [*args, "--stats"])
    assert plain.exit_code == shown.exit_code == 0
    assert "layer health" not in plain.output
    assert shown.output.count("layer health at epoch 20") == 1
    assert shown.output.index("layer health") > shown.output.index("samples / second")
    assert "1 tanh 4" in shown.output and "2 sigmoid 1" in shown.output


def test_help_names_stats():
    out = CliRunner().invoke(cli.app, ["train", "--help"], env={"COLUMNS": "200"}).output
    assert "--stats" in out and "health" in out


def test_the_view_keeps_every_measured_epoch_and_shows_a_continued_runs_record(monkeypatch):
    ds = datasets.load_digits()
    model = Sequential([Dense(8, "tanh"), Dense(10, "softmax")], n_inputs=64)
    monkeypatch.setattr(HealthView, "REDRAW_S", 0.0)
    monkeypatch.setattr(health, "EVERY_ROWS", 2 * len(ds.X) - 1)  # every 2nd epoch
    view = HealthView()
    history = model.fit(ds.X, ds.y, epochs=40, callbacks=[view])  # 20 measured: it grows
    table = health.table(history)
    measured = table[~np.isnan(table).all(axis=(1, 2))]
    assert len(measured) == 20 and np.array_equal(view.table().table, measured, equal_nan=True)
    again = HealthView()
    seen = []

    class Peek(Callback):
        def on_train_begin(self, info):
            seen.append(again.table())

    model.fit(ds.X, ds.y, epochs=2, callbacks=[again, Peek()])
    assert seen[0].epoch == 40 and np.array_equal(seen[0].table, measured, equal_nan=True)
    assert again.table().epoch == 42 and len(again.table().table) == 21
