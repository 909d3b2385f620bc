"""The example notebook, top to bottom, in a real Jupyter kernel: what a learner sees.

``examples/lesson.ipynb`` runs once (module fixture) in an IPython kernel started for this
test's own Python (a temporary kernelspec pointing at ``sys.executable``, found through
``JUPYTER_PATH``), with the kernel's working directory a temporary folder, so the notebook
reads no relative path and leaves nothing in the repository. Its data: the shipped digits,
and MNIST for part 7 when ``../shared/data/mnist`` (beside the repository) exists, given to
the kernel as ``NNLITE_DATA`` as the notebook's first cell says; else ``NNLITE_DATA`` is an
empty folder and the notebook falls back to the digits. The assertions read each cell's
rich outputs (found by the cell's tag), not just "no error": the views' HTML markers, and
the figures in them against numbers computed here. A few small notebooks made here check
``nnlite.keras`` and a learner's mistake in a kernel of their own.

Needs the notebook extra (nbclient, nbformat, ipykernel): skipped without it.
"""

from __future__ import annotations

import ast
import base64
import html
import json
import math
import re
import struct
import sys
from pathlib import Path

import pytest

nbclient = pytest.importorskip(
    "nbclient", reason="the notebook extra is not installed: pip install '.[notebook]'"
)
nbformat = pytest.importorskip(
    "nbformat", reason="the notebook extra is not installed: pip install '.[notebook]'"
)
pytest.importorskip(
    "ipykernel", reason="the notebook extra is not installed: pip install '.[notebook]'"
)

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
LESSON = ROOT / "examples" / "lesson.ipynb"
MNIST = ROOT.parent / "shared" / "data" / "mnist"
KERNEL = "nnlite-test-kernel"
DIGITS_VAL = 297  # the notebook holds out digits 1500..1796
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Cells appended to the lesson: the learner runs the trace cell again, then once more.
# Then: step 1 started from the trained model's W¹, which two steps later is still the
# model's (the trace trained a copy), while the trace's own W¹ moved.
AGAIN = [
    ("trace-step-2", "t.step()"),
    ("trace-step-end", "end = t.step()\nprint(end.number)"),
    ("trace-own", "W1 = [e.W for e in t.seen if isinstance(e, nnlite.trace.Forward) and e.layer == 1]\n"
                  "after = [e.after for e in t.seen if isinstance(e, nnlite.trace.Update)\n"
                  "         and (e.layer, e.param) == (1, 'W')][-1]\n"
                  "print(np.array_equal(W1[0], model.layers[0].W), "
                  "np.array_equal(after, model.layers[0].W))"),
]  # fmt: skip


def _kernel_home(tmp: Path) -> Path:
    """A Jupyter data folder whose one kernelspec runs ``sys.executable``'s ipykernel."""
    spec = tmp / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "nnlite test kernel",
        "language": "python",
    }))  # fmt: skip
    return tmp / "jupyter"


def _run(nb, tmp_path_factory, data: Path | None = None):
    """Execute ``nb`` in a fresh kernel of this Python; returns it with its outputs."""
    tmp = tmp_path_factory.mktemp("kernel")
    work = tmp / "cwd"
    work.mkdir()
    empty = tmp / "no-data"
    empty.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("JUPYTER_PATH", str(_kernel_home(tmp)))
        mp.setenv("JUPYTER_RUNTIME_DIR", str(tmp / "runtime"))
        mp.setenv("IPYTHONDIR", str(tmp / "ipython"))
        mp.setenv("NNLITE_DATA", str(data or empty))
        mp.setenv("MPLBACKEND", "Agg")
        client = nbclient.NotebookClient(
            nb, timeout=600, startup_timeout=120, kernel_name=KERNEL,
            resources={"metadata": {"path": str(work)}},
        )  # fmt: skip
        client.execute()
    assert list(work.iterdir()) == []  # the notebook wrote nothing where it ran
    return nb


def _tagged(nb) -> dict[str, list]:
    """Each tagged code cell's outputs, by tag."""
    return {tag: cell.outputs for cell in nb.cells if cell.cell_type == "code"
            for tag in cell.metadata.get("tags", [])}  # fmt: skip


@pytest.fixture(scope="module")
def lesson(tmp_path_factory):
    nb = nbformat.read(LESSON, as_version=4)
    for tag, source in AGAIN:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = [tag]
        nb.cells.append(cell)
    data = MNIST.parent if MNIST.is_dir() else None
    return _tagged(_run(nb, tmp_path_factory, data))


