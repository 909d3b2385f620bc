"""Matrix products for the CPU kernels: NumPy's own BLAS, called from compiled code.

Owns: ``matmul`` (A·B), ``matmul_tn`` (Aᵀ·B), ``matmul_nt`` (A·Bᵀ) and
``matmul_tn_add`` (C + α·Aᵀ·B) for the ``@njit`` kernels in ``cpu.py``, and the
one-time set-up that makes NumPy's OpenBLAS functions callable from them. Imports
numpy, numba, llvmlite (numba's own dependency) and ``jit`` (the decorators) only.

Why not ``np.dot`` inside ``@njit``: Numba sends it to *SciPy's* OpenBLAS, a
different and older build than NumPy's, measured 1.2–1.75× slower on this
lesson's small-batch products (``bench/RESULTS.md``), and importing it costs
every run a 0.25 s ``scipy.linalg`` import. NumPy ≥ 2 wheels ship OpenBLAS with
64-bit-integer CBLAS entry points (``scipy_cblas_sgemm64_`` …); we look their
addresses up with ctypes and give them to Numba's linker under names of our
own (``nnlite_cblas_*``). Compiled kernels refer to those names, not to
addresses, so Numba's on-disk cache stays valid from one process to the next.

Where NumPy's library cannot be found (another BLAS vendor, an unusual build)
or ``NNLITE_BLAS=numba`` asks for it, the same names point at small Numba
``cfunc`` adapters that call ``np.dot``: slower to start, same results.

Omits: every BLAS routine the lesson does not need (only gemm and gemv, float32
and float64), and non-contiguous operands (refused with ``ValueError``).
"""

from __future__ import annotations

import ctypes
import glob
import os

import llvmlite.binding as llvm
import numpy as np
from numba import carray, types

from nnlite import config
from nnlite.kernels.jit import cached_cfunc, inline, kernel

ROW_MAJOR, NO_TRANS, TRANS = 101, 111, 112  # CBLAS enum values

_i32, _i64, _vp = types.int32, types.int64, types.voidptr


def _gemm_type(f):
    """cblas_?gemm(order, transA, transB, M, N, K, α, A, lda, B, ldb, β, C, ldc), ILP64."""
    return types.void(_i32, _i32, _i32, _i64, _i64, _i64, f, _vp, _i64, _vp, _i64, f, _vp, _i64)


def _gemv_type(f):
    """cblas_?gemv(order, trans, M, N, α, A, lda, x, incx, β, y, incy), ILP64."""
    return types.void(_i32, _i32, _i64, _i64, f, _vp, _i64, _vp, _i64, f, _vp, _i64)


_SIGNATURES = {
    "sgemm": _gemm_type(types.float32),
    "dgemm": _gemm_type(types.float64),
    "sgemv": _gemv_type(types.float32),
    "dgemv": _gemv_type(types.float64),
}
_sgemm = types.ExternalFunction("nnlite_cblas_sgemm", _SIGNATURES["sgemm"])
_dgemm = types.ExternalFunction("nnlite_cblas_dgemm", _SIGNATURES["dgemm"])
_sgemv = types.ExternalFunction("nnlite_cblas_sgemv", _SIGNATURES["sgemv"])
_dgemv = types.ExternalFunction("nnlite_cblas_dgemv", _SIGNATURES["dgemv"])


def _numpy_blas_candidates() -> list[str]:
    """Paths of the OpenBLAS libraries bundled in NumPy's wheel (Linux, macOS, Windows)."""
    site = os.path.dirname(os.path.dirname(np.__file__))
    patterns = [
        os.path.join(site, "numpy.libs", "*openblas*"),
        os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"),
    ]
    return sorted(p for pattern in patterns for p in glob.glob(pattern))


def _numpy_blas_addresses() -> dict[str, int] | None:
    """Addresses of NumPy's ILP64 CBLAS ?gemm/?gemv, or None when not found."""
    for path in _numpy_blas_candidates():
        try:
            lib = ctypes.CDLL(path)
            return {
                name: ctypes.cast(getattr(lib, f"scipy_cblas_{name}64_"), ctypes.c_void_p).value
                for name in _SIGNATURES
            }
        except (OSError, AttributeError):
            continue
    return None


def _fallback_addresses() -> dict[str, int]:
    """Numba ``cfunc`` adapters with the CBLAS signatures that compute with ``np.dot``.

    They serve only what the products below ask for: row-major, gemm with β = 0
    or 1, gemv with α = 1 and β = 0, leading dimensions equal to the row
    lengths, unit vector strides.
    """
    return {
        "sgemm": _gemm_adapter(np.float32, _SIGNATURES["sgemm"]),
        "dgemm": _gemm_adapter(np.float64, _SIGNATURES["dgemm"]),
        "sgemv": _gemv_adapter(np.float32, _SIGNATURES["sgemv"]),
        "dgemv": _gemv_adapter(np.float64, _SIGNATURES["dgemv"]),
    }


def _gemm_adapter(dtype, signature) -> int:
    @cached_cfunc(signature)
    def gemm_adapter(order, ta, tb, M, N, K, alpha, a, lda, b, ldb, beta, c, ldc):
        C = carray(c, (M, N), dtype=dtype)
        if ta == TRANS:
            A = carray(a, (K, M), dtype=dtype).T
        else:
            A = carray(a, (M, K), dtype=dtype)
        if tb == TRANS:
            P = np.dot(A, carray(b, (N, K), dtype=dtype).T)
        else:
            P = np.dot(A, carray(b, (K, N), dtype=dtype))
        if beta == 0:
            C[:, :] = alpha * P
        else:
            C[:, :] += alpha * P

    return gemm_adapter.address


