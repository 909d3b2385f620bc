"""``nnlite trace --neurons``: each hidden unit's map over the plane, before and after a step.

Claims checked: the maps are the hidden activations of the θ the trace itself shows (the
Forward events' W and b before the step, the Update events' values after it), recomputed
here in float64 over the event's own grid; a trace that does not ask for them is unchanged
(no new event); the event survives its JSON form; the panel fits 50/80/200 columns and
labels every unit; networks without a plane or too wide are refused in one line.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from rich.cells import cell_len
from rich.console import Console
from typer.testing import CliRunner

import cli
from nnlite import trace as tr
from nnlite.errors import ConfigError
from nnlite.ui import terminal
from nnlite.ui import trace as trace_view
from tests import reference as ref

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def hidden_forward(x1, x2, params, acts):
    """Each hidden layer's float64 activations over the grid, (rows, cols, units)."""
    G1, G2 = np.meshgrid(x1, x2)
    A = np.column_stack([G1.ravel(), G2.ravel()])
    out = []
    for (W, b), act in zip(params[:-1], acts[:-1]):
        A = ref.activation(A @ ref.f64(W) + ref.f64(b), act)
        out.append(A.reshape(len(x2), len(x1), -1))
    return out


@pytest.mark.parametrize(
    "options",
    [
        {"layers": [3], "steps": 2},
        {"dataset": "moons", "layers": [4, 2], "activation": "relu", "batch_size": 5, "lr": 2.0},
        {"dataset": "spirals", "layers": [2], "activation": "tanh", "optimizer": "adam"},
    ],
)
def test_maps_are_the_hidden_activations_of_the_traced_theta(options):
    events = list(tr.run(neurons=True, **options))
    h = events[0]
    acts = h.activations
    steps = [e for e in events if isinstance(e, tr.NeuronMaps)]
    assert len(steps) == h.steps
    for maps in steps:
        forward = [e for e in events if isinstance(e, tr.Forward) and e.step == maps.step]
        updates = {(e.layer, e.param): e.after for e in events
                   if isinstance(e, tr.Update) and e.step == maps.step}  # fmt: skip
        before = [(f.W, f.b) for f in sorted(forward, key=lambda f: f.layer)]
        after = [(updates[(i, "W")], updates[(i, "b")]) for i in range(1, len(before) + 1)]
        for params, got in ((before, maps.before), (after, maps.after)):
            expected = hidden_forward(maps.x1, maps.x2, params, acts)
            assert sorted(got) == [str(i + 1) for i in range(len(expected))]
            for i, A in enumerate(expected):
                np.testing.assert_allclose(got[str(i + 1)], A, rtol=1e-4, atol=1e-5)
        assert maps.x1.shape == (tr.NEURON_GRID[0],) and maps.x2.shape == (tr.NEURON_GRID[1],)
        assert np.all(np.diff(maps.x1) > 0) and np.all(np.diff(maps.x2) < 0)


def test_a_trace_that_does_not_ask_has_no_maps_and_the_maps_survive_json():
    plain = [e.to_line() for e in tr.run(layers=[3], steps=2)]
    with_maps = list(tr.run(layers=[3], steps=2, neurons=True))
    assert not any('"neuron-maps"' in line for line in plain)
    assert [e.to_line() for e in with_maps if not isinstance(e, tr.NeuronMaps)] == plain
    maps = next(e for e in with_maps if isinstance(e, tr.NeuronMaps))
    back = tr.from_json(maps.to_line())
    assert isinstance(back, tr.NeuronMaps) and back.step == maps.step
    np.testing.assert_array_equal(back.after["1"], maps.after["1"].astype(np.float64))


@pytest.mark.parametrize("width", [50, 80, 200])
def test_the_panel_fits_and_labels_every_unit(width):
    console = Console(file=io.StringIO(), width=width, force_terminal=True,
                      color_system="truecolor")  # fmt: skip
    trace_view.play(tr.run(dataset="moons", layers=[4, 3], neurons=True), console=console)
    out = ANSI.sub("", console.file.getvalue())
    assert max(cell_len(line) for line in out.splitlines()) <= width
    assert "neuron maps: before → after step 1" in out
    for layer, units in ((1, 4), (2, 3)):
        for unit in range(1, units + 1):
            assert f"layer {layer} · unit {unit}" in out
    assert out.count(" → ") >= 7  # a before → after pair per unit


@pytest.mark.parametrize(
    "options, phrase",
    [
        ({"dataset": "digits"}, "2-input data; this network has 64 inputs"),
        ({"layers": [9]}, "at most 8 units; layer 1 has 9"),
        ({"layers": []}, "no hidden layer"),
        ({"model": "perceptron"}, "neurons"),
    ],
)
def test_maps_are_refused_in_one_line_where_there_is_no_plane_to_draw(options, phrase):
    with pytest.raises(ConfigError, match=phrase) as err:
        list(tr.run(neurons=True, **options))
    assert "\n" not in str(err.value)


def test_the_cli_draws_the_maps_and_refuses_in_one_line(monkeypatch):
    console = Console(file=io.StringIO(), width=80, color_system=None)
    monkeypatch.setattr(terminal, "console", console)
    runner = CliRunner()
    result = runner.invoke(cli.app, ["trace", "--neurons", "-l", "2"])
    assert result.exit_code == 0, result.output
    assert "layer 1 · unit 2" in console.file.getvalue()
    bad = runner.invoke(cli.app, ["trace", "--neurons", "-d", "digits"])
    err = [line for line in ANSI.sub("", bad.stderr).splitlines() if line.strip()]
    assert bad.exit_code == 1 and len(err) == 1 and "64 inputs" in err[0]
