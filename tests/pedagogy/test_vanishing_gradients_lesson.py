"""Vanishing and exploding gradients: why deep sigmoid networks barely learn their first
layers, why ReLU with He's initialisation does, and what N(0, 1) weights do — each claim
of ``nnlite lesson vanishing-gradients`` against an independent reference.

The networks: 10 hidden layers of 32 units and 10 softmax units on 64 of the shipped
digits (cross-entropy), 100 seeds of each of sigmoid + Glorot, sigmoid + N(0, 1),
ReLU + He and ReLU + N(0, 1) (``lessons.vanishing_lesson``). Layer ℓ = 1 … 11:
Z_ℓ = A_ℓ₋₁·W_ℓ + b_ℓ, A_ℓ = σ(Z_ℓ), A_0 = X; dA_ℓ = ∂L/∂A_ℓ (n × 32, the batch's rows).

References, none of which calls nnlite's kernels: a float64 NumPy forward and backward
pass written below (``numpy_backprop``), ``scipy.linalg.svdvals`` for ‖W‖₂,
``scipy.special.expit`` for σ, ``scipy.stats`` for the t intervals and tests. The
weights are nnlite's own initialisation (``Sequential.build``): part of what is checked.

Statistical tests: every seed's figure is independent of the others', and each test
below uses a 99.9 % interval (or p > 10⁻³), so each has a false-alarm rate of at most
0.1 % when the claim holds (the data are seeded: a pass is reproducible).

Mutation checks, each run once against a deliberately broken ``cpu.py``, ``models.py`` or
``lessons.py`` (each test's docstring names the ones it was seen to fail): σ′ = 2σ(1 − σ)
in ``sigmoid_grad``; ReLU′ = ½ where z > 0, or 1 where z > −0.3, in ``relu_grad``; He's
N(0, 2/i) drawn as
N(0, 1/i) in ``build``; ``deep_pass`` reading dA one layer off; ``bound_tightness`` with
max σ′ = 1 for sigmoid; the saturation threshold 0.01 instead of 0.05 in ``deep_runs``.
Each was caught.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.cells import cell_len
from rich.console import Console
from scipy import linalg, special, stats
from typer.testing import CliRunner

import cli
from nnlite import activations, lessons
from nnlite.kernels import cpu
from nnlite.ui import terminal

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CONFIDENCE = 0.999  # two-sided intervals: a false alarm in 1 of 1000 when the claim holds
SLOPE = {"sigmoid": 0.25, "relu": 1.0}  # max σ′, from the definitions (σ′(0) = ¼)


def sigma(act: str, Z: np.ndarray) -> np.ndarray:
    return special.expit(Z) if act == "sigmoid" else np.maximum(Z, 0.0)


def sigma_grad(act: str, Z: np.ndarray) -> np.ndarray:
    if act == "sigmoid":
        s = special.expit(Z)
        return s * (1.0 - s)
    return (Z > 0).astype(np.float64)


def numpy_backprop(Ws: list, bs: list, X: np.ndarray, y: np.ndarray, act: str) -> dict:
    """Forward and backward propagation in float64 NumPy, from the definitions:
    softmax + cross-entropy on the output, dZ_L = (P − Y)/n; then, going down,
    dW_ℓ = A_ℓ₋₁ᵀ·dZ_ℓ, dA_ℓ₋₁ = dZ_ℓ·W_ℓᵀ, dZ_ℓ₋₁ = dA_ℓ₋₁ ⊙ σ′(Z_ℓ₋₁)."""
    A, Zs, As = X, [], []
    for k, (W, b) in enumerate(zip(Ws, bs)):
        Z = A @ W + b
        A = special.softmax(Z, axis=1) if k == len(Ws) - 1 else sigma(act, Z)
        Zs.append(Z)
        As.append(A)
    n = len(X)
    dZ = (As[-1] - np.eye(Ws[-1].shape[1])[y]) / n
    dW, dA, dZs = [None] * len(Ws), [None] * (len(Ws) - 1), [None] * len(Ws)
    dZs[-1] = dZ
    for k in range(len(Ws) - 1, -1, -1):
        inputs = As[k - 1] if k else X
        dW[k] = inputs.T @ dZs[k]
        if k:
            dA[k - 1] = dZs[k] @ Ws[k].T
            dZs[k - 1] = dA[k - 1] * sigma_grad(act, Zs[k - 1])
    return {"Z": Zs, "A": As, "dA": dA, "dZ": dZs, "dW": dW}


@pytest.fixture(scope="module")
def lesson() -> lessons.VanishingLesson:
    return lessons.run("vanishing-gradients")


@pytest.fixture(scope="module")
def reference(lesson) -> dict:
    """Per configuration and seed, the figures the lesson shows, computed by
    ``numpy_backprop`` from the same weights (nnlite's initialisation)."""
    X, y = lessons.deep_data(lesson.n_rows)
    out = {}
    for run in lesson.runs:
        figs = {k: [] for k in ("dW", "dA", "A", "saturated", "off", "var")}
        for s in range(lesson.seeds):
            model = lessons.deep_network(run.activation, run.init, lesson.depth, lesson.width,
                                         X.shape[1], seed=s)  # fmt: skip
            views = model.param_views(model.theta)
            Ws, bs = [W.copy() for W, _ in views], [b.copy() for _, b in views]
            ref = numpy_backprop(Ws, bs, X, y, run.activation)
            hidden = ref["A"][:-1]
            figs["dW"].append([np.linalg.norm(g) for g in ref["dW"]])
            figs["dA"].append([np.linalg.norm(g) for g in ref["dA"]])
            figs["A"].append([np.linalg.norm(A) for A in hidden])
            figs["saturated"].append([np.mean((A < 0.05) | (A > 0.95)) for A in hidden])
            figs["off"].append([np.mean(sigma_grad(run.activation, Z) == 0) for Z in ref["Z"][:-1]])
            figs["var"].append([W.shape[0] * W.var() for W in Ws[1:-1]])  # fan_in·Var W
        out[(run.activation, run.init)] = {k: np.array(v) for k, v in figs.items()}
    return out


def runs(lesson) -> dict:
    return {(run.activation, run.init): run for run in lesson.runs}


def log_factor(dA: np.ndarray) -> np.ndarray:
    """Per seed: mean over ℓ = 2 … L − 1 of ln(‖dA_ℓ₋₁‖/‖dA_ℓ‖)."""
    return np.log(dA[:, :-1] / dA[:, 1:]).mean(axis=1)


def t_interval(x: np.ndarray) -> tuple[float, float]:
    return stats.t.interval(CONFIDENCE, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))


