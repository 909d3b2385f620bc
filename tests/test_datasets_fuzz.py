"""Fuzz the file readers of nnlite.datasets: whatever the bytes, a valid result or DataError.

Each test takes small valid files (IDX raw and gzip, a whole MNIST-format folder, CSV, .npz
stored and compressed), damages them at random (bytes flipped, bytes inserted, the end cut
off) or builds them from hostile pieces, and asserts that the reader either returns data that
keeps the ``Dataset`` contract (float32 C-contiguous finite ``X``, labels in ``0..k-1``) or
raises ``errors.DataError`` with one line naming the file. Any other exception (an
``IndexError``, a ``MemoryError``, numpy's ``ValueError``) fails the test and hypothesis
shrinks it to a minimal file. The budget is CI-sized: the whole file runs in a few seconds;
raise ``FUZZ_EXAMPLES`` locally for a longer hunt.
"""

from __future__ import annotations

import gzip
import io
import os

import numpy as np
import pytest
from fuzzing import damaged
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlite import datasets, errors

FUZZ_EXAMPLES = int(os.environ.get("NNLITE_FUZZ_EXAMPLES", "150"))
fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def idx_bytes(shape: tuple[int, ...], data: bytes | None = None) -> bytes:
    """A valid IDX file of unsigned bytes: magic, big-endian dimensions, data."""
    if data is None:
        data = bytes(i % 10 for i in range(int(np.prod(shape))))
    dims = b"".join(d.to_bytes(4, "big") for d in shape)
    return (0x0800 | len(shape)).to_bytes(4, "big") + dims + data


def outcome(path, load):
    """Call ``load(path)``: the Dataset/array, or None after checking the DataError's message."""
    try:
        return load(path)
    except errors.DataError as exc:
        message = str(exc)
        assert str(path) in message, message
        assert "\n" not in message, message
        return None


def assert_contract(d: datasets.Dataset) -> None:
    """The promises every loader makes about a Dataset it returns."""
    for X, y in ((d.X, d.y), (d.X_test, d.y_test)):
        if X is None:
            continue
        assert X.dtype == np.float32 and X.ndim == 2 and X.flags.c_contiguous
        assert len(X) == len(y) and X.shape[1] == d.X.shape[1] >= 1
        assert np.isfinite(X).all()
        if d.n_classes is None:
            assert y.dtype == np.float32 and np.isfinite(y).all()
        else:
            assert y.dtype == np.int64 and y.ndim == 1
            assert len(y) == 0 or 0 <= y.min() <= y.max() < d.n_classes


# ---------------------------------------------------------------------------- IDX

VALID_IDX = [idx_bytes((6,)), idx_bytes((2, 2, 3))]
VALID_IDX += [gzip.compress(b) for b in VALID_IDX]


@fuzz
@given(
    content=st.one_of(st.binary(max_size=64), damaged(VALID_IDX)),
    name=st.sampled_from(["f", "f.gz"]),
)
def test_read_idx_returns_an_array_or_raises_data_error(fuzz_dir, content, name):
    path = fuzz_dir / name
    path.write_bytes(content)
    a = outcome(path, datasets.read_idx)
    if a is not None:
        assert a.dtype == np.uint8 and a.ndim in (1, 3)


FOLDER_FILES = {
    "train-images-idx3-ubyte.gz": idx_bytes((4, 2, 2)),
    "train-labels-idx1-ubyte.gz": idx_bytes((4,), bytes([0, 1, 2, 9])),
    "t10k-images-idx3-ubyte.gz": idx_bytes((2, 2, 2)),
    "t10k-labels-idx1-ubyte.gz": idx_bytes((2,), bytes([3, 4])),
}


