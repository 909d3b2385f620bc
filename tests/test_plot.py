"""``nnlite.ui.plot``: PNG files of training curves and confusion matrices.

Claims checked: without matplotlib both functions raise ``ConfigError`` with the one-line
install hint and touch no file; with it they write a real PNG (signature and the size in
its header: one panel per curve kind, the accuracy panel left out for regression, the
curves beside the matrix when a history is given) and accept ``History`` or its dict; a
write that fails half-way leaves an existing file byte for byte as it was and no
temporary file behind; bad paths and bad input are refused before any work.
"""

from __future__ import annotations

import importlib.util
import math
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from nnlite.errors import ConfigError
from nnlite.models import History
from nnlite.ui import plot

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OLD = b"an older image that must survive"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG's IHDR chunk, read here without matplotlib."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def history(validation: bool = True, regression: bool = False) -> History:
    loss = [1.0, 0.6, 0.4, 0.3]
    acc = [math.nan] * 4 if regression else [0.5, 0.7, 0.8, 0.85]
    h = History(loss=loss, accuracy=acc)
    if validation:
        h.val_loss = [1.1, 0.7, 0.5, 0.45]
        h.val_accuracy = [math.nan] * 4 if regression else [0.45, 0.65, 0.75, 0.8]
    return h


@pytest.fixture
def no_matplotlib(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "matplotlib" else real(name, *args),
    )


@pytest.fixture
def mpl():
    return pytest.importorskip("matplotlib")


