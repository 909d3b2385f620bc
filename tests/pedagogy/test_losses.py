"""Losses: mean squared error and cross-entropy, from nnlite's loss kernels (float64),
against formulas written with numpy and ``scipy.special`` / ``scipy.stats``.

Cross-entropy is checked through its decomposition H(y, p) = H(y) + KL(y ‖ p), both from
``scipy.stats.entropy``: it is smallest when the prediction equals the truth and grows as
the predicted distribution moves away from it.
"""

import numpy as np
import pytest
from scipy import special, stats

from nnlite import lessons

rng = np.random.default_rng(0)
Y = rng.normal(size=(7, 3))


def test_mse_is_zero_exactly_when_the_prediction_equals_the_truth():
    """Mutation check (run once): squaring P + Y instead of P − Y fails here."""
    assert lessons.nnlite_loss("mse", Y, Y) == 0.0
    P = Y.copy()
    P[3, 1] += 1e-9
    assert lessons.nnlite_loss("mse", P, Y) > 0


def test_mse_grows_with_the_distance_from_the_truth_and_matches_the_formula():
    """L(Y + tD) = t²·mean(D²): a parabola in t.

    Mutation check (run once): dividing by n instead of n·o fails here (o = 3).
    """
    D = rng.normal(size=Y.shape)
    ts = np.linspace(0, 3, 13)
    L = np.array([lessons.nnlite_loss("mse", Y + t * D, Y) for t in ts])
    np.testing.assert_allclose(L, ts**2 * np.mean(D**2), rtol=1e-13)
    assert np.all(np.diff(L) > 0)


def test_cross_entropy_is_the_truths_entropy_plus_the_kl_divergence():
    """−1/n Σ y·log p = mean over rows of H(y) + KL(y ‖ p) (scipy.stats.entropy)."""
    T = special.softmax(rng.normal(size=(6, 4)), axis=1)  # soft targets: H(y) > 0
    P = special.softmax(rng.normal(size=(6, 4)), axis=1)
    expected = np.mean([stats.entropy(t) + stats.entropy(t, p) for t, p in zip(T, P)])
    assert lessons.nnlite_loss("cce", P, T) == pytest.approx(expected, rel=1e-13)
    assert lessons.nnlite_loss("cce", T, T) == pytest.approx(
        np.mean(stats.entropy(T, axis=1)), rel=1e-13
    )


def test_cross_entropy_grows_as_the_predicted_distribution_diverges_from_the_truth():
    """p(t) = (1 − t)·y + t·uniform: the loss −log p_true rises with t, from 0 at t = 0.

    Mutation check (run once): a missing minus sign (Σ y·log p) falls instead and fails.
    """
    y = np.eye(5)[[0, 3, 1]]
    ts = np.linspace(0, 0.99, 12)
    L = [lessons.nnlite_loss("cce", (1 - t) * y + t / 5, y) for t in ts]
    # atol: nnlite clips p to at most 1 − 10⁻¹² before the log, so log 1 reads −10⁻¹²
    np.testing.assert_allclose(L, -np.log(1 - ts + ts / 5), rtol=1e-12, atol=2e-12)
    assert L[0] == pytest.approx(0, abs=2e-12) and np.all(np.diff(L) > 0)


def test_binary_cross_entropy_matches_scipy_xlogy_and_grows_with_the_error():
    """Mutation check (run once): log p in place of log(1 − p) for y = 0 fails here."""
    y = np.array([[1.0], [0.0], [1.0], [0.0]])
    ps = np.linspace(0.01, 0.99, 25)
    L = np.array([lessons.nnlite_loss("bce", np.full((4, 1), p), y) for p in ps])
    ref = -np.mean(special.xlogy(y, ps) + special.xlogy(1 - y, 1 - ps), axis=0)
    np.testing.assert_allclose(L, ref, rtol=1e-13)
    one = np.array([lessons.nnlite_loss("bce", [[p]], [[1.0]]) for p in ps])
    assert np.all(np.diff(one) < 0)  # for y = 1 the loss falls as p rises toward 1
