"""Gradient descent finds the optimum scipy finds, on three convex problems.

(a) linear regression with MSE: nnlite's full-batch GD and mini-batch SGD vs
    ``scipy.linalg.lstsq``;
(b) a one-unit sigmoid network (logistic regression) with BCE on two overlapping clouds
    vs ``scipy.optimize.minimize`` (L-BFGS-B) of the same loss written with numpy;
(c) softmax regression with CCE on the shipped digits (their first two principal
    components) vs L-BFGS-B of the same loss written with ``scipy.special``.

Each problem has a unique minimiser (for (c): unique along the gradients' directions from
the shared start, see ``lessons.softmax_regression_optimum``), so "the same optimum" means
the weights, not only the loss. Tolerances are stated per test; a wrong gradient — wrong
sign, missing bias gradient — ends elsewhere by orders of magnitude more.
"""

import numpy as np
import pytest

from nnlite import lessons


def test_full_batch_gradient_descent_reaches_the_least_squares_solution():
    """α = 1/L, 300 steps: weights to 10⁻¹⁰ (relative), loss to 10⁻¹³.

    Mutation check (run once): a missing bias gradient (db = 0) leaves b at 0 while
    lstsq's intercept is 0.7, and fails here.
    """
    c = lessons.linear_regression_optimum()
    assert c.relative_distance < 1e-10
    assert abs(c.loss_gap) < 1e-13
    assert abs(c.theta_ref[-1]) > 0.5  # the intercept matters in this problem


def test_minibatch_sgd_reaches_the_least_squares_solution_to_within_its_noise():
    """Batches of 20, α = 0.01, 200 epochs: weights within 0.5 % and loss within 10⁻⁴
    (relative) of lstsq; SGD's constant step leaves it jittering, not exactly there.

    Mutation check (run once): the rule's wrong sign (θ ← θ + α·∇L) diverges and fails.
    """
    c = lessons.linear_regression_optimum(steps=200, batch_size=20, lr=0.01)
    assert c.relative_distance < 5e-3
    assert 0 <= c.loss_gap < 1e-4 * c.loss_ref


def test_logistic_regression_by_gradient_descent_reaches_the_lbfgs_minimiser():
    """Overlapping clouds (linprog: not separable, so a finite minimiser exists); full-batch
    GD with α = 1/L from the shared start: weights to 10⁻⁸ (relative), loss to 10⁻¹².

    Mutation check (run once): a missing bias gradient fails here.
    """
    X, y = lessons.logistic_data()
    assert not lessons.lp_separable(X, y)[0]
    c = lessons.logistic_regression_optimum()
    assert c.relative_distance < 1e-8
    assert abs(c.loss_gap) < 1e-12


@pytest.mark.slow
def test_softmax_regression_on_the_digits_reaches_the_lbfgs_minimiser():
    """10 softmax units on 2 principal components of the 1,797 digits, 4000 full-batch steps:
    weights within 5·10⁻⁴ (relative), loss within 10⁻⁸ of L-BFGS-B's.

    Mutation check (run once): a missing bias gradient leaves the ten biases at their start
    and fails here (loss gap 0.25, weights 64 % apart); so does the update's wrong sign.
    """
    c = lessons.softmax_regression_optimum()
    assert c.relative_distance < 5e-4
    assert abs(c.loss_gap) < 1e-8
    X, y = lessons.digits_components()
    assert X.shape == (1797, 2) and len(np.unique(y)) == 10
