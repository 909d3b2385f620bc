"""``nnlite train --show``, ``--plot run.gif`` / ``run.png`` and ``predict``'s x₁ x₂ columns.

Claims checked: in a (forced) terminal the decision regions are drawn live below the bars
and the last frame, from the final epoch, stays; outside a terminal the final picture is
printed once, in characters, when ``--show`` asks (by default a log is left as it was); a
one-input regression shows its fitted curve; ``--show
neurons`` refuses hidden layers wider than 8 units, and ``--show regions`` / ``.gif`` refuse
data without a plane, each with one error line and before any training; the GIF has a
frame per recorded epoch and is written atomically; the PNG gains the regions panel on 2-D
data; ``predict`` on 2-D data shows and writes each row's x₁, x₂.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import re
import struct

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import cli
from nnlite import runs
from nnlite.ui import terminal

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HAS_MPL = importlib.util.find_spec("matplotlib") is not None
needs_mpl = pytest.mark.skipif(not HAS_MPL, reason="matplotlib (the 'plot' extra) is not installed")


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def ok(result) -> None:
    assert result.exit_code == 0, (result.output, result.exception)


def clean_error(result, phrase: str) -> str:
    err = ANSI.sub("", result.stderr)
    assert result.exit_code == 1, result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture
def screen(monkeypatch):
    """terminal.console swapped for one writing to a string: set(terminal=..., width=...)."""

    def use(terminal_: bool, width: int = 80) -> Console:
        console = Console(file=io.StringIO(), width=width, force_terminal=terminal_,
                          color_system="truecolor" if terminal_ else None)  # fmt: skip
        monkeypatch.setattr(terminal, "console", console)
        return console

    return use


def test_in_a_terminal_the_regions_are_drawn_live_and_the_last_frame_stays(screen):
    console = screen(True)
    ok(invoke("train", "-d", "moons", "-e", "12", "-l", "8"))  # the default: regions
    out = console.file.getvalue()
    plain = ANSI.sub("", out)
    assert "▀" in plain and "48;2;" in out  # half blocks, coloured
    final = plain.split("summary")[0].rsplit("epochs ", 1)[1]  # the last frame the bars drew
    assert "decision regions · epoch 12/12" in final
    assert "summary" in plain.rsplit("decision regions", 1)[1]  # the summary comes after it


def test_outside_a_terminal_the_final_picture_is_printed_once_in_characters(screen):
    console = screen(False)
    ok(invoke("train", "-d", "moons", "-e", "12", "-l", "8", "--show", "regions"))
    plain = console.file.getvalue()
    assert plain.count("decision regions") == 1 and "epoch 12/12" in plain
    assert "▀" not in plain and "A" in plain and "B" in plain and "●" in plain and "○" in plain
    for show in (["--show", "none"], []):  # outside a terminal the default is no picture
        log = screen(False)
        ok(invoke("train", "-d", "moons", "-e", "2", "-l", "8", *show))
        assert "decision regions" not in log.file.getvalue()


def test_a_one_input_regression_shows_its_fitted_curve(screen, tmp_path):
    x = np.linspace(-2, 2, 60)
    np.savetxt(tmp_path / "wave.csv", np.column_stack([x, np.sin(x) + 0.25]), delimiter=",")
    console = screen(True)
    ok(invoke("train", "-d", tmp_path / "wave.csv", "-e", "5", "-l", "8"))  # the default
    assert "the fitted curve" in ANSI.sub("", console.file.getvalue())


def test_neuron_maps_refuse_wide_layers_before_training(screen):
    console = screen(False)
    line = clean_error(
        invoke("train", "-d", "moons", "-l", "16", "--show", "neurons"), "at most 8 units"
    )
    assert "layer 1 has 16" in line
    assert "epoch" not in console.file.getvalue()  # refused before any training
    ok(invoke("train", "-d", "moons", "-e", "2", "-l", "4,3", "--show", "neurons"))
    assert "layer 2 · unit 3" in console.file.getvalue()


def test_regions_and_gifs_need_a_plane(screen, tmp_path):
    screen(False)
    clean_error(invoke("train", "-d", "digits", "--show", "regions"), "2-input classification")
    # Without matplotlib (CI's main run) --plot stops at the missing library, before the data.
    phrase = "2 inputs" if HAS_MPL else "needs matplotlib"
    clean_error(invoke("train", "-d", "digits", "--plot", tmp_path / "r.gif"), phrase)
    assert list(tmp_path.iterdir()) == []


@needs_mpl
def test_plot_gif_holds_the_regions_over_training(screen, tmp_path):
    from PIL import Image

    screen(False)
    ok(invoke("train", "-d", "moons", "-e", "6", "-l", "8", "--plot", tmp_path / "r.gif", "-q"))
    with Image.open(tmp_path / "r.gif") as gif:
        assert gif.format == "GIF" and gif.n_frames == 7  # before training, then each epoch
    assert [p.name for p in tmp_path.iterdir()] == ["r.gif"]  # no temporary file left


@needs_mpl
def test_plot_gif_is_written_atomically(screen, tmp_path, monkeypatch):
    from PIL import Image

    screen(False)
    target = tmp_path / "r.gif"
    target.write_bytes(b"the old picture")

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"GIF89a half a picture")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    result = invoke("train", "-d", "moons", "-e", "2", "-l", "8", "--plot", target, "--overwrite")
    assert result.exit_code == 1 and "No space left" in ANSI.sub("", result.stderr)
    assert target.read_bytes() == b"the old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["r.gif"]


def png_width(path) -> int:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">I", data[16:20])[0]


@needs_mpl
def test_plot_png_gains_the_regions_panel_on_2d_data(screen, tmp_path):
    screen(False)
    ok(invoke("train", "-d", "moons", "-e", "3", "-l", "8", "--plot", tmp_path / "m.png", "-q"))
    ok(invoke("train", "-d", "xor", "-e", "3", "-l", "4", "--plot", tmp_path / "x.png", "-q"))
    ok(invoke("train", "-d", "digits", "-e", "2", "-l", "8", "--plot", tmp_path / "d.png", "-q"))
    # loss + accuracy panels (1000 px) and, on the planes, the regions panel beside them
    assert png_width(tmp_path / "d.png") == 1000
    assert png_width(tmp_path / "m.png") == png_width(tmp_path / "x.png") == 1450


def test_predict_shows_and_writes_x1_x2_on_2d_data(screen, tmp_path):
    console = screen(False, width=120)
    model = tmp_path / "m.npz"
    ok(invoke("train", "-d", "moons", "-e", "3", "-l", "8", "-s", model, "-q"))
    ok(invoke("predict", model, "--show", "3", "-o", tmp_path / "p.csv"))
    _, _, X, _, _, _ = runs.eval_data(model, None, None)
    rows = re.findall(r"^│\s+(\d+) │\s+(\S+) │\s+(\S+) │", console.file.getvalue(), re.M)
    assert [int(r[0]) for r in rows] == [0, 1, 2]
    for i, x1, x2 in rows:
        assert (float(x1), float(x2)) == pytest.approx(tuple(X[int(i)]), rel=1e-2, abs=1e-3)
    with open(tmp_path / "p.csv", newline="") as f:
        table = list(csv.reader(f))
    assert table[0] == ["x1", "x2", "class", "p0"]
    got = np.array([[float(v) for v in row[:2]] for row in table[1:]])
    np.testing.assert_allclose(got, X, rtol=1e-5, atol=1e-6)
