"""TrainingProgress draws its live views below the bars, in a terminal only."""

import io

from rich.console import Console
from rich.text import Text

from nnlite.ui.progress import TrainingProgress


class _View:
    def __init__(self, text):
        self.text = text

    def __rich__(self):
        return None if self.text is None else Text(self.text)


def _run(terminal: bool, views) -> str:
    out = Console(file=io.StringIO(), force_terminal=terminal, width=60)
    with TrainingProgress(out=out, views=views) as bars:
        bars.on_train_begin({"epochs": 2, "batches_per_epoch": 3})
        bars.on_batch_end(0, 1, {"loss": 0.5, "accuracy": 0.5})
        bars.on_epoch_end(0, {"loss": 0.5, "accuracy": 0.5})
    return out.file.getvalue()


def test_views_are_drawn_below_the_bars_in_a_terminal():
    shown = _run(True, [_View("regions-picture"), _View(None), _View("health-table")])
    last = shown.rsplit("epochs", 1)[1]  # the final frame: bars, then the views in order
    assert last.index("regions-picture") < last.index("health-table")


def test_views_are_not_drawn_outside_a_terminal():
    shown = _run(False, [_View("regions-picture")])
    assert "regions-picture" not in shown and "epoch 1/2" in shown
