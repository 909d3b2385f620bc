"""Data-set files under attack, and the naming rules: ``.npz`` (``npzfile``) and CSV.

Claims: a FIFO or a link to a device is refused at once, never read; an ``.npz`` is read by
the same strict reader as model files (hostile ``.npy`` headers, duplicated, encrypted,
foreign or lying members are one ``DataError`` line), its headers are checked against each
other before any data is read, and neither features nor labels are copied to float64;
Keras's key names load, an ambiguous mix is one clear error; one-hot label rows are classes;
a CSV is parsed in a stream, within a small multiple of its float32 result, with the same
values, line numbers and messages as before. The fuzz at the end bounds the memory of every
damaged archive (``NNLITE_FUZZ_EXAMPLES`` cases, 150 in CI).
"""

from __future__ import annotations

import csv
import io
import os
import re
import subprocess
import sys
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from fuzzing import damaged, traced_peak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from npzcraft import npy, npy_of, npz_of, patch_entry, zip_of

from nnlite import datasets, errors, npzfile
from nnlite.datasets import csv as csv_reader

REPO = Path(__file__).resolve().parents[1]


def refused(path: Path, fn, *args, match: str = "", peak_limit: int = 8 << 20, **kwargs) -> str:
    """``fn`` raises one DataError line naming ``path`` and matching ``match``, cheaply."""
    with traced_peak() as peak, pytest.raises(errors.DataError) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    assert re.search(match, message), message
    assert peak.bytes < peak_limit, f"{peak.bytes:,} bytes for: {message}"
    return message


def write_npz(path: Path, method=zipfile.ZIP_STORED, **arrays) -> Path:
    path.write_bytes(npz_of({k: np.asarray(v) for k, v in arrays.items()}, method))
    return path


def finishes_within(seconds: float, fn, *args):
    """Run ``fn(*args)`` in a thread; its exception (or None), or fail if it blocks."""
    outcome: list[BaseException | None] = []

    def run():
        try:
            fn(*args)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(seconds)
    return outcome, worker.is_alive()


# -------------------------------------------------------------------- not regular files


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.parametrize("name", ["pipe.npz", "pipe.csv"])
def test_a_fifo_is_refused_without_blocking(tmp_path, name):
    path = tmp_path / name
    os.mkfifo(path)
    outcome, blocked = finishes_within(10, datasets.load, str(path))
    if blocked:
        with open(path, "wb"):  # release the reader so the test process can end
            pass
        pytest.fail(f"loading {name} blocked on a FIFO")
    assert isinstance(outcome[0], errors.DataError), outcome
    message = str(outcome[0])
    assert "FIFO" in message and str(path) in message and "\n" not in message


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
@pytest.mark.parametrize(("name", "loader"), [("z.csv", "load_csv"), ("z.npz", "load_npz")])
def test_a_link_to_dev_zero_is_refused_at_once(tmp_path, name, loader):
    path = tmp_path / name
    path.symlink_to("/dev/zero")
    refused(path, getattr(datasets, loader), path, match="is a character device, not a regular")


# ------------------------------------------------------------------------ Keras's names


def test_keras_mnist_npz_loads_as_stored(tmp_path):
    """Keras's ``mnist.npz``: uint8 images (n, 28, 28) under x_train, y_train, x_test, y_test."""
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, size=(12, 28, 28), dtype=np.uint8)
    y_train = (np.arange(12) % 10).astype(np.uint8)
    x_test = rng.integers(0, 256, size=(3, 28, 28), dtype=np.uint8)
    y_test = np.array([7, 2, 1], np.uint8)
    path = write_npz(tmp_path / "mnist.npz", zipfile.ZIP_DEFLATED, x_train=x_train,
                     y_train=y_train, x_test=x_test, y_test=y_test)  # fmt: skip
    d = datasets.load_npz(path)
    np.testing.assert_array_equal(d.X, x_train.reshape(12, 784))  # not rescaled
    np.testing.assert_array_equal(d.X_test, x_test.reshape(3, 784))
    np.testing.assert_array_equal(d.y, y_train)
    np.testing.assert_array_equal(d.y_test, [7, 2, 1])
    assert d.image_shape == (28, 28) and d.n_classes == 10 and d.X.dtype == np.float32
    assert "(uint8)" in d.description


