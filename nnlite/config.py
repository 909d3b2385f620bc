"""Constants of nnlite and the only place that reads environment variables.

Owns: default dtype, clipping epsilons, chunk sizes, the limits every entry point
checks before it allocates (network size, seeds: ``check_seed``, ``check_network_size``),
the data home (``NNLITE_DATA``, else the per-user cache) and the Numba cache directory. ``configure_numba_cache()``
must run before numba is first imported (``nnlite/__init__`` calls it); it never
imports numba.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

from nnlite.errors import ConfigError

__version__ = "0.1.0"

DEFAULT_DTYPE = np.float32

# Probabilities are clipped to [eps, 1 - eps] before a log (the lesson's
# formulas assume 0 < p < 1; float32 cannot represent 1 - 1e-12).
CLIP_EPS = {np.dtype(np.float32): 1e-7, np.dtype(np.float64): 1e-12}

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
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"{what} must be an integer from 0 to 2**63-1, got {seed!r}")
    return int(seed)


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


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
        return True
    except OSError:
        return False


def configure_numba_cache() -> str:
    """Point ``NUMBA_CACHE_DIR`` at a writable per-version directory.

    Numba's ``cache=True`` raises at import time when neither the package
    directory nor ``~/.cache`` is writable (read-only installs, HOME-less
    containers). A user-set ``NUMBA_CACHE_DIR`` wins. Returns the directory.
    """
    chosen = os.environ.get("NUMBA_CACHE_DIR")
    if chosen:
        return chosen
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    candidates = [
        Path(base) / "nnlite" / f"numba-{__version__}",
        Path(tempfile.gettempdir())
        / f"nnlite-numba-{os.getuid() if hasattr(os, 'getuid') else 'u'}",
    ]
    for path in candidates:
        if _writable(path):
            os.environ["NUMBA_CACHE_DIR"] = str(path)
            return str(path)
    return ""