def test_the_backward_kernels_give_the_float64_numpy_gradients_layer_by_layer(lesson, reference):
    """Every seed's ‖∂L/∂W_ℓ‖, ‖∂L/∂A_ℓ‖ and ‖A_ℓ‖ in the lesson are NumPy's to 10⁻⁹
    (relative), and seed 0's whole dA_ℓ and dW_ℓ arrays agree to 10⁻¹⁰: the lesson shows
    what nnlite's training kernels compute, and they compute backpropagation.

    Mutations seen to fail here: σ′ = 2σ(1 − σ); ReLU′ = ½; dA read one layer off.
    """
    X, y = lessons.deep_data(lesson.n_rows)
    for key, run in runs(lesson).items():
        ref = reference[key]
        np.testing.assert_allclose(run.dW_norm, ref["dW"], rtol=1e-9)
        np.testing.assert_allclose(run.dA_norm, ref["dA"], rtol=1e-9)
        np.testing.assert_allclose(run.A_norm, ref["A"], rtol=1e-9)
        p = run.shown
        full = numpy_backprop(p.W, [np.zeros(W.shape[1]) for W in p.W], X, y, run.activation)
        for got, want in zip(p.dA + p.dW, full["dA"] + full["dW"]):
            assert np.linalg.norm(got - want) <= 1e-10 * np.linalg.norm(want)