def test_keras_x_and_y_load(tmp_path):
    path = write_npz(tmp_path / "xy.npz", x=np.arange(6.0).reshape(3, 2), y=[0, 1, 0])
    d = datasets.load(str(path))
    np.testing.assert_array_equal(d.X, [[0, 1], [2, 3], [4, 5]])
    assert d.n_classes == 2 and d.X_test is None


@pytest.mark.parametrize(
    "names",
    [("X", "x_train", "y"), ("x", "x_train", "y"), ("X", "y", "y_train"),
     ("X", "y", "X_test", "x_test", "y_test")],
)  # fmt: skip
def test_an_ambiguous_mix_of_names_is_one_clear_error(tmp_path, names):
    arrays = {name: np.zeros((2, 1)) if name.lower().startswith("x") else [0, 1] for name in names}
    path = write_npz(tmp_path / "mix.npz", **arrays)
    refused(path, datasets.load_npz, path, match=r"arrays '\w+' and '\w+' both look like \w+")


def test_a_missing_array_names_both_spellings(tmp_path):
    path = write_npz(tmp_path / "half.npz", x_train=np.zeros((2, 1)))
    refused(path, datasets.load_npz, path, match=r"no array 'y' .* may also be named 'y_train'")


# ----------------------------------------------------------------------- one-hot rows


@pytest.mark.parametrize(
    ("y", "task", "labels", "k"),
    [
        (np.eye(3)[[0, 2, 1, 2]], "auto", [0, 2, 1, 2], 3),
        (np.eye(3, dtype=bool)[[1, 0]], "auto", [1, 0], 3),
        (np.eye(4, dtype=np.uint8)[[0, 0, 3]], "auto", [0, 0, 3], 4),  # classes 1, 2 absent
        (np.eye(2, dtype=np.float32)[[1, 0, 1]], "classification", [1, 0, 1], 2),
        (np.array([[0.7, 0.3], [0.2, 0.8]]), "auto", None, None),  # soft: regression
        (np.array([[1, 1, 0], [0, 1, 0]]), "auto", None, None),  # two ones: regression
        (np.array([[0.0], [1.0], [1.0]]), "auto", None, None),  # one column: regression
        (np.eye(3)[[0, 1]], "regression", None, None),
    ],
)
def test_one_hot_rows_are_classes_and_other_2d_targets_regression(tmp_path, y, task, labels, k):
    path = write_npz(tmp_path / "t.npz", X=np.ones((len(y), 2)), y=y)
    d = datasets.load_npz(path, task=task)
    assert d.n_classes == k
    if labels is None:
        assert d.y.dtype == np.float32 and d.y.shape == y.shape
        np.testing.assert_array_equal(d.y, y.astype(np.float32))
    else:
        assert d.y.dtype == np.int64 and d.y.shape == (len(y),)
        np.testing.assert_array_equal(d.y, labels)


def test_one_hot_test_rows_follow_the_training_rows(tmp_path):
    X, eye = np.ones((3, 2)), np.eye(3)
    path = write_npz(tmp_path / "t.npz", X=X, y=eye[[0, 1, 2]], X_test=X[:2], y_test=eye[[2, 2]])
    d = datasets.load_npz(path)
    np.testing.assert_array_equal(d.y_test, [2, 2])
    assert "one-hot" in d.description
    bad = write_npz(tmp_path / "b.npz", X=X, y=eye, X_test=X[:1], y_test=[[0.5, 0.5, 0.0]])
    refused(bad, datasets.load_npz, bad, match="y_test is not one-hot rows like y")
    flat = write_npz(tmp_path / "f.npz", X=X, y=eye, X_test=X[:1], y_test=[2])
    refused(flat, datasets.load_npz, flat, match=r"y_test has shape \(1,\), expected \(1, 3\)")


