"""Seeing the digits: ``nnlite predict --show`` and ``nnlite evaluate`` on image data.

Claims checked: ``predict --show K`` draws K digits, each with its label, the class the
model predicts and the model's top-3 probabilities as bars; without colour each picture is
the plain ramp of the normalised pixels, with colour it is grey half-blocks; ``--wrong``
picks the most confidently wrong samples. ``evaluate`` prints a confusion matrix whose
every cell equals an independent count of the model's predictions, per-class precision and
recall equal to the textbook ratios, and the most confidently wrong digits. Every mistake
(bad K, K larger than the data, drawing non-image data, ``--plot`` without matplotlib or to
a bad path) ends with exit code 1 and one ``error:`` line. One test repeats the story on
real MNIST and is skipped when the files are absent.
"""

from __future__ import annotations

import importlib.util
import re
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from rich.console import Console
from typer.testing import CliRunner

import cli
import nnlite
from nnlite import datasets
from nnlite.ui import digits as ui_digits
from nnlite.ui import terminal

runner = CliRunner()
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
RAMP = " .:-=+*#%@"
MNIST_DIR = Path("/work/shared/data/mnist")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def ok(result) -> str:
    assert result.exit_code == 0, (result.output, result.exception)
    return ANSI.sub("", result.stdout)


def clean_error(result, phrase: str) -> str:
    """Exit code 1 and exactly one ``error:`` line on stderr containing ``phrase``."""
    err = ANSI.sub("", result.stderr)
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert phrase.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture(autouse=True)
def plain_console(monkeypatch):
    """A wide console without colour, whatever terminal pytest was started from."""
    monkeypatch.setattr(terminal, "console", Console(width=120, color_system=None))


@pytest.fixture(scope="module")
def digits_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("view") / "digits.npz"
    ok(invoke("train", "--epochs", "5", "--layers", "32", "--save", path, "-q"))
    return path


@pytest.fixture(scope="module")
def moons_model(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("view") / "moons.npz"
    ok(invoke("train", "-d", "moons", "-e", "3", "--save", path, "-q"))
    return path


@pytest.fixture(scope="module")
def digits_probs(digits_model):
    """The model's class probabilities on all 1,797 digits, in the loader's order."""
    model = nnlite.load(digits_model)
    ds = datasets.load_digits()
    return ds, model.predict(ds.X).astype(np.float64)


def reference_picture(pixels: np.ndarray, shape, scale: int) -> list[str]:
    """The plain-ramp picture computed here: normalise, enlarge, average row pairs."""
    a = pixels.reshape(shape).astype(np.float64)
    a = (a - a.min()) / (a.max() - a.min())
    a = np.kron(a, np.ones((scale, scale)))
    if len(a) % 2:
        a = np.vstack([a, np.zeros(a.shape[1])])
    return [
        "".join(RAMP[int(round(v * 9))] for v in (a[r] + a[r + 1]) / 2) for r in range(0, len(a), 2)
    ]


# -- predict --show -----------------------------------------------------------------


def test_predict_show_draws_each_digit_with_label_prediction_and_top3_bars(
    digits_model, digits_probs
):
    ds, P = digits_probs
    out = ok(invoke("predict", digits_model, "--dataset", "digits", "--show", "1"))
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("#0  label"))
    assert lines[head].split()[-1] == str(ds.y[0])
    picture = [line[:16] for line in lines[head + 1 : head + 9]]
    assert picture == reference_picture(ds.X[0], (8, 8), scale=2)
    predicted = int(P[0].argmax())
    mark = "✓" if predicted == ds.y[0] else "✗"
    assert lines[head + 9].strip() == f"predicted {predicted} {mark}"
    top3 = np.argsort(-P[0], kind="stable")[:3]
    for line, c in zip(lines[head + 10 : head + 13], top3):
        # "c <bar of w cells> ppp.p%": the class, the bar, the probability in 6 characters.
        line = line.rstrip()
        assert line[:2] == f"{c} " and line[-7] == " ", line
        assert float(line[-6:-1]) == pytest.approx(100 * P[0, c], abs=0.051)
        bar = line[2:-7]
        assert set(bar) <= set("█▏▎▍▌▋▊▉ ") and len(bar) >= 8, line
        # The bar's length in eighths of a cell is the probability times its width.
        solid = bar.rstrip()
        eighths = 8 * solid.count("█") + (
            " ▏▎▍▌▋▊▉".index(solid[-1]) if solid and solid[-1] != "█" else 0
        )
        assert eighths == round(P[0, c] * len(bar) * 8)


