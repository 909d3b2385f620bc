"""Stochastic mini-batch gradient descent: each mini-batch gradient is an unbiased estimate of
the full gradient, and SGD reaches (statistically) the optimum full-batch gradient descent
reaches on a convex problem.

The problem is linear regression with MSE, whose optimum θ* comes from
``scipy.linalg.lstsq``; gradients are nnlite's backprop (the kernels ``fit`` runs).
"""

import numpy as np
import pytest

from nnlite import lessons


@pytest.fixture(scope="module")
def sgd():
    return lessons.sgd_lesson()


def test_the_minibatch_gradients_of_an_epoch_average_to_the_full_gradient(sgd):
    """One shuffled epoch in batches of 8 (256 rows, 32 batches): the mean of the 32 batch
    gradients is the full-batch gradient, to rounding.

    Mutation check (run once): the batch mean taken over m + 1 rows (off by one) scales
    every batch gradient by m/(m + 1) and fails here.
    """
    scale = np.abs(sgd.gradient).max()
    np.testing.assert_allclose(sgd.partition_mean, sgd.gradient, rtol=0, atol=1e-13 * scale)


def test_a_random_minibatch_gradient_is_an_unbiased_estimate_of_the_full_gradient(sgd):
    """The mean of 2000 random batch gradients lies within 4 standard errors of the full
    gradient in every component, while single batches scatter widely around it.

    Mutation checks (run once): the off-by-one batch mean and a missing bias gradient both
    fail here.
    """
    z = (sgd.draw_mean - sgd.gradient) / sgd.draw_stderr
    assert np.all(np.abs(z) < 4), z
    assert np.all(sgd.draw_std > 0.1 * np.abs(sgd.gradient))  # really noisy estimates


def test_minibatch_sgd_reaches_statistically_the_same_optimum_as_full_batch_descent(sgd):
    """16 seeds, batches of 8: the mean end is within 4 standard errors of lstsq's θ* in
    every component, and every run ends within 0.05 of it.

    Mutation check (run once): a missing bias gradient leaves b at its start, far outside
    the spread, and fails here.
    """
    ends = sgd.seed_ends
    stderr = ends.std(axis=0, ddof=1) / np.sqrt(len(ends))
    z = (ends.mean(axis=0) - sgd.theta_star) / stderr
    assert np.all(np.abs(z) < 4), z
    assert np.all(np.linalg.norm(ends - sgd.theta_star, axis=1) < 0.05)
    full = lessons.single_layer(3, 1, "identity", "mse", sgd.theta0)
    lessons.gd_run(full, sgd.X, sgd.y, 1.0 / lessons.mse_curvature(sgd.X)[-1], 400)
    np.testing.assert_allclose(full.theta, sgd.theta_star, rtol=1e-10)  # full batch: exactly


def test_sgd_jitters_less_around_the_optimum_with_a_smaller_learning_rate(sgd):
    """α/4 leaves the ends at least twice as close to θ* on average."""
    spread = np.linalg.norm(sgd.seed_ends - sgd.theta_star, axis=1).mean()
    small = np.linalg.norm(sgd.small_lr_ends - sgd.theta_star, axis=1).mean()
    assert small < spread / 2


def test_smaller_batches_take_more_steps_per_epoch_and_get_closer_in_the_same_epochs(sgd):
    """Same α, same 60 epochs: m = 8 (32 steps an epoch) ends nearer θ* than full batch
    (1 step an epoch)."""
    dist = {m: np.linalg.norm(t - sgd.theta_star) for m, t in sgd.ends.items()}
    assert dist[8] < dist[256] / 5