def test_classification_of_a_soft_2d_target_is_refused(tmp_path):
    path = write_npz(tmp_path / "s.npz", X=np.ones((2, 1)), y=[[0.5, 0.5], [1.0, 0.0]])
    refused(path, datasets.load_npz, path, task="classification", match="1-D or one-hot rows")


# ------------------------------------------------------------- headers first, no copies


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"X": np.ones((5, 2)), "y": np.zeros(4)}, "X has 5 rows but y has 4"),
        ({"x_train": np.ones((5, 2)), "y_train": np.zeros(6)}, "x_train has 5 rows but y_train"),
        ({"X": np.ones(5), "y": np.zeros(5)}, r"must be \(n, d\) or \(n, rows, cols\)"),
        ({"X": np.ones((5, 2, 2, 2)), "y": np.zeros(5)}, r"must be \(n, d\)"),
        ({"X": np.ones((0, 2)), "y": np.zeros(0)}, "n, d >= 1"),
        ({"X": np.ones((2, 2)), "y": np.zeros((2, 2, 2))}, r"shape \(n,\) or \(n, k\)"),
        ({"X": np.ones((2, 3)), "y": [0, 1], "X_test": np.ones((1, 4)), "y_test": [0]},
         r"X_test rows have shape \(4,\), X rows \(3,\)"),
        ({"X": np.ones((2, 3)), "y": [0, 1], "X_test": np.ones((1, 3)), "y_test": [0, 1]},
         r"y_test has shape \(2,\), expected \(1,\)"),
        ({"X": np.ones((2, 3)), "y": [0, 1], "X_test": np.ones((0, 3)), "y_test": []},
         "X_test rows have shape"),
    ],
)  # fmt: skip
def test_headers_are_cross_checked_before_any_data_is_read(tmp_path, reads, arrays, match):
    path = write_npz(tmp_path / "h.npz", **arrays)
    refused(path, datasets.load_npz, path, match=match)
    assert reads == []


def test_integer_labels_are_checked_without_a_float64_copy(tmp_path):
    """Before: ``y.astype(np.float64)`` turned a 1 GB int8 y into 8 GB, then more copies."""
    n = 1 << 21
    path = write_npz(
        tmp_path / "big.npz", X=np.ones((n, 1), np.int8), y=(np.arange(n) % 7).astype(np.int8)
    )
    with traced_peak() as peak:
        d = datasets.load_npz(path)
    result = d.X.nbytes + d.y.nbytes  # 8 MB float32 X + 16 MB int64 y
    assert d.n_classes == 7 and d.y.dtype == np.int64
    assert peak.bytes < 1.25 * result + (2 << 20), f"peak {peak.bytes:,}, result {result:,}"


def test_features_are_converted_while_read_not_copied_whole(tmp_path):
    n = 1 << 18
    X = np.random.default_rng(0).normal(size=(n, 8))  # 16 MB of float64
    path = write_npz(tmp_path / "f.npz", X=X, y=np.arange(n) % 2)
    with traced_peak() as peak:
        d = datasets.load_npz(path)
    np.testing.assert_array_equal(d.X, X.astype(np.float32))
    result = d.X.nbytes + d.y.nbytes
    assert peak.bytes < 1.25 * result + (3 << 20), f"peak {peak.bytes:,}, result {result:,}"


def test_a_bad_label_is_refused_before_the_features_are_read(tmp_path, reads):
    path = write_npz(tmp_path / "l.npz", X=np.zeros((3, 4, 4), np.uint8), y=[0, 2, 2])
    refused(path, datasets.load_npz, path, match=r"label\(s\) 1 never occur")
    assert reads == ["y"]