def test_predict_show_k_draws_k_digits_beside_the_table(digits_model, digits_probs):
    ds, P = digits_probs
    out = ok(invoke("predict", digits_model, "--dataset", "digits", "--show", "5"))
    heads = re.findall(r"#(\d+)  label (\d)", out)
    assert heads == [(str(i), str(ds.y[i])) for i in range(5)]
    predicted = re.findall(r"predicted (\d) [✓✗]", out)
    assert predicted == [str(int(P[i].argmax())) for i in range(5)]
    assert re.findall(r"^│\s+(\d+) │", out, re.M) == ["0", "1", "2", "3", "4"]  # the table too
    assert "█" in out


def test_predict_without_show_keeps_the_table_only(digits_model):
    out = ok(invoke("predict", digits_model, "--dataset", "digits"))
    assert len(re.findall(r"^│\s+(\d+) │", out, re.M)) == 10
    assert "predicted" not in out and "█" not in out
    drawn = ok(invoke("predict", digits_model, "--dataset", "digits", "--images"))
    assert len(re.findall(r"#\d+  label", drawn)) == 10  # --images: the default 10 drawn


def test_predict_wrong_shows_the_most_confidently_wrong(digits_model, digits_probs):
    ds, P = digits_probs
    pred = P.argmax(axis=1)
    wrong = [i for i in range(len(ds.y)) if pred[i] != ds.y[i]]
    expected = sorted(wrong, key=lambda i: (-P[i, pred[i]], i))[:3]
    out = ok(invoke("predict", digits_model, "-d", "digits", "--show", "3", "--wrong"))
    assert f"most confidently wrong: 3 of {len(wrong)} mistakes" in out
    assert [int(i) for i in re.findall(r"#(\d+)  label", out)] == expected
    assert [int(i) for i in re.findall(r"^│\s+(\d+) │", out, re.M)] == expected
    assert out.count("✗") >= 6  # each row of the table and each card says it is wrong


def test_predict_show_on_non_image_data_still_lists_rows(moons_model):
    out = ok(invoke("predict", moons_model, "--show", "4"))
    assert len(re.findall(r"^│\s+(\d+) │", out, re.M)) == 4


def test_colour_console_draws_grey_half_blocks():
    # A 2×2 image: top row black, white; bottom row white, black. Each character is one
    # column: the upper pixel's grey in front of the lower pixel's grey.
    image = ui_digits.DigitImage(np.array([[0.0, 1.0], [1.0, 0.0]]), scale=1)
    console = Console(width=40, color_system="truecolor", force_terminal=True, record=True)
    console.print(image)
    text = console.export_text(styles=True)
    assert text.count("▀") == 2
    assert "38;2;0;0;0;48;2;255;255;255" in text and "38;2;255;255;255;48;2;0;0;0" in text
    plain = Console(width=40, color_system=None, record=True)
    plain.print(image)
    assert plain.export_text(styles=True).rstrip("\n") == "=="  # mean ½ of each column: "="
    # NO_COLOR: a terminal that keeps its colour system but drops every colour.
    no_colour = Console(width=40, force_terminal=True, no_color=True, record=True)
    no_colour.print(image)
    assert no_colour.export_text().rstrip("\n") == "=="


FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]  # fmt: skip


def test_class_names_are_shown_when_the_data_set_has_them():
    probs = np.full(10, 0.01)
    probs[9], probs[7] = 0.8, 0.11
    card = ui_digits.DigitCard(np.arange(784.0), (28, 28), probs, label=7, labels=FASHION)
    text = "\n".join(line.plain for line in card.lines(colour=False))
    assert "label Sneaker" in text and "predicted Ankle boot ✗" in text
    # Names right-aligned to the longest of the three shown ("T-shirt/top", 11 characters).
    assert re.search(r"^ Ankle boot █+", text, re.M) and re.search(r"^    Sneaker █", text, re.M)
    console = Console(width=120, color_system=None, record=True)
    console.print(ui_digits.confusion_table(np.eye(10, dtype=int), FASHION))
    assert "classes: 0 T-shirt/top, 1 Trouser," in console.export_text()
    # The CLI takes them from the data set only when there is one name per class.
    assert cli._class_names(SimpleNamespace(class_names=FASHION), 10) == FASHION
    assert cli._class_names(SimpleNamespace(class_names=FASHION), 3) is None
    assert cli._class_names(SimpleNamespace(), 10) is None