def test_sigmoids_slope_is_at_most_a_quarter_reached_at_zero():
    """σ′ = σ(1 − σ) by nnlite's kernel on a grid through 0: its largest value is ¼,
    at z = 0, as scipy's expit gives (ReLU′ is 0 or 1).

    Mutations seen to fail here: σ′ = 2σ(1 − σ); ReLU′ = ½; max σ′ = 1 for sigmoid in the
    lesson's table.
    """
    z = np.linspace(-8, 8, 1601)
    g = lessons.nnlite_activation_grad("sigmoid", z)[0]
    np.testing.assert_allclose(g, special.expit(z) * (1 - special.expit(z)), rtol=1e-12)
    assert g.max() == 0.25 and z[np.argmax(g)] == 0.0
    assert set(np.unique(lessons.nnlite_activation_grad("relu", z))) == {0.0, 1.0}
    assert lessons.MAX_SLOPE == SLOPE


@pytest.mark.parametrize("config", lessons.DEEP_CONFIGS)
def test_each_layer_shrinks_the_backpropagated_gradient_by_at_most_max_slope_times_norm_w(
    lesson, config
):
    """‖dA_ℓ₋₁[r]‖ ≤ max σ′ · ‖W_ℓ‖₂ · ‖dA_ℓ[r]‖ for every row r and hidden layer ℓ ≥ 2.

    Proof: dA_ℓ₋₁[r] = dZ_ℓ[r]·W_ℓᵀ with dZ_ℓ[r] = dA_ℓ[r] ⊙ σ′(Z_ℓ[r]); so
    ‖dA_ℓ₋₁[r]‖ ≤ ‖W_ℓᵀ‖₂·‖dZ_ℓ[r]‖ = ‖W_ℓ‖₂·‖dZ_ℓ[r]‖ ≤ ‖W_ℓ‖₂ · max σ′ · ‖dA_ℓ[r]‖.
    (Summing the rows' squares, it holds for the Frobenius norms over the batch too.)

    Checked on nnlite's kernel arrays (dA, dZ, W of seeds 0 … 9) with ‖W_ℓ‖₂ from
    ``scipy.linalg.svdvals`` and max σ′ from the definition, both steps separately; and the
    lesson's ``tightness`` (the largest left side over right side, every seed) is this
    test's own figure and at most 1.

    Mutations seen to fail here: σ′ = 2σ(1 − σ) (the step through σ′, sigmoid);
    ``bound_tightness`` with max σ′ = 1 for sigmoid (the lesson's figure).
    """
    act, init = config
    run = runs(lesson)[config]
    X, y = lessons.deep_data(lesson.n_rows)
    s = SLOPE[act]
    for seed in range(10):
        model = lessons.deep_network(act, init, lesson.depth, lesson.width, 64, seed=seed)
        p = lessons.deep_pass(model, X, y, act, init, seed)
        worst = []
        for k in range(1, len(p.dA)):  # layer ℓ = k + 1 (1-based): dA_ℓ = p.dA[k] → p.dA[k − 1]
            norm_w = linalg.svdvals(p.W[k])[0]
            below, dz, above = (np.linalg.norm(a, axis=1) for a in (p.dA[k], p.dZ[k], p.dA[k - 1]))
            assert np.all(dz <= s * below * (1 + 1e-12))
            assert np.all(above <= norm_w * dz * (1 + 1e-12))
            assert np.all(above <= s * norm_w * below * (1 + 1e-12))
            live = below > 0
            worst.append(np.max(above[live] / (s * norm_w * below[live])))
        np.testing.assert_allclose(run.tightness[seed], worst, rtol=1e-12)
    assert run.tightness.max() <= 1.0


