"""Shared pieces of the hostile-input tests: byte damage as a hypothesis strategy, a memory bound.

``damaged(bases)`` draws one of the valid files ``bases`` with a few bytes flipped, short runs
inserted and the end cut off (what a bad disk, a bad download or an attacker makes of a file).
``traced_peak()`` measures the most memory Python and NumPy allocated inside a ``with`` block
(NumPy reports its array buffers to ``tracemalloc``). No nnlite imports.
"""

from __future__ import annotations

import contextlib
import tracemalloc
from collections.abc import Iterator
from dataclasses import dataclass

from hypothesis import strategies as st


def mutate(base: bytes, flips, inserts, cut) -> bytes:
    """``base`` with ``flips`` (position, byte), ``inserts`` (position, run) and a ``cut``."""
    data = bytearray(base)
    for position, value in flips:
        if data:
            data[position % len(data)] = value
    for position, chunk in inserts:
        at = position % (len(data) + 1)
        data[at:at] = chunk
    if cut is not None:
        data = data[: cut % (len(data) + 1)]
    return bytes(data)


def damaged(bases: list[bytes], reach: int = 10**7) -> st.SearchStrategy[bytes]:
    """One of ``bases`` with up to 4 bytes flipped, 2 short runs inserted, the end cut off."""
    return st.builds(
        mutate,
        st.sampled_from(bases),
        st.lists(st.tuples(st.integers(0, reach), st.integers(0, 255)), max_size=4),
        st.lists(st.tuples(st.integers(0, reach), st.binary(min_size=1, max_size=8)), max_size=2),
        st.one_of(st.none(), st.integers(0, reach)),
    )


@dataclass
class Peak:
    bytes: int = 0


@contextlib.contextmanager
def traced_peak() -> Iterator[Peak]:
    """``with traced_peak() as peak: …``; afterwards ``peak.bytes`` is the block's peak allocation."""
    peak = Peak()
    tracemalloc.start()
    try:
        yield peak
    finally:
        peak.bytes = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
