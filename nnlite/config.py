"""Constants of nnlite and the only place that reads environment variables.

Owns: default dtype, clipping epsilons, chunk sizes, the limits every entry point
checks before it allocates (network size, seeds: ``check_seed``, ``check_network_size``),
the data home (``NNLITE_DATA``, else the per-user cache) and the Numba cache directory. ``configure_numba_cache()``
must run before numba is first imported (``nnlite/__init__`` calls it); it never
imports numba.

The Numba cache directory rule: Numba unpickles what it finds there, so nnlite
uses only a directory that is a real directory (not a symbolic link), owned by
the current user, writable by nobody else, and reached only through directories
that nobody but root or the current user can change. Its own are created with
mode 0700. A user-set ``NUMBA_CACHE_DIR`` that breaks the rule is ignored; one of
nnlite's default directories that others could write is set aside
(``.unsafe-<time>``) and replaced; one owned by someone else is refused; when no
candidate is safe, a fresh ``mkdtemp`` directory serves this process and is
removed at exit. Each of these is said in one warning line (``CacheWarning``,
raised when the kernels are first imported). Windows has no owners to check:
there only writability counts. ``kernels/jit.py`` seals every cache file with a
key kept in that directory.
"""

from __future__ import annotations

import atexit
import math
import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any

from nnlite.errors import ConfigError

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``DEFAULT_DTYPE`` and ``CLIP_EPS``, made on first use: they need NumPy, and
    ``import nnlite`` (the CLI's ``--help``, which reads the concept tables) does not."""
    if name not in ("DEFAULT_DTYPE", "CLIP_EPS"):
        raise AttributeError(f"module 'nnlite.config' has no attribute {name!r}")
    import numpy as np

    values = {
        "DEFAULT_DTYPE": np.float32,
        # Probabilities are clipped to [eps, 1 - eps] before a log (the lesson's
        # formulas assume 0 < p < 1; float32 cannot represent 1 - 1e-12).
        "CLIP_EPS": {np.dtype(np.float32): 1e-7, np.dtype(np.float64): 1e-12},
    }
    globals()[name] = values[name]
    return values[name]


# The fast training loop runs this many samples per compiled call before it
# hands control back for a progress update.
SAMPLES_PER_CHUNK = 8192

# The largest network nnlite builds: 2**28 parameters (1 GiB of float32 for θ, and as much
# again for each of the gradient and the momentum velocity). Checked before anything is
# allocated, so a typo in --layers or a hostile model file costs one line, not the memory.
MAX_PARAMETERS = 1 << 28
# The widest layer (units, or input features) nnlite builds.
MAX_UNITS = 1 << 24
# Seeds are what NumPy's generators accept: a non-negative integer (kept below 2**63 so it
# also fits the int64 of a model file's record).
MAX_SEED = (1 << 63) - 1


def check_seed(seed: object, what: str = "seed") -> int:
    """``seed`` as an int in 0..2**63−1, or ``ConfigError`` naming ``what``."""
    import numpy as np

    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be an integer from 0 to 2**63-1, got {seed!r}")
    return int(seed)


def check_number(value: object, name: str, *, finite: bool = True) -> float:
    """``value`` as a float (anything ``float()`` takes but a bool), or ``ConfigError`` naming
    ``name``; ``finite`` also refuses NaN and ±∞. The rule of every hyper-parameter's check."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be a number, got {value!r}", param=name)
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, got {value!r}", param=name) from None
    if finite and not math.isfinite(x):
        raise ConfigError(f"{name} must be finite, got {value!r}", param=name)
    return x


def parse_spec(spec: object, what: str, example: str) -> tuple[str, dict[str, str]]:
    """``"name:key=value,..."`` (an optimiser or a schedule as the CLI takes it) as (name, values).

    The values stay text for their table's checks; an item without ``=`` raises
    ``ConfigError``: "``what`` are key=value, got 'item' (e.g. ``example``)".
    """
    name, _, rest = str(spec).partition(":")
    values: dict[str, str] = {}
    for item in filter(None, (x.strip() for x in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ConfigError(f"{what} are key=value, got {item!r} (e.g. {example})")
        values[key.strip()] = value.strip()
    return name, values


def network_parameters(dims: list[int]) -> int:
    """Σ (i·o + o) over consecutive layer sizes ``dims`` = [inputs, units₁, …, outputs]."""
    return sum(i * o + o for i, o in zip(dims[:-1], dims[1:]))


def check_network_size(dims: list[int], itemsize: int = 4) -> int:
    """The parameter count of a network with layer sizes ``dims``, or ``ConfigError`` if too big.

    Pure integer arithmetic: nothing is allocated, so a network of 10¹² weights is refused
    in a microsecond.
    """
    wide = max(dims)
    if wide > MAX_UNITS:
        raise ConfigError(
            f"a layer of {wide:,} units is wider than the {MAX_UNITS:,} nnlite builds"
        )
    count = network_parameters(dims)
    if count > MAX_PARAMETERS:
        spec = "-".join(str(d) for d in dims)
        raise ConfigError(
            f"the network {spec} would have {count:,} parameters "
            f"({_bytes(count * itemsize)} for θ alone); nnlite builds networks of up to "
            f"{MAX_PARAMETERS:,} parameters"
        )
    return count


def _bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    return f"{n:.3g} PiB"


# Where the repository's shipped data lives (``data/`` at the top level,
# installed as the package ``nnlite.data``).
REPO_DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def env(name: str, default: str | None = None) -> str | None:
    """Read an nnlite environment variable (the only reader of os.environ)."""
    return os.environ.get(name, default)


def cuda_simulator_requested() -> bool:
    """Is ``NUMBA_ENABLE_CUDASIM`` set to run CUDA kernels in Numba's simulator (not "" or "0")?"""
    return env("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def data_dir() -> Path:
    """The data home: where ``nnlite data download`` writes ``mnist/`` and ``fashion-mnist/``.

    ``$NNLITE_DATA`` when set; otherwise the per-user cache, ``$XDG_CACHE_HOME/nnlite``
    (the XDG base-directory rule: only an absolute ``XDG_CACHE_HOME`` counts) or else
    ``~/.cache/nnlite``, the folder that also holds Numba's cache of compiled kernels.
    The folder is not created here; the downloader creates it.
    """
    value = env("NNLITE_DATA")
    if value:
        return Path(value).expanduser()
    return user_cache_dir()


def user_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/nnlite`` if that variable is an absolute path, else ``~/.cache/nnlite``."""
    xdg = env("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "nnlite"
    return Path(os.path.expanduser("~")) / ".cache" / "nnlite"


# --- Numba's cache of compiled kernels: a directory only this user can write -------------
#
# Numba unpickles the index and data files it finds in its cache directory, so whoever can
# write there can run code in every nnlite process that loads a kernel. The directory must
# therefore be one that only the current user (or root) can change; ``jit.py`` adds a second
# lock (every file signed with a per-user key kept in that directory).

CACHE_KEY_NAME = "nnlite-cache-key"  # jit.py's HMAC key, a 0600 file in the cache root

_PRIVATE = 0o700
_cache_root: str | None = None
_cache_warning: str | None = None


class CacheWarning(UserWarning):
    """Numba's cache directory, or a file in it, was not trusted; nnlite worked around it."""


def _checks_ownership() -> bool:
    """Whether this platform has owners and permission bits to check (POSIX: yes; Windows: no)."""
    return os.name == "posix" and hasattr(os, "geteuid")


def _stamp() -> str:
    """A suffix for something set aside: the time and this process, unique enough."""
    return time.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid()}"


def _loose(mode: int) -> str | None:
    """Who besides the owner can write, per the mode bits: "group", "others", both, or None."""
    who = [name for bit, name in ((0o020, "group"), (0o002, "others")) if mode & bit]
    return " and ".join(who) or None


def _unsafe_reason(path: str) -> tuple[str | None, bool]:
    """Why the existing ``path`` may not hold the cache, or None; and whether it is ours but loose.

    Safe means: a real directory (not a symbolic link), owned by the current user,
    writable by nobody else, and reached only through directories that nobody but
    root or the current user can change (an ancestor writable by others needs the
    sticky bit, as ``/tmp`` has; a symbolic link on the way must belong to root or us).
    Raises OSError when ``path`` cannot be examined.
    """
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link", False
    if not stat.S_ISDIR(st.st_mode):
        return "is not a directory", False
    if not _checks_ownership():
        return None, False
    me = os.geteuid()
    if st.st_uid != me:
        return f"is owned by uid {st.st_uid}, not by you (uid {me})", False
    who = _loose(st.st_mode)
    if who:
        return f"is writable by {who} (mode {stat.S_IMODE(st.st_mode):04o})", True
    return _unsafe_ancestor(path, me), False


def _unsafe_ancestor(path: str, me: int) -> str | None:
    """Why a directory above ``path`` lets someone else swap it, or None."""
    # A symbolic link on the written path: only its owner can re-point it.
    prefix = os.path.abspath(path)
    while True:
        parent = os.path.dirname(prefix)
        if parent == prefix:
            break
        prefix = parent
        st = os.lstat(prefix)
        if stat.S_ISLNK(st.st_mode) and st.st_uid not in (0, me):
            return f"lies under {prefix}, a symbolic link owned by uid {st.st_uid}"
    # The directories the path really goes through.
    real = os.path.realpath(os.path.dirname(os.path.abspath(path)))
    while True:
        st = os.stat(real)
        if st.st_uid not in (0, me):
            return f"lies under {real}, owned by uid {st.st_uid}"
        who = _loose(st.st_mode)
        if who and not st.st_mode & stat.S_ISVTX:
            return f"lies under {real}, writable by {who} without the sticky bit"
        parent = os.path.dirname(real)
        if parent == real:
            return None
        real = parent


def _make_private(path: str) -> None:
    """Create ``path`` and its missing parents, each mode 0700, whatever the umask.

    ``os.mkdir(p, 0o700)`` can only come out stricter than 0700 under a umask, never
    looser, so there is no moment when others could write into it; a umask that also
    took the owner's bits is undone with chmod. A directory that appears meanwhile
    (another process) is left for the caller's checks to judge.
    """
    missing = []
    p = os.path.abspath(path)
    while not os.path.lexists(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    for p in reversed(missing):
        try:
            os.mkdir(p, _PRIVATE)
        except FileExistsError:
            continue
        st = os.lstat(p)
        if stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) != _PRIVATE:
            os.chmod(p, _PRIVATE)


def _probe_writable(path: str) -> None:
    """Raise OSError unless a file can be created in ``path`` (root ignores mode bits; EROFS)."""
    tempfile.TemporaryFile(dir=path).close()


def _private_cache_dir(path: str, *, ours: bool) -> tuple[bool, str | None, str | None]:
    """Make ``path`` usable as the cache root if it is safe: (usable, set-aside note, refusal).

    A missing directory is created 0700. An existing one must pass ``_unsafe_reason``.
    When ``ours`` (a path nnlite chose, not the user), a directory we own whose mode
    lets others write is set aside as ``<name>.unsafe-<time>`` (anyone could have put
    files in it) and a fresh one made in its place; anything else unsafe is refused
    ("it is owned by uid 65534, …"). A path that cannot be created or written gives
    neither note nor refusal.
    """
    aside_note = None
    try:
        _make_private(path)
        reason, loose_but_ours = _unsafe_reason(path)
        if reason and loose_but_ours and ours:
            aside = f"{path}.unsafe-{_stamp()}"
            os.rename(path, aside)
            aside_note = f"set aside {path} as {os.path.basename(aside)}: it {reason}"
            _make_private(path)
            reason, _ = _unsafe_reason(path)
        if reason:
            return False, aside_note, f"it {reason}"
        _probe_writable(path)
    except OSError:
        return False, aside_note, None
    return True, aside_note, None


def _choose_numba_cache_dir() -> tuple[str, str | None, bool]:
    """The cache root, a one-line note for the user (or None), and whether it is temporary.

    In order: a user-set ``NUMBA_CACHE_DIR`` if it is safe (else it is ignored, with a
    note); ``<user cache>/numba-<version>``; ``<temp dir>/nnlite-numba-<uid>``; and,
    when none of these is safe, a fresh ``tempfile.mkdtemp()`` directory for this
    process only. ``("", note, False)`` when not even that can be made.
    """
    notes = []
    user_set = os.environ.get("NUMBA_CACHE_DIR")
    if user_set:
        path = os.path.abspath(user_set)
        usable, _, refusal = _private_cache_dir(path, ours=False)
        if usable:
            return path, None, False
        notes.append(
            f"ignored NUMBA_CACHE_DIR={user_set}: {refusal or 'cannot create or write it'}"
        )
    uid = os.getuid() if hasattr(os, "getuid") else "u"
    candidates = [
        user_cache_dir() / f"numba-{__version__}",
        Path(tempfile.gettempdir()) / f"nnlite-numba-{uid}",
    ]
    for candidate in candidates:
        path = os.path.abspath(candidate)
        usable, aside_note, refusal = _private_cache_dir(path, ours=True)
        notes += [aside_note] if aside_note else []
        notes += [f"refused {path}: {refusal}"] if refusal else []
        if usable:
            where = f"compiled kernels are cached in {path}"
            return path, ("; ".join([*notes, where]) if notes else None), False
    try:
        path = tempfile.mkdtemp(prefix="nnlite-numba-")  # 0700, a name nobody could predict
    except OSError as exc:
        notes.append(f"no directory for compiled kernels ({exc.strerror}); compiling every run")
        return "", "; ".join(notes), False
    notes.append(f"compiled kernels are cached in {path} for this run only")
    return path, "; ".join(notes), True


def configure_numba_cache() -> str:
    """Point ``NUMBA_CACHE_DIR`` at a directory only this user can write; return it.

    Must run before numba is imported (Numba reads the variable once). Numba
    unpickles what it finds there, so the directory must be a real directory
    owned by the current user, writable by nobody else, reached only through
    directories nobody else can change (``_unsafe_reason``); nnlite creates its own
    with mode 0700. Candidates, in order:

    1. a user-set ``NUMBA_CACHE_DIR``, if it passes; otherwise it is ignored
       (a shared cache would let anyone who can write there run code as you);
    2. ``$XDG_CACHE_HOME/nnlite/numba-<version>`` or ``~/.cache/nnlite/numba-<version>``;
    3. ``<temp dir>/nnlite-numba-<uid>``;
    4. a fresh ``tempfile.mkdtemp()`` directory, removed when this process exits.

    A candidate owned by someone else, or a symbolic link, is refused. One of
    ours (2, 3) that others could write is set aside as ``<name>.unsafe-<time>``
    and replaced by a fresh one. Anything refused, set aside or temporary is
    said in one line, given to ``jit.py`` to warn with (``take_cache_warning``)
    when the kernels are first imported, where the CLI shows warnings. On
    Windows (no owners to check) only the writability probe applies.
    """
    global _cache_root, _cache_warning
    path, note, temporary = _choose_numba_cache_dir()
    if path:
        os.environ["NUMBA_CACHE_DIR"] = path
        if temporary:
            atexit.register(shutil.rmtree, path, True)
    _cache_root = path or None
    _cache_warning = f"nnlite: {note}" if note else None
    return path


def numba_cache_root() -> str | None:
    """The directory ``configure_numba_cache`` chose and checked, or None (none usable yet)."""
    return _cache_root


def take_cache_warning() -> str | None:
    """The one-line note from ``configure_numba_cache``, once; None when there is nothing to say."""
    global _cache_warning
    note, _cache_warning = _cache_warning, None
    return note