@settings(max_examples=40, deadline=None)
@given(
    act=st.sampled_from(["sigmoid", "relu"]),
    n=st.integers(1, 5), i=st.integers(1, 9), o=st.integers(1, 9),
    scale=st.floats(0.01, 10.0), seed=st.integers(0, 2**32 - 1),
)  # fmt: skip
def test_the_bound_holds_for_any_layer_and_is_reached(act, n, i, o, scale, seed):
    """Through one layer by nnlite's kernels (``activation_grad`` then ``dense_backward``),
    for hypothesis-drawn shapes, weight scales and Z: ‖dA_ℓ₋₁[r]‖ ≤ max σ′·‖W‖₂·‖dA_ℓ[r]‖;
    and it is an equality where σ′ is at its largest (z = 0 for sigmoid, z > 0 for ReLU)
    and dA_ℓ[r] is W's top right singular vector (``scipy.linalg.svd``): max σ′ cannot be
    replaced by anything smaller.

    Mutations seen to fail here: σ′ = 2σ(1 − σ); ReLU′ = ½.
    """
    rng = np.random.default_rng(seed)
    W = rng.normal(0, scale, (i, o))
    code = activations.code(act)
    norm_w = linalg.svdvals(W)[0]

    def back(Z: np.ndarray, dA: np.ndarray) -> np.ndarray:
        A = lessons.nnlite_activation(act, Z)
        dZ = np.empty_like(Z)
        cpu.activation_grad(Z, A, dA, dZ, code)
        dW, db, dX = np.empty_like(W), np.empty(o), np.empty((len(Z), i))
        cpu.dense_backward(np.zeros((len(Z), i)), W, dZ, dW, db, dX, True)
        return dX

    Z, dA = rng.normal(0, 3, (n, o)), rng.normal(0, 1, (n, o))
    above = np.linalg.norm(back(Z, dA), axis=1)
    assert np.all(above <= SLOPE[act] * norm_w * np.linalg.norm(dA, axis=1) * (1 + 1e-12))
    top = linalg.svd(W)[2][0]  # ‖W·v‖ is largest, σ₁, at v = the first right singular vector
    Z0 = np.zeros((1, o)) if act == "sigmoid" else np.ones((1, o))
    tight = np.linalg.norm(back(Z0, top[None, :]))
    assert tight == pytest.approx(SLOPE[act] * norm_w, rel=1e-10)


def test_relu_with_he_weights_keeps_the_gradients_norm_from_layer_to_layer(lesson, reference):
    """ReLU + He: the per-layer factor ‖dA_ℓ₋₁‖/‖dA_ℓ‖ has geometric mean 1 over 100 seeds.

    Theory: E‖dA_ℓ₋₁[r]‖² = fan_in·Var W·E[σ′²]·‖dA_ℓ[r]‖², and He's Var W = 2/fan_in
    with half the units on (E[ReLU′²] = ½) makes the factor 1. Tests on NumPy's per-seed
    mean log-factor: a one-sample t-test of mean 0 is not rejected (p > 10⁻³), and the
    99.9 % t interval lies within ln 0.9 … ln 1.1 (an equivalence test: the factor is
    within 10 % of 1). nnlite's He draws have fan_in·Var W ≈ 2 (within 5 %, mean over
    layers and seeds). The lesson's interval is scipy's.

    Mutations seen to fail here: He's N(0, 2/i) drawn as N(0, 1/i) (factor 0.71);
    ReLU′ = ½ (factor 0.5).
    """
    ref = reference[("relu", "he")]
    x = log_factor(ref["dA"])
    assert stats.ttest_1samp(x, 0.0).pvalue > 1e-3
    lo, hi = t_interval(x)
    assert math.log(0.9) < lo and hi < math.log(1.1)
    assert abs(ref["var"].mean() - 2.0) < 0.1
    g, a, b = runs(lesson)[("relu", "he")].interval(CONFIDENCE)
    assert (math.log(a), math.log(g), math.log(b)) == pytest.approx((lo, x.mean(), hi), rel=1e-9)
    assert runs(lesson)[("relu", "he")].theory == pytest.approx(1.0)


