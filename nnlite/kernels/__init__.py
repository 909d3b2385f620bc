"""Compute backends.

Owns: ``get_backend`` — the one place that knows which devices exist and
that explains a missing one. The CPU kernels (``cpu.py``, numba.njit) are
imported only when a backend is asked for, so ``import nnlite`` stays cheap.
"""

from __future__ import annotations

from types import ModuleType

from nnlite.errors import ConfigError

DEVICES = ("cpu",)


def get_backend(device: str = "cpu") -> ModuleType:
    """Return the kernel module for ``device`` (``"cpu"``)."""
    if device == "cpu":
        from nnlite.kernels import cpu

        return cpu
    raise ConfigError(f"unknown device {device!r}; valid devices: {', '.join(DEVICES)}")
