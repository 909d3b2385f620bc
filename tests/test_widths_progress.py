"""The training progress at 50, 80 and 200 columns: labelled figures, one line per bar.

Unit tests render ``TrainingProgress``'s and ``FitProgress``'s bars on a forced terminal
of each width; the end-to-end test runs ``nnlite train`` inside a real pseudo-terminal
(the lead's KeyError 'lr' crash only showed there, after the first epoch).
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from nnlite.ui.fit_progress import FitProgress
from nnlite.ui.progress import TrainingProgress

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = (50, 80, 200)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")


def _bars_table(width: int, val: bool, lr_changes: bool = True) -> list[str]:
    """The bars' lines as the refresh thread draws them mid-epoch 3 of 100."""
    out = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    logs = {"loss": 0.5, "accuracy": 0.5, "lr": 0.1}
    val_logs = {"val_loss": 0.25, "val_accuracy": 0.9} if val else {}
    with TrainingProgress(out=out) as bars:
        bars.on_train_begin({"epochs": 100, "batches_per_epoch": 1875})
        for epoch, lr in ((0, 0.1), (1, 0.01234 if lr_changes else 0.1)):
            bars.on_batch_end(epoch, 1875, logs)
            bars.on_epoch_end(epoch, {**logs, **val_logs, "lr": lr})
        bars.on_batch_end(2, 1000, {"loss": 0.375, "accuracy": 0.625})
        table = bars.progress.make_tasks_table(bars.progress.tasks)
    shown = Console(file=io.StringIO(), width=width, color_system=None)
    shown.print(table)
    return shown.file.getvalue().splitlines()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_bars_label_validation_and_training_figures_on_one_line_each(width):
    epochs, batches = _bars_table(width, val=True)  # two bars: two lines, nothing wrapped
    assert max(cell_len(line) for line in (epochs, batches)) <= width
    assert epochs.startswith("epochs") and batches.startswith("epoch 3")
    assert re.search(r"val:? loss 0\.2500 +(val )?acc 90\.00%", epochs), epochs
    assert re.search(r"train:? loss 0\.3750 +(train )?acc 62\.50%", batches), batches
    assert "1000/1875" in batches and "2/100" in epochs
    if width >= 60:
        assert "α 0.01234" in epochs  # the changed α, whole
    if width >= 80:
        assert "val loss 0.2500  val acc 90.00%" in epochs  # each figure labelled
        assert "━" in batches  # the bar itself


def test_without_validation_the_epoch_bar_says_its_figures_are_training_figures():
    epochs, _ = _bars_table(80, val=False, lr_changes=False)
    assert "train loss 0.5000  train acc 50.00%" in epochs and "val" not in epochs


@pytest.mark.parametrize("width", WIDTHS)
def test_the_keras_style_bar_stays_one_line(width):
    out = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    bar = FitProgress(live=True, console=out)
    bar.on_train_begin({"epochs": 10, "batches_per_epoch": 1875})
    bar.on_epoch_begin(0)
    logs = {"loss": 0.123456, "accuracy": 0.9, "val_loss": 0.2, "val_accuracy": 0.8}
    bar.on_batch_end(0, 1000, logs)
    table = bar.progress.make_tasks_table(bar.progress.tasks)
    bar.close()
    shown = Console(file=io.StringIO(), width=width, color_system=None)
    shown.print(table)
    (line,) = shown.file.getvalue().splitlines()
    assert cell_len(line) <= width and "Epoch 1/10" in line and "1000/1875" in line
    assert "loss: 0.1235" in line


def _in_a_terminal(args: list[str], width: int, timeout: float = 120) -> tuple[int, str]:
    """Run ``cli.py args`` with a pseudo-terminal ``width`` columns wide; (exit code, output)."""
    import fcntl
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, width, 0, 0))
    env = {**os.environ, "COLUMNS": str(width), "LINES": "40", "TERM": "xterm-256color"}
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "cli.py", *args], cwd=ROOT, env=env,
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)  # fmt: skip
    os.close(slave)
    chunks, end = [], time.monotonic() + timeout
    try:
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the child closed its side
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        code = proc.wait(timeout=max(1.0, end - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", "replace")


def _screen_lines(text: str) -> list[str]:
    """What the terminal shows, line by line: escape codes removed, \\r starts a line over."""
    return [piece for line in ANSI.sub("", text).split("\n") for piece in line.split("\r")]


@pytest.mark.parametrize(("width", "data"), [(50, "digits"), (80, "moons"), (200, "digits"),
                                             (50, "moons")])  # fmt: skip
def test_train_in_a_real_terminal_ends_cleanly_and_never_writes_past_its_width(width, data):
    code, text = _in_a_terminal(["train", "-e", "2", "--dataset", data], width)
    assert code == 0, text[-3000:]
    assert "Traceback" not in text and "Error" not in text, text[-3000:]
    lines = _screen_lines(text)
    too_wide = [line for line in lines if cell_len(line) > width]
    assert not too_wide, too_wide[:3]
    assert any("validation accuracy" in line for line in lines)  # the summary was printed
    assert any("○ validation" in line for line in lines)  # and the chart with both series


@pytest.mark.parametrize("width", WIDTHS)
def test_the_download_bars_start_in_a_terminal_and_fit(width):
    """DownloadProgress passed a ``views=`` that rich's Progress does not take: a crash in
    a terminal before the first byte."""
    from nnlite.datasets.download import DownloadEvent
    from nnlite.ui.progress import DownloadProgress

    out = Console(file=io.StringIO(), force_terminal=True, width=width, color_system=None)
    mirror = "https://storage.example.org/mnist/"
    with DownloadProgress(out=out) as bars:
        for kind, done in (("start", 0), ("progress", 4_000_000), ("done", 9_912_422)):
            bars(DownloadEvent(kind=kind, file="train-images-idx3-ubyte.gz", done=done,
                               total=9_912_422, mirror=mirror))  # fmt: skip
    lines = [line for line in _screen_lines(out.file.getvalue()) if line.strip()]
    assert any("train-images" in line for line in lines)
    assert all(cell_len(line) <= width for line in lines), lines
