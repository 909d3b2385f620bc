"""``LazyModule``: a module imported on its first attribute access.

Owns: the one trick that lets a light module (a concept table the CLI reads for its
``--help``) name NumPy in its code without importing it until the code runs. Imports only
the standard library.
"""

from __future__ import annotations

import importlib
from typing import Any


class LazyModule:
    """Stands for the module ``name``; the first attribute access imports it."""

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(importlib.import_module(self._name), attr)
