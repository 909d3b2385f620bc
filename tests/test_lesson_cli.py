"""``nnlite lesson`` and ``nnlite gradcheck`` through typer's ``CliRunner``.

Claims checked: ``lesson`` alone lists every topic; each topic runs, explains itself and
shows scipy's reference beside nnlite's result; a bad topic name ends with exit code 1 and
one ``error:`` line naming the valid topics (no traceback); ``gradcheck`` prints a
per-layer table of relative errors for any network spec and loss, and refuses bad specs
the same clean way. Every lesson's output fits a terminal of 50, 80 and 200 columns: no
line wider, every plot's frame whole (as many rows as at 200 columns, none wrapped), every line of
text still there, and no table cell cropped.

Each lesson is computed once in this module (``lessons.run`` is memoised here): what is
tested is the command and the rendering; the lessons' numbers have their own tests in
``tests/pedagogy/``.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import cli
from nnlite import lessons
from nnlite.ui import lesson as lesson_view

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = set("│┃┏┓┗┛━┡┩└┘┌┐─┬┴┼╇╋┳┻╸╹")  # a line with one of these is a table's or a plot's frame
_results: dict = {}
_run = lessons.run


@pytest.fixture(scope="module", autouse=True)
def memoised_lessons():
    def run(name: str):
        key = lessons.topic_name(name)
        if key not in _results:
            _results[key] = _run(key)
        return _results[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lessons, "run", run)
        yield


def invoke(*args: str):
    return runner.invoke(cli.app, [str(a) for a in args])


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return ANSI.sub("", result.stdout)


def clean_error(result, phrase: str) -> str:
    """Exit code 1 and exactly one ``error:`` line on stderr that contains ``phrase``."""
    err = ANSI.sub("", result.stderr)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase.lower() in lines[0].lower(), lines[0]
    return lines[0]


def test_lesson_without_a_topic_lists_every_topic():
    out = ok(invoke("lesson"))
    for name in lessons.TOPICS:
        assert name in out


@pytest.mark.parametrize(
    "topic,phrases",
    [
        ("perceptron", ["linprog", "XOR", "Novikoff", "converged exactly where linprog"]),
        (
            "activations",
            ["scipy", "sigmoid", "tanh", "ReLU", "softmax", "largest |nnlite − scipy|"],
        ),
        ("xor", ["lstsq", "one linear map", "100%"]),
        ("learning-rate", ["eigvalsh", "converges", "oscillates", "diverges", "2/L"]),
        ("sgd", ["lstsq", "unbiased", "m = 1", "mean of 2000 random batches"]),
        ("local-minima", ["differential_evolution", "★", "lstsq", "global"]),
        ("optimum", ["L-BFGS-B", "loss gap", "convex"]),
        (
            "vanishing-gradients",
            ["svdvals", "‖∂L/∂W_ℓ‖ layer by layer (seed 0)", "11 (output)", "ReLU, He"],
        ),
    ],
)
def test_each_lesson_explains_plots_and_shows_scipy_beside_nnlite(topic, phrases):
    out = ok(invoke("lesson", topic))
    for phrase in phrases:
        assert phrase in out, (phrase, out)
    assert "│" in out and "└" in out  # a text plot or a table frame


def test_lesson_names_are_forgiving_about_case_and_underscores():
    assert lessons.topic_name("Learning_Rate") == "learning-rate"
    assert lessons.topic_name("lr") == "learning-rate"
    assert lessons.topic_name("Vanishing_Gradients") == "vanishing-gradients"


def test_lesson_help_names_every_lesson():
    out = ANSI.sub("", runner.invoke(cli.app, ["lesson", "--help"], terminal_width=200).stdout)
    flat = " ".join(out.split())
    for name in lessons.TOPICS:
        assert name in flat, (name, out)


def rendered(topic: str, width: int, terminal: bool = True) -> list[str]:
    """The lesson's lines as a console ``width`` columns wide prints them, ANSI codes stripped."""
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=terminal, color_system=None)
    for part in lesson_view.render(topic, lessons.run(topic)):
        console.print(part)
        console.print()
    return ANSI.sub("", buf.getvalue()).splitlines()


def plot_frames(lines: list[str]) -> list[int]:
    """For each plot's bottom axis (a └ with something to its left: a table's └ is in
    column 0), the number of lines right above it with │ in the same cell column: the
    plot's rows. A row that wrapped breaks the run."""
    heights = []
    for i, line in enumerate(lines):
        at = line.find("└")
        if at <= 0 or line[:at].strip():
            continue
        col = cell_len(line[:at])
        rows = 0
        for above in reversed(lines[:i]):
            cut = 0
            while cut < len(above) and cell_len(above[:cut]) < col:
                cut += 1
            if cell_len(above[:cut]) != col or not above[cut:].startswith("│"):
                break
            rows += 1
        heights.append(rows)
    return heights


def words(lines: list[str]) -> str:
    return " ".join(" ".join(lines).split())