def test_a_deflate_bomb_with_a_bad_crc_costs_no_memory(tmp_path, monkeypatch):
    """A large deflated member is checked (length, CRC-32) in a first pass that keeps nothing."""
    monkeypatch.setattr(npzfile, "VERIFY_FIRST", 1 << 16)
    X = np.zeros((4096, 32, 32), np.uint8)  # 4 MB of zeros, 4 KB deflated; 16 MB as float32
    data = bytearray(npz_of({"X": X, "y": np.zeros(4096, np.uint8)}, zipfile.ZIP_DEFLATED))
    for signature, crc in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):  # X's CRC-32, both copies
        data[data.index(signature) + crc] ^= 0xFF
    path = tmp_path / "bomb.npz"
    path.write_bytes(bytes(data))
    assert len(data) < 20_000
    refused(path, datasets.load_npz, path, match="Bad CRC-32", peak_limit=3 << 20)


def test_a_non_finite_feature_is_named_by_its_index(tmp_path):
    images = np.zeros((2, 3, 4), np.float64)
    images[1, 2, 3] = 1e39  # finite in float64, infinite in float32
    path = write_npz(tmp_path / "i.npz", X=images, y=[0, 1])
    refused(path, datasets.load_npz, path, match=r"X\[1, 2, 3\] is infinite in float32")


# --------------------------------------------------------------- hostile archives


def _good_members() -> list[tuple[str, bytes]]:
    return [("X.npy", npy_of(np.ones((3, 2)))), ("y.npy", npy_of(np.array([0, 1, 0])))]


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: zip_of([*_good_members(), ("X.npy", npy_of(np.zeros((3, 2))))]),
         "array 'X' is in the archive twice"),
        (lambda: patch_entry(zip_of(_good_members()), "X.npy", flags=1), "encrypted"),
        (lambda: patch_entry(zip_of(_good_members()), "y.npy", method=99),
         "compression method 99"),
        (lambda: zip_of(_good_members(), zipfile.ZIP_BZIP2), "compression method 12"),
        (lambda: zip_of([*_good_members(), ("labels.csv", b"0\n1\n")]), "not a .npy array"),
        (lambda: patch_entry(zip_of(_good_members()), "X.npy", file_size=10**9),
         "stored uncompressed but declares"),
        (lambda: patch_entry(zip_of(_good_members(), zipfile.ZIP_DEFLATED), "X.npy",
                             file_size=10**9), "more than deflate can produce"),
        (lambda: zip_of([("X.npy", npy_of(np.ones((3, 2)))),
                         ("y.npy", npy({"descr": "|b1", "fortran_order": False, "shape": (3,)},
                                       b"\x00\x02\x01"))]),
         "bool but holds bytes other than 0/1"),
    ],
)  # fmt: skip
def test_hostile_archives_are_refused(tmp_path, make, match):
    path = tmp_path / "h.npz"
    path.write_bytes(make())
    refused(path, datasets.load_npz, path, match=match)