# -- evaluate -----------------------------------------------------------------------


def parse_confusion(out: str, k: int) -> np.ndarray:
    """The k×k counts of the rendered confusion table (a dim '·' is 0)."""
    part = out.split("confusion matrix", 1)[1].split("most frequent mistakes", 1)[0]
    rows = {}
    for line in part.splitlines():
        tokens = line.split()
        if len(tokens) == k + 2 and tokens[0].isdigit():
            rows[int(tokens[0])] = [0 if t == "·" else int(t) for t in tokens[1 : k + 1]]
    assert sorted(rows) == list(range(k)), part
    return np.array([rows[t] for t in range(k)])


def test_evaluate_confusion_matrix_matches_an_independent_count(digits_model, digits_probs):
    ds, P = digits_probs
    out = ok(invoke("evaluate", digits_model, "--dataset", "digits"))
    pairs = Counter(zip(ds.y.tolist(), P.argmax(axis=1).tolist()))
    expected = np.array([[pairs[(t, p)] for p in range(10)] for t in range(10)])
    np.testing.assert_array_equal(parse_confusion(out, 10), expected)
    right = int(np.trace(expected))
    assert re.search(rf"│ right\s+│\s+{right:,} of 1,797 │", out)
    assert f"{100 * right / 1797:.2f}%" in out  # the accuracy row agrees


def test_evaluate_per_class_precision_and_recall(digits_model, digits_probs):
    ds, P = digits_probs
    pred = P.argmax(axis=1)
    out = ok(invoke("evaluate", digits_model, "--dataset", "digits", "--show-wrong", "0"))
    part = out.split("per class", 1)[1]
    found = re.findall(r"^\s*(\d)\s+(\S+)\s+(\S+)\s+(\d+)\s", part, re.M)
    assert len(found) == 10
    for c, precision, recall, support in found:
        c = int(c)
        tp = np.sum((pred == c) & (ds.y == c))
        assert int(support) == np.sum(ds.y == c)
        assert recall == f"{tp / np.sum(ds.y == c):.1%}"
        n_pred = np.sum(pred == c)
        assert precision == (f"{tp / n_pred:.1%}" if n_pred else "n/a")
    assert "most confidently wrong" not in out  # --show-wrong 0 hides the digits


def test_evaluate_draws_the_most_confidently_wrong_digits(digits_model, digits_probs):
    ds, P = digits_probs
    pred = P.argmax(axis=1)
    wrong = sorted(
        (i for i in range(len(ds.y)) if pred[i] != ds.y[i]), key=lambda i: (-P[i, pred[i]], i)
    )
    out = ok(invoke("evaluate", digits_model, "--dataset", "digits"))
    assert f"most confidently wrong: 4 of {len(wrong)} mistakes" in out  # the default: 4
    assert [int(i) for i in re.findall(r"#(\d+)  label", out)] == wrong[:4]
    assert re.findall(r"predicted (\d) ✗", out) == [str(pred[i]) for i in wrong[:4]]


def test_evaluate_worst_cells_are_named_in_the_caption(digits_model, digits_probs):
    ds, P = digits_probs
    out = ok(invoke("evaluate", digits_model, "--dataset", "digits", "--show-wrong", "0"))
    pairs = Counter((t, p) for t, p in zip(ds.y.tolist(), P.argmax(axis=1).tolist()) if t != p)
    worst = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
    caption = out.split("most frequent mistakes (true → predicted): ", 1)[1].split("per class")[0]
    assert " ".join(caption.split()) == ", ".join(f"{t} → {p} ({n})" for (t, p), n in worst)


def test_evaluate_non_image_classifier_shows_the_matrix_without_pictures(moons_model):
    out = ok(invoke("evaluate", moons_model))
    assert "confusion matrix" in out and "per class" in out
    assert "most confidently wrong" not in out