def test_sigmoid_with_glorot_weights_shrinks_the_gradient_about_four_times_a_layer(
    lesson, reference
):
    """Sigmoid + Glorot: the per-layer factor's 99.9 % t interval lies below ¼, the
    theory's bound √(fan_in·Var W)·max σ′ with Glorot's fan_in·Var W = 1 (within 5 %, as
    nnlite draws it), and above ⅕: "about 4×" as the lesson says (it prints the measured
    1/factor). After 9 such layers the first hidden layer's ‖∂L/∂W‖ is below 10⁻⁴ of the
    last hidden layer's in every seed; the lesson's median is NumPy's.

    Mutation seen to fail here: σ′ = 2σ(1 − σ) (factor 0.47).
    """
    ref = reference[("sigmoid", "glorot")]
    x = log_factor(ref["dA"])
    lo, hi = t_interval(x)
    assert math.log(1 / 5) < lo and hi < math.log(1 / 4)
    assert abs(ref["var"].mean() - 1.0) < 0.05
    first = ref["dW"][:, 0] / ref["dW"][:, -2]
    assert first.max() < 1e-4
    run = runs(lesson)[("sigmoid", "glorot")]
    assert np.median(run.first_to_last) == pytest.approx(np.median(first), rel=1e-9)
    assert run.theory == pytest.approx(0.25)
    assert 4.0 < 1 / run.interval()[0] < 5.0


def test_normal_weights_saturate_sigmoid_units_and_glorots_do_not(lesson, reference):
    """Sigmoid + N(0, 1), 32 inputs a unit: more than 30 % of the hidden values are within
    0.05 of 0 or 1 (NumPy's forward pass; the lesson's share is the same), where
    σ′ = σ(1 − σ) < 0.05·0.95 = 0.0475; with Glorot, fewer than 1 %. The larger weights
    make the per-layer factor larger than Glorot's (disjoint 99.9 % intervals), still
    under the theory's bound ¼·√(fan_in·1) = √2.

    Mutation seen to fail here: the saturation threshold 0.01 instead of 0.05 in the
    lesson (its share is then NumPy's no longer).
    """
    normal, glorot = reference[("sigmoid", "normal")], reference[("sigmoid", "glorot")]
    assert normal["saturated"].mean() > 0.30
    assert glorot["saturated"].mean() < 0.01
    run = runs(lesson)[("sigmoid", "normal")]
    np.testing.assert_allclose(run.saturated, normal["saturated"], atol=1e-12)
    Z = run.shown.Z[:-1]
    A = np.concatenate([special.expit(z).ravel() for z in Z])
    sat = (A < 0.05) | (A > 0.95)
    assert np.all(A[sat] * (1 - A[sat]) < 0.0475)
    lo_n, hi_n = t_interval(log_factor(normal["dA"]))
    lo_g, hi_g = t_interval(log_factor(glorot["dA"]))
    assert hi_g < lo_n and hi_n < math.log(math.sqrt(2))
    assert run.theory == pytest.approx(math.sqrt(2))


def test_relu_with_normal_weights_explodes_by_the_root_of_half_the_fan_in(lesson, reference):
    """ReLU + N(0, 1): fan_in·Var W·E[ReLU′²] = 32·1·½ = 16, so dA grows √16 = 4× a layer
    going down (99.9 % t interval of the factor within 4 ± 10 %, and a t-test of mean ln 4
    not rejected, p > 10⁻³), and the activations ‖A_ℓ‖ grow as much going up (same
    interval). ‖∂L/∂W_ℓ‖ is then above 10⁵ times He's in every layer (medians over seeds),
    and the lesson's "about" figure is NumPy's median.

    Mutation seen to fail here: ReLU′ = ½ (factor 2).
    """
    ref, he = reference[("relu", "normal")], reference[("relu", "he")]
    x = log_factor(ref["dA"])
    lo, hi = t_interval(x)
    assert math.log(4 / 1.1) < lo and hi < math.log(4 * 1.1)
    assert stats.ttest_1samp(x, math.log(4.0)).pvalue > 1e-3
    up = np.log(ref["A"][:, 1:] / ref["A"][:, :-1]).mean(axis=1)
    lo_f, hi_f = t_interval(up)
    assert math.log(4 / 1.1) < lo_f and hi_f < math.log(4 * 1.1)
    assert np.all(np.median(ref["dW"], axis=0) > 1e5 * np.median(he["dW"], axis=0))
    run = runs(lesson)[("relu", "normal")]
    assert np.median(run.dW_norm) == pytest.approx(np.median(ref["dW"]), rel=1e-9)
    np.testing.assert_allclose(run.forward_log_ratio, up, rtol=1e-9)