@fuzz
@given(
    victim=st.sampled_from(sorted(FOLDER_FILES)),
    raw=st.data(),
    name=st.sampled_from(["mnist", "fashion-mnist"]),
)
def test_an_idx_set_with_one_damaged_file_loads_or_raises_data_error(fuzz_dir, victim, raw, name):
    folder = fuzz_dir / "set" / name
    folder.mkdir(parents=True, exist_ok=True)
    good = FOLDER_FILES[victim]
    content = raw.draw(damaged([good, gzip.compress(good)]), label="content")
    for file, data in FOLDER_FILES.items():
        (folder / file).write_bytes(content if file == victim else gzip.compress(data))
    path = folder / victim
    try:
        d = datasets.load(name, data_dir=folder.parent)
    except errors.DataError as exc:
        message = str(exc)
        assert str(folder) in message and "\n" not in message, message
    else:
        assert_contract(d)
        assert d.n_classes == 10 and d.image_shape[0] * d.image_shape[1] == d.X.shape[1]
    assert path.is_file()


# ---------------------------------------------------------------------------- CSV

VALID_CSV = [
    b"a,b,label\n1,2,0\n3,4,1\n5,6,2\n",
    b"0.5,1.0,0\n1.5,2.0,1\n",
    b"x,y\n0,0.25\n1,1.5\n2,2.75\n",
    b'"a","b"\n"1","0"\n"2","1"\n',
]
TOKENS = ["0", "1", "2", "-1", "1.5", "1e39", "-1e400", "nan", "inf", "x", "", '"', " ", "1_0"]
csv_texts = st.lists(
    st.lists(st.sampled_from(TOKENS), min_size=1, max_size=4), min_size=0, max_size=6
).map(lambda rows: "\n".join(",".join(row) for row in rows).encode())


@fuzz
@given(content=st.one_of(damaged(VALID_CSV), csv_texts, st.binary(max_size=40)))
def test_load_csv_returns_a_dataset_or_raises_data_error(fuzz_dir, content):
    path = fuzz_dir / "f.csv"
    path.write_bytes(content)
    d = outcome(path, datasets.load_csv)
    if d is not None:
        assert_contract(d)


# ---------------------------------------------------------------------------- npz


def _npz(compressed: bool, **arrays) -> bytes:
    buffer = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
    return buffer.getvalue()


VALID_NPZ = [
    _npz(False, X=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 0])),
    _npz(True, X=np.arange(6.0).reshape(3, 2), y=np.array([0, 1, 0])),
    _npz(
        False,
        X=np.ones((2, 2, 2), np.uint8),
        y=np.array([1, 0]),
        X_test=np.ones((1, 2, 2)),
        y_test=np.array([1]),
    ),  # fmt: skip
    _npz(False, X=np.ones((2, 1), np.float32), y=np.array([[0.5], [1.5]])),
]


@fuzz
@given(content=st.one_of(damaged(VALID_NPZ), st.binary(max_size=40)))
def test_load_npz_returns_a_dataset_or_raises_data_error(fuzz_dir, content):
    path = fuzz_dir / "f.npz"
    path.write_bytes(content)
    d = outcome(path, datasets.load_npz)
    if d is not None:
        assert_contract(d)


numbers = st.one_of(
    st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True, width=64)
)


@fuzz
@given(
    X=st.lists(st.lists(numbers, min_size=1, max_size=3), min_size=0, max_size=5),
    y=st.lists(numbers, min_size=0, max_size=6),
    dtype=st.sampled_from(["f8", "f4", "f2", "i8", "u1", "O", "U3", "c8", "?"]),
)
def test_load_npz_of_any_values_and_dtype(fuzz_dir, X, y, dtype):
    width = min((len(row) for row in X), default=1)
    Xa = np.array([row[:width] for row in X], dtype=object)
    with np.errstate(all="ignore"):
        try:
            Xa = Xa.astype(dtype) if dtype != "O" else Xa
            ya = np.array(y, dtype=object).astype(np.float64)
        except (OverflowError, ValueError, TypeError):
            return  # numpy cannot even build these arrays
    path = fuzz_dir / "v.npz"
    with open(path, "wb") as f:
        np.savez(f, X=Xa, y=ya)
    d = outcome(path, datasets.load_npz)
    if d is not None:
        assert_contract(d)