def only(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# -- without matplotlib ----------------------------------------------------------------


def test_training_curves_without_matplotlib_names_the_extra(no_matplotlib, tmp_path):
    target = tmp_path / "curves.png"
    target.write_bytes(OLD)
    with pytest.raises(ConfigError) as info:
        plot.training_curves(history(), target)
    assert str(info.value) == (
        "plotting training curves needs matplotlib: "
        "pip install matplotlib (or, in a clone of nnlite, pip install '.[plot]')"
    )
    assert "\n" not in str(info.value)
    assert target.read_bytes() == OLD and only(tmp_path) == ["curves.png"]


def test_confusion_png_and_check_target_without_matplotlib(no_matplotlib, tmp_path):
    with pytest.raises(ConfigError, match=r"needs matplotlib: pip install matplotlib \(or, in a clone of nnlite, pip install '\.\[plot\]'\)$"):
        plot.confusion_png(np.eye(2, dtype=int), None, tmp_path / "cm.png")
    with pytest.raises(ConfigError, match=r"^--plot needs matplotlib"):
        plot.check_target(tmp_path / "cm.png", "--plot")
    assert not plot.available()
    assert only(tmp_path) == []


# -- path checks (no drawing needed) ----------------------------------------------------


def test_check_target_refuses_other_formats_and_missing_directories(tmp_path, monkeypatch):
    monkeypatch.setattr(plot, "available", lambda: True)  # the path checks come after
    assert plot.check_target(tmp_path / "a.PNG") == tmp_path / "a.PNG"
    with pytest.raises(ConfigError, match=r"ending in \.png"):
        plot.check_target(tmp_path / "a.pdf")
    with pytest.raises(ConfigError, match="does not exist"):
        plot.check_target(tmp_path / "missing" / "a.png")


# -- with matplotlib -------------------------------------------------------------------


def test_training_curves_writes_a_png_with_loss_and_accuracy_panels(mpl, tmp_path):
    target = tmp_path / "curves.png"
    assert plot.training_curves(history(), target) == target
    width, height = png_size(target)
    assert (width, height) == (1000, 400)  # two panels of 5 × 4 inches at 100 dpi
    assert only(tmp_path) == ["curves.png"]


def test_regression_history_gets_only_the_loss_panel(mpl, tmp_path):
    target = tmp_path / "loss.png"
    plot.training_curves(history(regression=True), target)
    assert png_size(target) == (500, 400)


def test_history_as_a_dict_and_without_validation(mpl, tmp_path):
    plot.training_curves(history(validation=False).as_dict(), tmp_path / "a.png")
    assert png_size(tmp_path / "a.png") == (1000, 400)


def test_empty_history_is_refused(mpl, tmp_path):
    with pytest.raises(ConfigError, match="no epochs"):
        plot.training_curves(History(), tmp_path / "a.png")
    assert only(tmp_path) == []


def test_confusion_png_alone_and_beside_the_curves(mpl, tmp_path):
    cm = np.array([[5, 1, 0], [2, 7, 1], [0, 0, 9]])
    plot.confusion_png(cm, ["cat", "dog", "emu"], tmp_path / "cm.png")
    assert png_size(tmp_path / "cm.png") == (600, 400)
    plot.confusion_png(cm, None, tmp_path / "both.png", history=history())
    assert png_size(tmp_path / "both.png") == (1600, 400)  # two curve panels + the matrix


@pytest.mark.parametrize(
    "cm, labels, phrase",
    [
        (np.ones((2, 3), int), None, "must be square"),
        (np.eye(3, dtype=int), ["a", "b"], "2 labels for a 3-class"),
    ],
)
def test_confusion_png_refuses_bad_input(mpl, tmp_path, cm, labels, phrase):
    with pytest.raises(ConfigError, match=phrase):
        plot.confusion_png(cm, labels, tmp_path / "cm.png")
    assert only(tmp_path) == []


def test_a_failed_write_leaves_the_existing_file_untouched(mpl, tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    def broken_savefig(self, handle, **kwargs):
        handle.write(PNG_SIGNATURE + b"half an image")  # bytes reach the temporary file...
        raise OSError(28, "No space left on device")  # ...then the disk fills up

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    target = tmp_path / "curves.png"
    target.write_bytes(OLD)
    for draw in (
        lambda: plot.training_curves(history(), target),
        lambda: plot.confusion_png(np.eye(2, dtype=int), None, target),
    ):
        with pytest.raises(OSError, match="No space left"):
            draw()
        assert target.read_bytes() == OLD
        assert only(tmp_path) == ["curves.png"]  # the temporary file is gone too


def test_a_successful_write_replaces_the_existing_file(mpl, tmp_path):
    target = tmp_path / "curves.png"
    target.write_bytes(OLD)
    plot.training_curves(history(), target)
    assert target.read_bytes()[:8] == PNG_SIGNATURE


def test_plot_never_imports_pyplot(mpl, tmp_path):
    # pyplot would pick a GUI backend and keep global figures; the library uses the Agg
    # canvas directly. A fresh process, so no other test's import can hide it.
    code = (
        "import sys\n"
        "from nnlite.ui import plot\n"
        "from nnlite.models import History\n"
        "plot.training_curves(History(loss=[1.0, 0.5]), sys.argv[1])\n"
        "plot.confusion_png([[1, 0], [0, 1]], None, sys.argv[1])\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
    )
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "a.png")],
        env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "a.png").read_bytes()[:8] == PNG_SIGNATURE


# -- nnlite train --plot -------------------------------------------------------------


def test_train_plot_writes_the_curves(mpl, tmp_path):
    from typer.testing import CliRunner

    import cli

    out = tmp_path / "curves.png"
    r = CliRunner().invoke(cli.app, ["train", "-e", "3", "-q", "--plot", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    assert "curves.png" in r.output  # the summary names the file (long paths wrap)


def test_train_plot_without_matplotlib_stops_before_training(no_matplotlib, tmp_path):
    from typer.testing import CliRunner

    import cli

    r = CliRunner().invoke(cli.app, ["train", "-e", "3", "--plot", str(tmp_path / "c.png")])
    assert r.exit_code == 1
    assert "pip install" in r.output and "matplotlib" in r.output
    assert "compiling kernels" not in r.output and "train loss" not in r.output
    assert only(tmp_path) == []
