"""Test session set-up. Must run before anything imports numba.

The CUDA kernels are tested in Numba's CUDA simulator unless NNLITE_REAL_GPU=1
(on a machine with a GPU). The simulator cannot be switched on after numba is
first imported, so this happens here, at the very top.
"""

import os
import sys
from pathlib import Path

import pytest

if os.environ.get("NNLITE_REAL_GPU") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

# tests/ on the path, so test modules can import reference.py and kernel_cases.py.
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture
def reads(monkeypatch):
    """The names of the arrays ``npzfile.Archive.read`` was asked for, in order."""
    from nnlite import npzfile

    asked: list[str] = []
    real = npzfile.Archive.read

    def spy(self, key, **kwargs):
        asked.append(key)
        return real(self, key, **kwargs)

    monkeypatch.setattr(npzfile.Archive, "read", spy)
    return asked


@pytest.fixture
def disk_full(monkeypatch):
    """``disk_full(path)``: from now on ``nnlite.io.save`` to ``path`` fails with ENOSPC."""
    import errno

    from nnlite import io

    real_save = io.save
    full: set[Path] = set()

    def save(model, path, *args, **kwargs):
        if Path(path) in full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(model, path, *args, **kwargs)

    monkeypatch.setattr(io, "save", save)

    def fill(path: Path) -> Path:
        full.add(Path(path))
        return path

    return fill
