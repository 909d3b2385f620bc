"""Training and validation together: the text charts ``nnlite train`` leaves and the PNG.

An overfitting run (training loss falling, validation loss rising) must show as two
curves on one scale, told apart by their marks (text) or line styles (PNG), with a
legend; and every text chart must fit 50, 80 and 200 columns.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
from rich.cells import cell_len

from nnlite.ui import tables

WIDTHS = (50, 80, 200)
TRAIN = [1.0 - 0.09 * e for e in range(10)]  # falls: 1.00 … 0.19
VAL = [0.9 - 0.04 * e if e < 4 else 0.74 + 0.06 * (e - 4) for e in range(10)]  # falls, then rises


def _rows(chart: str) -> list[str]:
    """The plot rows of a chart (between the labels' │ and the end), top first."""
    return [line.split("│", 1)[1] for line in chart.splitlines() if "│" in line]


def _row_of(chart: str, column: int, mark: str) -> int:
    rows = _rows(chart)
    hits = [r for r, row in enumerate(rows) if column < len(row) and row[column] in (mark, "◉")]
    assert len(hits) == 1, (column, mark, chart)
    return hits[0]


@pytest.mark.parametrize("width", WIDTHS)
def test_the_loss_chart_draws_both_series_and_the_rising_validation_loss_sits_higher(width):
    chart = tables.curve(TRAIN, val=VAL, title="loss per epoch", width=width)
    assert all(cell_len(line) <= width for line in chart.splitlines())
    assert "• training" in chart and "○ validation" in chart
    body = "".join(_rows(chart))
    assert body.count("•") + body.count("◉") >= 9 and body.count("○") + body.count("◉") >= 9
    # the last epoch: validation (0.98) far above training (0.19): a higher row (smaller index)
    assert _row_of(chart, 9, "○") < _row_of(chart, 9, "•")
    # the first epoch: training (1.00) above validation (0.90)
    assert _row_of(chart, 0, "•") <= _row_of(chart, 0, "○")
    assert "1.0" in chart.splitlines()[2]  # the top label is the largest of both series


def test_the_chart_resamples_long_runs_to_the_width_and_keeps_the_last_epoch():
    n = 500
    loss = [1 / (1 + e) for e in range(n)]
    for width in WIDTHS:
        chart = tables.curve(loss, val=[v * 1.5 for v in loss], title="t" * 300, width=width)
        lines = chart.splitlines()
        assert max(cell_len(line) for line in lines) <= width
        assert lines[-1].rstrip().endswith(f"epoch {n}")
        assert len(_rows(chart)[0]) == width - len(f"{1 / n:.4g}") - 2  # the lowest label


def test_without_validation_the_chart_has_one_series_and_no_legend():
    chart = tables.curve(TRAIN, title="training loss per epoch", width=80)
    assert "○" not in chart and "validation" not in chart and chart.count("•") == 10
    nan_val = tables.curve(TRAIN, val=[math.nan] * 10, title="x", width=80)
    assert "○" not in nan_val


def test_training_charts_add_an_accuracy_chart_where_accuracy_was_measured():
    history = SimpleNamespace(loss=TRAIN, val_loss=VAL, accuracy=[0.5 + 0.05 * e for e in range(10)],
                              val_accuracy=[0.55 + 0.02 * e for e in range(10)])  # fmt: skip
    charts = tables.training_charts(history, width=50)
    assert len(charts) == 2 and "accuracy" in charts[1] and "○ validation" in charts[1]
    assert "95" in charts[1]  # the best training accuracy, in %, labels the top
    assert all(cell_len(line) <= 50 for chart in charts for line in chart.splitlines())
    regression = SimpleNamespace(loss=TRAIN, val_loss=[], accuracy=[math.nan] * 10, val_accuracy=[])
    (only,) = tables.training_charts(regression, width=80)
    assert only.startswith("training loss per epoch") and "○" not in only


def test_the_png_draws_training_and_validation_apart_with_a_legend(tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    from nnlite.ui import plot

    drawn = {}
    real = plot._save

    def keep(fig, path, overwrite):
        drawn["fig"] = fig
        return real(fig, path, overwrite)

    monkeypatch.setattr(plot, "_save", keep)
    history = {"loss": TRAIN, "val_loss": VAL, "accuracy": [0.5] * 10, "val_accuracy": [0.6] * 10}
    assert plot.training_curves(history, tmp_path / "c.png").stat().st_size > 0
    loss_ax = drawn["fig"].axes[0]
    lines = {line.get_label(): line for line in loss_ax.get_lines()}
    assert set(lines) == {"training", "validation"}
    assert (
        list(lines["validation"].get_ydata()) == VAL
        and list(lines["training"].get_ydata()) == TRAIN
    )
    styles = {(ln.get_linestyle(), ln.get_marker()) for ln in lines.values()}
    assert len(styles) == 2  # told apart without colour
    legend = [t.get_text() for t in loss_ax.get_legend().get_texts()]
    assert legend == ["training", "validation"]
