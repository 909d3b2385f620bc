"""The learning rate: on a quadratic loss with largest curvature L, gradient descent
converges for α < 2/L, oscillates near 2/L, diverges above it, and crawls with a tiny α.

The quadratic is linear regression on one feature (the loss is a bowl in (w, b)); its
curvatures are the eigenvalues of the Hessian 2·X̃ᵀX̃/n from ``scipy.linalg.eigvalsh``, and
its bottom θ* comes from ``scipy.linalg.lstsq``. nnlite runs full-batch ``fit`` steps.
Every verdict is read off the numbers of the run, not off α.
"""

import numpy as np
import pytest
from scipy import linalg

from nnlite import lessons


@pytest.fixture(scope="module")
def lesson():
    return lessons.learning_rate_lesson()


def run_at(lesson, fraction):
    return next(r for r in lesson.runs if r.fraction == fraction)


def test_the_largest_curvature_L_is_the_largest_hessian_eigenvalue(lesson):
    X = lesson.X
    Xt = np.hstack([X, np.ones((len(X), 1))])
    np.testing.assert_allclose(
        lesson.eigenvalues, linalg.eigvalsh(2 * Xt.T @ Xt / len(X)), rtol=1e-14
    )
    assert lesson.L / lesson.eigenvalues[0] > 10  # an elongated bowl: α matters


def test_each_step_multiplies_the_error_along_the_stiffest_direction_by_1_minus_alpha_L(lesson):
    """(θ_{k+1} − θ*)·v = (1 − αL)·(θ_k − θ*)·v, to 10⁻⁹, for every α.

    Mutation check (run once): the batch mean taken over n + 1 rows instead of n (off by
    one) changes the effective step to α·n/(n+1) and fails here by about 2 %.
    """
    for run in lesson.runs:
        # only while the error is far above rounding (|θ| ≈ 2, ulp ≈ 4·10⁻¹⁶)
        keep = np.abs(run.stiff[:-1]) > 1e-6 * np.abs(run.stiff[0])
        assert keep.sum() >= 8
        np.testing.assert_allclose(run.ratio[keep], 1 - run.lr * lesson.L, rtol=1e-9, atol=1e-9)


def test_gradient_descent_converges_for_a_learning_rate_below_2_over_L(lesson):
    """α = 0.4·2/L: the loss falls at every step to lstsq's minimum, θ reaches θ*.

    Mutation checks (run once): the update's wrong sign, or a missing bias gradient, fails
    here and in the three tests below.
    """
    run = run_at(lesson, 0.4)
    assert run.verdict == "converges"
    assert np.all(np.diff(run.losses[:200]) <= 1e-15)
    assert run.losses[-1] == pytest.approx(lesson.loss_star, rel=1e-12)
    model = lessons.single_layer(1, 1, "identity", "mse", lesson.theta0)
    lessons.gd_run(model, lesson.X, lesson.y, run.lr, 2000)
    np.testing.assert_allclose(model.theta, lesson.theta_star, rtol=1e-10)


def test_gradient_descent_oscillates_just_below_2_over_L(lesson):
    """α = 0.95·2/L: every step overshoots the bottom along the stiffest direction (the
    error flips sign), yet the run still converges.
    """
    run = run_at(lesson, 0.95)
    assert run.verdict == "oscillates"
    signs = np.sign(run.stiff[:30])
    assert np.all(signs[1:] == -signs[:-1])
    assert run.losses[-1] == pytest.approx(lesson.loss_star, rel=1e-12)


def test_gradient_descent_diverges_above_2_over_L(lesson):
    """α = 1.05·2/L: the error along the stiffest direction grows by |1 − αL| = 1.1 a step and
    the loss climbs without bound."""
    run = run_at(lesson, 1.05)
    assert run.verdict == "diverges"
    assert run.losses[-1] > 1e100 * run.losses[0] or run.diverged_at is not None
    assert np.all(np.abs(run.stiff[1:]) > np.abs(run.stiff[:-1]))


def test_a_tiny_learning_rate_converges_but_needs_many_more_steps(lesson):
    """α ten times smaller (0.04·2/L vs 0.4·2/L) needs about ten times the steps to get the
    loss within 10⁻⁶ of its start's excess."""
    tiny, good = run_at(lesson, 0.04), run_at(lesson, 0.4)
    assert tiny.verdict == "converges" and tiny.steps_to_converge is not None
    assert 7 * good.steps_to_converge <= tiny.steps_to_converge <= 13 * good.steps_to_converge
