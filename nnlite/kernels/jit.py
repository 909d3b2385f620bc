"""How the CPU kernels are compiled and loaded: ``kernel``, ``inline`` and Numba's disk cache.

Owns: the two decorators that ``blas.py`` and ``cpu.py`` put on their kernels
(and ``cached_cfunc`` for C callbacks), the rule that a cache file is read only
when this user wrote it, and two savings in the time a warm-cache run takes to
reach its first batch. Imports numba, the standard library, ``nnlite.config``
(where the cache lives) and ``nnlite.files`` (``open_regular``).

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
3. **A cache file is unpickled only if this user's key sealed it.** Numba's
   cache files are pickles, and unpickling runs code, so a planted file would run
   someone else's code and a damaged one would stop every later run with an
   ``UnpicklingError`` or an LLVM traceback. Each index and data file is written
   as a format tag, an HMAC-SHA256 (under a random 32-byte key in a 0600 file,
   ``nnlite-cache-key``, in the cache root that ``config.configure_numba_cache``
   checked; over the tag, the file's name and the body) and Numba's body; the MAC
   is checked before a byte of the body is read. The files are named
   ``<Numba's name>.nnlite.nbi`` / ``.nnlite.<n>.nbc``, so files of plain Numba
   (an older nnlite's, or planted) are never opened. A file that is empty,
   short, unsealed, sealed with another key, or that still fails to unpickle or
   load, is a miss: it is renamed ``<name>.corrupt-<time>``, the kernel is
   compiled and its file written again, and ONE ``CacheWarning`` line per process
   says so. A save that fails (disk full) is a warning too, never an error. The
   seal adds one small file read and a SHA-256 over ~0.8 MB to a warm start.

Points 1 and 3 lean on Numba internals (``numba.core.caching``,
``numba.core.runtime``); where those are not as expected, the decorators are
plain ``njit(cache=True)`` (the cache then has only the directory rule of
``config.py`` to protect it) and the probe is left to Numba. Under
``NUMBA_DISABLE_JIT`` nothing is cached.

Omits: the CUDA kernels (``cuda.py``), which numba-cuda compiles and caches on
its own, in the same checked directory (its files are protected by the
directory rule, not sealed).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import importlib.util
import os
import pickle
import secrets
import stat
import sys
import time
import warnings

from numba import cfunc, njit

from nnlite import config
from nnlite.files import open_regular

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


# --- The signed cache file --------------------------------------------------------------

_MAGIC = b"nnlite numba cache 1\n"
_MAC_SIZE = 32  # HMAC-SHA256
_KEY_SIZE = 32
_key: bytes | None | bool = False  # False: not read yet; None: no key, so no disk cache
_warned = False


class _Damaged(Exception):
    """A cache file that must not be unpickled; the message says why, after "it"."""


def _mac(key: bytes, name: str, body: bytes) -> bytes:
    """HMAC-SHA256 under ``key`` of the format tag, the file's name and its body."""
    return hmac.new(key, _MAGIC + name.encode() + b"\0" + body, hashlib.sha256).digest()


def _seal(key: bytes, name: str, body: bytes) -> bytes:
    """A file's bytes: ``_MAGIC``, the MAC, the body."""
    return _MAGIC + _mac(key, name, body) + body


def _unseal(key: bytes, name: str, blob: bytes) -> bytes:
    """The body of a sealed file, checked before anything reads it; raises ``_Damaged``."""
    if not blob:
        raise _Damaged("is empty")
    if not blob.startswith(_MAGIC):
        raise _Damaged("has no nnlite header (damaged, or not written by nnlite)")
    if len(blob) < len(_MAGIC) + _MAC_SIZE:
        raise _Damaged(f"is truncated ({len(blob)} bytes)")
    mac, body = blob[len(_MAGIC) : len(_MAGIC) + _MAC_SIZE], blob[len(_MAGIC) + _MAC_SIZE :]
    if not hmac.compare_digest(mac, _mac(key, name, body)):
        raise _Damaged("failed its integrity check (damaged, truncated, or not written by you)")
    return body


