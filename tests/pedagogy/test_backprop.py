"""Backward propagation: the analytic ∂L/∂θ of multi-layer networks — every activation,
every loss — equals central finite differences in float64.

The function differentiated numerically is ``tests/reference.py``'s float64 network loss
(numpy/scipy only, never nnlite), through ``scipy.optimize.approx_fprime`` taken forward
and backward (a central difference, error O(h²) ≈ 10⁻¹⁰). nnlite's gradient comes from
its own ``forward_pass`` + ``backward_pass`` kernels, the ones ``fit`` runs. A relative
error of 10⁻⁷ per layer and per W/b leaves room for the differencing and none for a
wrong derivative.
"""

import pytest
import reference as ref

from nnlite import lessons
from nnlite.activations import ACTIVATIONS

TOL = 1e-7
# Every element-wise activation of the table (a new one is checked with no edit here).
HIDDEN = tuple(name for name, row in ACTIVATIONS.items() if row.elementwise)
OUTPUTS = [  # (output activation, loss, output units)
    ("identity", "mse", 2),
    ("sigmoid", "mse", 2),
    ("tanh", "mse", 2),
    ("relu", "mse", 2),
    ("sigmoid", "bce", 3),
    ("sigmoid", "bce", 1),
    ("sigmoid", "cce", 3),
    ("softmax", "cce", 4),
    ("softmax", "mse", 3),
]


def _checked(hidden, output, loss, n_out, seed=0, samples=6):
    """The gradient check against the reference loss, at the first seed without a ReLU kink."""
    for s in range(seed, seed + 50):
        model, X, Y = lessons.gradcheck_problem(
            hidden=(4, 3), activation=hidden, output=output, loss=loss, n_inputs=3,
            n_outputs=n_out, n_samples=samples, seed=s,
        )  # fmt: skip
        dims = [3] + [x.units for x in model.layers]
        acts = [x.activation for x in model.layers]

        def f(theta, X=X, Y=Y, dims=dims, acts=acts):
            return ref.network_loss(theta, X, Y, dims, acts, loss)

        check = lessons.check_model(model, X, Y, tolerance=TOL, reference_loss=f)
        if check.kinks == 0 and (output != "relu" or check.rows[-1].max_abs > 0):
            return check
    raise AssertionError("no seed without a ReLU kink")


@pytest.mark.filterwarnings("ignore:softmax output with mean squared error")
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,loss,n_out", OUTPUTS)
def test_backprop_matches_finite_differences_for_every_activation_and_loss(
    hidden, output, loss, n_out
):
    """Every layer's dW and db, for a 3-4-3-o network.

    Mutation checks (run once each, every one fails here): db left at 0 (a missing bias
    gradient); the sigmoid's σ′ with the wrong sign; the loss gradient's 1/n batch mean
    taken as 1/(n + 1) (off by one).
    """
    check = _checked(hidden, output, loss, n_out)
    for row in check.rows:
        assert row.error <= TOL, (row.layer, row.param, row.error)
        assert row.max_abs > 0 or (hidden == "relu" and row.layer < 3)


def test_a_single_sample_batch_has_the_same_gradient_as_finite_differences():
    check = _checked("tanh", "softmax", "cce", 3, samples=1)
    assert check.passed


def test_the_gradient_check_a_learner_runs_passes_and_would_catch_an_off_by_one_mean():
    """``nnlite gradcheck``'s default network passes against nnlite's own forward pass;
    compared with a loss that averages over n + 1 rows instead of n, it fails.
    """
    good = lessons.gradient_check()
    assert good.passed and good.max_error < 1e-9
    model, X, Y = lessons.gradcheck_problem()
    n = len(X)
    off_by_one = lessons.check_model(
        model, X, Y, reference_loss=lambda t: lessons.loss_at(model, X, Y, t) * n / (n + 1)
    )
    assert not off_by_one.passed and off_by_one.max_error > 0.05
