"""``nnlite.kernels.jit``: how the CPU kernels are compiled and loaded from Numba's disk cache.

Each fact holds only in a new interpreter (which Numba modules a run imports,
what a cached kernel needs to run), so every test starts fresh processes that
share one new cache directory.
"""

from __future__ import annotations

from fresh_process import assert_prints_ok, run_python

# A run of the real training loop and two blas products, one of which raises
# from compiled code; what it prints is compared across processes. ``{before}``
# runs first.
RUN = """
import sys
import numpy as np
{before}
from nnlite import Dense, Sequential
from nnlite.kernels import blas
rng = np.random.default_rng(0)
X = rng.standard_normal((37, 5)).astype(np.float32)
y = rng.integers(0, 3, 37)
m = Sequential([Dense(4, "relu"), Dense(3, "softmax")])
m.build(5, seed=1)
h = m.fit(X, y, epochs=2, batch_size=8, seed=2)
A = rng.standard_normal((3, 4)).astype(np.float32)
C = np.full((4, 4), np.nan, np.float32)
blas.matmul_tn(A, A, C)
assert np.allclose(C, A.T.astype(float) @ A.astype(float), rtol=1e-5, atol=1e-6)
try:
    blas.matmul(A.T, A, C)
    print("no error")
except ValueError as e:
    print("ValueError:", e)
print("theta", m.theta.tobytes().hex())
print("products", C.tobytes().hex())
print("loss", h.loss, h.accuracy)
compiler_loaded = "numba.np.arraymath" in sys.modules
{after}
print("ok")
"""


def test_a_cached_kernel_loads_without_numbas_compiler_and_gives_the_same_numbers(tmp_path):
    """A warm-cache run loads kernels without Numba's typing and lowering registries.

    The first process fills the cache the way stock Numba does (its contexts
    refreshed before anything is loaded or compiled). The second loads the same
    kernels through ``_LoadFirstCache``: it must never import the registries
    (``numba.np.arraymath`` stands for them), must get bit-identical weights,
    products and the same error raised from compiled code, and must still
    compile a function of its own afterwards, which refreshes the contexts then.
    """
    cache = str(tmp_path)
    stock = RUN.format(
        before="from numba.core.registry import cpu_target\ncpu_target.target_context.refresh()",
        after="assert compiler_loaded",
    )
    lazy = RUN.format(
        before="",
        after="""
assert not compiler_loaded, "a warm-cache run imported Numba's compiler registries"
from numba import njit
assert njit(lambda v: v * 2.0 + 1)(np.arange(3.0)).tolist() == [1.0, 3.0, 5.0]
assert "numba.np.arraymath" in sys.modules""",
    )
    first = run_python(stock, NUMBA_CACHE_DIR=cache)
    second = run_python(lazy, NUMBA_CACHE_DIR=cache)
    assert "ValueError: matrix product: every operand must be C-contiguous" in first
    assert second == first


def test_a_compile_does_not_import_scipy_linalg_and_np_dot_still_works(tmp_path):
    """Numba's import-time probe for SciPy's BLAS is answered without importing scipy.linalg.

    In a fresh process with an empty cache, so that a kernel is compiled: the
    compile leaves scipy.linalg unimported, Numba's flag says BLAS is there, its
    real ``ensure_blas`` is back in place, and ``np.dot`` inside ``@njit``
    (which does need SciPy) still compiles and is right.
    """
    code = """
import sys
import numpy as np
from nnlite.kernels import cpu
W = np.ones((3, 2), np.float32)
cpu.sgd_update(W, np.ones((3, 2), np.float32), np.float32(0.5))
assert W.tolist() == [[0.5, 0.5]] * 3
assert cpu.sgd_update.stats.cache_misses, "nothing was compiled"
assert "scipy.linalg" not in sys.modules, "scipy.linalg was imported"
import numba.np.arraymath as arraymath
import numba.np.linalg as linalg
assert arraymath._HAVE_BLAS is True
assert arraymath.ensure_blas is linalg.ensure_blas
from numba import njit
f = njit(lambda a, b: np.dot(a, b))
a = np.arange(6.0).reshape(2, 3)
assert np.allclose(f(a, a.T), a @ a.T)
print("ok")
"""
    assert_prints_ok(code, NUMBA_CACHE_DIR=str(tmp_path))


def test_where_numbas_cache_internals_differ_the_kernels_use_plain_njit_caching(monkeypatch):
    """The fallback: without the private methods it relies on, ``jit`` is ``njit(cache=True)``."""
    import numba.core.caching as caching
    import numpy as np

    from nnlite.kernels import jit

    assert jit._load_first_cache_class() is not None
    monkeypatch.delattr(caching.Cache, "_guard_against_spurious_io_errors")
    assert jit._load_first_cache_class() is None  # as if a later Numba had renamed it
    monkeypatch.undo()
    monkeypatch.setattr(jit, "_LoadFirstCache", None)

    def halve(v):
        return v * np.float32(0.5)

    compiled = jit._cached()(halve)
    assert type(compiled._cache) is caching.FunctionCache  # what cache=True gives
    assert compiled(np.float32(3)) == np.float32(1.5)


def test_under_numba_disable_jit_the_kernels_are_python_and_nothing_is_cached(tmp_path):
    """``NUMBA_DISABLE_JIT=1``: the decorators give back plain functions; no cache, no key."""
    code = """
import numpy as np
from nnlite.kernels import cpu
W = np.ones((3, 2), np.float32)
cpu.sgd_update(W, np.ones((3, 2), np.float32), np.float32(0.5))
assert W.tolist() == [[0.5, 0.5]] * 3
assert not hasattr(cpu.sgd_update, "py_func"), "compiled, not plain Python"
print("ok")
"""
    assert_prints_ok(code, NUMBA_CACHE_DIR=str(tmp_path), NUMBA_DISABLE_JIT="1")
    assert list(tmp_path.iterdir()) == []


def test_a_cached_cfunc_is_sealed_like_the_kernels(tmp_path):
    """``cached_cfunc``: a C callback loads from the sealed cache; a damaged file is a miss.

    The callback is defined again (same source line, same cache files) to read the
    cache again in the same process; an emptied data file is set aside with one
    warning and compiled again, and the next definition loads from the cache.
    """
    (tmp_path / "cfmod.py").write_text(
        "from nnlite.kernels.jit import cached_cfunc\n\n\n"
        "def make():\n"
        '    @cached_cfunc("float64(float64)")\n'
        "    def half(x):\n"
        "        return x * 0.5\n\n"
        "    return half\n"
    )
    cache = tmp_path / "cache"
    code = f"""
import glob, os, sys, warnings
sys.path.insert(0, {str(tmp_path)!r})
import nnlite
import cfmod
assert [(h.ctypes(3.0), h.cache_hits) for h in (cfmod.make(), cfmod.make())] == [(1.5, 0), (1.5, 1)]
(data,) = glob.glob(os.path.join({str(cache)!r}, "*", "cfmod.*.nnlite.1.nbc"))
open(data, "wb").close()
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    h = cfmod.make()
assert (h.ctypes(3.0), h.cache_hits) == (1.5, 0), "the empty file was loaded"
assert len(caught) == 1 and glob.glob(data + ".corrupt-*"), [str(w.message) for w in caught]
assert cfmod.make().cache_hits == 1
print("ok")
"""
    assert_prints_ok(code, NUMBA_CACHE_DIR=str(cache))
