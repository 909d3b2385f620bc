"""Activations: what each σ does to z, against ``scipy.special``.

nnlite's values come from its ``activation_forward`` / ``activation_grad`` kernels (float64);
the references are ``scipy.special.expit``, ``scipy.special.softmax`` and tanh written as
2·expit(2z) − 1. Tolerances are a few ulps: any wrong formula is off by far more.
"""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import special

from nnlite import lessons

RTOL, ATOL = 1e-13, 1e-15  # float64: a few ulps
Z = np.concatenate([np.linspace(-30, 30, 601), [-1e-300, 0.0, 1e-300]])


def test_sigmoid_maps_every_z_into_0_1_and_matches_scipy_expit():
    """Mutation check (run once): 1/(1 + e^z) (wrong sign) fails here."""
    s = lessons.nnlite_activation("sigmoid", Z)[0]
    np.testing.assert_allclose(s, special.expit(Z), rtol=RTOL, atol=ATOL)
    assert np.all((s > 0) & (s < 1))
    assert s[np.flatnonzero(Z == 0)[0]] == 0.5


def test_sigmoid_saturates_toward_0_and_1_and_its_slope_vanishes_there():
    z = np.array([-20.0, -10.0, 0.0, 10.0, 20.0])
    s = lessons.nnlite_activation("sigmoid", z)[0]
    d = lessons.nnlite_activation_grad("sigmoid", z)[0]
    np.testing.assert_allclose(d, special.expit(z) * special.expit(-z), rtol=RTOL, atol=ATOL)
    assert s[0] < 1e-8 and 1 - s[-1] < 1e-8  # saturated
    assert d[2] == 0.25 and d[0] < 1e-8 and d[-1] < 1e-8  # slope ¼ at 0, ~0 far away
    assert np.all(np.diff(s) > 0)


def test_tanh_maps_into_minus_1_1_and_is_zero_centred():
    """Mutation check (run once): tanh′ = 1 + tanh² (a sign slip) fails here."""
    z = np.arange(-150, 151) / 10  # exactly symmetric about 0
    t = lessons.nnlite_activation("tanh", z)[0]
    np.testing.assert_allclose(t, 2 * special.expit(2 * z) - 1, rtol=1e-12, atol=ATOL)
    assert np.all((t > -1) & (t < 1))
    np.testing.assert_array_equal(t, -t[::-1])  # odd: tanh(−z) = −tanh(z)
    assert t[150] == 0 and abs(t.mean()) < 1e-15
    s = lessons.nnlite_activation("sigmoid", z)[0]
    assert abs(s.mean() - 0.5) < 1e-15  # the sigmoid is centred on ½, not 0
    d = lessons.nnlite_activation_grad("tanh", z)[0]
    np.testing.assert_allclose(d, 1 - np.tanh(z) ** 2, rtol=RTOL, atol=ATOL)


def test_relu_passes_positives_unchanged_and_zeroes_the_rest():
    """Mutation check (run once): ReLU′(z) = 1 for z ≥ −1 (a shifted kink) fails here."""
    r = lessons.nnlite_activation("relu", Z)[0]
    pos = Z > 0
    np.testing.assert_array_equal(r[pos], Z[pos])
    np.testing.assert_array_equal(r[~pos], 0.0)
    np.testing.assert_array_equal(lessons.nnlite_activation_grad("relu", Z)[0], pos.astype(float))


@settings(max_examples=60, deadline=None)
@given(
    arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 9)),
           elements=st.floats(-50, 50, allow_nan=False)),
    st.floats(-100, 100, allow_nan=False),
)  # fmt: skip
def test_softmax_outputs_a_probability_distribution_over_the_classes(Z2, c):
    """Non-negative, sums to 1, keeps the order of the scores, ignores a constant shift.

    Mutation check (run once): dropping the division by Σ e^z fails here.
    """
    P = lessons.nnlite_activation("softmax", Z2)
    np.testing.assert_allclose(P, special.softmax(Z2, axis=1), rtol=1e-12, atol=1e-300)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-14)
    for z, p in zip(Z2, P):
        bigger = z[:, None] > z[None, :]  # zᵢ > zⱼ ⇒ pᵢ ≥ pⱼ
        assert np.all((p[:, None] >= p[None, :])[bigger])
        assert p[np.argmax(z)] == p.max()  # the largest score gets the largest probability
    np.testing.assert_allclose(
        lessons.nnlite_activation("softmax", Z2 + c), P, rtol=1e-11, atol=1e-300
    )


def test_softmax_of_huge_scores_does_not_overflow():
    """The row-max shift: e^1000 would overflow, softmax(1000, 999) must not.

    Mutation check (run once): without the shift the row is NaN and fails here.
    """
    P = lessons.nnlite_activation("softmax", [[1000.0, 999.0, -1000.0]])
    np.testing.assert_allclose(P, special.softmax([[1000.0, 999.0, -1000.0]], axis=1), rtol=1e-14)


def test_the_lesson_shows_nnlite_and_scipy_curves_that_agree():
    r = lessons.activation_curves()
    assert {"sigmoid", "tanh", "relu", "leaky_relu", "softplus"} <= set(r.nnlite)
    for name in r.nnlite:
        np.testing.assert_allclose(r.nnlite[name], r.reference[name], rtol=1e-12, atol=ATOL)
        np.testing.assert_allclose(
            r.grad_nnlite[name], r.grad_reference[name], rtol=1e-12, atol=ATOL
        )
    np.testing.assert_allclose(r.softmax_nnlite, r.softmax_reference, rtol=1e-14)


def test_leaky_relu_keeps_a_slope_where_relu_has_none_so_its_units_cannot_die():
    z = np.linspace(-5.0, -0.1, 50)[None, :]
    assert np.all(lessons.nnlite_activation_grad("relu", z) == 0)
    np.testing.assert_allclose(lessons.nnlite_activation_grad("leaky_relu", z), 0.01, rtol=1e-15)


def test_softplus_is_a_smooth_relu_whose_slope_is_the_sigmoid():
    """softplus(z) − ReLU(z) = log(1 + e^(−|z|)) ∈ (0, ln 2], largest at 0; softplus′ = σ."""
    z = np.linspace(-30.0, 30.0, 601)[None, :]
    gap = lessons.nnlite_activation("softplus", z) - np.maximum(z, 0.0)
    assert np.all(gap > 0) and np.all(gap <= np.log(2.0) + 1e-15)
    np.testing.assert_allclose(gap.max(), np.log(2.0), rtol=1e-15)
    np.testing.assert_allclose(lessons.nnlite_activation_grad("softplus", z), special.expit(z),
                               rtol=1e-14)  # fmt: skip
