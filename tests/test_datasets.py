"""Tests of nnlite.datasets: built-in data sets, file readers and their error messages.

Real MNIST is read from ``../shared/data/mnist`` beside the repository (or from
``$NNLITE_TEST_MNIST``); those tests are skipped when it is absent. It is never copied here.
Fashion-MNIST is tested with hand-built files of the same format. The random-input (fuzz)
tests of the readers are in ``test_datasets_fuzz.py``; the hand-picked hostile inputs here.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import pickle
import re
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import peak_memory
import pytest

from nnlite import config, datasets, errors

REPO = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(
    os.environ.get("NNLITE_TEST_MNIST")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
)


# ---------------------------------------------------------------------------- helpers


def idx_bytes(shape: tuple[int, ...], data: bytes | None = None, magic: int | None = None) -> bytes:
    """A hand-built IDX file: magic, one big-endian uint32 per dimension, the data."""
    if magic is None:
        magic = 0x0800 | len(shape)
    if data is None:
        data = bytes(i % 256 for i in range(int(np.prod(shape))))
    dims = b"".join(d.to_bytes(4, "big") for d in shape)
    return magic.to_bytes(4, "big") + dims + data


def write(path: Path, content: bytes, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(content) if gz else content)
    return path


def raises_data_error(path: Path, fn, *args, match: str = "", **kwargs) -> str:
    """Call fn, expect a one-line DataError naming the file; return the message."""
    with pytest.raises(errors.DataError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert path.name in message
    assert "\n" not in message
    assert re.search(match, message), message
    return message


# ---------------------------------------------------------------------------- gates


@pytest.mark.parametrize(
    "name, truth",
    [("and", [0, 0, 0, 1]), ("or", [0, 1, 1, 1]), ("nand", [1, 1, 1, 0]), ("xor", [0, 1, 1, 0])],
)
def test_gate_truth_tables(name, truth):
    d = datasets.gate(name)
    np.testing.assert_array_equal(d.X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(d.y, truth)
    assert d.X.dtype == np.float32 and d.y.dtype == np.int64
    assert d.n_classes == 2 and d.name == name


def test_unknown_gate_names_the_valid_ones():
    with pytest.raises(errors.ConfigError, match="and, or, nand, xor"):
        datasets.gate("nor")


# ---------------------------------------------------------------------------- generators

GENERATORS = [
    (datasets.make_moons, 200, 2),
    (datasets.make_circles, 200, 2),
    (datasets.make_spirals, 300, 3),
    (datasets.make_blobs, 300, 3),
]


@pytest.mark.parametrize("make, n, k", GENERATORS)
def test_generator_shapes_dtypes_and_balance(make, n, k):
    d = make()
    assert d.X.shape == (n, 2) and d.X.dtype == np.float32 and d.X.flags.c_contiguous
    assert d.y.shape == (n,) and d.y.dtype == np.int64
    assert d.n_classes == k
    np.testing.assert_array_equal(np.bincount(d.y, minlength=k), [n // k] * k)
    assert np.isfinite(d.X).all()
    # Shuffled: the first 20 rows are not all one class.
    assert len(set(d.y[:20].tolist())) > 1


@pytest.mark.parametrize("make, n, k", GENERATORS)
def test_generator_seed_reproducible_and_different_seeds_differ(make, n, k):
    a, b, c = make(seed=1), make(seed=1), make(seed=2)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.X, c.X)


@pytest.mark.parametrize("make, n, k", GENERATORS)
def test_generator_odd_sizes_split_as_evenly_as_possible(make, n, k):
    d = make(n_samples=7 if k == 2 else 10)
    counts = np.bincount(d.y, minlength=k)
    assert counts.sum() == len(d.X) and counts.max() - counts.min() <= 1


def test_noise_free_moons_lie_on_their_arcs():
    d = datasets.make_moons(n_samples=50, noise=0.0)
    upper, lower = d.X[d.y == 0], d.X[d.y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, rtol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_noise_free_circles_have_radii_one_and_factor():
    d = datasets.make_circles(n_samples=40, noise=0.0, factor=0.3)
    r = np.hypot(d.X[:, 0], d.X[:, 1])
    np.testing.assert_allclose(r[d.y == 0], 1.0, rtol=1e-6)
    np.testing.assert_allclose(r[d.y == 1], 0.3, rtol=1e-6)


def test_spirals_stay_in_the_unit_disc_and_blobs_honour_given_centres():
    s = datasets.make_spirals(n_samples=90, n_classes=3)
    assert np.hypot(s.X[:, 0], s.X[:, 1]).max() <= 1.0 + 1e-6
    centres = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    b = datasets.make_blobs(n_samples=400, centers=centres, std=0.1)
    assert b.X.shape == (400, 3) and b.n_classes == 2
    for j in range(2):
        np.testing.assert_allclose(b.X[b.y == j].mean(axis=0), centres[j], atol=0.05)


@pytest.mark.parametrize(
    "call",
    [
        lambda: datasets.make_moons(n_samples=0),
        lambda: datasets.make_moons(noise=-0.1),
        lambda: datasets.make_moons(n_samples=2.5),
        lambda: datasets.make_circles(factor=1.0),
        lambda: datasets.make_circles(noise=float("nan")),
        lambda: datasets.make_spirals(n_classes=1),
        lambda: datasets.make_spirals(n_samples=2, n_classes=3),
        lambda: datasets.make_blobs(centers=0),
        lambda: datasets.make_blobs(n_features=0),
        lambda: datasets.make_blobs(std=-1.0),
    ],
)
def test_generator_arguments_are_validated(call):
    with pytest.raises(errors.ConfigError):
        call()


# ---------------------------------------------------------------------------- digits


def test_digits_shape_labels_and_range():
    d = datasets.load_digits()
    assert d.X.shape == (1797, 64) and d.X.dtype == np.float32 and d.X.flags.c_contiguous
    assert d.y.dtype == np.int64 and d.n_classes == 10 and d.image_shape == (8, 8)
    counts = np.bincount(d.y, minlength=10)
    assert counts.sum() == 1797 and len(counts) == 10
    assert counts.min() >= 174 and counts.max() <= 183
    assert d.X.min() == 0.0 and d.X.max() == 1.0
    # Pixels are counts 0..16, so X * 16 is integral.
    np.testing.assert_array_equal(d.X * 16, np.round(d.X * 16))


def test_digits_file_matches_the_checksum_in_its_readme():
    readme = (REPO / "data" / "README.md").read_text()
    stated = re.search(r"`digits.npz` SHA-256: `([0-9a-f]{64})`", readme).group(1)
    actual = hashlib.sha256((REPO / "data" / "digits.npz").read_bytes()).hexdigest()
    assert actual == stated


# ---------------------------------------------------------------------------- read_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip(tmp_path, gz):
    suffix = ".gz" if gz else ""
    labels = write(tmp_path / f"l-idx1-ubyte{suffix}", idx_bytes((5,), bytes([3, 1, 4, 1, 5])), gz)
    images = write(tmp_path / f"i-idx3-ubyte{suffix}", idx_bytes((2, 3, 4)), gz)
    np.testing.assert_array_equal(datasets.read_idx(labels), [3, 1, 4, 1, 5])
    a = datasets.read_idx(images)
    assert a.dtype == np.uint8 and a.shape == (2, 3, 4)
    np.testing.assert_array_equal(a.ravel(), np.arange(24))


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "content, match",
    [
        (idx_bytes((3,), b"\x00\x01\x02", magic=0x00000802), "magic"),
        (idx_bytes((3,), b"\x00\x01\x02", magic=0x12340801), "magic"),
        (idx_bytes((3,), b"\x00" * 12, magic=0x00000D01), "type 0x0D"),
        (idx_bytes((4,), b"\x00\x01\x02"), "truncated"),
        (idx_bytes((2, 3, 4))[:10], "truncated IDX header"),
        (b"\x00\x00", "truncated IDX header"),
        (b"", "truncated IDX header"),
        (idx_bytes((3,), b"\x00\x01\x02\x03"), "trailing"),
    ],
)
def test_read_idx_rejects_malformed_files(tmp_path, gz, content, match):
    path = write(tmp_path / ("f.gz" if gz else "f"), content, gz)
    raises_data_error(path, datasets.read_idx, path, match=match)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    "shape, match",
    [
        # 10**9 images of 28x28 would be 784 GB: refused before any data is read.
        ((10**9, 28, 28), "promises 784,000,000,000 data bytes, more than"),
        # 400 MB claimed (under the cap): read until the data runs out, then refused.
        ((500_000, 28, 28), "truncated: header 500000x28x28 promises 392000000 data bytes"),
        ((2**32 - 1,), "promises 4,294,967,295 data bytes, more than"),
    ],
)
def test_read_idx_absurd_header_fails_fast_without_allocating(tmp_path, gz, shape, match):
    # Memory that is really used (resident), not tracemalloc's count: the array is allocated
    # from the header once it passed, and a lying header leaves it untouched beyond the data.
    if not peak_memory.available():
        pytest.skip("resident-memory peaks need Linux's /proc/self/clear_refs")
    path = write(tmp_path / ("big.gz" if gz else "big"), idx_bytes(shape, b"\1" * 100), gz)
    outcome, peak = peak_memory.peak_growth(lambda: datasets.read_idx(path))
    assert isinstance(outcome, errors.DataError), outcome
    assert peak < 8 * 2**20
    # An uncompressed file's length is known: it is refused before anything is allocated.
    tracemalloc.start()
    try:
        raises_data_error(path, datasets.read_idx, path, match=match)
        _, allocated = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert gz or allocated < 8 * 2**20


def test_read_idx_of_a_directory(tmp_path):
    raises_data_error(tmp_path, datasets.read_idx, tmp_path, match="is a directory")


def test_read_idx_gz_name_but_not_gzip(tmp_path):
    path = write(tmp_path / "train-labels-idx1-ubyte.gz", idx_bytes((3,), b"\x00\x01\x02"))
    raises_data_error(path, datasets.read_idx, path, match="not gzip")


def test_read_idx_corrupt_or_cut_gzip_and_missing_file(tmp_path):
    good = gzip.compress(idx_bytes((50,)))
    cut = write(tmp_path / "cut.gz", good[: len(good) // 2])
    raises_data_error(cut, datasets.read_idx, cut, match="gzip")
    garbled = write(tmp_path / "garbled.gz", good[:10] + b"\xff" * (len(good) - 10))
    raises_data_error(garbled, datasets.read_idx, garbled, match="gzip")
    missing = tmp_path / "nowhere-idx1-ubyte.gz"
    raises_data_error(missing, datasets.read_idx, missing, match="not found")


# ---------------------------------------------------------------------------- MNIST


def tiny_mnist(folder: Path, n_train=3, n_test=2, gz=True, labels=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if gz else ""
    labels = bytes(range(n_train)) if labels is None else labels
    write(folder / f"train-images-idx3-ubyte{suffix}", idx_bytes((n_train, 2, 2)), gz)
    write(folder / f"train-labels-idx1-ubyte{suffix}", idx_bytes((len(labels),), labels), gz)
    write(folder / f"t10k-images-idx3-ubyte{suffix}", idx_bytes((n_test, 2, 2)), gz)
    write(folder / f"t10k-labels-idx1-ubyte{suffix}", idx_bytes((n_test,), bytes(n_test)), gz)
    return folder


@pytest.mark.parametrize("gz, sub", [(True, ""), (False, "mnist")])
def test_mnist_from_hand_built_files(tmp_path, gz, sub):
    tiny_mnist(tmp_path / sub if sub else tmp_path, gz=gz)
    d = datasets.load_mnist(tmp_path)
    assert d.X.shape == (3, 4) and d.X_test.shape == (2, 4) and d.image_shape == (2, 2)
    assert d.X.dtype == np.float32 and d.y.dtype == np.int64
    np.testing.assert_allclose(d.X.ravel(), np.arange(12) / 255, rtol=1e-6)
    np.testing.assert_array_equal(d.y, [0, 1, 2])


def test_mnist_found_through_nnlite_data(tmp_path, monkeypatch):
    tiny_mnist(tmp_path / "mnist")
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path))
    assert datasets.load("mnist").n_samples == 3
    assert {d["name"]: d["available"] for d in datasets.list_datasets()}["mnist"]


def test_mnist_missing_says_which_file_where_and_how(tmp_path, monkeypatch):
    # Hermetic: no NNLITE_DATA, and the per-user cache is an empty folder of this test.
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(errors.DataError) as info:
        datasets.load_mnist()
    message = str(info.value)
    assert str(tmp_path / "cache" / "nnlite" / "mnist") in message
    assert "download it with `nnlite data download mnist`, or" in message
    assert "data_dir=DIR or NNLITE_DATA=DIR" in message and "\n" not in message
    assert info.value.params == ("data_dir",)  # the CLI says --data-dir DIR
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(errors.DataError) as info:
        datasets.load_mnist(tmp_path)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message
    assert f"{tmp_path / 'mnist'} or {tmp_path};" in message
    assert f"`nnlite data download mnist --data-dir {tmp_path}`" in message


def test_data_home_is_nnlite_data_else_the_user_cache(tmp_path, monkeypatch):
    tiny_mnist(tmp_path / "cache" / "nnlite" / "fashion-mnist")
    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert datasets.load("fashion-mnist").n_samples == 3
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(errors.DataError, match="elsewhere"):
        datasets.load("fashion-mnist")


@pytest.mark.parametrize("sub", ["", "fashion-mnist"])
def test_fashion_mnist_loads_like_mnist_with_class_names(tmp_path, sub):
    folder = tiny_mnist(tmp_path / sub if sub else tmp_path, labels=bytes([9, 0, 3]))
    d = datasets.load("Fashion-MNIST", data_dir=tmp_path)
    assert d.name == "fashion-mnist" and d.n_classes == 10 and d.image_shape == (2, 2)
    assert d.X.shape == (3, 4) and d.X_test.shape == (2, 4) and d.X.dtype == np.float32
    np.testing.assert_array_equal(d.y, [9, 0, 3])
    assert d.class_names[0] == "T-shirt/top" and d.class_names[9] == "Ankle boot"
    assert len(d.class_names) == 10 and datasets.load_mnist(folder).class_names is None
    assert "fashion-mnist" in datasets.NAMES


def test_each_set_prefers_its_own_sub_folder(tmp_path):
    tiny_mnist(tmp_path / "mnist", n_train=3)
    tiny_mnist(tmp_path / "fashion-mnist", n_train=5)
    assert datasets.load("mnist", data_dir=tmp_path).n_samples == 3
    assert datasets.load("fashion-mnist", data_dir=tmp_path).n_samples == 5
    tiny_mnist(tmp_path / "direct", n_train=4)  # DIR itself holding the four files
    assert datasets.load_fashion_mnist(tmp_path / "direct").n_samples == 4


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_idx_set_count_mismatch_bad_label_and_empty_images(tmp_path, name):
    tiny_mnist(tmp_path / "a", labels=bytes([0, 1]))
    with pytest.raises(errors.DataError, match="3 images but .* 2 labels"):
        datasets.load(name, data_dir=tmp_path / "a")
    tiny_mnist(tmp_path / "b", labels=bytes([0, 1, 10]))
    with pytest.raises(errors.DataError, match="label 10 at index 2 is not 0..9"):
        datasets.load(name, data_dir=tmp_path / "b")
    tiny_mnist(tmp_path / "c", labels=bytes([255, 1, 2]))
    with pytest.raises(errors.DataError, match="label 255 at index 0"):
        datasets.load(name, data_dir=tmp_path / "c")
    folder = tiny_mnist(tmp_path / "d")
    write(folder / "train-images-idx3-ubyte.gz", idx_bytes((3, 0, 5)), gz=True)
    with pytest.raises(errors.DataError, match="0x5 pixels have no pixels"):
        datasets.load(name, data_dir=folder)
    folder = tiny_mnist(tmp_path / "e")
    write(folder / "t10k-images-idx3-ubyte.gz", idx_bytes((2, 3, 3)), gz=True)
    with pytest.raises(errors.DataError, match="test images are 3x3, training images 2x2"):
        datasets.load(name, data_dir=folder)
    folder = tiny_mnist(tmp_path / "f")
    write(folder / "t10k-labels-idx1-ubyte.gz", idx_bytes((2, 1, 1), b"\0\0"), gz=True)
    with pytest.raises(errors.DataError, match="expected a label file"):
        datasets.load(name, data_dir=folder)


@pytest.fixture(scope="module")
def mnist():
    names = [f"{stem}.gz" for stem in datasets.MNIST_FILES.values()]
    if not all((MNIST_DIR / name).is_file() for name in names):
        pytest.skip(f"real MNIST not found in {MNIST_DIR} (set NNLITE_TEST_MNIST to its folder)")
    return datasets.load_mnist(MNIST_DIR)


def test_real_mnist_shapes_labels_and_mean(mnist):
    assert mnist.X.shape == (60000, 784) and mnist.X_test.shape == (10000, 784)
    assert mnist.X.dtype == np.float32 and mnist.X_test.dtype == np.float32
    assert mnist.image_shape == (28, 28) and mnist.n_classes == 10
    np.testing.assert_array_equal(mnist.y[:5], [5, 0, 4, 1, 9])
    np.testing.assert_array_equal(
        np.bincount(mnist.y), [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    )
    np.testing.assert_array_equal(
        np.bincount(mnist.y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    assert mnist.X.mean(dtype=np.float64) == pytest.approx(0.13066, abs=5e-5)
    assert mnist.X.min() == 0.0 and mnist.X.max() == 1.0


def test_real_mnist_listed_as_available(mnist):
    listing = {d["name"]: d for d in datasets.list_datasets(MNIST_DIR.parent)}
    assert listing["mnist"]["available"] and listing["mnist"]["samples"] == len(mnist.y)
    assert not listing["fashion-mnist"]["available"]  # the folder holds MNIST's files


def test_real_mnist_is_not_taken_for_fashion_mnist(mnist):
    with pytest.raises(errors.DataError) as info:
        datasets.load("fashion-mnist", data_dir=MNIST_DIR)
    message = str(info.value)
    assert "this is the published MNIST file, not Fashion-MNIST's" in message
    assert "use --dataset mnist" in message and "\n" not in message


# ---------------------------------------------------------------------------- CSV


def test_csv_without_header_target_last(tmp_path):
    path = tmp_path / "toy.csv"
    path.write_text("0.5,1.0,0\n\n1.5,2.0,1\n2.5,3.0,2\n")
    d = datasets.load_csv(path)
    np.testing.assert_array_equal(d.X, [[0.5, 1.0], [1.5, 2.0], [2.5, 3.0]])
    np.testing.assert_array_equal(d.y, [0, 1, 2])
    assert d.X.dtype == np.float32 and d.y.dtype == np.int64
    assert d.n_classes == 3 and d.name == "toy"


def test_csv_with_header_target_by_name_or_index(tmp_path):
    path = tmp_path / "h.csv"
    path.write_text("a,label,b\n1,1,2\n3,0,4\n5,1,6\n")
    by_name = datasets.load_csv(path, target="label")
    by_index = datasets.load_csv(path, target=1)
    by_text = datasets.load_csv(path, target="1")
    for d in (by_name, by_index, by_text):
        np.testing.assert_array_equal(d.X, [[1, 2], [3, 4], [5, 6]])
        np.testing.assert_array_equal(d.y, [1, 0, 1])
    with pytest.raises(errors.ConfigError, match="a, label, b"):
        datasets.load_csv(path, target="colour")
    with pytest.raises(errors.ConfigError, match="out of range"):
        datasets.load_csv(path, target=3)


def test_csv_regression_target(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("x,y\n0,0.25\n1,1.5\n2,2.75\n")
    d = datasets.load_csv(path)
    assert d.n_classes is None and d.y.dtype == np.float32
    np.testing.assert_array_equal(d.y, [0.25, 1.5, 2.75])
    forced = datasets.load_csv(tmp_path / "r.csv", task="regression")
    assert forced.n_classes is None


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "empty"),
        ("\n  \n", "empty"),
        ("a,b,c\n", "no data rows"),
        ("1,2,0\n3,nan,1\n", r"line 2, column 2: nan"),
        ("a,b,c\n1,2,0\n3,4,1\ninf,5,1\n", r"line 4, column 1 \('a'\)"),
        ("1,2,0\n3,4\n", "line 2 has 2 columns, expected 3"),
        ("1,2,0\n3,4,1,9\n", "line 2 has 4 columns"),
        ("1,2,0\n3,4,-1\n", "line 2: label -1 is negative"),
        ("1,2,0\n3,4,1\n5,6,1.5\n7,8,1\n", "line 3: label 1.5 is not an integer"),
        ("1,2,1\n3,4,2\n", r"label\(s\) 0 never occur"),
        ("1,2,0\n3,x,1\n", r"line 2, column 2: 'x' is not a number"),
        ("1,2,0\n3,1e39,1\n", "line 2, column 2"),
        ("1\n2\n", "at least one feature"),
    ],
)
def test_csv_errors_name_the_file_and_place(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    raises_data_error(path, datasets.load_csv, path, match=match)


def test_csv_missing_file(tmp_path):
    path = tmp_path / "absent.csv"
    raises_data_error(path, datasets.load_csv, path, match="not found")


# ---------------------------------------------------------------------------- NPZ


def test_npz_round_trip_with_test_split(tmp_path):
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(6, 3)), np.array([0, 1, 2, 0, 1, 2])
    path = tmp_path / "set.npz"
    np.savez(path, X=X, y=y, X_test=X[:2], y_test=y[:2])
    d = datasets.load_npz(path)
    np.testing.assert_array_equal(d.X, X.astype(np.float32))
    np.testing.assert_array_equal(d.y, y)
    np.testing.assert_array_equal(d.X_test, X[:2].astype(np.float32))
    np.testing.assert_array_equal(d.y_test, y[:2])
    assert d.n_classes == 3 and d.y.dtype == np.int64 and d.X.dtype == np.float32


def test_npz_images_are_flattened_with_their_shape(tmp_path):
    images = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "img.npz"
    np.savez_compressed(path, X=images, y=np.array([1.0, 0.0]))
    d = datasets.load_npz(path)
    assert d.X.shape == (2, 12) and d.image_shape == (3, 4) and d.n_classes == 2
    np.testing.assert_array_equal(d.X[1], np.arange(12, 24))


def test_npz_regression_targets(tmp_path):
    path = tmp_path / "reg.npz"
    np.savez(path, X=np.ones((3, 2)), y=np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]))
    d = datasets.load_npz(path)
    assert d.n_classes is None and d.y.shape == (3, 2) and d.y.dtype == np.float32


UNPICKLED = []


def _record_unpickling():
    UNPICKLED.append(True)
    return 0


class _Trap:
    def __reduce__(self):
        return (_record_unpickling, ())


def test_npz_with_pickled_objects_is_refused_not_unpickled(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, X=np.array([[_Trap()]], dtype=object), y=np.array([0]))
    assert pickle.loads(pickle.dumps(_Trap())) == 0 and UNPICKLED  # the trap works
    UNPICKLED.clear()
    raises_data_error(path, datasets.load_npz, path, match="Python objects")
    assert not UNPICKLED


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"X": np.array([[1.0], [np.nan]]), "y": np.array([0, 1])}, r"X\[1, 0\]"),
        (
            {"X": np.ones((2, 1)), "y": [0, 1], "X_test": [[np.inf]], "y_test": [0]},
            r"X_test\[0, 0\]",
        ),
        ({"X": np.ones((2, 1)), "y": [0.5, np.inf]}, r"y\[1\]: target inf is not finite"),
        ({"X": np.ones((2, 1)), "y": np.array([0, -1])}, r"y\[1\]: label -1 is negative"),
        ({"X": np.ones((3, 1)), "y": np.array([0, 1, 0.5, 1])[:3]}, r"y\[2\]: label 0.5"),
        ({"X": np.ones((2, 1)), "y": np.array([0, 1, 1])}, "2 rows but y has 3"),
        ({"X": np.ones((2, 1))}, r"no array 'y' \(arrays found: X\)"),
        ({"X": np.ones(3), "y": np.array([0, 1, 0])}, "must be"),
        ({"X": np.ones((2, 1)), "y": np.array([0, 1]), "X_test": np.ones((1, 1))}, "only one"),
        (
            {"X": np.ones((2, 1)), "y": np.array([0, 1]), "X_test": np.ones((1, 1)), "y_test": [2]},
            r"y_test\[0\] = 2",
        ),
        ({"X": np.array([["a"], ["b"]]), "y": np.array([0, 1])}, "expected numbers"),
        (
            {"X": np.ones((2, 3, 4)), "y": [0, 1], "X_test": np.ones((1, 4, 3)), "y_test": [0]},
            r"X_test rows have shape \(4, 3\), X rows \(3, 4\)",
        ),
    ],
)
def test_npz_errors_name_the_file(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    raises_data_error(path, datasets.load_npz, path, match=match)


def npy_member(header: dict, data: bytes) -> bytes:
    """A hand-built ``.npy`` (format 1.0) whose header may lie about its data."""
    text = repr(header).encode("latin1")
    pad = 64 - (10 + len(text) + 1) % 64
    head = text + b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + len(head).to_bytes(2, "little") + head + data


def npz_with(path: Path, members: dict[str, bytes], compress: bool = True) -> Path:
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


GOOD_Y = np.lib.format.header_data_from_array_1_0(np.zeros(2, dtype=np.int64))


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize(
    "header, data, match",
    [
        # 8 TB claimed by a 100-byte member: refused from the header alone.
        (
            {"descr": "<f8", "fortran_order": False, "shape": (10**6, 10**6)},
            b"\0" * 100,
            "promises 8,000,000,000,000 bytes, more than",
        ),  # fmt: skip
        (
            {"descr": "<f8", "fortran_order": False, "shape": (2, 1000)},
            b"\0" * 16,
            "promises 16,000 bytes, the archive member holds",
        ),  # fmt: skip
        (
            {"descr": "<f8", "fortran_order": False, "shape": (2, 1)},
            b"\0" * 24,
            "promises 16 bytes: trailing bytes",
        ),  # fmt: skip
        ({"descr": "<f8", "fortran_order": False, "shape": (2, -3)}, b"", "negative shape"),
        ({"descr": "|O", "fortran_order": False, "shape": (2, 1)}, b"\0" * 16, "Python objects"),
        (
            {"descr": "<c16", "fortran_order": False, "shape": (2, 1)},
            b"\0" * 32,
            "expected numbers",
        ),
        ({"descr": "<f8", "fortran_order": False}, b"", "unreadable"),
    ],
)
def test_npz_lying_headers_are_refused_before_allocating(tmp_path, compress, header, data, match):
    members = {"X.npy": npy_member(header, data), "y.npy": npy_member(GOOD_Y, b"\0" * 16)}
    path = npz_with(tmp_path / "lies.npz", members, compress)
    tracemalloc.start()
    try:
        raises_data_error(path, datasets.load_npz, path, match=match)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20


def test_npz_fortran_order_big_endian_and_bool_arrays_read_as_numpy_wrote_them(tmp_path):
    X = np.asfortranarray(np.arange(12, dtype=">f8").reshape(4, 3))
    path = tmp_path / "orders.npz"
    np.savez(path, X=X, y=np.array([True, False, True, False]))
    d = datasets.load_npz(path)
    np.testing.assert_array_equal(d.X, np.arange(12).reshape(4, 3))
    np.testing.assert_array_equal(d.y, [1, 0, 1, 0])
    assert d.X.flags.c_contiguous and d.X.dtype == np.float32


def test_npz_damaged_members(tmp_path):
    good = tmp_path / "good.npz"
    np.savez_compressed(good, X=np.ones((50, 3)), y=np.arange(50) % 2)
    raw = bytearray(good.read_bytes())
    # Flip a byte inside X's deflate stream: a CRC or zlib error, never an exception.
    start = raw.index(b"X.npy") + 40
    raw[start] ^= 0xFF
    bad = tmp_path / "bad.npz"
    bad.write_bytes(bytes(raw))
    raises_data_error(bad, datasets.load_npz, bad, match="unreadable|not a readable")
    cut = tmp_path / "cut.npz"
    cut.write_bytes(good.read_bytes()[:200])
    raises_data_error(cut, datasets.load_npz, cut, match="not a readable")
    raises_data_error(tmp_path, datasets.load_npz, tmp_path, match="is a directory")


def test_npz_that_is_not_an_archive(tmp_path):
    text = tmp_path / "text.npz"
    text.write_text("X,y\n1,0\n")
    raises_data_error(text, datasets.load_npz, text, match="not a readable .npz")
    single = tmp_path / "single.npz"
    with open(single, "wb") as f:
        np.save(f, np.ones(3))
    raises_data_error(single, datasets.load_npz, single, match="single array")


# ---------------------------------------------------------------------------- load / list


@pytest.mark.parametrize(
    "name", ["and", "or", "nand", "xor", "moons", "circles", "spirals", "blobs", "digits"]
)
def test_load_dispatches_built_in_names(name):
    d = datasets.load(name.upper())
    assert d.name == name and d.X.dtype == np.float32 and d.X.flags.c_contiguous
    assert d.y.dtype == np.int64 and d.y.max() == d.n_classes - 1


def test_load_generator_options(tmp_path):
    assert datasets.load("moons", n_samples=50).n_samples == 50
    assert not np.array_equal(datasets.load("moons").X, datasets.load("moons", seed=3).X)
    tight = datasets.load("blobs", noise=0.01)
    assert tight.X[tight.y == 0].std(axis=0).max() < 0.05
    with pytest.raises(errors.ConfigError, match="only to the generated"):
        datasets.load("digits", n_samples=10)
    with pytest.raises(errors.ConfigError, match="only to the generated"):
        datasets.load("xor", noise=0.1)
    with pytest.raises(errors.ConfigError, match="target"):
        datasets.load("moons", target=0)


def test_load_files_and_unknown_names(tmp_path):
    csv_path = tmp_path / "pts.csv"
    csv_path.write_text("a,b,cls\n0,1,1\n1,0,0\n")
    assert datasets.load(str(csv_path)).n_classes == 2
    assert datasets.load(str(csv_path), target="a").n_features == 2
    npz_path = tmp_path / "pts.npz"
    np.savez(npz_path, X=np.ones((2, 2)), y=np.array([1, 0]))
    assert datasets.load(str(npz_path)).name == "pts"
    with pytest.raises(errors.ConfigError, match="valid names: and, or, nand, xor, moons"):
        datasets.load("fashion")
    missing = tmp_path / "absent.csv"
    raises_data_error(missing, datasets.load, str(missing), match="not found")
    other = tmp_path / "notes.txt"
    other.write_text("1,2\n")
    with pytest.raises(errors.ConfigError, match="unsupported file type"):
        datasets.load(str(other))


def test_list_datasets_without_loading(tmp_path):
    # A small readable set under the right names is available; empty files under the same
    # names are not, because loading would refuse them (available agrees with load).
    tiny_mnist(tmp_path)
    listing = datasets.list_datasets(tmp_path)
    assert [d["name"] for d in listing] == list(datasets.NAMES)
    keys = {"name", "kind", "samples", "features", "classes", "description", "available"}
    assert all(set(d) == keys for d in listing)
    by_name = {d["name"]: d for d in listing}
    assert by_name["mnist"]["available"] and by_name["digits"]["available"]
    for stem in datasets.MNIST_FILES.values():
        (tmp_path / f"{stem}.gz").write_bytes(b"")
    assert not {d["name"]: d for d in datasets.list_datasets(tmp_path)}["mnist"]["available"]
    assert by_name["xor"]["kind"] == "gate" and by_name["mnist"]["kind"] == "external"
    assert by_name["spirals"]["classes"] == 3 and by_name["digits"]["features"] == 64
    assert not {d["name"]: d for d in datasets.list_datasets(tmp_path / "none")}["mnist"][
        "available"
    ]


def test_datasets_imports_no_numba():
    code = "import sys, nnlite.datasets; assert 'numba' not in sys.modules, 'numba imported'"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_setup_cfg_installs_every_package_of_nnlite():
    """A package missing from setup.cfg's ``packages`` (say ``nnlite.datasets``) is simply not
    installed: the editable install the tests use would never notice, so ask the file."""
    import configparser

    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    listed = {p.strip() for p in cfg["options"]["packages"].split(",")}
    on_disk = {
        ".".join(init.parent.relative_to(REPO).parts)
        for init in (REPO / "nnlite").rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    assert on_disk - listed == set()


def test_every_module_of_the_data_package_says_what_it_owns_imports_and_omits():
    """One module per source of data, each with its room described (STYLE.md)."""
    import importlib
    import pkgutil

    names = {m.name for m in pkgutil.iter_modules(datasets.__path__)}
    assert {"base", "toy", "shipped", "idx", "csv", "npz", "download", "catalog"} <= names
    for name in sorted(names):
        doc = importlib.import_module(f"nnlite.datasets.{name}").__doc__ or ""
        for word in ("Owns", "Imports", "Omits"):
            assert word in doc, f"nnlite/datasets/{name}.py: no {word!r} in its docstring"


def test_digits_fall_back_to_the_repository_data_folder():
    assert (config.REPO_DATA_DIR / "digits.npz").is_file()


# ---------------------------------------------------------------------------- split / one-hot


def test_split_is_stratified_reproducible_and_a_partition():
    d = datasets.load_digits()
    rows = np.arange(len(d.y))
    a = datasets.train_test_split(rows, d.y, test_fraction=0.2, seed=1)
    b = datasets.train_test_split(rows, d.y, test_fraction=0.2, seed=1)
    c = datasets.train_test_split(rows, d.y, test_fraction=0.2, seed=2)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    r_train, r_test, y_train, y_test = a
    assert len(r_test) == round(0.2 * 1797)
    np.testing.assert_array_equal(np.sort(np.concatenate([r_train, r_test])), rows)
    np.testing.assert_array_equal(y_test, d.y[r_test])
    expected = 0.2 * np.bincount(d.y)
    assert np.abs(np.bincount(y_test, minlength=10) - expected).max() < 1.0


def test_split_of_regression_targets_and_bad_fractions():
    X, y = np.arange(10.0).reshape(5, 2), np.linspace(0, 1, 5)
    X_tr, X_te, y_tr, y_te = datasets.train_test_split(X, y, test_fraction=0.4)
    assert X_tr.shape == (3, 2) and X_te.shape == (2, 2)
    np.testing.assert_array_equal(X_te[:, 0] / 8, y_te)
    for fraction in (0.0, 1.0, -0.5, 1.5):
        with pytest.raises(errors.ConfigError, match="between 0 and 1"):
            datasets.train_test_split(X, y, test_fraction=fraction)
    with pytest.raises(errors.ConfigError, match="test part empty"):
        datasets.train_test_split(X[:2], y[:2], test_fraction=0.2)
    with pytest.raises(errors.DataError):
        datasets.train_test_split(X, y[:4])


def test_one_hot():
    Y = datasets.one_hot(np.array([2, 0, 1]), 3)
    np.testing.assert_array_equal(Y, [[0, 0, 1], [1, 0, 0], [0, 1, 0]])
    assert Y.dtype == np.float32
    assert datasets.one_hot([1], 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(errors.DataError, match="0..2"):
        datasets.one_hot(np.array([3]), 3)