# -- errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args, phrase",
    [
        (["predict", "{digits}", "--show", "-1"], "--show must be 0 or more, got -1"),
        (["predict", "{digits}", "-d", "digits", "--show", "5000"], "only 1,797 samples"),
        (["evaluate", "{digits}", "--show-wrong", "-2"], "--show-wrong must be 0 or more"),
        (["predict", "{moons}", "--images"], "'moons' has no images to draw"),
        (["predict", "{moons}", "--show", "3", "--images"], "has no images"),
        (["evaluate", "{moons}", "--show-wrong", "3"], "'moons' has no images to draw"),
        (["evaluate", "{digits}", "--plot", "{tmp}/curves.pdf"], "ending in .png"),
        (["evaluate", "{digits}", "--plot", "{tmp}/no/such/dir/x.png"], "does not exist"),
    ],
)
def test_mistakes_give_one_clean_error_line(digits_model, moons_model, tmp_path, args, phrase):
    names = {"digits": digits_model, "moons": moons_model, "tmp": tmp_path}
    result = invoke(*(a.format(**names) for a in args))
    if "matplotlib" not in phrase and importlib.util.find_spec("matplotlib") is None:
        # Without matplotlib --plot stops at the missing library, before the path checks.
        if "--plot" in args:
            phrase = "needs matplotlib"
    clean_error(result, phrase)


def test_plot_without_matplotlib_says_how_to_get_it(digits_model, tmp_path, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "matplotlib" else real(name, *a),
    )
    target = tmp_path / "cm.png"
    line = clean_error(invoke("evaluate", digits_model, "--plot", target), "needs matplotlib")
    assert line == (
        "error: --plot needs matplotlib: "
        "pip install matplotlib (or, in a clone of nnlite, pip install '.[plot]')"
    )
    assert not target.exists()


def test_evaluate_plot_writes_a_png(digits_model, tmp_path):
    pytest.importorskip("matplotlib")
    target = tmp_path / "cm.png"
    out = ok(invoke("evaluate", digits_model, "--show-wrong", "0", "--plot", target))
    assert f"wrote the confusion matrix and training curves to {target}" in " ".join(out.split())
    assert target.read_bytes()[:8] == PNG_SIGNATURE
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cm.png"]  # no temporary file left


# -- real MNIST -----------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"real MNIST not found in {MNIST_DIR} (four IDX .gz files)",
)
def test_mnist_evaluate_and_predict_show_28x28_digits(tmp_path):
    path = tmp_path / "mnist.npz"
    ok(invoke("train", "-d", "mnist", "--data-dir", MNIST_DIR, "--layers", "32",
              "--epochs", "1", "--batch-size", "64", "--save", path, "-q"))  # fmt: skip
    ds = datasets.load_mnist(MNIST_DIR)
    P = nnlite.load(path).predict(ds.X_test).astype(np.float64)
    pred = P.argmax(axis=1)
    out = ok(invoke("evaluate", path, "-d", "mnist", "--data-dir", MNIST_DIR, "--show-wrong", "2"))
    assert "test set (10,000)" in out
    pairs = Counter(zip(ds.y_test.tolist(), pred.tolist()))
    expected = np.array([[pairs[(t, p)] for p in range(10)] for t in range(10)])
    np.testing.assert_array_equal(parse_confusion(out, 10), expected)
    assert np.trace(expected) > 8500  # one epoch of a small network: well above chance

    shown = ok(invoke("predict", path, "-d", "mnist", "--data-dir", MNIST_DIR, "--show", "2"))
    lines = shown.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("#0  label"))
    assert lines[head].split("#1")[0].split()[-1] == str(ds.y_test[0])
    picture = [line[:28] for line in lines[head + 1 : head + 15]]  # 28 rows → 14 lines
    assert picture == reference_picture(ds.X_test[0], (28, 28), scale=1)
    assert re.findall(r"predicted (\d) [✓✗]", shown) == [str(pred[0]), str(pred[1])]


def test_train_plot_names_both_formats_it_writes(tmp_path):
    result = invoke("train", "-d", "moons", "-e", "1", "--plot", str(tmp_path / "run.jpg"))
    clean_error(result, "ending in .png (the curves) or .gif")
    assert not (tmp_path / "run.jpg").exists()
