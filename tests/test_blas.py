"""``blas.matmul``, ``matmul_tn``, ``matmul_nt``, ``matmul_tn_add``: the products vs float64 NumPy.

Shapes include the special paths (one row → gemv, inner dimension one → outer
product loop, inner dimension zero, empty outputs), both transposes and both
dtypes; outputs are NaN-poisoned before each call. The ``np.dot`` fallback
(``NNLITE_BLAS=numba``) is checked in a subprocess, because the BLAS symbols are
bound once per process.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from fresh_process import assert_prints_ok
from hypothesis import given, settings
from hypothesis import strategies as st

from nnlite.kernels import blas

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _operands(rng, M, N, K, ta, tb, dtype):
    A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
    B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
    return A, B


def _reference(A, B, ta, tb):
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    return (A64.T if ta else A64) @ (B64.T if tb else B64)


# (function, transpose A, transpose B): C = A·B, Aᵀ·B, A·Bᵀ
PRODUCTS = {"matmul": (False, False), "matmul_tn": (True, False), "matmul_nt": (False, True)}


@settings(max_examples=60, deadline=None)
@given(
    M=st.sampled_from([1, 2, 3, 7, 33]),
    N=st.sampled_from([1, 2, 5, 17]),
    K=st.sampled_from([0, 1, 2, 9, 31]),
    product=st.sampled_from(sorted(PRODUCTS)),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_products_match_float64_numpy(M, N, K, product, dtype, seed):
    ta, tb = PRODUCTS[product]
    rng = np.random.default_rng(seed)
    A, B = _operands(rng, M, N, K, ta, tb, dtype)
    C = np.full((M, N), np.nan, dtype)
    getattr(blas, product)(A, B, C)
    ref = _reference(A, B, ta, tb)
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    np.testing.assert_allclose(C, ref, rtol=TOL[dtype], atol=TOL[dtype] * scale * max(K, 1))


@settings(max_examples=40, deadline=None)
@given(
    M=st.sampled_from([1, 2, 7, 33]),
    N=st.sampled_from([1, 5, 17]),
    K=st.sampled_from([0, 1, 2, 9, 31]),
    alpha=st.sampled_from([-0.1, 0.5, 1.0]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
)
def test_matmul_tn_add_adds_alpha_times_the_product(M, N, K, alpha, dtype, seed):
    """C ← C + α·Aᵀ·B (the SGD step of a weight matrix), the rank-one path (K = 1) included."""
    rng = np.random.default_rng(seed)
    A, B = _operands(rng, M, N, K, True, False, dtype)
    C = rng.standard_normal((M, N)).astype(dtype)
    ref = C.astype(np.float64) + alpha * _reference(A, B, True, False)
    blas.matmul_tn_add(A, B, C, alpha)
    scale = max(1.0, float(np.abs(ref).max(initial=0.0)))
    np.testing.assert_allclose(C, ref, rtol=TOL[dtype], atol=TOL[dtype] * scale * max(K, 1))


def test_matmul_tn_add_is_the_two_step_update_up_to_rounding():
    """One fused gemm vs the product then the update: equal to within float32 rounding."""
    rng = np.random.default_rng(3)
    A, B = _operands(rng, 40, 12, 700, True, False, np.float32)  # K above BLAS's inner block
    W = rng.standard_normal((40, 12)).astype(np.float32)
    P = np.empty_like(W)
    blas.matmul_tn(A, B, P)
    two_step = W - np.float32(0.01) * P
    fused = W.copy()
    blas.matmul_tn_add(A, B, fused, np.float32(-0.01))
    np.testing.assert_allclose(fused, two_step, rtol=0, atol=4e-6 * np.abs(two_step).max())
    assert not np.array_equal(fused, W)


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_products_leave_their_inputs_alone_and_accept_empty_outputs(product):
    ta, tb = PRODUCTS[product]
    rng = np.random.default_rng(0)
    A, B = _operands(rng, 4, 3, 5, ta, tb, np.float32)
    A0, B0 = A.copy(), B.copy()
    getattr(blas, product)(A, B, np.empty((4, 3), np.float32))
    np.testing.assert_array_equal(A, A0)
    np.testing.assert_array_equal(B, B0)
    getattr(blas, product)(A, B, np.empty((4, 0), np.float32))


def test_products_refuse_non_contiguous_operands():
    A = np.ones((4, 6), np.float32)[:, ::2]
    with pytest.raises(ValueError, match="C-contiguous"):
        blas.matmul(A, np.ones((3, 2), np.float32), np.empty((4, 2), np.float32))


def test_numpy_blas_is_found_on_numpy_wheels():
    """NumPy ≥ 2's wheels bundle OpenBLAS with the ILP64 CBLAS names that blas.py binds."""
    if not blas._numpy_blas_candidates():
        pytest.skip("this NumPy has no bundled OpenBLAS (not a PyPI wheel)")
    assert blas._numpy_blas_addresses() is not None
    if os.environ.get("NNLITE_BLAS") != "numba":
        assert blas.SOURCE == "numpy"


def test_numba_fallback_gives_the_same_products():
    """NNLITE_BLAS=numba binds the np.dot adapters instead; results agree with float64."""
    code = """
import numpy as np
from nnlite.kernels import blas
assert blas.SOURCE == "numba", blas.SOURCE
rng = np.random.default_rng(1)
for M, N, K, ta, tb in [(5, 3, 7, False, False), (5, 3, 7, True, False), (5, 3, 7, False, True),
                        (1, 4, 6, False, False), (1, 4, 6, False, True), (3, 2, 1, True, False)]:
    for dtype in (np.float32, np.float64):
        A = rng.standard_normal((K, M) if ta else (M, K)).astype(dtype)
        B = rng.standard_normal((N, K) if tb else (K, N)).astype(dtype)
        C = np.full((M, N), np.nan, dtype)
        {(False, False): blas.matmul, (True, False): blas.matmul_tn,
         (False, True): blas.matmul_nt}[ta, tb](A, B, C)
        ref = (A.astype(float).T if ta else A.astype(float)) @ (B.astype(float).T if tb else B.astype(float))
        assert np.allclose(C, ref, rtol=1e-5, atol=1e-5), (M, N, K, ta, tb, dtype)
        if ta:  # C ← C − ½·Aᵀ·B through the adapter's β = 1 path
            blas.matmul_tn_add(A, B, C, -0.5)
            assert np.allclose(C, 0.5 * ref, rtol=1e-5, atol=1e-5), (M, N, K, dtype)
print("ok")
"""
    assert_prints_ok(code, NNLITE_BLAS="numba")