def _read_key(path: str) -> bytes | None:
    """The key in ``path`` if it is a regular 32-byte file only we can read; else None.

    Raises FileNotFoundError when there is none. A symbolic link is not followed.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError:  # a symbolic link (ELOOP), unreadable, …
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size != _KEY_SIZE:
            return None
        if hasattr(os, "geteuid") and (st.st_uid != os.geteuid() or st.st_mode & 0o077):
            return None
        key = os.read(fd, _KEY_SIZE + 1)
        return key if len(key) == _KEY_SIZE else None
    finally:
        os.close(fd)


def _make_key(path: str) -> None:
    """Write 32 random bytes to ``path`` (mode 0600) unless another process got there first.

    Written to a temporary file, then hard-linked into place: ``link`` never replaces an
    existing key, so two processes starting together end up with the same one.
    """
    tmp = f"{path}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0), 0o600)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, 0o600)  # a umask that took the owner's bits
        os.write(fd, secrets.token_bytes(_KEY_SIZE))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass
    except OSError:  # a file system without hard links
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _cache_key() -> bytes | None:
    """This user's key for the cache in ``config.numba_cache_root()``, made on first use.

    None (no disk cache: every kernel is compiled) when there is no checked root or
    no usable key can be made there. A key file that is not a private regular file
    of the right size is set aside (``.unsafe-<time>``) and replaced.
    """
    global _key
    if _key is not False:
        return _key
    _key = None
    root = config.numba_cache_root()
    if root is None:
        return None
    path = os.path.join(root, config.CACHE_KEY_NAME)
    for _ in range(3):
        try:
            key = _read_key(path)
        except FileNotFoundError:
            key = None
        else:
            if key is None:
                with contextlib.suppress(OSError):
                    os.rename(path, f"{path}.unsafe-{_stamp()}")
        if key is not None:
            _key = key
            return key
        try:
            _make_key(path)
        except OSError:
            return None
    return None


def _stamp() -> str:
    return time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def _warn_once(message: str) -> None:
    """One warning line per process about the disk cache, however many files were damaged."""
    global _warned
    if not _warned:
        _warned = True
        warnings.warn(message, config.CacheWarning, stacklevel=2)


def _set_aside(path: str, reason: str) -> None:
    """Rename a damaged cache file to ``<name>.corrupt-<time>`` and say so (once per process)."""
    stamp = _stamp()
    try:
        os.rename(path, f"{path}.corrupt-{stamp}")
    except FileNotFoundError:  # another process set it aside first
        return
    except OSError as exc:
        _warn_once(
            f"nnlite: Numba's cache file {path} {reason} and cannot be set aside"
            f" ({exc.strerror}); compiling that kernel again"
        )
        return
    _warn_once(
        f"nnlite: Numba's cache file {path} {reason}; set aside as *.corrupt-{stamp},"
        " compiling that kernel again"
    )


def _cache_classes():
    """(signed ``FunctionCache``, its load-first subclass), or (None, None) if Numba differs."""
    try:
        from numba.core.caching import FunctionCache, IndexDataCacheFile
        from numba.core.runtime import rtsys
    except ImportError:
        return None, None
    if not all(
        hasattr(FunctionCache, name)
        for name in (
            "load_overload",
            "_load_overload",
            "_guard_against_spurious_io_errors",
            "_index_key",
        )
    ) or not all(
        hasattr(IndexDataCacheFile, name)
        for name in ("_load_index", "_save_index", "_load_data", "_save_data", "_open_for_write")
    ):
        return None, None

    class _SignedCacheFile(IndexDataCacheFile):
        """Numba's index and data files, each sealed with this user's key (module docstring, 3).

        The files are named ``<numba's name>.nnlite.nbi`` / ``.nnlite.<n>.nbc``, so
        plain Numba never reads them and they never read plain Numba's. The body
        is Numba's own pickle, unpickled only after the seal is checked; the index
        body starts with the Numba version, checked before its pickle is opened.
        """

        def __init__(self, cache_path, filename_base, source_stamp):
            super().__init__(cache_path, f"{filename_base}.nnlite", source_stamp)
            self._version_line = f"numba {self._version}\n".encode()

        def _read_sealed(self, path: str) -> bytes | None:
            key = _cache_key()
            if key is None:
                return None
            try:
                with open_regular(path) as f:
                    blob = f.read()
            except FileNotFoundError:
                return None
            except OSError as exc:
                _set_aside(path, f"cannot be read ({exc.strerror or exc})")
                return None
            try:
                return _unseal(key, os.path.basename(path), blob)
            except _Damaged as exc:
                _set_aside(path, str(exc))
                return None

        def _write_sealed(self, path: str, body: bytes) -> None:
            key = _cache_key()
            if key is None:
                return
            with self._open_for_write(path) as f:
                f.write(_seal(key, os.path.basename(path), body))

        def _unpickled(self, path: str, body: bytes):
            try:
                return pickle.loads(body)  # sealed by us: see the class docstring
            except Exception as exc:
                _set_aside(path, f"cannot be unpickled ({type(exc).__name__})")
                return None

        def _load_index(self):
            body = self._read_sealed(self._index_path)
            if body is None:
                return {}
            if not body.startswith(self._version_line):
                return {}  # another Numba's: stale, replaced by the next save
            index = self._unpickled(self._index_path, body[len(self._version_line) :])
            if not (isinstance(index, tuple) and len(index) == 2 and isinstance(index[1], dict)):
                if index is not None:
                    _set_aside(self._index_path, "is not an index")
                return {}
            stamp, overloads = index
            return overloads if stamp == self._source_stamp else {}

        def _save_index(self, overloads):
            body = self._version_line + self._dump((self._source_stamp, overloads))
            self._write_sealed(self._index_path, body)

        def _load_data(self, name):
            path = self._data_path(name)
            body = self._read_sealed(path)
            return None if body is None else self._unpickled(path, body)

        def _save_data(self, name, data):
            self._write_sealed(self._data_path(name), self._dump(data))

        def set_aside_entry(self, key, reason: str) -> None:
            name = self._load_index().get(key)
            if name is not None:
                _set_aside(self._data_path(name), reason)

    class _SignedCache(FunctionCache):
        """Numba's disk cache for one function, its files sealed (``_SignedCacheFile``).

        Whatever goes wrong with a file — unreadable, unsealed, not unpickled, not
        rebuilt — is a miss: the function is compiled and the file written anew.
        A save that fails (disk full, read-only) is a warning, never an error.
        """

        def __init__(self, py_func):
            super().__init__(py_func)
            self._cache_file = _SignedCacheFile(
                self._cache_path, self._impl.filename_base, self._impl.locator.get_source_stamp()
            )

        def _load_overload(self, sig, target_context):
            if not self._enabled:
                return None
            key = self._index_key(sig, target_context.codegen())
            data = self._cache_file.load(key)
            if data is None:
                return None
            try:
                return self._impl.rebuild(target_context, data)
            except Exception as exc:
                self._cache_file.set_aside_entry(key, f"cannot be loaded ({type(exc).__name__})")
                return None

        def save_overload(self, sig, data):
            try:
                super().save_overload(sig, data)
            except OSError as exc:
                _warn_once(
                    f"nnlite: cannot write Numba's cache in {self._cache_path}"
                    f" ({exc.strerror or exc}); kernels will be compiled again next run"
                )

    class _LoadFirstCache(_SignedCache):
        """A signed cache whose loads need only the NRT (module docstring, 1)."""

        def load_overload(self, sig, target_context):
            rtsys.initialize(target_context)  # the NRT's symbols, for the JIT linker
            cres = None
            with self._guard_against_spurious_io_errors():
                cres = self._load_overload(sig, target_context)
            if cres is None:  # a miss: the dispatcher compiles next
                skip_scipy_probe()
            return cres

    return _SignedCache, _LoadFirstCache


def _load_first_cache_class():
    """``FunctionCache`` whose loads are sealed and skip the registry refresh, or None."""
    return _cache_classes()[1]


_SignedCache, _LoadFirstCache = _cache_classes()


def _cached(**options):
    """``njit`` with these options and the on-disk cache, loading through ``_LoadFirstCache``."""
    if _LoadFirstCache is None:
        return njit(cache=True, **_OPTIONS, **options)
    compile_ = njit(**_OPTIONS, **options)

    def decorate(func):
        dispatcher = compile_(func)
        if hasattr(dispatcher, "py_func"):  # not under NUMBA_DISABLE_JIT
            try:
                dispatcher._cache = _LoadFirstCache(dispatcher.py_func)  # what cache=True sets
            except RuntimeError:  # Numba's "no locator available": compile every run instead
                pass
        return dispatcher

    return decorate


def cached_cfunc(signature):
    """``numba.cfunc(signature, cache=True)``, its cache sealed like the kernels'.

    For C callbacks (``blas.py``'s fallback adapters). Where Numba's ``CFunc``
    is not as expected, it is Numba's own ``cfunc(signature, cache=True)``.
    """
    try:
        from numba.core import sigutils
        from numba.core.ccallback import CFunc
    except ImportError:
        CFunc = None
    if CFunc is None or _SignedCache is None or not hasattr(CFunc, "compile"):
        return cfunc(signature, cache=True)

    def decorate(func):
        callback = CFunc(func, sigutils.normalize_signature(signature), locals={}, options={})
        try:
            callback._cache = _SignedCache(func)  # what enable_caching sets
        except RuntimeError:  # nowhere to cache: compile every run
            pass
        callback.compile()
        return callback

    return decorate


_note = config.take_cache_warning()  # what configure_numba_cache had to refuse or set aside
if _note:
    warnings.warn(_note, config.CacheWarning, stacklevel=2)


# no_cfunc_wrapper: nothing here is passed to C as a function pointer, so the C
# wrapper Numba would otherwise compile for every kernel is skipped (first-run
# compile 9.6–9.8 → 8.8–9.7 CPU-seconds, measured side by side).
kernel = _cached()
# Some functions are inlined into their callers at Numba-IR level instead of
# being compiled, wrapped and linked as functions of their own (each level of
# calls is optimised again by LLVM inside every caller). See ``cpu.py`` for
# which, and what it saved.
inline = _cached(inline="always")
# A kernel whose divisions follow IEEE 754 (x/0 is ±inf or NaN) instead of Python's
# ZeroDivisionError. Numba's default error model guards every float division with a
# test and a raise, and that branch keeps LLVM from vectorising the loop: Adam's update
# of MNIST's 101,632 weights took 440 µs per step with it, 56 µs without (one core,
# CPU time), the same bits wherever the divisor is not zero. For the optimisers'
# updates, whose zero divisor (ε = 0) the fit reports as a divergence (NaN).
ieee_kernel = _cached(error_model="numpy")
