"""What a learner sees in a notebook: each object's HTML, one-line text and rich view.

The HTML is checked for what it must show — the figures in it against the object's own
numbers, pictures decoded back to pixels (an independent PNG reader below, and Pillow's
where it is installed), the trace's panels against the terminal's — not only for its
presence. A real Jupyter kernel runs the example notebook in test_notebook_kernel.py.
"""

from __future__ import annotations

import base64
import re
import struct
import zlib
from html import unescape

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rich.console import Console

import nnlite
from nnlite import Dense, Sequential, lessons, metrics
from nnlite import show as show_
from nnlite import trace as trace_
from nnlite.errors import ConfigError, DataError
from nnlite.ui import notebook

pytestmark = pytest.mark.filterwarnings("ignore::nnlite.errors.LearnerWarning")

XOR_X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float64)
XOR_Y = np.array([0, 1, 1, 0])


def read_png(data: bytes) -> np.ndarray:
    """An 8-bit grey or RGB PNG (filter 0 or any, one IDAT or more) back to its pixels."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        tag, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(tag + body), f"bad CRC in {tag!r}"
        if tag == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif tag == b"IDAT":
            idat += body
        pos += 12 + length
    w, h, depth, colour, *_ = header
    assert depth == 8 and colour in (0, 2)
    channels = 1 if colour == 0 else 3
    raw = zlib.decompress(idat)
    stride = w * channels
    out = np.zeros((h, stride), np.uint8)
    prev = np.zeros(stride, np.int64)
    for r in range(h):
        kind, row = (
            raw[r * (stride + 1)],
            np.frombuffer(raw, np.uint8, stride, r * (stride + 1) + 1),
        )
        assert kind == 0, "nnlite writes filter 0"
        out[r] = row
        prev = row
    del prev
    return out.reshape(h, w) if channels == 1 else out.reshape(h, w, 3)


def images(html: str, cls: str) -> list[tuple[dict[str, str], np.ndarray]]:
    """Each ``<img class=cls ...>``: its attributes and its decoded pixels."""
    found = []
    for tag in re.findall(rf'<img class="{cls}"[^>]*>', html):
        attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        uri = attrs["src"]
        assert uri.startswith("data:image/png;base64,")
        found.append((attrs, read_png(base64.b64decode(uri.split(",", 1)[1]))))
    return found


def plain(html: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html))


@pytest.fixture(scope="module")
def xor_model():
    model = Sequential([Dense(4, "tanh"), Dense(1, "sigmoid")], loss="mse", dtype=np.float64)
    history = model.fit(XOR_X, XOR_Y, epochs=400, batch_size=4, lr=1.0, seed=1)
    return model, history


# -- helpers ------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    hnp.arrays(np.uint8, st.tuples(st.integers(1, 9), st.integers(1, 9), st.sampled_from([1, 3])))
)
def test_png_round_trips_any_grey_or_rgb_picture(pixels):
    pixels = pixels[..., 0] if pixels.shape[2] == 1 else pixels
    assert np.array_equal(read_png(notebook.png(pixels)), pixels)


def test_png_is_what_pillow_reads_too():
    image = pytest.importorskip("PIL.Image")
    import io

    rgb = np.arange(5 * 7 * 3, dtype=np.uint8).reshape(5, 7, 3)
    assert np.array_equal(np.asarray(image.open(io.BytesIO(notebook.png(rgb)))), rgb)


@pytest.mark.parametrize("shape", [(0, 3), (2, 2, 4), (3,)])
def test_png_refuses_a_shape_it_cannot_write(shape):
    with pytest.raises(ValueError, match="PNG needs"):
        notebook.png(np.zeros(shape, np.uint8))


def test_rich_html_keeps_styles_but_leaves_the_default_colour_to_the_notebook():
    from rich.text import Text

    html = notebook.html_of(
        Text("plain "),
        Text("bold", style="bold"),
        Text("<red>", style="red"),
        Text(" dim", style="dim"),
    )
    assert "font-weight: bold" in html and "opacity: 0.6" in html
    assert not re.search(r"#0[1-3]0[1-3]0[1-3]", html)  # the stand-ins are gone
    assert "decoration-color" not in html.replace("text-decoration-color: #", "")
    assert "&lt;red&gt;" in html and "color: #" in html  # escaped, and red is a colour
    assert plain(html).split() == ["plain", "bold", "<red>", "dim"]


def test_curves_svg_puts_the_smallest_value_at_the_bottom_and_the_largest_at_the_top():
    svg = notebook.curves_svg({"loss": [3.0, 2.0, 1.0], "val_loss": [2.5, float("nan"), 1.5]}, "t")
    lines = dict(re.findall(r'data-name="(\w+)"[^>]*points="([^"]*)"', svg))
    assert set(lines) == {"loss", "val_loss"}
    loss = [tuple(map(float, p.split(","))) for p in lines["loss"].split()]
    val = [tuple(map(float, p.split(","))) for p in lines["val_loss"].split()]
    assert len(loss) == 3 and len(val) == 2  # the NaN is left out
    xs, ys = zip(*loss)
    assert xs[0] < xs[1] < xs[2] and ys[0] < ys[1] < ys[2]  # SVG's y grows downwards
    top, bottom = 22, 170 - 26
    assert ys[0] == pytest.approx(top) and ys[2] == pytest.approx(bottom)


# -- History ------------------------------------------------------------------------


def test_history_shows_one_row_per_epoch_with_its_figures(xor_model):
    model = Sequential([Dense(3, "tanh"), Dense(1, "sigmoid")], loss="bce")
    history = model.fit(XOR_X, XOR_Y, epochs=7, batch_size=2, lr=0.5, seed=0, validation_split=0.25)
    html = history._repr_html_()
    assert html.startswith('<div class="nnlite-view nnlite-history" data-kind="history"')
    body = re.search(r"<tbody>(.*)</tbody>", html).group(1)
    rows = re.findall(r'<tr data-epoch="(\d+)"><td>\d+</td>(.*?)</tr>', body)
    assert [int(e) for e, _ in rows] == list(range(1, 8))
    head = re.findall(r"<th>([\w_]+)</th>", html)
    assert head[0] == "epoch" and "loss" in head and "val_loss" in head
    col = head.index("loss") - 1
    shown = [float(re.findall(r"<td>([^<]*)</td>", cells)[col]) for _, cells in rows]
    assert shown == pytest.approx(history.loss, rel=1e-3)
    names = re.findall(r'<polyline class="curve" data-name="(\w+)"', html)
    assert names[:2] == ["loss", "val_loss"] and "accuracy" in names


def test_a_long_history_shows_its_first_and_last_epochs_with_a_gap(xor_model):
    _, history = xor_model
    html = history._repr_html_()
    epochs = [int(e) for e in re.findall(r'<tr data-epoch="(\d+)"', html)]
    view = notebook.HistoryView
    assert epochs == [*range(1, view.HEAD + 1), *range(401 - view.TAIL, 401)]
    assert html.count('class="gap"') == 1
    points = re.search(r'data-name="loss"[^>]*points="([^"]*)"', html).group(1).split()
    assert len(points) == 400  # the curve has every epoch


def test_history_text_is_one_line_and_repr_is_short(xor_model):
    _, history = xor_model
    assert "\n" not in repr(history) and len(repr(history)) < 80
    assert pretty(history).startswith("History: 400 epochs, last loss: ")


def test_keras_history_shows_like_nnlites():
    from nnlite import keras

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer="sgd", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(XOR_X, XOR_Y, epochs=3, batch_size=4, verbose=0)
    html = history._repr_html_()
    assert re.findall(r'<tr data-epoch="(\d+)"', html) == ["1", "2", "3"]
    assert re.findall(r'data-name="(\w+)"', html) == ["loss", "accuracy"]


# -- Summary ------------------------------------------------------------------------


def test_summary_is_still_the_list_of_layers_and_shows_them_with_the_total(xor_model):
    model, _ = xor_model
    summary = model.summary()
    assert list(summary) == [("Dense(4, 'tanh')", "2×4", 12), ("Dense(1, 'sigmoid')", "4×1", 5)]
    assert summary.total == model.theta.size == 17
    text = plain(summary._repr_html_())
    assert "Dense(4, 'tanh')" in text and "2×4" in text and re.search(r"total\s+│\s+│\s+17", text)
    assert pretty(summary) == "Summary: 2 layers, 17 parameters"


def test_keras_summary_to_print_fn_is_plain_text_even_in_a_notebook(monkeypatch):
    from nnlite import keras

    monkeypatch.setattr("rich.console._is_jupyter", lambda: True)  # as in a kernel
    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    lines: list[str] = []
    model.summary(print_fn=lines.append)
    assert any("Total params" in line for line in lines)
    assert not any("\x1b[" in line for line in lines)


# -- Trace --------------------------------------------------------------------------


def _lines(events):
    return [e.to_line() for e in events]


@settings(max_examples=8, deadline=None)
@given(steps=st.integers(1, 5), batch=st.integers(1, 4), hidden=st.integers(1, 3))
def test_trace_steps_partition_the_whole_trace(steps, batch, hidden):
    options = dict(layers=[hidden], steps=steps, batch_size=batch, seed=3, dtype="float64")
    whole = _lines(trace_.run(**options))
    t = trace_.run(**options)
    parts = [t.step() for _ in range(steps + 2)]
    assert [p.number for p in parts] == [*range(1, steps + 1), None, None]
    assert _lines(e for p in parts for e in p.events) == whole
    assert isinstance(parts[0].events[0], trace_.NetworkTrace)  # the header comes with step 1
    assert all(isinstance(p.events[0], trace_.Step) for p in parts[1:steps])
    assert t.ended and parts[-1].taken == steps


def test_a_trace_is_still_an_iterator_of_events_and_can_mix_steps_and_iteration():
    t = trace_.run(steps=3, seed=1)
    header = next(t)
    assert isinstance(header, trace_.NetworkTrace) and iter(t) is t
    first = t.step()
    assert first.number == 1 and first.events[0].kind == "step"
    rest = list(t)
    assert rest[0].kind == "step" and rest[0].step == 2
    assert _lines([header, *first.events, *rest]) == _lines(trace_.run(steps=3, seed=1))


def test_a_trace_step_shows_the_panels_nnlite_trace_prints_for_it():
    from nnlite.ui import trace as trace_view

    t = trace_.run(steps=2, seed=2)
    first, second = t.step(), t.step()
    # The terminal's rendering of the whole trace, at the notebook's width.
    console = Console(width=notebook.WIDTH, record=True, file=__import__("io").StringIO())
    trace_view.play(trace_.run(steps=2, seed=2), console=console)
    terminal = console.export_text()
    html1, html2 = first._repr_html_(), second._repr_html_()
    assert 'data-kind="trace-step" data-step="1"' in html1 and 'data-step="2"' in html2
    text1, text2 = plain(html1), plain(html2)
    assert "step 1 of 2" in text1 and "step 2 of" not in text1 and "step 2 of 2" in text2
    assert terminal == text1 + text2  # the same panels, split where a step begins
    assert "z = x·W + b" in text1 or "z¹ = a⁰·W¹ + b¹" in text1


def test_the_end_of_a_trace_says_so():
    t = trace_.run(steps=1, seed=0)
    t.step()
    end = t.step()
    assert end.number is None and end.events == []
    assert 'data-step="end"' in end._repr_html_()
    assert "The trace has ended (1 step)." in plain(end._repr_html_())


def test_a_whole_trace_shows_every_step_and_runs_to_its_end():
    t = trace_.run(steps=3, seed=0)
    t.step()
    html = t._repr_html_()
    assert t.ended and 'data-kind="trace"' in html
    text = plain(html)
    assert [text.count(f"step {k} of 3") for k in (1, 2, 3)] == [1, 1, 1]
    assert html == t._repr_html_()  # shown again: the same, nothing is run twice


def test_a_perceptron_trace_steps_an_epoch_at_a_time():
    t = trace_.run(model="perceptron", gate="and")
    parts = []
    while (part := t.step()).number is not None:
        parts.append(part)
    whole = list(trace_.run(model="perceptron", gate="and"))
    assert [p.number for p in parts] == list(range(1, whole[-1].epoch + 1))
    assert all(p.unit == "epoch" for p in parts)
    text = plain(parts[-1]._repr_html_())
    assert f"epoch {parts[-1].number}:" in text and "converged" in text


def test_an_event_shows_as_one_line_and_its_arrays():
    events = list(trace_.run(steps=1, seed=0, dtype="float64"))
    forward = next(e for e in events if e.kind == "forward")
    line = pretty(forward)
    assert line.startswith("Forward(step=1, layer=1") and "W 2×2" in line and "\n" not in line
    text = plain(forward._repr_html_())
    for name, value in (("W", forward.W), ("Z", forward.Z)):
        assert f"{name} {value.shape[0]}×{value.shape[1]}" in text
        assert f"{value.ravel()[0]:.4f}".lstrip("-") in text


# -- lessons ------------------------------------------------------------------------


def test_a_lesson_result_shows_the_panels_of_nnlite_lesson():
    from nnlite.ui import lesson as lesson_view

    result = lessons.run("perceptron")
    assert isinstance(result, list) and len(result) == 6  # still the list of runs
    html = result._repr_html_()
    assert 'data-kind="lesson" data-topic="perceptron"' in html
    expected = notebook.text_of(*lesson_view.render("perceptron", result))
    assert plain(html).split() == expected.split()
    assert pretty(result).startswith("Lesson perceptron: the perceptron converges")


def test_every_lesson_result_type_names_a_topic_nnlite_lesson_knows():
    kinds = [cls for cls in vars(lessons).values() if isinstance(cls, type)
             and issubclass(cls, lessons.LessonResult) and cls is not lessons.LessonResult]  # fmt: skip
    assert {cls.topic for cls in kinds} == set(lessons.TOPICS) | {"gradient-check"}
    assert len(kinds) == len(lessons.TOPICS) + 1  # one type per topic


def test_lesson_results_and_events_have_one_line_reprs():
    result = lessons.run("activations")
    assert repr(result) == "<ActivationCurves: lesson 'activations'>"
    events = list(trace_.run(steps=1, seed=0))
    for event in events:
        assert "\n" not in repr(event) and repr(event).startswith(type(event).__name__ + "(")
    assert repr(events[1]) == "Step(step=1, epoch=1, rows=[0], X 1×2, Y 1×1)"


# -- show: confusion, digits, regions -------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_confusion_cells_count_every_true_and_predicted_pair(data):
    k = data.draw(st.integers(1, 6))
    n = data.draw(st.integers(1, 40))
    t = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    p = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, k - 1)))
    shown = show_.confusion(t, p, labels=[f"c{j}" for j in range(k)])
    cells = re.findall(
        r'<td data-true="(\d+)" data-pred="(\d+)"[^>]*>(\d+)</td>', shown._repr_html_()
    )
    assert len(cells) == k * k
    for i, j, v in cells:
        assert int(v) == int(np.sum((t == int(i)) & (p == int(j))))


def test_confusion_takes_one_hot_rows_and_says_what_is_wrong():
    Y = np.eye(3)[[0, 1, 2, 2]]
    shown = show_.confusion(Y, np.array([0, 2, 2, 2]))
    assert shown.cm.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    assert shown.accuracy == 0.75 and pretty(shown) == "Confusion: 3 classes, 3/4 right"
    with pytest.raises(DataError, match="3 true labels but 2 predicted"):
        show_.confusion([0, 1, 2], [0, 1])
    with pytest.raises(ConfigError, match="labels has 2 names but the data has 3 classes"):
        show_.confusion([0, 1, 2], [0, 1, 2], labels=["a", "b"])


@pytest.fixture(scope="module")
def digits_model():
    ds = nnlite.datasets.load_digits()
    X, y = ds.X[:300], ds.y[:300]
    model = Sequential([Dense(16, "relu"), Dense(10, "softmax")], loss="cce")
    model.fit(X, y, epochs=5, batch_size=32, lr=0.1, seed=0)
    return model, X, y, ds.image_shape


def test_digits_shows_each_picture_with_the_models_prediction(digits_model):
    model, X, y, shape = digits_model
    shown = show_.digits(model, X, y, n=5)
    found = images(shown._repr_html_(), "nnlite-digit")
    assert len(found) == 5
    probs = metrics.class_probabilities(model.predict(X[:5]))
    scale = notebook.DigitsView(shown).scale()
    assert scale * max(shape) >= 40  # big enough to read, even for 8 × 8 digits
    for i, (attrs, pixels) in enumerate(found):
        assert int(attrs["data-pred"]) == int(probs[i].argmax())
        assert int(attrs["data-label"]) == int(y[i])
        assert pixels.shape == (shape[0] * scale, shape[1] * scale)
        ink = X[i].reshape(shape)  # the shipped digits are in [0, 1]: drawn as they are
        assert 0 <= ink.min() and ink.max() <= 1
        expected = np.round(255 * (1 - ink)).astype(np.uint8)
        assert np.array_equal(pixels[::scale, ::scale], expected)


def test_digits_wrong_shows_only_mistakes_the_most_confident_first(digits_model):
    model, X, y, _ = digits_model
    shown = show_.digits(model, X, y, n=4, wrong=True)
    found = images(shown._repr_html_(), "nnlite-digit")
    assert found and all(a["data-pred"] != a["data-label"] for a, _ in found)
    expected = metrics.most_confident_wrong(y, metrics.class_probabilities(model.predict(X)), 4)
    assert [int(a["data-index"]) for a, _ in found] == expected.tolist()


def test_digits_refuses_what_it_cannot_draw(digits_model):
    model, X, y, _ = digits_model
    with pytest.raises(ConfigError, match="not square: give shape"):
        show_.digits(model, X[:, :63], n=2)
    with pytest.raises(ConfigError, match="wrong=True needs the true classes"):
        show_.digits(model, X, wrong=True)
    with pytest.raises(ConfigError, match="n must be a whole number"):
        show_.digits(model, X, y, n=0)


def test_regions_colour_the_plane_by_the_predicted_class_with_the_data_on_top(xor_model):
    from nnlite import regions
    from nnlite.regions import PALETTE

    model, _ = xor_model
    shown = show_.regions(model, XOR_X, XOR_Y, labels=["zero", "one"])
    html = shown._repr_html_()
    ((attrs, rgb),) = images(html, "nnlite-regions")
    side = notebook.RegionsView.PIXELS
    assert rgb.shape == (side, side, 3)
    grid = regions.region_grid(model, XOR_X, side, side)
    p1 = grid.P[..., 0]  # P(class 1), the sigmoid output
    # Each data point: a disc of its class's colour at its place (x₁ right, x₂ up).
    lo1, hi1, lo2, hi2 = grid.extent
    far = np.ones((side, side), bool)
    for (x1, x2), label in zip(XOR_X, XOR_Y):
        col = int((x1 - lo1) / (hi1 - lo1) * side)
        row = int((hi2 - x2) / (hi2 - lo2) * side)
        assert tuple(rgb[row, col]) == PALETTE[label]
        far[max(row - 8, 0) : row + 9, max(col - 8, 0) : col + 9] = False
    # Elsewhere: white mixed with the predicted class's colour, more of it where the
    # network is surer: share = 0.1 + 0.6·t, t = 2·|p − ½| for two classes.
    cls = (p1 >= 0.5).astype(int)
    t = np.abs(2 * p1 - 1)
    colour = np.array(PALETTE, float)[cls]
    expected = 255 + (0.1 + 0.6 * t)[..., None] * (colour - 255)
    assert np.abs(rgb[far].astype(float) - expected[far]).max() <= 1.0
    assert (cls[far] == 0).any() and (cls[far] == 1).any()
    assert "zero" in plain(html) and "one" in plain(html)


def test_regions_need_a_two_input_model_and_matching_labels(digits_model, xor_model):
    model, X, y, _ = digits_model
    with pytest.raises(DataError, match=r"points \(n, 2\)"):
        show_.regions(model, X, y)
    with pytest.raises(DataError, match="4 points but 3 labels"):
        show_.regions(xor_model[0], XOR_X, XOR_Y[:3])


def test_nnlite_show_is_reachable_from_the_package():
    assert nnlite.show is show_


# -- every view: one line of text, and rich in a terminal -------------------------------


def pretty(obj) -> str:
    out: list[str] = []

    class Printer:
        def text(self, s):
            out.append(s)

    obj._repr_pretty_(Printer(), False)
    return "".join(out)


def test_every_view_prints_in_a_narrow_terminal(xor_model, digits_model):
    model, history = xor_model
    dm, X, y, _ = digits_model
    objects = [history, model.summary(), trace_.run(steps=1, seed=0).step(), trace_.run(steps=1),
               show_.confusion(y[:20], dm.predict_classes(X[:20])), show_.digits(dm, X, y, n=3),
               show_.regions(model, XOR_X, XOR_Y)]  # fmt: skip
    assert set(notebook.VIEWS) >= {o.view_kind for o in objects}
    for obj in objects:
        console = Console(width=50, record=True, file=__import__("io").StringIO())
        console.print(obj)
        text = console.export_text()
        assert text.strip(), type(obj).__name__
        assert max(len(line) for line in text.splitlines()) <= 50
        assert "\n" not in pretty(obj)


def test_the_readmes_notebook_example_runs_and_each_bare_expression_shows_a_view():
    import ast
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In a notebook", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    tree = ast.parse(code)
    scope: dict = {}
    kinds = []
    for node in tree.body:
        if isinstance(node, ast.Expr):  # what a cell ending with it would show
            value = eval(compile(ast.Expression(node.value), "README", "eval"), scope)
            html = value._repr_html_()
            kinds.append(
                re.match(
                    r'<div class="nnlite-view nnlite-[\w-]+" data-kind="([\w-]+)"', html
                ).group(1)
            )
        else:
            exec(compile(ast.Module([node], []), "README", "exec"), scope)
    assert kinds == ["history", "summary", "regions", "trace-step", "lesson"]
