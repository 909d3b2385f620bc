"""Numbers as nnlite shows them: the formatting every view shares.

Owns: ``num`` (a loss: four decimals), ``pct`` (an accuracy: a percentage with two
decimals), ``seconds`` (a duration: milliseconds under a second). Each shows a missing
value (None or NaN) as an em dash. Plain strings: imports only the standard library.
"""

from __future__ import annotations

import math


def pct(x: float | None) -> str:
    """An accuracy as a percentage: ``0.9712`` → ``97.12%``; None or NaN → ``—``."""
    return "—" if x is None or math.isnan(x) else f"{100 * x:.2f}%"


def num(x: float | None) -> str:
    """A loss with four decimals: ``0.12345`` → ``0.1235``; None or NaN → ``—``."""
    return "—" if x is None or math.isnan(x) else f"{x:.4f}"


def seconds(s: float) -> str:
    """A duration for the summary: milliseconds under a second (the digits train in a few)."""
    return f"{1e3 * s:.1f} ms" if s < 1 else f"{s:.2f} s"
