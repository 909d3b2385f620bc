"""Local vs global minima: on a non-convex loss, gradient descent from different starts ends
in different minima; a global optimiser finds the global one, and only some starts reach it.

The loss is one ReLU neuron's MSE on five points of a V (``lessons.V_X``, ``lessons.V_Y``).
References: ``scipy.optimize.differential_evolution`` and ``scipy.optimize.shgo`` for the
global minimum; ``scipy.linalg.lstsq`` on the points the neuron is active on for each local
minimum; L-BFGS-B from the same start for where a different descent method ends.
"""

import numpy as np
import pytest
from scipy import optimize

from nnlite import lessons


@pytest.fixture(scope="module")
def landscape():
    return lessons.local_minima_lesson(with_reference=True)


def by_name(landscape, name):
    return next(s for s in landscape.starts if s.name == name)


def test_gradient_descent_from_different_starts_ends_in_different_minima(landscape):
    """Starts A, B, C end at three different θ with three different losses.

    Mutation check (run once): gradient ascent (the update's wrong sign) leaves every
    start's loss rising and fails here.
    """
    ends = [by_name(landscape, n) for n in "ABC"]
    for i, a in enumerate(ends):
        for b in ends[i + 1 :]:
            assert np.linalg.norm(a.theta - b.theta) > 0.5
            assert abs(a.loss - b.loss) > 0.1
        assert a.loss < lessons.v_loss(a.theta0)


def test_every_minimum_is_the_least_squares_line_through_the_points_the_neuron_is_on(landscape):
    """At each end the gradient vanishes, and θ equals lstsq on the active points to 10⁻⁹.

    Mutation check (run once): a missing bias gradient leaves b at its start; the ends are
    then no lstsq fit, and this fails.
    """
    for end in landscape.starts[:3]:
        assert end.gradient_norm < 1e-10
        np.testing.assert_allclose(end.theta, end.lstsq_theta, atol=1e-9)
        assert sum(end.active) >= 2
    for m in landscape.minima:
        if sum(m.active) >= 2:
            np.testing.assert_allclose(m.theta, m.lstsq_theta, atol=1e-9)


def test_scipy_finds_the_global_minimum_and_only_some_starts_reach_it(landscape):
    """differential_evolution and shgo agree on the global minimum — the line through all five
    points (lstsq on all of them); start A reaches it, B and C stop in local minima."""
    line, line_loss = lessons.lstsq_fit(lessons.V_X, lessons.V_Y)
    np.testing.assert_allclose(landscape.global_theta, line, atol=1e-7)
    assert landscape.global_loss == pytest.approx(line_loss, rel=1e-10)
    shgo = optimize.shgo(lessons.v_loss, [(-3, 3), (-3, 3)], n=256, sampling_method="sobol")
    assert shgo.fun == pytest.approx(landscape.global_loss, rel=1e-8)
    assert landscape.reaches_global(by_name(landscape, "A"))
    assert not landscape.reaches_global(by_name(landscape, "B"))
    assert not landscape.reaches_global(by_name(landscape, "C"))
    assert landscape.reaches_global(landscape.minima[0])
    assert all(m.loss > landscape.global_loss + 0.1 for m in landscape.minima[1:])


def test_a_grid_of_starts_splits_into_basins_and_the_global_basin_is_only_part_of_it(landscape):
    basins = landscape.basin_grid
    assert len(np.unique(basins)) >= 3
    share = np.mean(basins == 0)
    assert 0.1 < share < 0.9


def test_a_dead_relu_never_moves(landscape):
    """Start D: the neuron is off for every point, the gradient is exactly 0, θ stays put.

    Mutation check (run once): a leaky ReLU′ (0.01 for z ≤ 0) lets D move and fails here.
    """
    d = by_name(landscape, "D")
    assert d.dead and d.gradient_norm == 0.0
    np.testing.assert_array_equal(d.theta, d.theta0)


def test_lbfgs_from_the_same_start_ends_in_the_same_minimum(landscape):
    """scipy's L-BFGS-B, started where nnlite started, ends at the same θ (to 10⁻⁶)."""
    for end in landscape.starts:
        np.testing.assert_allclose(end.theta_ref, end.theta, atol=1e-6)
        assert end.loss_ref == pytest.approx(end.loss, abs=1e-10)
