"""Optimisers: SGD, momentum, RMSProp and Adam reach the optimum scipy finds; Adam's first
step is α per coordinate; momentum's advantage grows with the condition number.

Every update is nnlite's own kernel, ``cpu.optimizer_update`` (the quadratic: one call a step,
the gradient in NumPy), or a whole ``fit`` of ``Sequential([Dense(1, "sigmoid")])`` (logistic
regression). The references are scipy's: ``scipy.linalg.eigvalsh`` for the curvatures,
``scipy.optimize.minimize`` and ``scipy.linalg.solve`` for the optima.

Tolerances. On the 2-D quadratic scipy's optimum is A⁻¹b to rounding (checked below), and
an optimiser that converges ends within rounding of it too (‖Δθ‖ ≈ 10⁻¹⁵ for all four):
10⁻⁸ leaves seven orders of magnitude for rounding and none for a method that does not
converge — RMSProp at a constant α stays 10⁻² away, a momentum kernel that drops μ
diverges. For logistic regression scipy's Newton (trust-exact) stops at ‖∇L‖ ≤ 10⁻¹², so
its θ is good to about 10⁻¹² / λmin(∇²L) ≈ 10⁻¹¹: 10⁻⁹ leaves room for that only.

Mutation checks, each run once against a deliberately broken ``cpu.py`` (the docstrings say
which tests failed): Adam without bias correction, Adam with ε inside the square root,
momentum without its velocity (V ← −α·g), RMSProp with (1 − ρ) dropped from its average.
Each broke at least two tests here; none went unnoticed.
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
from nnlite.optim import SGD, Adam

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def lesson() -> lessons.OptimizersLesson:
    return lessons.run("optimizers")


def test_the_condition_number_is_the_ratio_of_the_hessians_eigenvalues(lesson):
    """f(θ) = ½θᵀAθ − bᵀθ has Hessian A; κ = λmax/λmin from scipy.linalg.eigvalsh is 50,
    and the valley is turned off the axes (A is not diagonal)."""
    q = lesson.quadratic
    np.testing.assert_allclose(q.eigenvalues, linalg.eigvalsh(q.A), rtol=1e-14)
    assert q.kappa == pytest.approx(50.0, rel=1e-12)
    assert abs(q.A[0, 1]) > 1.0


def test_each_optimizer_reaches_the_quadratic_optimum_that_scipy_finds(lesson):
    """SGD, momentum, RMSProp (α cosine-annealed to 0) and Adam end within 10⁻⁸ of
    scipy.optimize.minimize's optimum, which is scipy.linalg.solve(A, b).

    Mutation seen to fail here: momentum without its velocity (a GD step at Polyak's
    α > 2/L: diverges). Adam without bias correction or with ε inside the root, and
    RMSProp without (1 − ρ), still converge on this problem: the first-step tests catch them.
    """
    q = lesson.quadratic
    np.testing.assert_allclose(q.theta_ref, q.theta_solve, atol=1e-12)
    for run in q.runs:
        if run.name == lessons.CONSTANT_RMSPROP:
            continue
        assert run.distance <= q.tol, (run.name, run.distance)
        assert run.steps_to_tol is not None and run.steps_to_tol < run.steps, run.name
        # the loss is scipy's minimum too, and was never below it
        assert run.losses[-1] == pytest.approx(q.loss_ref, abs=1e-14)
        assert run.losses.min() >= q.loss_ref - 1e-14


def test_rmsprop_at_a_constant_rate_jitters_around_the_optimum_and_misses_the_tolerance(lesson):
    """RMSProp divides each step by the gradient's recent size, so near θ* its steps stay
    near α: at α = 0.05 it ends 10⁻³ … 10⁻¹ from θ*, far outside 10⁻⁸ — which is why the
    race anneals its α. (The tolerance above can fail.)"""
    q = lesson.quadratic
    run = next(r for r in q.runs if r.name == lessons.CONSTANT_RMSPROP)
    assert 1e-3 < run.distance < 1e-1
    assert run.steps_to_tol is None


def test_each_optimizer_fitting_logistic_regression_reaches_scipys_optimum(lesson):
    """``Sequential([Dense(1, "sigmoid")]).fit`` (full batch, 1000 epochs) with SGD,
    momentum, RMSProp (cosine schedule) and Adam ends within 10⁻⁹ of scipy's Newton
    optimum of the same binary cross-entropy, and at its loss to 10⁻¹³.

    Mutation seen to fail here: RMSProp's average without (1 − ρ) (v ← ρv + g², ten times
    the root: steps ten times smaller, still 10⁻³ away after 1000 epochs). Momentum without
    its velocity is plain GD at α = 1/L here, which converges too: the quadratic and the
    κ sweep catch it.
    """
    lg = lesson.logistic
    assert {run.name for run in lg.runs} == {"SGD", "momentum", "RMSProp", "Adam"}
    for run in lg.runs:
        assert run.distance <= 1e-9, (run.name, run.distance)
        assert abs(run.losses[-1] - lg.loss_ref) <= 1e-13, run.name
    # the problem is not trivial: θ* is far from θ₀ and the loss fell by a lot
    assert np.linalg.norm(lg.theta_ref - lg.theta0) > 1.0
    assert lg.runs[0].losses[0] > lg.loss_ref + 0.1


def test_adams_first_step_moves_every_coordinate_by_alpha_whatever_the_gradient_scale(lesson):
    """t = 1: m̂ = g and v̂ = g², so Δθᵢ = −α·gᵢ/(|gᵢ| + ε): |Δθᵢ| = α to 10⁻³ for gradients
    from 10⁻⁴ to 10⁴ — while SGD's step is α·g, eight orders of magnitude apart.

    Mutations seen to fail here: no bias correction (|Δθ| = α·0.1/√0.001 ≈ 3.16α); ε inside
    the square root (|Δθ| = α·|g|/√(g² + ε) ≈ 0.71α at |g| = 10⁻⁴); RMSProp's average
    without (1 − ρ) (its first step becomes α, not 10α: the last assertion).
    """
    fs = lesson.first
    adam = np.abs(fs.steps["Adam"]) / fs.alpha
    np.testing.assert_allclose(adam, 1.0, rtol=1e-3)
    assert np.all(np.sign(fs.steps["Adam"]) == -np.sign(fs.gradient))
    np.testing.assert_allclose(fs.steps["SGD"], -fs.alpha * fs.gradient, rtol=1e-15)
    # RMSProp has no bias correction: v₁ = (1 − ρ)g², a first step of α/√(1 − ρ) = 10α
    np.testing.assert_allclose(np.abs(fs.steps["RMSProp"]) / fs.alpha, 10.0, rtol=1e-3)


@settings(max_examples=40, deadline=None)
@given(
    exponents=st.lists(st.floats(-4.0, 4.0), min_size=1, max_size=9),
    signs=st.lists(st.sampled_from([-1.0, 1.0]), min_size=9, max_size=9),
    alpha=st.floats(1e-4, 1e-1),
    beta1=st.floats(0.0, 0.99),
    beta2=st.floats(0.9, 0.9999),
)
def test_adams_first_step_is_alpha_for_any_gradient_and_any_betas(
    exponents, signs, alpha, beta1, beta2
):
    """The same claim over hypothesis-drawn gradients (|gᵢ| in [10⁻⁴, 10⁴]), α, β₁ and β₂:
    bias correction makes the first step independent of β₁ and β₂.

    Mutations seen to fail here: no bias correction; ε inside the square root.
    """
    g = np.array([s * 10.0**e for s, e in zip(signs, exponents)])
    path = lessons.kernel_descent(
        lambda th: g, np.zeros_like(g), Adam(lr=alpha, beta1=beta1, beta2=beta2), 1
    )
    step = path[1] - path[0]
    np.testing.assert_allclose(np.abs(step), alpha, rtol=1e-3)
    assert np.all(np.sign(step) == -np.sign(g))


def test_momentums_advantage_over_gradient_descent_grows_with_the_condition_number(lesson):
    """Steps to ‖θ − θ*‖ ≤ 10⁻⁶·‖θ₀ − θ*‖ for κ = 10 … 1000, GD at its best constant
    α = 2/(L + μ) and heavy-ball momentum at Polyak's (α, μ): the ratio grows at every κ,
    roughly like √κ (theory: ln((κ+1)/(κ−1)) / ln((√κ+1)/(√κ−1)) → √κ).

    GD's count matches its theory ln(10⁶)/ln((κ+1)/(κ−1)) to a step or two (its error
    shrinks by exactly (κ−1)/(κ+1) a step); momentum's exceeds its rate theory by a
    factor under 2 (at Polyak's tuning the two roots coincide: the error goes like k·rᵏ).

    Mutation seen to fail here: momentum without its velocity (diverges: no step count).
    """
    rows = lesson.momentum
    kappas = [row.kappa for row in rows]
    assert kappas == sorted(kappas) and kappas[-1] / kappas[0] >= 100
    for row in rows:
        assert row.gd_steps is not None and row.momentum_steps is not None
        assert abs(row.gd_steps - row.gd_theory) <= 2
        assert row.momentum_theory <= row.momentum_steps <= 2 * row.momentum_theory
    advantage = [row.advantage for row in rows]
    assert all(b > a for a, b in zip(advantage, advantage[1:])), advantage
    # like √κ: from κ = 10 to 1000 the advantage grows by about √100 = 10
    growth = advantage[-1] / advantage[0]
    assert 4 <= growth <= 15, advantage
    assert advantage[-1] > 10


def test_kernel_descent_is_fits_update_step_by_step():
    """The lesson's loop (one ``optimizer_update`` per step) is what ``fit`` computes: the
    logistic unit trained full batch by ``fit`` with Adam for 50 epochs ends at the θ of 50
    kernel steps on nnlite's own gradient (``loss_and_gradient``), bit for bit."""
    X, y = lessons.logistic_data()
    model = lessons.single_layer(2, 1, "sigmoid", "bce", seed=3)
    theta0 = model.theta.copy()
    probe = lessons.single_layer(2, 1, "sigmoid", "bce", theta0)
    path = lessons.kernel_descent(
        lambda th: lessons.loss_and_gradient(probe, X, y, th)[1], theta0, Adam(lr=0.05), 50
    )
    model.fit(X, y, epochs=50, batch_size=len(X), shuffle=False, optimizer=Adam(lr=0.05))
    assert np.array_equal(model.theta, path[-1])
    assert np.linalg.norm(path[-1] - theta0) > 0.5  # it moved


def test_polyak_tuning_is_the_textbook_formula():
    """α = 4/(√L + √μ)², μ_momentum = ((√κ − 1)/(√κ + 1))², for μ = 1, L = 100."""
    lr, beta = lessons.polyak_momentum(1.0, 100.0)
    assert lr == pytest.approx(4 / 121)
    assert beta == pytest.approx((9 / 11) ** 2)
    assert SGD(lr=lr, momentum=beta).validate().code == 1


def test_the_cli_lesson_shows_paths_curves_and_each_claim_beside_scipy():
    """``nnlite lesson optimizers`` at 80 columns: both path maps, the loss curves, and the
    lines of each claim, with scipy's reference named beside nnlite's result."""
    result = CliRunner().invoke(cli.app, ["lesson", "optimizers"], terminal_width=80)
    assert result.exit_code == 0, (result.output, result.exception)
    out = ANSI.sub("", result.stdout)
    for phrase in (
        "eigvalsh", "S SGD, M momentum", "R RMSProp, A Adam", "★ scipy's optimum",
        "log₁₀(f(θ) − f*) per step", "scipy.linalg.solve", "steps to 10⁻⁶",
        "Sequential([Dense(1, 'sigmoid')]).fit", "trust-exact",
        "Adam's first step moves every coordinate by 0.9999α to 1.0000α",
        "momentum's advantage grows with the condition number", "21.7×",
    ):  # fmt: skip
        assert phrase in out, (phrase, out)
    assert max(cell_len(line) for line in out.splitlines()) <= 80  # columns, not code points


def test_lesson_help_and_the_topic_list_name_both_new_lessons():
    runner = CliRunner()
    for args in (["lesson", "--help"], ["lesson"]):
        result = runner.invoke(cli.app, args, terminal_width=80)
        assert result.exit_code == 0, result.output
        out = ANSI.sub("", result.stdout)
        assert "optimizers" in out and "overfitting" in out, out
    assert lessons.topic_name("Optimisers") == "optimizers"
    assert lessons.topic_name("regularisation") == "overfitting"