@pytest.mark.parametrize("width", [50, 80])
@pytest.mark.parametrize("topic", list(lessons.TOPICS))
def test_every_lessons_plots_fit_the_terminal_without_wrapping(topic, width):
    """At ``width`` columns: no line wider (rich.cells.cell_len, ANSI stripped); every plot
    has as many rows, each whole, as at 200 columns (where nothing is narrowed); and every
    line of text at 200 columns (not a table's or plot's frame) is still there, word for
    word; no table cell is cropped to "…" (a table too wide becomes one paragraph per row,
    ``records``). In a terminal and out of one.

    Each ``Plot`` draws its frame within the width by itself (``Plot.lines``), so the crop
    it keeps as a last resort never cuts a figure off.

    Mutation seen to fail here: ``Plot`` drawing at its natural width whatever the console
    (at 50 columns the frames of 8 lessons' plots are cut short, and the bars of
    vanishing-gradients would be cropped); ``fit_table`` keeping every table as a table
    (7 lessons' tables crop cells at 50 columns).
    """
    for part in lesson_view.render(topic, lessons.run(topic)):
        if isinstance(part, lesson_view.Plot):
            _, frame, _ = part.lines(width)
            assert max(map(cell_len, frame)) <= width, frame
    wide = rendered(topic, 200)
    assert max(cell_len(line) for line in wide) <= 200
    frames = plot_frames(wide)
    assert all(h >= 5 for h in frames), frames
    prose = [line for line in wide if line.strip() and not BOX & set(line)]
    for terminal in (True, False):
        lines = rendered(topic, width, terminal)
        assert max(cell_len(line) for line in lines) <= width
        assert plot_frames(lines) == frames
        flat = words(lines)
        assert flat.count("…") == words(wide).count("…"), "\n".join(lines)  # no cell cropped
        for line in prose:
            assert " ".join(line.split()) in flat, (line, "\n".join(lines))


def test_a_bad_lesson_name_is_one_clean_error_listing_the_topics():
    line = clean_error(invoke("lesson", "backprop-by-magic"), "unknown lesson")
    assert all(name in line for name in lessons.TOPICS)


def test_gradcheck_default_network_passes_with_a_row_per_layer_and_parameter():
    out = ok(invoke("gradcheck"))
    assert "relative error" in out and "gradient check passed" in out
    assert len(re.findall(r"Dense\(4, 'tanh'\)", out)) == 2  # its W row and its b row
    assert len(re.findall(r"Dense\(2, 'softmax'\)", out)) == 2
    errors = [float(x) for x in re.findall(r"│\s+(\d\.\d\de-\d\d) │ ok", out)]
    assert len(errors) == 4 and max(errors) < 1e-6


@pytest.mark.parametrize("width", [50, 80, 200])
def test_gradcheck_fits_the_terminal_and_keeps_every_row_whole(width):
    result = lessons.gradient_check(hidden=[4], activation="tanh", output="softmax", loss="cce",
                                    n_inputs=3, n_outputs=2, n_samples=5, seed=0)  # fmt: skip
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, color_system=None)
    console.print(lesson_view.gradcheck_table(result))
    out = ANSI.sub("", buf.getvalue())
    assert all(cell_len(line) <= width for line in out.splitlines()), out
    assert "…" not in out  # no layer name or figure cut
    assert len(re.findall(r"Dense\(2, 'softmax'\)", out)) == 2
    assert all(f"{row.error:.2e}" in out for row in result.rows) and len(result.rows) == 4


@pytest.mark.parametrize(
    "args",
    [
        "--layers 5,3 -a relu --output identity --loss mse --outputs 1",
        "--layers none --output sigmoid --loss bce --outputs 3 --seed 4",
        "--layers 6 -a sigmoid --output softmax --loss cce --samples 1",
    ],
)
def test_gradcheck_checks_any_network_spec_and_loss(args):
    out = ok(invoke("gradcheck", *args.split()))
    assert "gradient check passed" in out


@pytest.mark.parametrize(
    "args,phrase",
    [
        (["--layers", "4,a"], "bad layer spec"),
        (["--loss", "cce", "--outputs", "1"], "one output unit per class"),
        (["--samples", "100000000000"], "at most 10,000"),
        (["--layers", "1000,1000"], "a gradient check takes at most"),
        (["--output", "softmax", "--outputs", "1"], "softmax output needs at least two units"),
        (["--output", "identity", "--loss", "bce"], "needs probabilities"),
    ],
)
def test_gradcheck_refuses_a_bad_spec_with_one_clean_error(args, phrase):
    clean_error(invoke("gradcheck", *args), phrase)


@pytest.mark.parametrize("option", ["--inputs", "--outputs", "--samples", "--seed"])
def test_gradcheck_sizes_and_seed_out_of_range_are_one_line_usage_errors(option):
    result = invoke("gradcheck", option, "-1")
    err = ANSI.sub("", result.stderr)
    assert result.exit_code == 2, result.output
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and option in lines[0], err
