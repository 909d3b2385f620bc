"""``fit(verbose=1)`` in a notebook: ``NotebookProgress``, one display per epoch.

A fake ``display`` records what a notebook would get (IPython's ``display(obj,
display_id=True)`` and the handle's ``update(obj)``), so these tests run without
IPython; the module clock (``fit_progress._clock``) is set by hand to check the throttle.
The real kernel is ``test_notebook_kernel.py``.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from fresh_process import assert_prints_ok
from rich.console import Console

import nnlite
from nnlite import keras
from nnlite.keras import layers
from nnlite.ui import fit_progress, terminal
from nnlite.ui.fit_progress import FitProgress, NotebookProgress, epoch_line, progress_callback

pytestmark = pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")

DONE = '<div class="nnlite-view nnlite-progress" data-kind="progress" data-done="1">'
LIVE = '<div class="nnlite-view nnlite-progress" data-kind="progress">'


class Handle:
    def __init__(self, shown: FakeDisplay, number: int) -> None:
        self.shown, self.number = shown, number

    def update(self, obj) -> None:
        self.shown.calls.append(("update", self.number, obj))
        self.shown.last[self.number] = obj


class FakeDisplay:
    """IPython's ``display`` as a list of calls: ("display" | "update", display number, obj)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, object]] = []
        self.last: list[object] = []  # what each display shows now

    def __call__(self, obj, display_id=None):
        assert display_id is True  # an updatable display, every time
        self.calls.append(("display", len(self.last), obj))
        self.last.append(obj)
        return Handle(self, len(self.last) - 1)

    def kinds(self) -> list[str]:
        return [kind for kind, _, _ in self.calls]


@pytest.fixture
def clock(monkeypatch):
    """The module clock, moved by hand: ``clock.now`` seconds."""

    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    c = Clock()
    monkeypatch.setattr(fit_progress, "_clock", c)
    return c


def _epoch(bar, clock, epoch, batches, step, logs):
    """One epoch reported batch by batch, ``step`` seconds a batch."""
    bar.on_epoch_begin(epoch)
    for done in range(1, batches + 1):
        clock.now += step
        bar.on_batch_end(epoch, done, logs)
    bar.on_epoch_end(epoch, {**logs, "lr": 0.1})