def _html(outputs) -> list[str]:
    """The text/html of each rich output (display_data and execute_result), in order."""
    return [out["data"]["text/html"] for out in outputs
            if out["output_type"] in ("display_data", "execute_result")
            and "text/html" in out["data"]]  # fmt: skip


def _result(outputs):
    """The cell's result (its last expression, as IPython shows it)."""
    (out,) = [out for out in outputs if out["output_type"] == "execute_result"]
    return out


def _view(outputs, kind: str) -> str:
    """The cell's one view of ``kind``: its HTML, checked against the views' contract."""
    out = _result(outputs)
    page = out["data"]["text/html"]
    head = rf'\s*<div class="nnlite-view nnlite-{kind}" data-kind="{kind}"'
    assert re.match(head, page), page[:200]
    assert "\n" not in out["data"]["text/plain"].strip()  # text/plain: one short line
    return page


def _text(page: str) -> str:
    """What an HTML view reads as: tags removed, entities decoded (rich styles split words)."""
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def _stdout(outputs) -> str:
    return "".join(out["text"] for out in outputs
                   if out["output_type"] == "stream" and out["name"] == "stdout")  # fmt: skip


def _png_size(uri: str) -> tuple[int, int]:
    """(width, height) of a ``data:image/png;base64,`` picture, checked to be a PNG."""
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    data = base64.b64decode(uri[len(prefix) :], validate=True)
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width > 0 and height > 0
    return width, height


def _images(page: str, cls: str) -> list[dict[str, str]]:
    """Each ``<img class="cls" ...>``'s attributes."""
    tags = re.findall(rf'<img\b[^>]*\bclass="{cls}"[^>]*>', page)
    return [dict(re.findall(r'([\w-]+)="([^"]*)"', tag)) for tag in tags]


def _confusion(page: str) -> dict[tuple[int, int], int]:
    cells = re.findall(
        r'<td[^>]*data-true="(\d+)"[^>]*data-pred="(\d+)"[^>]*>\s*(\d+)\s*</td>', page
    )
    return {(int(t), int(p)): int(n) for t, p, n in cells}


def _epoch_rows(page: str) -> list[str]:
    table = re.search(r'<table class="nnlite-epochs".*?</table>', page, re.S).group(0)
    body = re.search(r"<tbody>(.*?)</tbody>", table, re.S).group(1)
    return re.findall(r"<tr\b.*?</tr>", body, re.S)


def _series(page: str) -> set[str]:
    return set(re.findall(r'<polyline[^>]*data-name="([\w]+)"', page))


def _progress(outputs, epochs: int) -> list[str]:
    """A ``fit(verbose=1)`` cell's outputs: one finished display per epoch, nothing else.

    Returns the epoch lines. Warnings on stderr are allowed; no stdout, no other display
    (a display per batch would show here: nbclient applies the in-place updates).
    """
    shown = [out for out in outputs if out["output_type"] != "stream" or out["name"] != "stderr"]
    assert len(shown) == epochs, [out.get("data", out.get("text")) for out in shown]
    lines = []
    for epoch, out in enumerate(shown, 1):
        assert out["output_type"] == "display_data"
        page, text = out["data"]["text/html"], out["data"]["text/plain"]
        match = re.fullmatch(
            r'<div class="nnlite-view nnlite-progress" data-kind="progress" data-done="1">'
            r"<pre>(.*)</pre></div>", page, re.S,
        )  # fmt: skip
        assert match, page
        assert html.unescape(match.group(1)) == text  # the epoch's line, in both forms
        assert re.match(rf"Epoch {epoch}/{epochs} - (\d+)/\1 - ", text), text
        assert "loss: " in text and "accuracy: " in text and "val_loss: " in text
        lines.append(text)
    return lines


# ---------------------------------------------------------------------------------------
# The lesson notebook, part by part.
# ---------------------------------------------------------------------------------------


def test_the_notebook_is_stored_without_outputs():
    nb = nbformat.read(LESSON, as_version=4)
    nbformat.validate(nb)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    assert all(cell.metadata.get("tags") for cell in code)  # this test finds cells by tag
    assert "NNLITE_DATA" in code[0].source  # the first cell says where the data come from


def test_the_lessons_show_as_their_panels(lesson):
    for topic in ("perceptron", "learning-rate"):
        page = _view(lesson[f"lesson-{topic}"], "lesson")
        assert f'data-topic="{topic}"' in page.split(">", 1)[0]


def test_a_whole_perceptron_trace_shows_at_once(lesson):
    page = _view(lesson["trace-perceptron"], "trace")
    assert "epoch 1" in _text(page).lower()


