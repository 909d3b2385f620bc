"""NumPy's OpenBLAS with a given number of threads, for the tests of a layout rule that depends on it.

``blas.matmul_scratch`` takes another layout for 20–32 rows when OpenBLAS runs
two threads; a test that must reach that path (or must not) sets the count
here instead of relying on the machine's core count.
"""

from __future__ import annotations

import contextlib
import ctypes

import pytest

from nnlite.kernels import blas


@contextlib.contextmanager
def blas_threads(n: int):
    """NumPy's OpenBLAS with ``n`` threads inside the block (skips where it is not bound)."""
    if blas.SOURCE != "numpy":
        pytest.skip("matmul_scratch's layout rule is for NumPy's OpenBLAS")
    lib = ctypes.CDLL(blas._numpy_blas_candidates()[0])
    before = lib.scipy_openblas_get_num_threads64_()
    lib.scipy_openblas_set_num_threads64_(n)
    try:
        assert blas.threads() == n
        yield
    finally:
        lib.scipy_openblas_set_num_threads64_(before)
