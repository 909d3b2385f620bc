"""The output layer: one sigmoid unit for a binary problem, one softmax unit per class for a
multi-class problem, and the predicted class is the argmax (or p ≥ ½ for one unit).

References: ``scipy.special.expit`` / ``softmax`` for the outputs, numpy's argmax and mean
for the classes and the accuracy.
"""

import numpy as np
import pytest
from scipy import special

from nnlite import Dense, Sequential, datasets, lessons
from nnlite.errors import ConfigError


def test_one_sigmoid_unit_is_a_softmax_over_two_classes():
    """σ(z) = softmax(z, 0)₀: one logistic unit says as much as two softmax units."""
    z = np.linspace(-8, 8, 33)
    s = lessons.nnlite_activation("sigmoid", z[None, :])[0]
    two = lessons.nnlite_activation("softmax", np.column_stack([z, np.zeros_like(z)]))
    np.testing.assert_allclose(s, two[:, 0], rtol=1e-13)
    np.testing.assert_allclose(
        two, special.softmax(np.column_stack([z, 0 * z]), axis=1), rtol=1e-13
    )


def test_a_binary_problem_uses_one_sigmoid_unit_and_the_class_is_p_at_least_one_half():
    """Moons with a 2-16-1 network: P in (0, 1), class = [p ≥ ½], accuracy = mean of hits.

    Mutation check (run once): ``count_correct`` comparing with P > ½ on the wrong side
    (class 1 when p < ½) fails here.
    """
    ds = datasets.make_moons(200, seed=0)
    model = Sequential([Dense(16, "tanh"), Dense(1, "sigmoid")], dtype=np.float64, n_inputs=2)
    assert model.loss == "bce"  # the usual partner of a sigmoid output
    model.fit(ds.X, ds.y, epochs=100, batch_size=16, lr=0.5)
    P = model.predict(ds.X)
    assert P.shape == (200, 1) and np.all((P > 0) & (P < 1))
    classes = model.predict_classes(ds.X)
    np.testing.assert_array_equal(classes, (P[:, 0] >= 0.5).astype(int))
    loss, acc = model.evaluate(ds.X, ds.y)
    assert acc == pytest.approx(np.mean(classes == ds.y), abs=1e-12) and acc > 0.95


def test_a_multiclass_problem_uses_one_softmax_unit_per_class_and_the_class_is_the_argmax():
    """Three blobs with 3 softmax units: each row a distribution, class = argmax.

    Mutation check (run once): a softmax that skips the division by Σ e^z fails here.
    """
    ds = datasets.make_blobs(300, centers=3, seed=1)
    model = Sequential([Dense(3, "softmax")], dtype=np.float64, n_inputs=2)
    assert model.loss == "cce" and model.n_outputs == ds.n_classes
    model.fit(ds.X, ds.y, epochs=30, batch_size=16, lr=0.1)
    P = model.predict(ds.X)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    Z = ds.X.astype(np.float64) @ model.layers[0].W + model.layers[0].b
    np.testing.assert_allclose(P, special.softmax(Z, axis=1), rtol=1e-12)
    classes = model.predict_classes(ds.X)
    np.testing.assert_array_equal(classes, np.argmax(P, axis=1))
    _, acc = model.evaluate(ds.X, ds.y)
    assert acc == pytest.approx(np.mean(classes == ds.y), abs=1e-12) and acc > 0.9


def test_categorical_cross_entropy_needs_one_unit_per_class():
    with pytest.raises(ConfigError, match="one output unit per class"):
        Sequential([Dense(1, "sigmoid")], loss="cce", n_inputs=2)