def test_the_xor_network_learns_and_shows_its_summary_and_history(lesson):
    outputs = re.search(r"outputs: \[(.*?)\]", _stdout(lesson["xor-fit"])).group(1).split()
    assert [round(float(x)) for x in outputs] == [0, 1, 1, 0]
    page = _view(lesson["xor-summary"], "summary")
    for shape in ("2×4", "4×1"):  # each layer's row: W's shape
        assert shape in page
    assert re.search(r">\s*17\s*<", page)  # the total: (2·4 + 4) + (4·1 + 1)
    page = _view(lesson["xor-history"], "history")
    assert "loss" in _series(page) and 0 < len(_epoch_rows(page)) <= 2000


def test_the_decision_regions_are_one_png_picture(lesson):
    page = _view(lesson["regions"], "regions")
    (img,) = _images(page, "nnlite-regions")
    width, height = _png_size(img["src"])
    assert width >= 32 and height >= 32


def test_the_trace_cell_shows_one_step_each_time_it_runs(lesson):
    assert not _html(lesson["trace-make"])  # making the trace shows nothing yet
    first = _view(lesson["trace-step"], "trace-step")
    assert 'data-step="1"' in first.split(">", 1)[0] and "step 1 of 2" in _text(first)
    assert "network 2-4-1 (tanh, sigmoid)" in _text(first)  # the header: the learner's model
    assert "data your x, y: 4 samples" in _text(first)
    note = "your own model, from its weights as they are now; the trace trains a copy"
    assert note in _text(first)
    second = _view(lesson["trace-step-2"], "trace-step")
    assert 'data-step="2"' in second.split(">", 1)[0] and "step 2 of 2" in _text(second)
    assert "step 1 of" not in _text(second)  # the next step, not the trace again
    assert _stdout(lesson["trace-step-end"]).strip() == "None"  # steps=2: then the end
    assert _stdout(lesson["trace-own"]).split() == ["True", "False"]  # from its W; a copy


def test_fit_verbose_1_leaves_one_finished_progress_display_per_epoch(lesson):
    lines = _progress(lesson["digits-fit"], epochs=5)
    assert all(" - 47/47 - " in line for line in lines)  # 1500 samples, batch 32


def test_the_digits_history_has_a_row_per_epoch_and_its_curves(lesson):
    page = _view(lesson["digits-history"], "history")
    rows = _epoch_rows(page)
    assert len(rows) == 5
    assert _series(page) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_the_digits_confusion_matrix_counts_the_held_out_images(lesson):
    cells = _confusion(_view(lesson["digits-confusion"], "confusion"))
    assert sum(cells.values()) == DIGITS_VAL
    assert {t for t, _ in cells} == set(range(10))
    correct = sum(n for (t, p), n in cells.items() if t == p)
    assert correct / DIGITS_VAL > 0.5  # 5 epochs learn the digits well past chance
    last = _progress(lesson["digits-fit"], epochs=5)[-1]  # the fit's own validation figure
    val_accuracy = float(re.search(r"val_accuracy: ([\d.]+)", last).group(1))
    assert correct / DIGITS_VAL == pytest.approx(val_accuracy, abs=5.1e-5)  # 4 decimals shown


def _check_digits(outputs, side: int) -> None:
    images = _images(_view(outputs, "digits"), "nnlite-digit")
    assert len(images) == 8
    for img in images:
        assert 0 <= int(img["data-pred"]) <= 9
        width, height = _png_size(img["src"])
        assert width == height and width >= side  # an image of a side x side digit


def test_the_digit_pictures_are_eight_pngs(lesson):
    _check_digits(lesson["digits-pictures"], side=8)


def _keras_data(lesson) -> tuple[str, int, int]:
    """(data name, image side, test images) as the notebook's data cell reports them."""
    said = re.search(r"data: (\w+), (\d+) training and (\d+) test images of \((\d+), (\d+)\)",
                     _stdout(lesson["keras-data"]))  # fmt: skip
    name, _, n_test, side, _ = said.groups()
    assert name == ("MNIST" if MNIST.is_dir() else "digits")
    return name, int(side), int(n_test)


def test_the_keras_part_uses_mnist_when_it_is_there(lesson):
    name, side, n_test = _keras_data(lesson)
    assert (side, n_test) == ((28, 10000) if name == "MNIST" else (8, DIGITS_VAL))


