"""The region grid is what the network computes: checked against a float64 forward of θ.

``nnlite.regions`` runs the model's own kernels over the grid; ``tests/reference.py``
computes the same network in float64 NumPy. They must agree to float32's tolerance at
every grid point, for the outputs and for every hidden layer (the neuron maps).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite import Dense, Sequential
from nnlite.errors import ConfigError
from nnlite.regions import fitted_curve, plane, region_grid
from tests import reference as ref

HIDDEN_ACTS = ("sigmoid", "tanh", "relu", "identity")


def _network(hidden, acts, out_units, out_act, seed):
    layers = [Dense(u, a) for u, a in zip(hidden, acts)] + [Dense(out_units, out_act)]
    model = Sequential(layers, n_inputs=2, seed=seed)
    # Biases away from 0 so a wrong bias handling shows.
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        layer.b[...] = rng.normal(0, 0.5, layer.b.shape)
    return model


@settings(max_examples=25, deadline=None)
@given(
    hidden=st.lists(st.integers(1, 7), min_size=0, max_size=3),
    act=st.sampled_from(HIDDEN_ACTS),
    out=st.sampled_from([(1, "sigmoid"), (3, "softmax"), (2, "softmax"), (1, "identity")]),
    cols=st.integers(1, 9),
    rows=st.integers(1, 7),
    seed=st.integers(0, 2**16),
)
def test_grid_equals_a_float64_forward_of_the_same_theta(hidden, act, out, cols, rows, seed):
    model = _network(hidden, [act] * len(hidden), out[0], out[1], seed)
    X = np.random.default_rng(seed + 1).normal(0, 2, (5, 2))
    grid = region_grid(model, X, cols, rows, hidden=True)
    assert grid.P.shape == (rows, cols, out[0])
    # The grid's own coordinates: row 0 is the top (largest x₂), columns left to right.
    G1, G2 = np.meshgrid(grid.x1, grid.x2)
    points = np.column_stack([G1.ravel(), G2.ravel()])
    params = [(layer.W, layer.b) for layer in model.layers]
    A = points
    for index, ((W, b), layer) in enumerate(zip(params, model.layers)):
        A = ref.activation(A @ ref.f64(W) + ref.f64(b), layer.activation)
        got = grid.P if index == len(params) - 1 else grid.hidden[index]
        np.testing.assert_allclose(got.reshape(-1, A.shape[1]), A, rtol=1e-4, atol=1e-5)
    assert len(grid.hidden) == len(hidden)
    assert np.all(np.diff(grid.x1) > 0) or cols == 1
    assert np.all(np.diff(grid.x2) < 0) or rows == 1


def test_grid_spans_the_data_with_a_margin_and_cells_are_centred():
    model = _network([3], ["tanh"], 2, "softmax", 0)
    X = np.array([[0.0, -1.0], [2.0, 3.0]])
    lo1, hi1, lo2, hi2 = plane(X)
    assert (lo1, hi1) == pytest.approx((-0.2, 2.2)) and (lo2, hi2) == pytest.approx((-1.4, 3.4))
    grid = region_grid(model, X, 4, 2)
    assert grid.x1 == pytest.approx([-0.2 + 0.3, 0.7, 1.3, 1.9])
    assert grid.x2 == pytest.approx([3.4 - 1.2, -1.4 + 1.2])
    assert grid.hidden == []


def test_sigmoid_output_gives_two_class_probabilities_and_the_predicted_class():
    model = _network([4], ["relu"], 1, "sigmoid", 3)
    X = np.random.default_rng(0).normal(size=(20, 2))
    grid = region_grid(model, X, 6, 5)
    p = grid.P[..., 0]
    assert np.allclose(grid.probabilities.sum(axis=2), 1)
    assert np.array_equal(grid.classes, (p >= 0.5).astype(int))
    assert np.allclose(grid.confidence, np.maximum(p, 1 - p))
    # the same class as the model's own predict_classes at those points
    G1, G2 = np.meshgrid(grid.x1, grid.x2)
    cls = model.predict_classes(np.column_stack([G1.ravel(), G2.ravel()]).astype(np.float32))
    assert np.array_equal(grid.classes.ravel(), cls)


def test_fitted_curve_is_the_network_over_the_data_range():
    model = Sequential([Dense(5, "tanh"), Dense(1, "identity")], n_inputs=1, seed=2)
    X = np.linspace(-3, 1, 7)[:, None]
    x, yhat = fitted_curve(model, X, points=11)
    assert x[0] == pytest.approx(-3.4) and x[-1] == pytest.approx(1.4)
    expected = ref.network_forward(x[:, None], [(L.W, L.b) for L in model.layers],
                                   [L.activation for L in model.layers])  # fmt: skip
    np.testing.assert_allclose(yhat, expected[:, 0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "call, phrase",
    [
        (lambda m: region_grid(m, np.zeros((3, 3)), 4, 4), "2-D points"),
        (lambda m: region_grid(m, np.array([[0.0, np.nan]]), 4, 4), "finite"),
        (lambda m: region_grid(m, np.zeros((3, 2)), 0, 4), "1 to"),
        (lambda m: fitted_curve(m, np.zeros((3, 1))), "1 input"),
    ],
)
def test_bad_requests_are_one_line_config_errors(call, phrase):
    model = _network([2], ["tanh"], 2, "softmax", 0)
    with pytest.raises(ConfigError, match=phrase) as err:
        call(model)
    assert "\n" not in str(err.value)


def test_unbuilt_or_wrong_width_networks_are_refused():
    with pytest.raises(ConfigError, match="trained"):
        region_grid(Sequential([Dense(2, "softmax")]), np.zeros((2, 2)), 3, 3)
    three = Sequential([Dense(2, "softmax")], n_inputs=3)
    with pytest.raises(ConfigError, match="2 inputs, this one has 3"):
        region_grid(three, np.zeros((2, 2)), 3, 3)
