"""How the CPU kernels are compiled and loaded: ``kernel``, ``inline`` and Numba's disk cache.

Owns: the two decorators that ``blas.py`` and ``cpu.py`` put on their kernels,
and two savings in the time a warm-cache run takes to reach its first batch.
Imports numba only.

1. **A cached kernel is loaded without what only the compiler needs.** Before
   each load from its disk cache, Numba calls ``target_context.refresh()``,
   which imports and installs every typing and lowering registry it has
   (``numba.np.*``, ``numba.cpython.*``, third-party extensions): 0.16–0.28 s
   measured, spent on a run that compiles nothing (a warm ``nnlite train``
   reached its first batch in 0.87 s instead of 1.12 s without it, medians of
   10 alternating runs). A cached kernel is machine code; to link it the JIT
   needs only the symbols of Numba's runtime (NRT, ``rtsys.initialize``) and
   the C helpers that every target context installs when it is created. So
   ``_LoadFirstCache`` initialises the NRT and loads.
   On a miss the dispatcher compiles, and Numba's compiler refreshes both
   contexts itself (``CompilerBase.__init__``), so a compile sees exactly what
   it would have seen without this.
2. **Numba's probe for SciPy's BLAS is answered without importing it**, just
   before the first compile (``skip_scipy_probe``).

Both lean on Numba internals (``numba.core.caching``, ``numba.core.runtime``);
where those are not as expected, the decorators are plain
``njit(cache=True)`` and the probe is left to Numba.

Omits: the CUDA kernels (``cuda.py``), which Numba's CUDA target compiles and
caches on its own.
"""

from __future__ import annotations

import importlib.util
import sys

from numba import njit

_OPTIONS = dict(nogil=True, no_cfunc_wrapper=True)


def skip_scipy_probe() -> None:
    """Spare a compile the 0.15 s import of ``scipy.linalg`` that Numba does only to set a flag.

    When Numba first compiles, it imports ``numba.np.arraymath``, whose import
    calls ``ensure_blas()``, which imports all of ``scipy.linalg`` just to learn
    whether SciPy's BLAS exists (for Numba's own ``np.dot``, which nnlite's
    kernels do not use). Here that module is imported first, with the probe
    answered by whether SciPy is installed (``find_spec``, no import); the real
    ``ensure_blas`` is put back at once, so ``np.dot`` in compiled code (the
    fallback adapters in ``blas.py``) still imports SciPy when it is typed.
    It saves a run that compiles 0.147 s (``-X importtime`` of scipy.linalg);
    a warm-cache run, which only loads kernels and compiles none, never gets here
    (``_LoadFirstCache`` calls this on a cache miss). Anything unexpected
    (another Numba layout) leaves Numba to do its own import.
    """
    if "numba.np.arraymath" in sys.modules:
        return
    try:
        import numba.np.linalg as linalg
    except ImportError:
        return
    real = getattr(linalg, "ensure_blas", None)
    if real is None:
        return
    have_scipy = importlib.util.find_spec("scipy") is not None

    def probe() -> None:
        if not have_scipy:
            raise ImportError("scipy is not installed")

    linalg.ensure_blas = probe  # what arraymath binds and calls while it imports
    try:
        import numba.np.arraymath as arraymath
    finally:
        linalg.ensure_blas = real
    if getattr(arraymath, "ensure_blas", None) is probe:
        arraymath.ensure_blas = real


def _load_first_cache_class():
    """``FunctionCache`` whose loads skip the registry refresh, or None if Numba differs."""
    try:
        from numba.core.caching import FunctionCache
        from numba.core.runtime import rtsys
    except ImportError:
        return None
    if not all(
        hasattr(FunctionCache, name)
        for name in ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")
    ):
        return None

    class _LoadFirstCache(FunctionCache):
        """Numba's disk cache for one kernel; a load needs only the NRT (module docstring, 1)."""

        def load_overload(self, sig, target_context):
            rtsys.initialize(target_context)  # the NRT's symbols, for the JIT linker
            cres = None
            with self._guard_against_spurious_io_errors():
                cres = self._load_overload(sig, target_context)
            if cres is None:  # a miss: the dispatcher compiles next
                skip_scipy_probe()
            return cres

    return _LoadFirstCache


_LoadFirstCache = _load_first_cache_class()


def _cached(**options):
    """``njit`` with these options and the on-disk cache, loading through ``_LoadFirstCache``."""
    if _LoadFirstCache is None:
        return njit(cache=True, **_OPTIONS, **options)
    compile_ = njit(**_OPTIONS, **options)

    def decorate(func):
        dispatcher = compile_(func)
        if hasattr(dispatcher, "py_func"):  # not under NUMBA_DISABLE_JIT
            dispatcher._cache = _LoadFirstCache(dispatcher.py_func)  # what cache=True sets
        return dispatcher

    return decorate


# no_cfunc_wrapper: nothing here is passed to C as a function pointer, so the C
# wrapper Numba would otherwise compile for every kernel is skipped (first-run
# compile 9.6–9.8 → 8.8–9.7 CPU-seconds, measured side by side).
kernel = _cached()
# Some functions are inlined into their callers at Numba-IR level instead of
# being compiled, wrapped and linked as functions of their own (each level of
# calls is optimised again by LLVM inside every caller). See ``cpu.py`` for
# which, and what it saved.
inline = _cached(inline="always")