def test_each_epoch_makes_one_display_that_ends_as_the_epoch_line(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    logs = {"loss": 0.5, "accuracy": 0.75}
    bar.on_train_begin({"epochs": 3, "batches_per_epoch": 10})
    for epoch in range(3):
        _epoch(bar, clock, epoch, 10, 0.125, logs)  # 1.25 s an epoch
    bar.on_train_end(logs)
    bar.close()
    assert shown.kinds().count("display") == 3  # one per epoch, at its first batch
    firsts = [number for kind, number, _ in shown.calls if kind == "display"]
    assert firsts == [0, 1, 2]
    for epoch, obj in enumerate(shown.last):
        line = epoch_line(epoch + 1, 3, 10, 1.25, {**logs, "lr": 0.1}, False)
        assert repr(obj) == line  # text/plain: the epoch's line exactly
        assert obj._repr_html_() == f"{DONE}<pre>{line}</pre></div>"
    # an epoch's display is made after the one before has become its line
    order = [(kind, number) for kind, number, _ in shown.calls]
    assert order.index(("display", 1)) > max(i for i, c in enumerate(order) if c[1] == 0)


def test_updates_are_throttled_to_four_a_second_and_the_last_batch_always_shows(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    bar.on_train_begin({"epochs": 1, "batches_per_epoch": 100})
    bar.on_epoch_begin(0)
    for done in range(1, 101):  # 100 batches, 0.01 s each: 1 s in all
        clock.now += 0.01
        bar.on_batch_end(0, done, {"loss": 1.0 / done})
    updates = [obj for kind, _, obj in shown.calls if kind == "update"]
    assert shown.kinds()[0] == "display" and len(shown.calls) <= 1 + 4 + 1
    assert len(updates) >= 4  # not just the first and the last
    last = updates[-1]._repr_html_()
    assert LIVE in last and '<progress value="100" max="100">' in last and "100/100" in last
    assert "loss: 0.0100" in last and "Epoch 1/1" in last
    assert repr(updates[-1]).startswith("Epoch 1/1 - 100/100 - ")
    bar.on_epoch_end(0, {"loss": 0.01})
    assert shown.kinds()[-1] == "update" and DONE in shown.last[0]._repr_html_()


def test_a_fast_epoch_shows_no_update_between_its_first_and_last_batch(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    bar.on_train_begin({"epochs": 1, "batches_per_epoch": 50})
    _epoch(bar, clock, 0, 50, 0.001, {"loss": 0.5})  # 50 ms: nothing in between
    assert shown.kinds() == ["display", "update", "update"]  # first, last batch, the line


def test_the_live_display_holds_head_bar_count_times_and_figures(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    bar.on_train_begin({"epochs": 5, "batches_per_epoch": 8, "schedule": "cosine"})
    bar.on_epoch_begin(2)
    clock.now += 2.0
    bar.on_batch_end(2, 2, {"loss": 0.25, "accuracy": 0.5, "lr": 0.01, "val_x": 1.0})
    (obj,) = shown.last
    page = obj._repr_html_()
    assert page.startswith(LIVE) and page.endswith("</div>") and "data-done" not in page
    assert "<b>Epoch 3/5</b>" in page and '<progress value="2" max="8"></progress>' in page
    assert "2/8" in page and "2.00 s (left 6.00 s)" in page  # 2 of 8 in 2 s: 6 s left
    assert "loss: 0.2500 - accuracy: 0.5000" in page and "lr: 0.01" in page
    assert repr(obj) == ("Epoch 3/5 - 2/8 - 2.00 s (left 6.00 s) - "
                         "loss: 0.2500 - accuracy: 0.5000 - val_x: 1.0000 - lr: 0.01")  # fmt: skip


def test_text_is_escaped_in_the_html(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    bar.on_train_begin({"epochs": 1, "batches_per_epoch": 1})
    bar.on_epoch_begin(0)
    bar.on_batch_end(0, 1, {"<b>&": 0.5})
    assert "&lt;b&gt;&amp;: 0.5000" in shown.last[0]._repr_html_()
    bar.on_epoch_end(0, {"<b>&": 0.5})
    page = shown.last[0]._repr_html_()
    assert "&lt;b&gt;&amp;: 0.5000" in page and "<b>&" not in page


def test_an_interrupted_epoch_leaves_its_display_showing_what_was_done(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    bar.on_train_begin({"epochs": 2, "batches_per_epoch": 100})
    bar.on_epoch_begin(0)
    for done in range(1, 31):
        clock.now += 0.001  # fast: the later batches are throttled
        bar.on_batch_end(0, done, {"loss": 0.5})
    bar.on_checkpoint(None, True)  # stopped inside the epoch
    bar.close()
    bar.close()  # twice: nothing more, no exception
    (obj,) = shown.last
    assert '<progress value="30" max="100">' in obj._repr_html_() and "30/100" in repr(obj)
    assert "data-done" not in obj._repr_html_()
    assert shown.kinds() == ["display", "update"]


def test_an_epoch_without_batch_reports_still_leaves_its_line(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown)
    bar.on_train_begin({"epochs": 1, "batches_per_epoch": 4})
    bar.on_epoch_end(0, {"loss": 0.5})
    assert shown.kinds() == ["display"] and DONE in shown.last[0]._repr_html_()


def test_per_fit_numbers_the_epochs_within_the_fit(clock):
    shown = FakeDisplay()
    bar = NotebookProgress(display=shown, per_fit=True)
    bar.on_train_begin({"epochs": 2, "batches_per_epoch": 1, "first_epoch": 5})
    _epoch(bar, clock, 5, 1, 0.1, {"loss": 0.5})
    assert repr(shown.last[0]).startswith("Epoch 1/2 - 1/1 - ")


def _jupyter(monkeypatch) -> FakeDisplay:
    """nnlite's console as a notebook's, and the fake display in place of IPython's."""
    shown = FakeDisplay()
    monkeypatch.setattr(terminal, "console", Console(file=io.StringIO(), force_jupyter=True))
    monkeypatch.setattr(fit_progress, "ipython_display", lambda: shown)
    return shown


def test_progress_callback_chooses_the_notebook_display_for_verbose_1_only():
    notebook = Console(file=io.StringIO(), force_jupyter=True)
    assert isinstance(progress_callback(1, notebook), NotebookProgress)
    assert isinstance(progress_callback("auto", notebook), NotebookProgress)
    assert isinstance(progress_callback(True, notebook, per_fit=True), NotebookProgress)
    assert progress_callback(True, notebook, per_fit=True).per_fit
    plain = progress_callback(2, notebook)
    assert type(plain) is FitProgress and not plain.live  # verbose=2: plain lines
    terminal_bar = progress_callback(1, Console(file=io.StringIO(), force_terminal=True))
    assert type(terminal_bar) is FitProgress and terminal_bar.live


def test_verbose_2_in_a_notebook_prints_plain_lines_and_displays_nothing(monkeypatch):
    shown = _jupyter(monkeypatch)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    model = nnlite.Sequential([nnlite.Dense(4, "tanh"), nnlite.Dense(1, "sigmoid")], loss="mse")
    printed = []
    monkeypatch.setattr(terminal.console, "print", lambda line, **kw: printed.append(line))
    model.fit(X, np.array([0, 1, 1, 0]), epochs=3, batch_size=4, lr=0.5, seed=1, verbose=2)
    assert shown.calls == []
    assert len(printed) == 3 and all(line.startswith("Epoch ") for line in printed)


def test_sequential_fit_verbose_1_in_a_notebook_uses_the_notebook_display(monkeypatch):
    shown = _jupyter(monkeypatch)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 2)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(np.int64)
    model = nnlite.Sequential([nnlite.Dense(4, "tanh"), nnlite.Dense(2, "softmax")])
    history = model.fit(X, y, epochs=3, batch_size=8, lr=0.1, seed=1, verbose=1)
    assert shown.kinds().count("display") == 3
    assert terminal.console.file.getvalue() == ""  # nothing printed beside the displays
    for epoch, obj in enumerate(shown.last):
        line = repr(obj)
        assert line.startswith(f"Epoch {epoch + 1}/3 - 8/8 - ")
        assert f"loss: {history.loss[epoch]:.4f}" in line
        assert obj._repr_html_().startswith(DONE)


def test_keras_fit_verbose_1_in_a_notebook_uses_the_notebook_display(monkeypatch):
    shown = _jupyter(monkeypatch)
    d = nnlite.datasets.load("digits")
    model = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(16, activation="relu"),
                              layers.Dense(10, activation="softmax")])  # fmt: skip
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(d.X[:320], d.y[:320], epochs=2, verbose=1)
    model.fit(d.X[:320], d.y[:320], epochs=1)  # verbose="auto": 1, epochs counted per fit
    assert shown.kinds().count("display") == 3
    lines = [repr(obj) for obj in shown.last]
    assert [line[:18] for line in lines] == ["Epoch 1/2 - 10/10 "] * 1 + [
        "Epoch 2/2 - 10/10 ", "Epoch 1/1 - 10/10 "]  # fmt: skip
    assert all("loss: " in line and "accuracy: " in line for line in lines)


def test_ipython_is_imported_only_for_a_notebook_display():
    assert_prints_ok("""
import io, sys
import numpy as np
from rich.console import Console
import nnlite
from nnlite.ui import terminal
terminal.console = Console(file=io.StringIO(), force_terminal=True)
X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
model = nnlite.Sequential([nnlite.Dense(2, "tanh"), nnlite.Dense(1, "sigmoid")], loss="mse")
model.fit(X, np.array([0, 1, 1, 0]), epochs=2, batch_size=4, seed=1, verbose=1)
assert "IPython" not in sys.modules, "a terminal's fit imported IPython"
print("ok")
""")