def _gemv_adapter(dtype, signature) -> int:
    @cached_cfunc(signature)
    def gemv_adapter(order, trans, M, N, alpha, a, lda, x, incx, beta, y, incy):
        A = carray(a, (M, N), dtype=dtype)
        if trans == TRANS:
            carray(y, N, dtype=dtype)[:] = np.dot(A.T, carray(x, M, dtype=dtype))
        else:
            carray(y, M, dtype=dtype)[:] = np.dot(A, carray(x, N, dtype=dtype))

    return gemv_adapter.address


def _register() -> str:
    """Give Numba's linker the four ``nnlite_cblas_*`` symbols; returns which BLAS they use."""
    addresses = None if config.env("NNLITE_BLAS") == "numba" else _numpy_blas_addresses()
    source = "numpy"
    if addresses is None:
        addresses = _fallback_addresses()
        source = "numba"
    for name, address in addresses.items():
        llvm.add_symbol(f"nnlite_cblas_{name}", address)
    return source


SOURCE = _register()


@inline
def _check(A, B, C):
    if not (A.flags.c_contiguous and B.flags.c_contiguous and C.flags.c_contiguous):
        raise ValueError("matrix product: every operand must be C-contiguous")


@inline
def _gemm(A, B, C, ta, tb, K, alpha, beta):
    """C = α·op(A)·op(B) + β·C by cblas_?gemm (ta, tb: NO_TRANS or TRANS; K: the inner size)."""
    M, N = C.shape
    if C.itemsize == 4:
        _sgemm(ROW_MAJOR, ta, tb, M, N, K, np.float32(alpha), A.ctypes, A.shape[1], B.ctypes,
               B.shape[1], np.float32(beta), C.ctypes, N)  # fmt: skip
    else:
        _dgemm(ROW_MAJOR, ta, tb, M, N, K, np.float64(alpha), A.ctypes, A.shape[1], B.ctypes,
               B.shape[1], np.float64(beta), C.ctypes, N)  # fmt: skip


@inline
def _row_times(a, B, c, tb):
    """c = a·op(B) for one row a, as one cblas_?gemv over B (op(B)ᵀ·a)."""
    rows, cols = B.shape
    trans = NO_TRANS if tb == TRANS else TRANS
    if c.itemsize == 4:
        one, zero = np.float32(1), np.float32(0)
        _sgemv(ROW_MAJOR, trans, rows, cols, one, B.ctypes, cols, a.ctypes, 1, zero, c.ctypes, 1)
    else:
        _dgemv(ROW_MAJOR, trans, rows, cols, 1.0, B.ctypes, cols, a.ctypes, 1, 0.0, c.ctypes, 1)


# The lesson's three products and one update, one function each (not one function with
# transpose flags: Numba would compile a flagged function once per constant
# flag anyway, with every path in each copy).
#
# A batch of one row goes to gemv and an outer product (inner dimension one)
# to a loop: at those shapes gemm costs 2–3× the work (measured). All operands
# are C-contiguous 2-D float arrays of one dtype, stored untransposed; C is
# overwritten (added to by ``matmul_tn_add``).


@kernel
def matmul(A, B, C):
    """C = A·B  (A (M, K), B (K, N), C (M, N)): forward propagation's Z = X·W."""
    _check(A, B, C)
    M, N = C.shape
    K = A.shape[1]
    if M == 0 or N == 0:
        return
    if K == 0:
        C[:, :] = 0
    elif M == 1:
        _row_times(A, B, C, NO_TRANS)
    else:
        _gemm(A, B, C, NO_TRANS, NO_TRANS, K, 1, 0)


@kernel
def matmul_tn(A, B, C):
    """C = Aᵀ·B  (A (K, M), B (K, N), C (M, N)): backward propagation's dW = Xᵀ·dZ."""
    _check(A, B, C)
    M, N = C.shape
    K = A.shape[0]
    if M == 0 or N == 0:
        return
    if K == 0:
        C[:, :] = 0
    elif K == 1:  # an outer product: C[i, j] = A[0, i]·B[0, j]
        for i in range(M):
            a = A[0, i]
            for j in range(N):
                C[i, j] = a * B[0, j]
    else:
        _gemm(A, B, C, TRANS, NO_TRANS, K, 1, 0)


@kernel
def matmul_nt(A, B, C):
    """C = A·Bᵀ  (A (M, K), B (N, K), C (M, N)): backward propagation's dX = dZ·Wᵀ."""
    _check(A, B, C)
    M, N = C.shape
    K = A.shape[1]
    if M == 0 or N == 0:
        return
    if K == 0:
        C[:, :] = 0
    elif M == 1:
        _row_times(A, B, C, TRANS)
    else:
        _gemm(A, B, C, NO_TRANS, TRANS, K, 1, 0)


@kernel
def matmul_tn_add(A, B, C, alpha):
    """C ← C + α·Aᵀ·B  (A (K, M), B (K, N), C (M, N)): the SGD step W ← W − α·Xᵀ·dZ.

    One gemm with β = 1: BLAS adds α·(its accumulated products) to C as it goes,
    so the product Aᵀ·B is never stored. With K larger than BLAS's inner block
    (a few hundred) C takes one addition per block, so the result may differ in
    the last bit from ``C − α·(Aᵀ·B)`` computed in two steps.
    """
    _check(A, B, C)
    M, N = C.shape
    K = A.shape[0]
    if M == 0 or N == 0 or K == 0:
        return
    if K == 1:  # a rank-one update: C[i, j] += α·A[0, i]·B[0, j]
        for i in range(M):
            a = C.dtype.type(alpha) * A[0, i]
            for j in range(N):
                C[i, j] += a * B[0, j]
    else:
        _gemm(A, B, C, TRANS, NO_TRANS, K, alpha, 1)