@pytest.mark.parametrize(
    "text",
    [
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), 'x': '''",  # tokenize error
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)",  # SyntaxError in numpy
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2),} ; import os",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (" + "9" * 5000 + ", 2)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2)}\x00",
    ],
)
def test_hostile_npy_headers_in_a_data_set_are_one_clean_line(tmp_path, text):
    """Before: numpy's header parser raised SyntaxError or tokenize errors out of load_npz."""
    members = _good_members()
    members[0] = ("X.npy", npy(text, b"\0" * 48))
    path = tmp_path / "h.npz"
    path.write_bytes(zip_of(members))
    refused(path, datasets.load_npz, path, match="array 'X' is unreadable")


def test_arrays_the_data_set_does_not_use_are_not_read(tmp_path, reads):
    path = write_npz(tmp_path / "extra.npz", X=np.ones((2, 1)), y=[0, 1], mean=np.zeros(1))
    assert datasets.load_npz(path).n_samples == 2
    assert sorted(reads) == ["X", "y"]


# ----------------------------------------------------------------------------------- CSV


def reference_csv(text: str) -> tuple[np.ndarray, np.ndarray]:
    """The pre-streaming parse: csv module, stripped fields, blank rows skipped, float64."""
    rows = [
        [f.strip() for f in r] for r in csv.reader(io.StringIO(text)) if any(f.strip() for f in r)
    ]
    try:
        [float(f) for f in rows[0]]
    except ValueError:
        rows = rows[1:]
    A = np.array(rows, dtype=np.float64)
    return A[:, :-1].astype(np.float32), A[:, -1]


def test_streamed_csv_values_match_the_whole_file_parse(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "_CSV_BATCH_FIELDS", 7)  # many batches, odd boundaries
    text = (
        "\ufeffa, b ,label\r\n"
        "0.1,-2e-3,0\r\n\r\n"
        '"3.5" ,1e30,1\n'
        "+4,  .5 ,2\n\n\n"
        "1e-45,-0.0,1\n"
        "123456789.123,7,0\n"
    )
    path = tmp_path / "v.csv"
    path.write_text(text, encoding="utf-8", newline="")
    d = datasets.load_csv(path)
    X, t = reference_csv(text.removeprefix("\ufeff").replace("\r\n", "\n"))
    assert d.X.tobytes() == X.tobytes() and d.X.flags.c_contiguous
    np.testing.assert_array_equal(d.y, t.astype(np.int64))
    assert d.n_classes == 3


@pytest.mark.parametrize("batch", [2, 3, 1 << 16])
@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("a,b\n\n1,0\n\n\n2,1\n3,x\n", r"line 7, column 2 \('b'\): 'x' is not a number"),
        ("1,0\n2,1\n\n3,1\n4,0.5\n5,1\n6,0\n", "line 5: label 0.5 is not an integer"),
        ("1,0\n2,1\n\n3,1\n4,-1\n", "line 5: label -1 is negative"),
        ("1,0\n2,1\n\n\n3,nan\n", "line 5: target nan is not finite"),
        ("1,0\n\n2,1\n3,1e39,1\n", "line 4 has 3 columns, expected 2 like line 1"),
        ("\n\na,b\n1,0\n2,1,1\n", "line 5 has 3 columns, expected 2 like line 3"),
        ('1,0\n"2\n",1\n3,1\n4,1.5\n5,0\n6,1\n', "line 5: label 1.5"),  # a field over 2 lines
        ("1,0\n2,1\ninf,1\n", r"line 3, column 1: inf is not a finite float32 feature"),
        ("1,0\n2,1\n1e39,1\n", r"line 3, column 1: 1e\+39 is not a finite float32 feature"),
    ],
)
def test_csv_messages_keep_their_line_numbers_across_batches(
    tmp_path, monkeypatch, batch, text, match
):
    monkeypatch.setattr(csv_reader, "_CSV_BATCH_FIELDS", batch)
    path = tmp_path / "l.csv"
    path.write_text(text)
    refused(path, datasets.load_csv, path, match=match)


def test_a_line_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(csv_reader, "CSV_MAX_LINE", 100)
    path = tmp_path / "long.csv"
    path.write_text("a,b\n1,0\n" + ",".join(["1"] * 60) + "\n")
    refused(path, datasets.load_csv, path, match="line 3 is longer than 100 characters")


def test_a_target_column_error_comes_before_the_rest_is_parsed(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,0\n" + "x,y\n" * 10)
    with pytest.raises(errors.ConfigError, match="no target column named 'c'; columns: a, b"):
        datasets.load_csv(path, target="c")


_MEMORY_SCRIPT = """
import resource, sys
from nnlite import datasets
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
d = datasets.load_csv(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) * 1024, d.X.nbytes + d.y.nbytes)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="ru_maxrss in KiB is Linux's")
def test_a_csv_is_parsed_within_three_times_its_float32_result(tmp_path):
    """Before: a 100 MB CSV peaked at 3 GB (27x its result); a 16 MB one is measured here."""
    rng = np.random.default_rng(0)
    path = tmp_path / "big.csv"
    with open(path, "w") as f:
        f.write(",".join(f"p{i}" for i in range(64)) + ",label\n")
        for _ in range(36):
            block = np.column_stack([rng.integers(0, 256, (2000, 64)), rng.integers(0, 10, 2000)])
            f.write("\n".join(",".join(map(str, row)) for row in block.tolist()) + "\n")
    assert path.stat().st_size > 15 << 20
    out = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(path)],
        capture_output=True, text=True, check=True, cwd=REPO, timeout=300,
    )  # fmt: skip
    growth, result = map(int, out.stdout.split())
    assert growth <= 3 * result + (40 << 20), f"RSS grew {growth:,} for a result of {result:,}"


# ------------------------------------------------------------------------ npz fuzz

FUZZ_EXAMPLES = int(os.environ.get("NNLITE_FUZZ_EXAMPLES", "150"))


def _valid_npz() -> list[bytes]:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(4, 3, 3), dtype=np.uint8)
    return [
        npz_of({"x_train": img, "y_train": np.array([0, 1, 2, 1], np.uint8),
                "x_test": img[:2], "y_test": np.array([1, 0], np.uint8)}, zipfile.ZIP_DEFLATED),
        npz_of({"X": rng.normal(size=(3, 2)), "y": np.eye(3)[[0, 2, 1]]}),
        npz_of({"x": rng.normal(size=(3, 2)).astype(">f4"), "y": np.array([True, False, True])}),
        npz_of({"X": np.asfortranarray(rng.normal(size=(3, 2))), "y": rng.normal(size=(3, 2))},
               zipfile.ZIP_DEFLATED),
    ]  # fmt: skip


VALID_NPZ = _valid_npz()


header_values = st.one_of(
    st.sampled_from(["'<f8'", "'|u1'", "'>i8'", "'|b1'", "'<c16'", "'|O'", "'<U3'", "True",
                     "False", "()", "(3,)", "(3, 2)", "(3, 2, 2)", "(2**62,)", "(-1, 2)",
                     "(99999999999,)", "[('a', '<f8')]", "None", "{}", "'''"]),
    st.text(alphabet="(){}[],:'\" 0123456789-TrueFals<f8", max_size=12),
)  # fmt: skip


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    content=st.one_of(
        damaged(VALID_NPZ, reach=10**5),
        st.builds(
            lambda d, f, s, data: zip_of([("X.npy", npy(f"{{'descr': {d}, 'fortran_order': "
                                                        f"{f}, 'shape': {s}, }}", data)),
                                          ("y.npy", npy_of(np.array([0, 1, 0])))]),
            header_values, header_values, header_values, st.binary(max_size=64),
        ),
    )
)  # fmt: skip
def test_damaged_npz_data_sets_load_or_refuse_within_a_memory_bound(tmp_path_factory, content):
    path = tmp_path_factory.getbasetemp() / "fuzz.npz"
    path.write_bytes(content)
    with traced_peak() as peak:
        try:
            d = datasets.load_npz(path)
        except errors.DataError as exc:
            message = str(exc)
            assert str(path) in message and "\n" not in message, message
            event("refused")
            d = None
    # Deflate expands a byte to at most 1032; float32 results of uint8 data are 4 times that.
    assert peak.bytes <= (4 << 20) + 4 * 1100 * len(content), f"{peak.bytes:,} bytes"
    if d is not None:
        event("loaded")
        for X, y in ((d.X, d.y), (d.X_test, d.y_test)):
            if X is not None:
                assert X.dtype == np.float32 and X.flags.c_contiguous and np.isfinite(X).all()
                assert len(X) == len(y)
                if d.n_classes is not None:
                    assert (
                        y.dtype == np.int64
                        and y.ndim == 1
                        and 0 <= y.min()
                        and y.max() < d.n_classes
                    )
