"""Peak resident memory of one call, measured in this process (Linux).

``tracemalloc`` counts what is allocated, also the untouched pages of an ``np.empty`` that
cost no memory; what a user pays is resident memory. On Linux, writing "5" to
``/proc/self/clear_refs`` resets the high-water mark ``VmHWM`` to the current resident size,
so the peak of a single call can be read afterwards. Elsewhere ``available()`` is False and
the tests that need it skip.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR = Path("/proc/self/clear_refs")


def _kib(field: str) -> int:
    return int(re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M).group(1))


def available() -> bool:
    try:
        _CLEAR.write_text("5")
        _kib("VmHWM")
    except (OSError, AttributeError):
        return False
    return True


def peak_growth(call: Callable[[], object]) -> tuple[object, int]:
    """``(outcome, bytes)``: what ``call()`` returned or raised, and how far resident memory
    rose above its level at the start of the call."""
    before = _kib("VmRSS")
    _CLEAR.write_text("5")
    try:
        outcome = call()
    except Exception as exc:  # the caller looks at what was raised
        outcome = exc
    return outcome, (_kib("VmHWM") - before) * 1024
