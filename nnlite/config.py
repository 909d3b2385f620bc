"""Constants of nnlite and the only place that reads environment variables.

Owns: default dtype, clipping epsilons, chunk sizes, the data home (``NNLITE_DATA``,
else the per-user cache) and the Numba cache directory. ``configure_numba_cache()``
must run before numba is first imported (``nnlite/__init__`` calls it); it never
imports numba.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np

__version__ = "0.1.0"

DEFAULT_DTYPE = np.float32

# Probabilities are clipped to [eps, 1 - eps] before a log (the lesson's
# formulas assume 0 < p < 1; float32 cannot represent 1 - 1e-12).
CLIP_EPS = {np.dtype(np.float32): 1e-7, np.dtype(np.float64): 1e-12}

# The fast training loop runs this many samples per compiled call before it
# hands control back for a progress update.
SAMPLES_PER_CHUNK = 8192

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