def test_the_keras_summary_shows_its_table_in_the_notebook(lesson):
    name, side, _ = _keras_data(lesson)
    page = "".join(_html(lesson["keras-summary"]))  # summary() prints (returns None): displays
    total = side * side * 128 + 128 + 128 * 10 + 10
    assert "Total params" in page and f"{total:,}" in page


def test_the_keras_fit_shows_its_progress_and_history(lesson):
    _progress(lesson["keras-fit"], epochs=2)
    page = _view(lesson["keras-history"], "history")
    assert len(_epoch_rows(page)) == 2
    assert _series(page) == {"loss", "accuracy", "val_loss", "val_accuracy"}


def test_the_keras_confusion_matrix_agrees_with_evaluate(lesson):
    name, side, n_test = _keras_data(lesson)
    loss, accuracy = ast.literal_eval(_result(lesson["keras-evaluate"])["data"]["text/plain"])
    assert math.isfinite(loss) and accuracy > (0.85 if name == "MNIST" else 0.5)
    cells = _confusion(_view(lesson["keras-confusion"], "confusion"))
    assert sum(cells.values()) == n_test
    correct = sum(n for (t, p), n in cells.items() if t == p)
    assert correct / n_test == pytest.approx(accuracy, abs=1e-3)  # the same predictions
    _check_digits(lesson["keras-pictures"], side)


# ---------------------------------------------------------------------------------------
# Small notebooks made here, each in a kernel of its own.
# ---------------------------------------------------------------------------------------

SNIPPETS = {
    "python": "import sys\nprint(sys.executable)",
    "keras": """
import numpy as np
import nnlite
from nnlite import keras
from nnlite.keras import layers

d = nnlite.datasets.load("digits")
keras.utils.set_random_seed(0)
m = keras.Sequential([keras.Input(shape=(64,)), layers.Dense(16, activation="relu"),
                      layers.Dense(10, activation="softmax")])
m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
m.summary()
""",
    "keras-fit": "h = m.fit(d.X[:640], d.y[:640], epochs=3, validation_split=0.25)",
    "keras-history": "print(h.history['loss'])",
    "trace": """
import nnlite.trace
events = list(nnlite.trace.run(steps=2, seed=3))
print(len(events), type(events[0]).__name__, type(events[-1]).__name__)
""",
    "bad-fit": "nnlite.Sequential([nnlite.Dense(2, 'softmax')]).fit(np.zeros((4, 2)), np.zeros(3))",
    "bad-keras": "m.fit(np.zeros((3, 5)), np.zeros(3))",
}


@pytest.fixture(scope="module")
def snippets(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    for tag, source in SNIPPETS.items():
        cell = nbformat.v4.new_code_cell(source.strip())
        cell.metadata["tags"] = [tag, *(["raises-exception"] if tag.startswith("bad") else [])]
        nb.cells.append(cell)
    return _tagged(_run(nb, tmp_path_factory))


def test_the_kernel_is_this_tests_python(snippets):
    assert _stdout(snippets["python"]).strip() == sys.executable


def test_keras_summary_and_fit_show_in_a_kernel(snippets):
    page = "".join(_html(snippets["keras"]))  # rich's print in a notebook: display_data
    assert "Total params" in page and f"{64 * 16 + 16 + 16 * 10 + 10:,}" in page
    lines = _progress(snippets["keras-fit"], epochs=3)
    losses = ast.literal_eval(_stdout(snippets["keras-history"]).strip())
    assert len(losses) == 3
    for epoch, (line, loss) in enumerate(zip(lines, losses), 1):
        assert line.startswith(f"Epoch {epoch}/3 - 15/15 - ")  # 480 training samples, batch 32
        assert f"loss: {loss:.4f} - " in line  # the line's figure is the History's


def test_a_trace_in_a_kernel_is_the_trace_in_a_script(snippets):
    import nnlite.trace

    events = list(nnlite.trace.run(steps=2, seed=3))
    said = _stdout(snippets["trace"]).split()
    assert said == [str(len(events)), type(events[0]).__name__, type(events[-1]).__name__]


@pytest.mark.parametrize(("tag", "says"), [("bad-fit", "X has 4 samples but y has 3"),
                                           ("bad-keras", "the model's input shape is (64,)")])  # fmt: skip
def test_a_learners_mistake_is_one_nnlite_error_line(snippets, tag, says):
    from nnlite import errors

    (error,) = [out for out in snippets[tag] if out["output_type"] == "error"]
    family = {name for name in dir(errors) if name.endswith("Error")}
    assert error["ename"] in family  # nnlite's own error, not a NumPy or Numba one
    assert error["evalue"] and "\n" not in error["evalue"] and says in error["evalue"]