def test_about_half_the_relu_units_are_off(lesson, reference):
    """ReLU′ is 0 for about half the hidden values (Z ≤ 0; W symmetric about 0): the
    share is within 0.45 … 0.55 under He and N(0, 1) (NumPy's; the lesson's is the same)
    and 0 for sigmoid, whose σ′ is never 0.

    Mutation seen to fail here: ReLU′ = 1 where z > −0.3 (a third of the values' slopes
    are then 0, not half).
    """
    for key in (("relu", "he"), ("relu", "normal")):
        off = reference[key]["off"].mean()
        assert 0.45 < off < 0.55
        np.testing.assert_allclose(runs(lesson)[key].off, reference[key]["off"], atol=1e-12)
    for key in (("sigmoid", "glorot"), ("sigmoid", "normal")):
        assert runs(lesson)[key].off.max() == 0.0


@pytest.mark.parametrize("width", [50, 80, 200])
def test_the_cli_lesson_states_each_claim_with_its_figures_and_fits_the_terminal(
    lesson, width, monkeypatch
):
    """``nnlite lesson vanishing-gradients``: exit code 0, the explanation with the figures
    the tests above check, the ‖∂L/∂W_ℓ‖ table (all 11 layers), a bar plot per network
    and the factors; no line wider than the terminal (its console ``width`` columns)."""
    monkeypatch.setattr(terminal, "console", Console(width=width))
    monkeypatch.setattr(lessons, "run", lambda name: lesson)  # computed once, by the fixture
    result = CliRunner().invoke(cli.app, ["lesson", "vanishing-gradients"], terminal_width=width)
    assert result.exit_code == 0, (result.output, result.exception)
    out = ANSI.sub("", result.stdout)
    flat = " ".join(out.split())
    r = runs(lesson)
    glorot = r[("sigmoid", "glorot")]
    for phrase in (
        "at most ¼ (at z = 0)", "scipy.linalg.svdvals",
        f"shrinks the gradient about {1 / glorot.interval()[0]:.1f}×",
        f"{np.median(glorot.first_to_last):.0e} of the last's",
        f"{np.mean(r[('sigmoid', 'normal')].saturated):.0%} of them are within 0.05",
        "√(fan_in/2) = 4×", f"about {np.median(r[('relu', 'normal')].dW_norm):.0e}",
        "‖∂L/∂W_ℓ‖ layer by layer", "held in all 3,600 layers",
    ):  # fmt: skip
        assert phrase in flat, (phrase, out)
    for run in lesson.runs:
        assert f"{run.title}: ‖∂L/∂W_ℓ‖ by layer ℓ" in flat
    assert re.search(r"^\s*11 (\(output\)|out)\b", out, re.M) or "│ 11 (output)" in out
    assert max(cell_len(line) for line in out.splitlines()) <= width


def test_the_lesson_builds_only_the_initialisation_nnlite_gives_each_activation():
    """``deep_network(σ, init)`` with Glorot/He is nnlite's own ``build`` (Glorot for
    sigmoid, He for ReLU); asking for the other one is a one-line ``ConfigError``, not a
    silently different network.

    Mutation seen to fail here: the check on ``init`` removed from ``deep_network``.
    """
    with pytest.raises(lessons.ConfigError, match="initialises relu layers with he, not glorot"):
        lessons.deep_network("relu", "glorot")
    a = lessons.deep_network("sigmoid", "glorot", seed=3).theta
    b = lessons.Sequential([lessons.Dense(32, "sigmoid") for _ in range(10)]
                           + [lessons.Dense(10, "softmax")], loss="cce",
                           dtype=np.float64).build(64, 3).theta  # fmt: skip
    assert np.array_equal(a, b)
