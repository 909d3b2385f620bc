"""Perceptron: a 0/1 output from a threshold; the learning rule converges exactly on
linearly separable data, within Novikoff's bound, and never on XOR.

Separability is decided independently by a feasibility linear program
(``scipy.optimize.linprog``) and the margin γ by a constrained minimisation
(``scipy.optimize.minimize``); nnlite's ``Perceptron`` never sees either.
"""

import numpy as np
import pytest

from nnlite import Perceptron, datasets, lessons

SEPARABLE_GATES = ("and", "or", "nand")


def test_the_output_is_1_exactly_when_the_weighted_sum_reaches_the_threshold():
    """ŷ = [Σ wᵢxᵢ + b ≥ θ], including sums that land exactly on θ.

    Mutation check (run once): ``s > threshold`` instead of ``s >= threshold`` in
    ``perceptron_predict`` fails the rows placed exactly on the threshold.
    """
    rng = np.random.default_rng(0)
    for threshold in (0.0, 0.5, -1.25):
        p = Perceptron(threshold=threshold, dtype=np.float64)
        p.w = np.array([0.5, -0.25, 2.0])
        p.b = np.array([0.25])
        X = rng.integers(-4, 5, size=(200, 3)).astype(np.float64)  # sums are exact multiples of ¼
        s = X @ p.w + p.b[0]
        assert np.any(s == threshold), "some rows must sit exactly on the threshold"
        y_hat = p.predict(X)
        assert set(np.unique(y_hat)) <= {0, 1}
        np.testing.assert_array_equal(y_hat, (s >= threshold).astype(int))


def test_linprog_finds_and_or_nand_separable_and_xor_not():
    """The reference itself: a line separates AND, OR and NAND (the LP's (w, b) is checked to
    separate them); none separates XOR."""
    for gate in SEPARABLE_GATES:
        ds = datasets.gate(gate)
        feasible, wb = lessons.lp_separable(ds.X, ds.y)
        assert feasible
        t = 2 * ds.y - 1
        assert np.all(t * (ds.X @ wb[:2] + wb[2]) >= 1 - 1e-9)  # the certificate separates
    assert not lessons.lp_separable(datasets.gate("xor").X, datasets.gate("xor").y)[0]


@pytest.mark.parametrize("gate", SEPARABLE_GATES)
def test_the_learning_rule_converges_on_every_linearly_separable_gate(gate):
    """AND, OR, NAND: an epoch with no mistake comes, and then every output is right.

    Mutation check (run once): the rule with the wrong sign, w ← w − η(y − ŷ)x, never
    converges and fails here.
    """
    ds = datasets.gate(gate)
    run = lessons.perceptron_run(gate, ds.X, ds.y)
    assert run.separable
    assert run.converged and run.updates_per_epoch[-1] == 0
    p = Perceptron(dtype=np.float64).fit(ds.X, ds.y)
    np.testing.assert_array_equal(p.predict(ds.X), ds.y)


@pytest.mark.parametrize("seed", range(5))
def test_the_learning_rule_converges_on_random_separable_point_sets(seed):
    """Mutation checks (run once): the rule's wrong sign fails all five sets; no bias update
    fails the sets whose separating line misses the origin."""
    X, y = lessons.separable_points(n=60, seed=seed)
    run = lessons.perceptron_run(f"points {seed}", X, y)
    assert run.separable
    assert run.converged
    p = Perceptron(dtype=np.float64).fit(X, y)
    np.testing.assert_array_equal(p.predict(X), y)


def test_the_learning_rule_never_converges_on_xor():
    """Every one of 1000 epochs makes a mistake: the rule cycles forever.

    Mutation check (run once): an epoch that counts no updates declares convergence after
    one pass and fails here.
    """
    ds = datasets.gate("xor")
    run = lessons.perceptron_run("xor", ds.X, ds.y, max_epochs=1000)
    assert not run.separable
    assert not run.converged
    assert run.epochs == 1000 and min(run.updates_per_epoch) >= 1


@pytest.mark.parametrize("seed", range(3))
def test_the_learning_rule_never_converges_on_overlapping_point_sets(seed):
    X, y = lessons.overlapping_points(seed=seed)
    run = lessons.perceptron_run("clouds", X, y, max_epochs=300)
    assert not run.separable
    assert not run.converged and min(run.updates_per_epoch) >= 1


@pytest.mark.parametrize(
    "name,data",
    [(g, (datasets.gate(g).X, datasets.gate(g).y)) for g in SEPARABLE_GATES]
    + [(f"points {s}", lessons.separable_points(n=60, seed=s)) for s in range(5)],
)
def test_the_number_of_updates_stays_within_novikoffs_bound(name, data):
    """Updates ≤ (R/γ)², with R = max ‖(x, 1)‖ and γ scipy's maximum margin.

    Mutation check (run once): updating only the weights and not the bias (a missing
    b ← b + η(y − ŷ)) leaves NAND unlearnable and fails here and above.
    """
    X, y = data
    run = lessons.perceptron_run(name, X, y)
    gamma, R, bound = lessons.novikoff(X, y)
    assert gamma > 0 and R >= 1
    assert run.n_updates <= bound
    # The bound holds for every η: started at 0 with θ = 0, η only rescales the weights
    # (η = ½ rescales exactly in floating point, so the runs are identical).
    assert lessons.perceptron_run(name, X, y, eta=0.5).n_updates == run.n_updates
