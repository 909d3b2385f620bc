"""Decision regions, neuron maps and fitted curves in the terminal (``nnlite.ui.regions``).

Claims checked: at 50, 80 and 200 columns, with and without colour, no line is wider than
the console; every class's colour (or, without colour, its letter) is on the plane, and
the letter in each cell is the class the grid predicts there; training and held-out points
get their own marks where the data lie; each hidden unit's map is labelled and follows its
unit; the live view redraws by its rule (a fake clock: no timing in tests) and hands the
bars' thread only a frame already built; a one-input regression draws data and curve.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console

from nnlite import Dense, Sequential, datasets
from nnlite.errors import ConfigError
from nnlite.regions import fitted_curve, region_grid
from nnlite.ui import regions as ui

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
WIDTHS = (50, 80, 200)


@pytest.fixture(scope="module")
def spirals():
    """A small network trained on the spirals: three classes, held-out points."""
    ds = datasets.load("spirals")
    X, y, Xv, yv = ds.X[:240], ds.y[:240], ds.X[240:], ds.y[240:]
    model = Sequential([Dense(8, "tanh"), Dense(8, "tanh"), Dense(3, "softmax")])
    model.fit(X, y, epochs=150, lr=0.3, seed=0)
    return model, X, y, (Xv, yv)


def view_of(spirals, neurons=False):
    model, X, y, val = spirals
    view = ui.RegionsView(X, y, val, 3, neurons=neurons)
    view.set_model(model)
    return view


def render(renderable, width, colour, no_color=False) -> str:
    console = Console(file=io.StringIO(), width=width, force_terminal=colour, no_color=no_color,
                      color_system="truecolor" if colour else None)  # fmt: skip
    console.print(renderable)
    return console.file.getvalue()


def widest(text: str) -> int:
    return max(cell_len(line) for line in ANSI.sub("", text).splitlines())


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("colour", [True, False])
def test_the_picture_fits_the_console_and_shows_every_class(spirals, width, colour):
    out = render(view_of(spirals).picture(width), width, colour)
    assert widest(out) <= width
    plain = ANSI.sub("", out)
    assert "decision regions" in plain
    for j in range(3):
        assert ui.HELD_MARKS[j] in plain and ui.TRAIN_MARKS[j] in plain  # the data, by class
        if colour:  # the class's region colour, at some intensity, as a background
            shades = {ui._pixel_rgb(j, v) for v in range(ui.LEVELS)}
            assert any(f"48;2;{r};{g};{b}m" in out for r, g, b in shades), j
        else:
            assert ui.LETTERS[j].upper() in plain
    assert ("▀" in plain) == colour


@pytest.mark.parametrize("width", WIDTHS)
def test_the_picture_grows_with_the_console_up_to_its_limit(spirals, width):
    out = ANSI.sub("", render(view_of(spirals).picture(width), width, False))
    rows = [
        line
        for line in out.splitlines()
        if set(line) <= set("AaBbCc·" + ui.TRAIN_MARKS + ui.HELD_MARKS) and line
    ]
    assert len(rows[0]) == min(width - 2, ui.MAX_COLS)


def test_without_colour_each_cell_names_the_class_the_network_predicts_there(spirals):
    model, X, y, _ = spirals
    grid = region_grid(model, X, 40, 20)
    picture = ui.regions_picture(grid)  # no points: every cell is a region's letter
    lines = picture.plain
    cls, t = grid.classes, np.clip((grid.confidence - 1 / 3) / (2 / 3), 0, 1)
    for line, text in enumerate(lines):
        for col, char in enumerate(text):
            up, down = 2 * line, 2 * line + 1
            best = up if t[up, col] >= t[down, col] else down
            if t[best, col] < 0.15:
                assert char == "·"
            else:
                assert char.lower() == "abc"[cls[best, col]]
                assert char.isupper() == (t[best, col] >= 0.6)
    # NO_COLOR on a colour terminal draws the same characters
    out = ANSI.sub("", render(picture, 80, True, no_color=True))
    assert out.splitlines() == lines


def test_points_are_marked_in_their_cell_filled_for_training_hollow_for_held_out(spirals):
    model = spirals[0]
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.99, 0.01]])
    grid = region_grid(model, X, 10, 8, extent=(0.0, 1.0, 0.0, 1.0))
    picture = ui.regions_picture(grid, (X[:2], np.array([0, 2])), (X[2:], np.array([1])))
    lines = picture.plain
    assert lines[3][0] == ui.TRAIN_MARKS[0]  # (0, 0): bottom-left
    assert lines[0][9] == ui.TRAIN_MARKS[2]  # (1, 1): top-right
    assert lines[3][9] == ui.HELD_MARKS[1]  # (0.99, 0.01): bottom-right, hollow
    assert sum(line.count(m) for line in lines for m in ui.TRAIN_MARKS + ui.HELD_MARKS) == 3


@pytest.mark.parametrize("width", WIDTHS)
def test_neuron_maps_are_labelled_and_fit(spirals, width):
    out = render(view_of(spirals, neurons=True).picture(width), width, True)
    assert widest(out) <= width
    plain = ANSI.sub("", out)
    for layer in (1, 2):
        for unit in range(1, 9):
            assert f"layer {layer} · unit {unit}" in plain


def test_a_neuron_map_follows_its_unit():
    # one hidden unit computing tanh(x₁): its map rises left to right and is flat top to bottom
    model = Sequential([Dense(1, "tanh"), Dense(2, "softmax")], n_inputs=2)
    model.layers[0].W[...] = [[3.0], [0.0]]
    model.layers[0].b[...] = 0
    grid = region_grid(model, np.array([[-1.0, -1.0], [1.0, 1.0]]), 32, 24, hidden=True)
    tile = ui.neuron_maps(grid, ["tanh"], 80)[0]
    assert tile.plain[0].startswith("layer 1 · unit 1")
    for row in tile.plain[1:]:
        levels = [ui.RAMP.index(c) for c in row]
        assert levels == sorted(levels) and levels[0] < levels[-1]
    assert len(set(tile.plain[1:])) == 1


def test_wide_hidden_layers_are_refused_naming_the_limit():
    model = Sequential([Dense(9, "relu"), Dense(2, "softmax")], n_inputs=2)
    with pytest.raises(ConfigError, match="at most 8 units; layer 1 has 9") as err:
        ui.check_neuron_maps(model)
    assert "\n" not in str(err.value)
    ui.check_neuron_maps(Sequential([Dense(8, "relu"), Dense(2, "softmax")], n_inputs=2))


@pytest.mark.parametrize("width", WIDTHS)
def test_a_one_input_regression_shows_the_data_and_the_fitted_curve(width):
    X = np.linspace(-2, 2, 30)[:, None]
    y = np.sin(X[:, 0])
    model = Sequential([Dense(8, "tanh"), Dense(1, "identity")], n_inputs=1)
    model.fit(X, y, epochs=50, lr=0.1)
    view = ui.RegionsView(X, y)
    view.set_model(model)
    out = render(view.picture(width), width, False)
    assert widest(out) <= width and "fitted curve" in out
    assert out.count("•") >= 5 and out.count("─") >= 5
    x, yhat = fitted_curve(model, X, points=8)
    assert f"{x[0]:.3g}" in out


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_the_live_view_redraws_by_its_rule_and_only_swaps_frames(spirals, monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(ui.time, "perf_counter", clock)
    view = view_of(spirals)

    def timed_redraw(cost):  # a redraw that takes `cost` seconds on the fake clock
        def picture(width):
            clock.now += cost
            return object()

        monkeypatch.setattr(view, "picture", picture)

    timed_redraw(0.05)
    view.on_train_begin({"epochs": 10})
    assert view.frames == 1 and view.cost == pytest.approx(0.05)
    frame = view.__rich__()
    assert view.__rich__() is frame  # the bars' thread builds nothing
    clock.now += 0.99  # < 20 × 0.05 s since the last redraw
    view.on_batch_end(0, 1, {})
    assert view.frames == 1 and view.__rich__() is frame
    clock.now += 0.02
    view.on_batch_end(0, 2, {})
    assert view.frames == 2 and view.__rich__() is not frame
    timed_redraw(0.001)  # cheap redraws: still at most 5 a second
    clock.now += 1.0
    view.on_epoch_end(0, {})
    clock.now += 0.15
    view.on_epoch_end(1, {})
    assert view.frames == 3
    view.model.device = "cuda"  # θ is on the GPU between batches: only epoch ends redraw
    try:
        clock.now += 5.0
        view.on_batch_end(2, 1, {})
        assert view.frames == 3
        view.on_epoch_end(2, {})
        assert view.frames == 4
    finally:
        view.model.device = "cpu"
    view.on_train_end({})  # the last frame: from the final θ, whatever the clock says
    assert view.frames == 5 and view.epoch == view.epochs == 10
