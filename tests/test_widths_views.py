"""Every view at 50, 80 and 200 columns: no line wider than the console, content kept.

Each view is rendered on ``Console(file=io.StringIO(), width=W, color_system=None)``
(with and without a forced terminal), every line measured with ``rich.cells.cell_len``
after stripping escape codes, and the content asserted: a confusion matrix keeps all
classes and shows numbers (not "…") on its diagonal; ``compare`` keeps kernel names whole
and distinct, one unit per time column, and says how much faster or slower the GPU was;
the trace, digit pictures, model tables, data-set tables and the summary keep their text.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from nnlite.ui import compare, digits, model_summary, tables
from nnlite.ui import trace as trace_view

WIDTHS = (50, 80, 200)
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SNAPSHOTS = Path(__file__).resolve().parent / "snapshots"
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip
# MNIST's test-set confusion matrix of a one-epoch 784-64-10 run: four-digit diagonals.
MNIST_CM = np.array([
    [968, 0, 1, 0, 0, 4, 4, 1, 2, 0], [0, 1112, 4, 2, 0, 1, 3, 1, 12, 0],
    [17, 1, 963, 5, 10, 1, 5, 10, 19, 1], [3, 1, 13, 949, 0, 12, 1, 12, 10, 9],
    [1, 1, 8, 0, 930, 1, 5, 4, 6, 26], [11, 1, 2, 20, 2, 828, 7, 1, 15, 5],
    [15, 3, 1, 0, 10, 9, 909, 0, 11, 0], [3, 7, 18, 3, 4, 0, 0, 979, 4, 10],
    [6, 2, 1, 9, 6, 3, 6, 7, 928, 6], [12, 6, 0, 8, 22, 9, 1, 8, 6, 937],
])  # fmt: skip


def render(view, width: int, terminal: bool = False) -> list[str]:
    console = Console(file=io.StringIO(), width=width, force_terminal=terminal,
                      color_system="truecolor" if terminal else None)  # fmt: skip
    console.print(view)
    return ANSI.sub("", console.file.getvalue()).splitlines()


def assert_fits(lines: list[str], width: int) -> None:
    wide = [line for line in lines if cell_len(line) > width]
    assert not wide, f"{len(wide)} lines wider than {width}: {wide[:3]}"


def grid_rows(lines: list[str], k: int) -> dict[int, list[str]]:
    """Rows of a confusion grid: a class number, then k cells."""
    rows = {}
    for line in lines:
        tokens = line.split()
        if len(tokens) >= k + 1 and tokens[0].isdigit() and int(tokens[0]) < k:
            rows.setdefault(int(tokens[0]), tokens[1 : k + 1])
    return rows


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("terminal", [False, True])
def test_mnist_confusion_matrix_keeps_all_ten_classes_and_its_diagonal(width, terminal):
    lines = render(digits.confusion_table(MNIST_CM), width, terminal)
    assert_fits(lines, width)
    rows = grid_rows(lines, 10)
    assert sorted(rows) == list(range(10)), "\n".join(lines)
    for t, cells in rows.items():
        assert cells[t] == str(MNIST_CM[t, t])  # a number on the diagonal, not "…"
        assert [0 if c == "·" else int(c) for c in cells] == MNIST_CM[t].tolist()
    assert "…" not in "\n".join(lines)
    assert "4 → 9 (26)" in " ".join(lines).replace("  ", " ")  # the worst mistake named


@pytest.mark.parametrize("width", WIDTHS)
def test_a_matrix_too_wide_for_a_grid_becomes_a_list_of_each_class_and_its_mistakes(width):
    k = 47  # EMNIST-balanced's classes: no grid fits 200 columns with 4-digit counts
    rng = np.random.default_rng(0)
    cm = rng.integers(0, 4, size=(k, k))
    np.fill_diagonal(cm, 1000 + np.arange(k))
    cm[5, 9] = 77  # the worst cell
    lines = render(digits.confusion_table(cm), width)
    assert_fits(lines, width)
    text = "\n".join(lines)
    assert "…" not in text and "by true class" in text
    for t in range(k):  # every class has a row with its right answers and its total
        assert re.search(rf"^ *{t} +{1000 + t} +{cm[t].sum():,} ", text, re.M), t
    flat = " ".join(text.split())  # a wrapped cell's lines joined (the other cells are blank)
    assert re.search(r"^ *5 +1005 ", text, re.M) and "9 (77)" in flat and "5 → 9 (77)" in flat


@pytest.mark.parametrize("width", WIDTHS)
def test_class_report_and_named_classes_fit(width):
    for view in (digits.class_report_table(MNIST_CM, FASHION),
                 digits.confusion_table(MNIST_CM, FASHION)):  # fmt: skip
        lines = render(view, width)
        assert_fits(lines, width)
        text = "\n".join(lines)
        assert "…" not in text
        if view.title == "per class":
            flat = " ".join(text.split())
            for c, name in enumerate(FASHION):  # a long name may wrap inside its cell
                assert re.search(rf"^ *{c} ", text, re.M) and name in flat, name
            assert "93.4%" in text and "1135" in text  # class 0's precision, class 1's support
        else:
            assert "Ankle boot" in " ".join(lines) and sorted(grid_rows(lines, 10)) == list(
                range(10)
            )


def _compare_result() -> dict:
    # nnlite compare --quick --format json, run under NUMBA_ENABLE_CUDASIM=1 (the simulator:
    # GPU timings of 5–900 ms against CPU timings of 1–4 µs)
    return json.loads((SNAPSHOTS / "compare_simulator.json").read_text())


@pytest.mark.parametrize("width", WIDTHS)
def test_compare_keeps_kernel_names_whole_and_distinct_one_unit_per_column(width):
    result = _compare_result()
    lines = render(compare.render(result), width)
    assert_fits(lines, width)
    text = "\n".join(lines)
    assert "…" not in text and "0.00×" not in text
    words = set(text.split())
    names = {k["kernel"] for k in result["kernels"]}
    for name in names:  # each name whole (a variant may sit on the next line)
        assert all(part in words for part in name.split()), name
    if width >= 80:  # names on one line: as many distinct as there are kernels
        shown = {
            m.group(1) for m in re.finditer(r"^ ((?:[a-z_0-9]+)(?: \([a-z_0-9]+\))?) ", text, re.M)
        }
        assert names <= shown
    headers = [
        line for line in lines if re.search(r"\b(CPU|GPU kernel|copies H↔D)\b.*\b(ms|µs)\b", line)
    ]
    assert headers and not any("µs" in cell for cell in _time_cells(lines))
    slowest = max(result["kernels"], key=lambda r: 1 / r["speedup"])
    assert f"{1 / slowest['speedup']:,.0f}× slower" in text


def _time_cells(lines: list[str]) -> list[str]:
    """Cells of the timing rows (the unit lives in the header, never in a cell)."""
    return [line for line in lines if re.search(r"\d µs|\d ms", line) and "training" not in line
            and "difference" not in line]  # fmt: skip


def test_compare_speed_ratios_say_faster_or_slower():
    assert "3.2× faster" in compare._x(3.2) and "22,269× slower" in compare._x(1 / 22269)
    assert "2× slower" in compare._x(0.5) and compare._x(float("nan")) == "—"
    assert compare._unit([0.002, 0.5]) == ("µs", 1e3) and compare._unit([0.5, 3.0]) == ("ms", 1.0)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_perceptron_trace_table_fits_and_keeps_its_figures(width):
    from nnlite import trace as tr

    console = Console(file=io.StringIO(), width=width, color_system=None)
    trace_view.play(tr.run(model="perceptron", gate="and"), console=console)
    lines = console.file.getvalue().splitlines()
    assert_fits(lines, width)
    text = "\n".join(lines)
    assert "…" not in text and "converged" in text
    assert re.search(r"\[0 0\]", text) and "epoch 1: 2 updates" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_the_network_trace_fits(width):
    from nnlite import trace as tr

    console = Console(file=io.StringIO(), width=width, color_system=None)
    trace_view.play(tr.run(), console=console)
    lines = console.file.getvalue().splitlines()
    assert_fits(lines, width)
    assert any("forward" in line for line in lines) and any("backward" in line for line in lines)


@pytest.mark.parametrize("width", WIDTHS)
def test_digit_cards_and_gallery_fit(width):
    rng = np.random.default_rng(1)
    X, probs = rng.random((3, 784)), rng.dirichlet(np.ones(10), size=3)
    cards = digits.digit_cards(X, (28, 28), probs, range(3), y=[0, 1, 2], labels=FASHION)
    for terminal in (False, True):
        lines = render(digits.gallery(cards, "most confidently wrong"), width, terminal)
        assert_fits(lines, width)
        assert sum(line.count("predicted") for line in lines) == 3


@pytest.mark.parametrize("width", WIDTHS)
def test_model_tables_fit(width):
    from nnlite import Dense, Sequential

    model = Sequential([Dense(256, "relu"), Dense(256, "relu"), Dense(10, "softmax")], n_inputs=784)
    lines = render(tables.model_table(model, title="network (loss: cce)"), width)
    assert_fits(lines, width)
    assert any("269,322" in line for line in lines)
    out = Console(file=io.StringIO(), width=width, color_system=None)
    rows = [("dense (Dense)", "(None, 256)", "200,960"), ("dense_1 (Dense)", "(None, 10)", "2,570")]
    model_summary.print_summary("sequential", rows, 203530, 4, console=out)
    lines = out.file.getvalue().splitlines()
    assert_fits(lines, width)
    assert any("dense_1 (Dense)" in line for line in lines) and any(
        "203,530" in line for line in lines
    )


@pytest.mark.parametrize("width", WIDTHS)
def test_the_data_sets_table_keeps_every_description(width):
    from nnlite import datasets

    rows = datasets.list_datasets()
    lines = render(tables.datasets_table(rows), width)
    assert_fits(lines, width)
    text = " ".join(" ".join(lines).replace("│", " ").split())
    assert "…" not in text
    for row in rows:
        assert row["name"] in text and f"{row['samples']:,} × {row['features']}" in text
        assert " ".join(row["description"].split()[-2:]) in text  # the description's end


@pytest.mark.parametrize("width", WIDTHS)
def test_summary_rows_wrap_inside_their_cells(width):
    path = "/data/runs/" + "a-long-directory-name/" * 4 + "checkpoint.npz"
    rows = [("train loss", "0.1234"), ("stopped (Ctrl-C)",
            "after 0 of 10 epochs and 40,960 samples of epoch 1"),
            ("checkpoint", f"{path} (continue: nnlite train --resume {path})"),
            ("kernel start-up (JIT or cache)", "1.2 s")]  # fmt: skip
    lines = render(tables.summary_table(rows), width)
    assert_fits(lines, width)
    body = [line for line in lines[2:-1]]  # between the top and bottom borders
    assert all(
        line.startswith("│") and line.endswith("│") and line.count("│") == 3 for line in body
    )
    values = "".join(line.split("│")[2].strip() for line in body)
    keys = [line.split("│")[1].strip() for line in body]
    assert values.replace(" ", "") == "".join(v for _, v in rows).replace(" ", "")
    assert [k for k in keys if k] == [k for k, _ in rows]  # each name whole, on one line


def test_fits_rejects_cut_cells_and_overflowing_grids_and_accepts_wrapping():
    from rich.table import Table
    from rich.text import Text

    from nnlite.ui.fit import FirstThatFits, fits

    assert fits(Text("word " * 40), 50)  # text wraps at spaces: it fits
    grid = Table()
    for c in range(12):
        grid.add_column(f"column {c}", no_wrap=True)
    grid.add_row(*(f"{1000 + c}" for c in range(12)))
    assert not fits(grid, 80) and fits(grid, 200)
    cut = Table()
    cut.add_column("name", no_wrap=True)
    cut.add_column("text")
    cut.add_row("a-name-of-forty-characters-that-is-long", "words " * 10)
    assert not fits(cut, 30)  # rich would shorten the name to "a-name-of-…"
    named = Text("a name nnlite shortened itself: Ankle bo…")
    assert fits(named, 80)  # its own "…" is not a cut
    choice = FirstThatFits(grid, Text("the narrow layout"))
    assert choice.chosen(200) is grid and choice.chosen(80).plain == "the narrow layout"
    assert render(choice, 80) == ["the narrow layout"]


@pytest.mark.parametrize("width", WIDTHS)
def test_predictions_with_inputs_keep_every_value_whole(width):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 2)) * [1, 150]  # x₂ up to three digits before the point
    P = rng.dirichlet(np.ones(3), size=6)
    y = np.array([0, 1, 2, 0, 1, 2])
    view = tables.predictions_table(P, P.argmax(1), y, range(6), "predictions", inputs=X)
    lines = render(view, width)
    assert_fits(lines, width)
    assert not any("…" in line for line in lines)
    shown = " ".join(lines)
    for i in range(6):  # each coordinate, as printed, and each confidence
        assert tables._coordinate(X[i, 0]) in shown and tables._coordinate(X[i, 1]) in shown
        assert f"{P[i].max():.1%}" in shown
