"""Large IDX results live in an anonymous ``mmap`` (4 KiB pages), not in ``np.empty``'s
huge pages (``idx._IdxFile.allocate``, ``idx._MAPPED``): the same values either way, a
writable C-contiguous array, and its memory returned when the array goes.

Why (measured, bench notes in the issue-20 report): where a hypervisor takes freed memory
back (free page reporting), every fresh 2 MiB huge page faults on the host, and MNIST's
188 MB of float32 cost 1–3 s in about half the runs instead of about 0.2 s.
"""

from __future__ import annotations

import gc
import gzip
import mmap

import numpy as np
import peak_memory
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlite import datasets
from nnlite.datasets import idx

MiB = 1 << 20
needs_rss = pytest.mark.skipif(
    not peak_memory.available(), reason="resident-memory peaks need Linux's /proc/self/clear_refs"
)


@pytest.fixture(autouse=True)
def _hermetic_data_home(tmp_path, monkeypatch):
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "home"))


def idx_bytes(shape: tuple[int, ...], data: bytes) -> bytes:
    dims = b"".join(d.to_bytes(4, "big") for d in shape)
    return (0x0800 | len(shape)).to_bytes(4, "big") + dims + data


def mapped(a: np.ndarray) -> bool:
    """Is ``a``'s memory an ``mmap`` (following the views' bases)?"""
    while isinstance(a, np.ndarray):
        a = a.base
    if isinstance(a, memoryview):  # np.frombuffer keeps a memoryview of the buffer
        a = a.obj
    return isinstance(a, mmap.mmap)


def write_set(folder, rng, n=60, shape=(6, 5)):
    folder.mkdir(exist_ok=True)
    for part in ("train", "test"):
        for kind, dims in (("images", (n, *shape)), ("labels", (n,))):
            data = rng.integers(0, 256 if kind == "images" else 10, dims, dtype=np.uint8)
            name = idx.MNIST_FILES[f"{part}_{kind}"] + ".gz"
            (folder / name).write_bytes(gzip.compress(idx_bytes(dims, data.tobytes()), mtime=0))
    return folder


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32 - 1), threshold=st.sampled_from([1, 7, 64, 1000]))
def test_mapped_and_np_empty_results_are_identical(tmp_path_factory, monkeypatch, seed, threshold):
    folder = write_set(tmp_path_factory.mktemp("set", numbered=True), np.random.default_rng(seed))
    loads = {}
    for name, limit in (("empty", 1 << 62), ("mapped", threshold)):
        with monkeypatch.context() as m, pytest.warns(UserWarning, match="not the published"):
            m.setattr(idx, "_MAPPED", limit)
            loads[name] = datasets.load_mnist(folder)
    a, b = loads["empty"], loads["mapped"]
    assert not mapped(a.X) and mapped(b.X) and mapped(b.X_test)
    for x, y in ((a.X, b.X), (a.X_test, b.X_test), (a.y, b.y), (a.y_test, b.y_test)):
        np.testing.assert_array_equal(x, y, strict=True)
    assert b.X.flags.c_contiguous and b.X.flags.writeable and b.X.flags.aligned


def test_only_arrays_from_the_threshold_on_are_mapped(tmp_path):
    small = tmp_path / "small"
    small.write_bytes(idx_bytes((4, 2, 2), bytes(16)))
    assert not mapped(datasets.read_idx(small))
    large = tmp_path / "large"
    n = idx._MAPPED // 64
    large.write_bytes(gzip.compress(idx_bytes((n, 8, 8), bytes(n * 64)), mtime=0))
    X = datasets.read_idx(large)
    assert mapped(X) and X.shape == (n, 8, 8) and not X.any()


@needs_rss
def test_a_mapped_result_costs_its_size_and_is_given_back(tmp_path):
    n = 32 * MiB // 1024  # 32 MiB of uint8 pixels: 128 MiB as float32
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes((n, 32, 32), bytes(n * 1024)), 1, mtime=0))

    def read():
        with idx._open_idx(path) as f:
            return idx._read_images(f)

    X, peak = peak_memory.peak_growth(read)
    assert mapped(X) and X.shape == (n, 1024)
    assert 128 * MiB <= peak < 128 * MiB + 8 * MiB, f"{peak / MiB:.0f} MiB"
    rss = peak_memory._kib("VmRSS") * 1024
    del X
    gc.collect()
    assert peak_memory._kib("VmRSS") * 1024 < rss - 120 * MiB  # the pages went back
