"""Why non-linearity matters: without it a network of any depth is one linear map, and a
linear map cannot learn XOR; one hidden layer with a non-linearity can.

References: ``scipy.linalg.lstsq`` — the best linear map from X to the targets, and the
linear map that reproduces a network's outputs (exactly, when the network is linear).
"""

import numpy as np
import pytest

from nnlite import Dense, Sequential, lessons


@pytest.fixture(scope="module")
def xor():
    return lessons.xor_lesson()


def _random_theta(model, seed):
    model.set_parameters(np.random.default_rng(seed).normal(0, 0.8, model.theta.size))
    return model


@pytest.mark.parametrize("depth", [1, 2, 3, 5])
def test_a_network_of_linear_layers_however_deep_equals_one_linear_map(depth):
    """Its outputs are fitted exactly by lstsq on [X, 1], whose coefficients are W₁W₂⋯ and the
    chained biases.

    Mutation check (run once): a dense layer that skips ``+ b`` still gives a linear map,
    but no longer the one the layers' W and b multiply out to, and fails here.
    """
    model = _random_theta(lessons.deep_linear(depth, width=5, n_inputs=3, n_outputs=2), depth)
    X = np.random.default_rng(10 + depth).normal(size=(40, 3))
    P = model.predict(X)
    theta, residual = lessons.lstsq_fit(X, P)
    assert residual < 1e-26 * np.mean(P**2)
    np.testing.assert_allclose(lessons.collapse_linear(model), theta, rtol=1e-10, atol=1e-12)


def test_a_tanh_hidden_layer_is_not_one_linear_map():
    """The same check fails as soon as the hidden layer bends: the residual is far from 0."""
    model = Sequential([Dense(5, "tanh"), Dense(2, "identity")], dtype=np.float64, n_inputs=3)
    _random_theta(model, 0)
    X = np.random.default_rng(1).normal(size=(40, 3))
    _, residual = lessons.lstsq_fit(X, model.predict(X))
    assert residual > 1e-3


def test_the_best_linear_map_for_xor_predicts_one_half_everywhere():
    """The reference: lstsq on XOR's truth table gives MSE ¼ with every prediction ½."""
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    theta, mse = lessons.lstsq_fit(X, [0, 1, 1, 0])
    np.testing.assert_allclose(theta, [0, 0, 0.5], atol=1e-15)
    assert mse == pytest.approx(0.25, abs=1e-15)


def test_a_deep_linear_network_cannot_learn_xor(xor):
    """Trained by gradient descent, it never gets below the best linear map's loss (¼),
    ends there predicting ½ for every input, and classifies at most 3 of 4 right.

    Mutation check (run once): a missing bias gradient cannot reach the ½ and fails here.
    """
    assert min(xor.linear_losses) >= xor.best_linear_loss - 1e-12
    assert xor.linear_losses[-1] == pytest.approx(xor.best_linear_loss, abs=1e-9)
    np.testing.assert_allclose(xor.linear_predictions, 0.5, atol=1e-5)
    assert xor.linear_accuracy <= 0.75
    np.testing.assert_allclose(xor.linear_product, xor.linear_lstsq, atol=1e-10)
    assert xor.linear_residual < 1e-20


def test_one_hidden_layer_with_a_non_linearity_learns_xor(xor):
    """2-4-1 with tanh then sigmoid: every output on the right side of ½, loss near 0.

    Mutation checks (run once): a missing bias gradient, or the sigmoid with the wrong sign,
    fails here.
    """
    assert xor.hidden_accuracy == 1.0
    assert xor.hidden_losses[-1] < 0.01 < xor.best_linear_loss
    np.testing.assert_array_equal(xor.hidden_predictions >= 0.5, xor.y == 1)
