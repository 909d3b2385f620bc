"""Overfitting on a few digits, and what L2, dropout and early stopping do — each claim
against an exact reference.

The data: 150 of the shipped 8×8 digits to learn from, 500 others to validate on
(``lessons.digits_subset``). The claims:

* L2-regularised softmax regression on all 64 pixels has one finite minimiser, the one
  ``scipy.optimize.minimize`` finds (up to the one flat direction softmax has: one
  constant added to every bias); without L2 there is none, because the 150 digits are
  linearly separable (``scipy.optimize.linprog``).
* One identity ``Dense`` layer with MSE and L2 is ridge regression: its θ is the closed
  form (X̃ᵀX̃ + n·o·λ·D)⁻¹X̃ᵀY (``scipy.linalg.solve``), with nnlite's MSE a mean over
  all n·o entries and the penalty λ·ΣW² on W only (Keras's kernel_regularizer).
* Inverted dropout keeps every unit's expected value (a χ² test on the kernel's masks).
* Early stopping returns the weights of the best validation epoch: the θ of a fresh run
  of exactly that many epochs, bit for bit.

Mutation checks, each run once against a deliberately broken ``cpu.py``, ``lessons.py``
or ``callbacks.py`` (the docstrings say which tests failed): the penalty's gradient λW
instead of 2λW; the penalty on b too; a penalty of λ = 0.01 on layers without L2;
probabilities clipped at 10⁻³ in the cross-entropy; dropout without the 1/(1 − p)
scaling; dropout keeping a value when u < p; the same mask at every step; early stopping
that keeps a reference to θ instead of a copy, or restores nothing; the closed form with
n for n·o. Each was caught.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from scipy import linalg
from typer.testing import CliRunner

import cli
from nnlite import lessons

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def lesson() -> lessons.OverfittingLesson:
    return lessons.run("overfitting")


def test_a_small_network_overfits_a_few_digits(lesson):
    """Without regularisation the training cross-entropy falls below 1 % of its start while
    the validation cross-entropy turns up after its lowest point (by more than 5 %), and L2
    ends with a smaller ‖W‖ and a lower validation loss than the plain network.

    Mutation seen to fail here: a penalty of λ = 0.01 on layers without L2 (the "plain"
    network is then regularised too).
    """
    plain, l2, _ = lesson.runs
    assert plain.train[-1] < 0.01 * plain.train[0]
    assert plain.best_epoch < len(plain.val) - 20
    assert plain.val[-1] > 1.05 * min(plain.val)
    assert l2.end_norm < 0.75 * plain.end_norm
    assert l2.end_val < plain.end_val


def test_l2_softmax_regression_has_one_finite_optimum_equal_to_scipys(lesson):
    """nnlite's ``Dense(10, "softmax", l2=0.01)`` trained by full-batch ``fit`` ends where
    scipy.optimize.minimize ends on the same objective, cross-entropy + λΣW², to 10⁻⁹
    (relative, biases centred), and at its loss to 10⁻¹².

    Unique: the Hessian at scipy's optimum (scipy.linalg.eigvalsh) has exactly one zero
    eigenvalue, along "add one constant to every bias" (which changes no probability and
    which L2 does not penalise); every other eigenvalue is at least 10⁻⁴.

    Mutations seen to fail here: the penalty's gradient λW instead of 2λW (ends at the
    optimum of λ/2: ‖Δθ‖/‖θ‖ ≈ 0.2); the penalty's gradient applied to b as well.
    """
    sm = lesson.softmax
    assert sm.relative_distance <= 1e-9, sm.relative_distance
    assert abs(sm.loss - sm.loss_ref) <= 1e-12
    assert sm.flat_directions == 1
    assert sm.hessian_eigenvalues[1] > 1e-4
    X, y, _, _ = lessons.digits_subset()
    H = lessons.softmax_l2_hessian(sm.theta_ref, X, np.eye(10)[y], sm.lam)
    flat = linalg.eigh(H)[1][:, 0]
    shift = np.zeros_like(flat)
    shift[-10:] = 1 / np.sqrt(10)
    assert abs(abs(flat @ shift) - 1) < 1e-8
    # the optimum is finite and the penalty matters there
    assert np.isfinite(sm.theta).all() and 1 < np.linalg.norm(sm.theta_ref) < 100


def test_without_l2_the_digits_are_separable_and_the_cross_entropy_has_no_minimiser(lesson):
    """linprog finds θ_sep with (w_y − w_c)·x̃ ≥ 1 for every training digit and wrong class c;
    along s·θ_sep nnlite's cross-entropy is at most log(1 + 9e⁻ˢ) and falls toward 0,
    which no finite θ reaches (the loss is positive everywhere). (nnlite clips
    probabilities at 1 − 10⁻¹², so the lesson's scales stop at s = 10, where the bound,
    4·10⁻⁴, is far above that floor.) Gradient descent without
    L2 keeps lowering the loss and growing ‖W‖ past the L2 optimum's, step after step.

    Mutations seen to fail here: a penalty of λ = 0.01 on layers without L2 (‖W‖ stops near
    the L2 optimum's); probabilities clipped at 10⁻³ instead of 10⁻¹² in the cross-entropy
    (the loss at 10·θ_sep stays above the bound).
    """
    sm = lesson.softmax
    assert sm.separable
    along = np.array(sm.loss_along)
    assert np.all(along <= np.array(sm.bound_along) * (1 + 1e-12))
    assert np.all(np.diff(along) < 0) and 0 < along[-1] < 1e-3
    assert np.all(np.diff(sm.plain_loss) < 0) and sm.plain_loss[-1] > 0
    assert np.all(np.diff(sm.plain_norm) > 0)
    W_ref = sm.theta_ref[:-10]
    assert sm.plain_norm[-1] > 2 * np.linalg.norm(W_ref)


def test_a_linear_network_with_l2_is_ridge_regression(lesson):
    """``Dense(10, "identity", l2=0.01)`` with MSE on one-hot targets, trained by ``fit``,
    ends at the closed form (X̃ᵀX̃ + n·o·λ·D)·θ = X̃ᵀY to 10⁻¹⁰ (relative). The closed form is
    checked here from its definition: the gradient of 1/(n·o)·‖X̃θ − Y‖² + λ·ΣW², written
    in NumPy, vanishes there. Without L2 it would not be unique: X̃ᵀX̃ is singular.

    Mutations seen to fail here: the penalty's gradient λW instead of 2λW; the penalty's
    gradient applied to b as well; a closed form with n instead of n·o (the MSE's mean over
    outputs forgotten).
    """
    rd = lesson.ridge
    assert rd.relative_distance <= 1e-10, rd.relative_distance
    X, y, _, _ = lessons.digits_subset()
    Y = np.eye(10)[y]
    Xt = np.hstack([X, np.ones((len(X), 1))])
    n, o = Y.shape
    theta = rd.theta_ref
    coef = np.vstack([theta[:-10].reshape(64, 10), theta[-10:]])
    grad = 2 / (n * o) * Xt.T @ (Xt @ coef - Y)
    grad[:-1] += 2 * rd.lam * coef[:-1]
    assert np.abs(grad).max() < 1e-13
    assert rd.rank < rd.size and rd.blank >= 1


@pytest.mark.parametrize("p", [0.2, 0.5])
def test_dropout_preserves_each_units_expected_activation(lesson, p):
    """Over 400 steps of nnlite's masks (``cpu.dropout_forward``) on the trained network's
    hidden activations, each live unit's mean value after dropout equals its mean before,
    within its standard error: Σz² passes a χ² test (p-value > 10⁻³), no |z| exceeds 4.5,
    and the fraction kept passes a binomial test against 1 − p.

    Mutations seen to fail here: no 1/(1 − p) scaling (mean ×(1 − p)); keeping a value when
    u < p instead of u ≥ p (at p = 0.2: mean ×0.25; at p = 0.5 the two are alike, so only
    the p = 0.2 case and the hypothesis test below fail); the same mask at every step (the
    step left out of the hash: χ² p-value ≈ 0).
    """
    d = next(d for d in lesson.dropout if d.p == p)
    assert d.units >= 30 and d.steps >= 400
    assert d.p_value > 1e-3, (d.chi2, d.p_value)
    assert np.abs(d.z).max() < 4.5
    assert d.keep_p_value > 1e-3
    np.testing.assert_allclose(d.mean_dropped, d.mean_activation, rtol=0.1)


@settings(max_examples=15, deadline=None)
@given(
    p=st.floats(0.05, 0.9),
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 9), st.integers(1, 12)),
)
def test_dropout_preserves_the_expectation_for_any_rate_seed_and_shape(p, seed, shape):
    """The same statistics for hypothesis-drawn p, dropout seed and activation shape
    (positive activations, so every unit is live), 1500 steps each.

    Mutations seen to fail here: all three of the test above.
    """
    A = np.random.default_rng(seed % 1000).uniform(0.1, 2.0, size=shape)
    d = lessons.dropout_check(A, p, steps=1500, seed=seed)
    assert d.units == shape[1]
    assert d.p_value > 1e-4 and np.abs(d.z).max() < 5.0, (d.z, d.p_value)
    assert d.keep_p_value > 1e-4


def test_early_stopping_returns_the_best_validation_epochs_weights(lesson):
    """The early-stopped fit returns the θ of its lowest-val_loss epoch: a fresh fit of
    exactly that many epochs, same seed, ends at the same θ bit for bit; it stopped
    ``patience`` epochs after the best, and no later epoch was better.

    The callback is ``nnlite.callbacks.EarlyStopping("val_loss", patience=20,
    restore_best_weights=True)``. Mutations seen to fail here (in that class): keeping a
    reference to θ instead of a copy (the last epoch's θ comes back); restoring nothing at
    the end.
    """
    e = lesson.early
    assert e.best_epoch == int(np.argmin(e.val_loss))
    assert e.stopped_epoch == e.best_epoch + e.patience
    assert len(e.val_loss) == e.stopped_epoch + 1 < lesson.epochs
    assert e.identical
    assert e.theta.dtype == np.float32 and np.isfinite(e.theta).all()


def test_the_cli_lesson_shows_the_curves_and_each_claim_beside_its_reference():
    """``nnlite lesson overfitting`` at 80 columns: the curves, the runs' table and the
    lines of each claim with its reference named."""
    result = CliRunner().invoke(cli.app, ["lesson", "overfitting"], terminal_width=80)
    assert result.exit_code == 0, (result.output, result.exception)
    out = ANSI.sub("", result.stdout)
    for phrase in (
        "plain network: log₁₀ cross-entropy per epoch", "validation cross-entropy per epoch",
        "• training   o validation", "lowest val (epoch)", "bit for bit.",
        "L2 gives one optimum", "scipy.optimize.minimize", "has 1 eigenvalue(s) at 0",
        "Without L2 there is no optimum: scipy's linprog finds a θ_sep",
        "is ridge regression", "scipy.linalg.solve", "χ² p-value",
        "dropout keeps each unit's expected value",
    ):  # fmt: skip
        assert phrase in out, (phrase, out)
    assert max(cell_len(line) for line in out.splitlines()) <= 80
