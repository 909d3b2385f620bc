"""Hostile model files: every one is refused with one ``ModelFileError`` line naming the file.

The classes of issue 16 (each was a traceback, a hang or gigabytes before): out-of-range and
wrong-typed record fields (units 1e100, inf, 2^40; a seed that is a string; a history of the
wrong type; a null activation), JSON nested 200,000 deep, a 20 KB file claiming 10 million
inputs, an ``.npy`` header claiming 64 GiB, hostile ``.npy`` headers, an unknown compression
method, an encrypted member, a member that is not ``.npy``, a duplicated member, a FIFO or
a device named ``.npz``. Each case also checks that the memory used stays small (tracemalloc)
and, for a bad record, that θ was never read: the record is validated as a whole first.
The random-mutation fuzz is in ``test_model_file_fuzz.py``.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import warnings
import zipfile

import numpy as np
import pytest
from fuzzing import traced_peak
from npzcraft import npy, npy_of, patch_entry, zip_of

from nnlite import io, models
from nnlite.errors import ModelFileError
from nnlite.layers import Dense
from nnlite.models import Callback, Sequential

PEAK_LIMIT = 8 << 20  # bytes any refusal below may cost (tracemalloc peak)


class _StopInEpoch2(Callback):
    def on_batch_end(self, epoch, done, logs):
        self.stop_training = epoch == 1


@pytest.fixture(scope="module")
def good(tmp_path_factory):
    """(record, arrays) of a finished model and of a checkpoint with Nesterov momentum."""
    folder = tmp_path_factory.mktemp("good")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    model = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], n_inputs=4, seed=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs on noise: chance level, and it says so
        model.fit(X, y, epochs=2, batch_size=8, lr=0.1)
    run = {"dataset": "blobs", "seed": 0, "val_split": None, "epochs": 2, "batch_size": 8,
           "lr": 0.1, "momentum": 0.9, "nesterov": True, "data_dir": None}  # fmt: skip
    io.save(model, folder / "model.npz", extra=run)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs on noise: chance level, and it says so
        mp.setattr(models, "SAMPLES_PER_CHUNK", 8)
        ckpt = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], n_inputs=4, seed=3)
        ckpt.fit(X, y, epochs=3, batch_size=8, lr=0.1, momentum=0.9, nesterov=True,
                 callback=_StopInEpoch2())  # fmt: skip
    assert ckpt.resume_state["position"] > 0
    io.save(ckpt, folder / "checkpoint.npz", extra=run)
    return {name: _contents(folder / f"{name}.npz") for name in ("model", "checkpoint")}


def _contents(path) -> tuple[dict, dict[str, np.ndarray]]:
    """(record, arrays) of one of our own, trusted files."""
    with zipfile.ZipFile(path) as z:
        arrays = {
            n[:-4]: np.lib.format.read_array(z.open(n), allow_pickle=False) for n in z.namelist()
        }
    return json.loads(arrays.pop("meta").tobytes()), arrays


def write(path, record: dict | str | bytes, arrays, method=zipfile.ZIP_STORED):
    """A model file of ``record`` (a dict, or raw JSON text) and ``arrays``."""
    if isinstance(record, dict):
        record = json.dumps(record)
    raw = record.encode() if isinstance(record, str) else record
    members = [("meta.npy", npy_of(np.frombuffer(raw, np.uint8)))]
    members += [(f"{k}.npy", npy_of(v)) for k, v in arrays.items()]
    path.write_bytes(zip_of(members, method))
    return path


def refused(path, phrase: str) -> str:
    """``io.load(path)`` raises one ModelFileError line naming ``path``, matching ``phrase``,
    using little memory. Returns the message."""
    with traced_peak() as peak, pytest.raises(ModelFileError) as info:
        io.load(path)
    message = str(info.value)
    assert str(path) in message and "\n" not in message, message
    assert re.search(phrase, message), message
    assert peak.bytes < PEAK_LIMIT, f"{peak.bytes:,} bytes for: {message}"
    return message


# -- the record -------------------------------------------------------------------------


def _set(record: dict, dotted: str, value) -> dict:
    """A deep copy of ``record`` with the field at ``dotted`` ("a.b.0.c") set to ``value``."""
    record = json.loads(json.dumps(record))
    *parents, last = dotted.split(".")
    node = record
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        node[int(last)] = value
    elif value is _DELETE:
        del node[last]
    else:
        node[last] = value
    return record


_DELETE = object()

RECORD_CASES = [
    # (file, field, value, phrase)
    ("model", "architecture.layers.0.units", 1e100, "layer 1 units must be an integer"),
    ("model", "architecture.layers.0.units", math.inf, "layer 1 units must be an integer"),
    ("model", "architecture.layers.0.units", 2**40, r"in 1\.\.16,777,216, got 1099511627776"),
    ("model", "architecture.layers.0.units", "5", "units must be an integer"),
    ("model", "architecture.layers.0.units", True, "units must be an integer"),
    ("model", "architecture.layers.0.units", 0, "units must be an integer"),
    ("model", "architecture.n_inputs", -4, "n_inputs must be an integer"),
    ("model", "architecture.n_inputs", 10_000_000, "needs 50,000,023"),
    ("model", "architecture.layers.0.activation", None, "activation None is not one of"),
    ("model", "architecture.layers.0.activation", "none", "activation 'none' is not one of"),
    ("model", "architecture.layers.0.activation", "softmax", "softmax belongs on the output"),
    ("model", "architecture.layers.0.activation", ["relu"], "is not one of"),
    ("model", "architecture.layers", [], "a list of 1..4096 layers"),
    ("model", "architecture.layers", "dense", "a list of 1..4096 layers"),
    ("model", "architecture.layers.1", {"units": 3}, r"layer 2 lacks \['activation'\]"),
    ("model", "architecture.loss", None, "loss None is not one of"),
    ("model", "architecture.loss", "mse2", "loss 'mse2' is not one of"),
    ("model", "architecture.dtype", "float16", "dtype 'float16' is not float32 or float64"),
    ("model", "architecture.extra_field", 1, "architecture has unexpected fields"),
    ("model", "extra.seed", "0", "extra seed must be an integer >= 0"),
    ("model", "extra.seed", -1, "extra seed must be an integer >= 0"),
    ("model", "extra.lr", math.nan, "extra lr: learning rate must be positive and finite"),
    ("model", "extra.lr", math.inf, "extra lr: learning rate must be positive and finite"),
    ("model", "extra.epochs", 2.5, "extra epochs must be a positive integer"),
    ("model", "extra.val_split", 1.0, r"extra val_split must be null or a number in \[0, 1\)"),
    ("model", "extra.nesterov", "yes", "extra nesterov: nesterov must be true or false"),
    ("model", "extra.data_dir", 3, "extra data_dir must be a string or null"),
    ("model", "extra", [1, 2], "extra must be a JSON object"),
    ("model", "history", [1, 2], "history must be a JSON object"),
    ("model", "history.loss", "abc", "history loss must be a list of numbers"),
    ("model", "history.loss", {"a": 1}, "history loss must be a list of numbers"),
    ("model", "history.loss.0", math.inf, "history loss must hold finite numbers or NaN"),
    ("model", "history.loss.0", "1.0", "history loss must hold finite numbers or NaN"),
    ("model", "history.accuracy", [0.5], "loss and accuracy have different lengths"),
    ("model", "history.samples", -1, "history samples must be an integer"),
    ("model", "history.seconds", "fast", r"history seconds must be a number in \[0, inf\]"),
    ("model", "history.start_loss", math.inf, "start_loss must be a finite number or NaN"),
    ("model", "history.unknown", 1, "history has unexpected fields"),
    ("model", "format", "keras", "is not an nnlite model file"),
    ("model", "version", 2, "model format version 2"),
    ("model", "surprise", 1, "the record has unexpected fields"),
    ("model", "architecture", _DELETE, r"the record lacks \['architecture'\]"),
    ("checkpoint", "resume.position", "8", "damaged checkpoint: resume position must be"),
    ("checkpoint", "resume.n_samples", 1e100, "damaged checkpoint: resume n_samples must be"),
    ("checkpoint", "resume.n_samples", 2**50, "resume n_samples must be an integer"),
    ("checkpoint", "resume.epochs_done", 0, "0 epochs done but the history has 1"),
    ("checkpoint", "resume.batch_size", 0, "resume batch_size must be"),
    ("checkpoint", "resume.shuffle", 1, "resume shuffle must be true or false"),
    ("checkpoint", "resume.optimizer.lr", -0.1, "resume optimizer: learning rate must be"),
    ("checkpoint", "resume.optimizer.momentum", 1.0, r"resume optimizer: momentum must be in \[0, 1\)"),
    ("checkpoint", "resume.optimizer.name", "adamax", "resume optimizer: unknown optimizer 'adamax'"),
    ("checkpoint", "resume.optimizer.beta", 0.9, "resume optimizer: sgd has no hyper-parameter 'beta'"),
    ("checkpoint", "resume.optimizer.nesterov", 1, "resume optimizer: nesterov must be true or false"),
    ("checkpoint", "resume.optimizer", _DELETE, r"resume lacks \['optimizer'\]"),
    ("checkpoint", "resume.rng", None, "resume rng must be a JSON object"),
    ("checkpoint", "resume.rng.bit_generator", "MT19937", "resume rng is 'MT19937', not PCG64"),
    ("checkpoint", "resume.rng.state.state", -1, "resume rng state must be an integer"),
    ("checkpoint", "resume.rng.state.inc", "1", "resume rng inc must be an integer"),
    ("checkpoint", "resume.rng.state.state", 2**200, "resume rng state must be an integer"),
    ("checkpoint", "resume.rng.has_uint32", 2, "resume rng has_uint32 must be"),
    ("checkpoint", "resume.rng.uinteger", 2**40, "resume rng uinteger must be"),
    ("checkpoint", "resume.data_sha256", "abc", "data_sha256 is not a SHA-256 digest"),
    ("checkpoint", "resume.extra_field", 1, "resume has unexpected fields"),
    ("checkpoint", "resume", 3, "resume must be a JSON object"),
]


@pytest.mark.parametrize(
    ("which", "field", "value", "phrase"),
    RECORD_CASES,
    ids=[f"{c[1]}={c[2]!r}"[:60] for c in RECORD_CASES],
)
def test_a_bad_record_is_refused_before_theta_is_read(
    tmp_path, good, reads, which, field, value, phrase
):
    record, arrays = good[which]
    path = write(tmp_path / "m.npz", _set(record, field, value), arrays)
    refused(path, phrase)
    assert "theta" not in reads and not any(k.startswith("resume_") for k in reads)


def test_the_unmodified_files_load(tmp_path, good):
    """The baseline of the cases above: written back unchanged, both files load."""
    for which in ("model", "checkpoint"):
        record, arrays = good[which]
        model = io.load(write(tmp_path / f"{which}.npz", record, arrays))
        assert model.theta.tobytes() == arrays["theta"].tobytes()
    assert model.resume_state["order"].tobytes() == arrays["resume_order"].tobytes()


def test_a_20_kb_file_claiming_10_million_inputs_costs_nothing(tmp_path, good):
    """Before: the network (10 million × 5 weights) was allocated before θ's size was checked."""
    record, arrays = good["model"]
    record = _set(record, "architecture.n_inputs", 10_000_000)
    arrays = {**arrays, "theta": np.zeros(5000, np.float32)}  # 20 KB
    path = write(tmp_path / "m.npz", record, arrays)
    assert path.stat().st_size < 22_000
    refused(path, r"holds 5,000 parameters .* but its architecture needs 50,000,023")


def test_a_theta_header_that_agrees_with_a_huge_record_but_not_with_the_file(tmp_path, good):
    record, _ = good["model"]
    record = _set(record, "architecture.n_inputs", 10_000_000)
    count = 10_000_000 * 5 + 5 + 5 * 3 + 3
    lying = npy({"descr": "<f4", "fortran_order": False, "shape": (count,)}, b"\0" * 20_000)
    members = [("meta.npy", npy_of(np.frombuffer(json.dumps(record).encode(), np.uint8)))]
    path = tmp_path / "m.npz"
    path.write_bytes(zip_of([*members, ("theta.npy", lying)]))
    refused(path, "promises 200,000,092 bytes, the archive member holds 20,000")
    # The zip directory made to agree too: a stored member cannot hold more than its bytes,
    # a deflated one no more than deflate can produce from them.
    data = zip_of([*members, ("theta.npy", lying)])
    size = 128 + 4 * count
    path.write_bytes(patch_entry(data, "theta.npy", file_size=size))
    refused(path, "stored uncompressed but declares 200,000,220 bytes")
    data = zip_of([*members, ("theta.npy", lying)], zipfile.ZIP_DEFLATED)
    path.write_bytes(patch_entry(data, "theta.npy", file_size=size))
    refused(path, "more than deflate can produce")


def test_json_nested_200000_deep_is_refused_before_parsing(tmp_path, good, monkeypatch):
    _, arrays = good["model"]
    deep = '{"format": "nnlite-model", "version": 1, "extra": ' + "[" * 200_000 + "]" * 200_000
    path = write(tmp_path / "deep.npz", deep + "}", arrays)
    parsed = []
    monkeypatch.setattr(io.json, "loads", lambda *a, **k: parsed.append(1))
    refused(path, "nests 200,001 levels deep")
    assert not parsed  # refused before json.loads could recurse


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ('{"format": "nnlite-model", "format": "nnlite-model"}', "'format' appears twice"),
        ('{"format": "nnlite-model", "version": 1, "x": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}',
         "unexpected fields"),  # brackets inside a string are not nesting
        ("[" * 40 + "]" * 40, "nests 40 levels"),
        ('{"a": "unterminated ' + "[" * 50, "not JSON"),
        ("{'single': 'quotes'}", "not JSON"),
        ('{"n": 1' + "0" * 5000 + "}", "not JSON"),  # more digits than int() takes
        ("", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        ("[1, 2]", "not an nnlite model file"),
    ],
)  # fmt: skip
def test_a_record_that_is_not_sane_json_is_refused(tmp_path, good, text, phrase):
    path = write(tmp_path / "j.npz", text, good["model"][1])
    refused(path, phrase)


# -- the archive ------------------------------------------------------------------------


def _members(good, which="model"):
    record, arrays = good[which]
    meta = np.frombuffer(json.dumps(record).encode(), np.uint8)
    return [("meta.npy", npy_of(meta))] + [(f"{k}.npy", npy_of(v)) for k, v in arrays.items()]


def test_an_npy_header_claiming_64_gib_is_refused(tmp_path, good):
    members = _members(good)
    members[1] = ("theta.npy", npy({"descr": "<f8", "fortran_order": False, "shape": (2**33,)}))
    path = tmp_path / "huge.npz"
    path.write_bytes(zip_of(members))
    refused(path, "promises 68,719,476,736 bytes")


@pytest.mark.parametrize(
    ("patch", "phrase"),
    [
        ({"method": 99}, "compression method 99"),
        ({"method": 14}, "compression method 14"),  # LZMA: zipfile reads it, nnlite does not
        ({"flags": 0x1}, "encrypted"),
    ],
)
def test_unknown_compression_and_encrypted_members_are_refused(tmp_path, good, patch, phrase):
    path = tmp_path / "z.npz"
    path.write_bytes(patch_entry(zip_of(_members(good)), "theta.npy", **patch))
    refused(path, phrase)


def test_a_bzip2_member_is_refused_though_zipfile_could_read_it(tmp_path, good):
    path = tmp_path / "bz.npz"
    path.write_bytes(zip_of(_members(good), zipfile.ZIP_BZIP2))
    with zipfile.ZipFile(path) as z:
        assert z.read("theta.npy")  # a real, readable bzip2 member (a bomb would be too)
    refused(path, "compression method 12")


@pytest.mark.parametrize("name", ["notes.txt", "theta", "theta.npy/", "../theta.npy.exe"])
def test_a_member_that_is_not_npy_is_refused(tmp_path, good, name):
    path = tmp_path / "x.npz"
    path.write_bytes(zip_of([*_members(good), (name, b"hello")]))
    refused(path, "is not a .npy array")


def test_a_duplicated_member_is_refused_not_silently_won(tmp_path, good):
    members = _members(good)
    _, arrays = good["model"]
    evil = npy_of(np.full_like(arrays["theta"], 7.0))
    path = tmp_path / "dup.npz"
    path.write_bytes(zip_of([*members, ("theta.npy", evil)]))
    with zipfile.ZipFile(path) as z:  # the attack: zipfile alone hands out the last one
        assert z.read("theta.npy") == evil
    refused(path, "array 'theta' is in the archive twice")


def test_extra_and_missing_arrays_are_refused(tmp_path, good):
    path = tmp_path / "x.npz"
    path.write_bytes(zip_of([*_members(good), ("surprise.npy", npy_of(np.zeros(2)))]))
    refused(path, r"unexpected arrays \['surprise'\]")
    members = [m for m in _members(good, "checkpoint") if m[0] != "resume_stats.npy"]
    path.write_bytes(zip_of(members))
    refused(path, "resume arrays missing")


def test_a_zip_of_many_members_is_refused_from_its_directory(tmp_path, good):
    path = tmp_path / "many.npz"
    path.write_bytes(zip_of([(f"a{i}.npy", b"") for i in range(500)]))
    refused(path, f"500 members; at most {io._MAX_MEMBERS} expected")


def test_a_record_over_its_bound_is_refused_unread(tmp_path, good, reads, monkeypatch):
    monkeypatch.setattr(io, "MAX_RECORD_BYTES", 1000)
    record, arrays = good["model"]
    record = _set(record, "extra.notes", "x" * 2000)
    refused(write(tmp_path / "big.npz", record, arrays), "more than the 1,000 nnlite reads")
    assert reads == ["meta"]


HOSTILE_HEADERS = [
    # (header text, phrase)
    ("{'descr': __import__('os').system('echo owned'), 'fortran_order': False, 'shape': (3,)}",
     "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)*100000}", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 5000 + ",)}", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (" + "1, " * 40 + ")}", "more than 32"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'x': '''", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False}", "no shape"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "unexpected key"),
    ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (3,)}", "twice"),
    ("{'descr': '<f4', 'fortran_order': 0, 'shape': (3,)}", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': [3]}", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", "needs a comma"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3, -2)}", "negative shape"),
    ("{'descr': '|O', 'fortran_order': False, 'shape': (3,)}", "Python objects"),
    ("{'descr': '<c8', 'fortran_order': False, 'shape': (3,)}", "expected numbers"),
    ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (3,)}", "structured dtype"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)} + 1", "unreadable"),
    ("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (3,)}", "unreadable"),
    ("{'descr': '<f4', 'fortran_order': False, 'shape': (3,)}\u00e9", "not ASCII"),
    ("\x00\x00\x00", "unreadable"),
    ("", "unreadable"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "phrase"), HOSTILE_HEADERS, ids=range(len(HOSTILE_HEADERS)))
def test_hostile_npy_headers_are_refused_by_our_parser(tmp_path, good, text, phrase):
    members = _members(good)
    members[1] = ("theta.npy", npy(text, b"\0" * 12))
    path = tmp_path / "h.npz"
    path.write_bytes(zip_of(members))
    refused(path, phrase)


@pytest.mark.parametrize(
    ("raw", "phrase"),
    [
        (b"\x93NUMPY\x04\x00\x10\x00", r"format 4\.0"),
        (b"\x93NUMPY\x01\x01\x10\x00", r"format 1\.1"),
        (b"\x93NUMPY\x02\x00\xff\xff\xff\x7f{", "a .npy header of 2,147,483,647 bytes"),
        (b"\x93NUMPY\x01\x00\xff\xff{'descr'", "a .npy header of 65,535 bytes"),
        (b"\x93NUMPY\x01\x00\x40\x00{'descr'", "cut off"),
        (b"\x93NUMP", "no \\\\x93NUMPY magic"),
        (b"PK\x03\x04", "no \\\\x93NUMPY magic"),
    ],
)
def test_npy_magic_version_and_length_rules(tmp_path, good, raw, phrase):
    members = _members(good)
    members[1] = ("theta.npy", raw)
    path = tmp_path / "v.npz"
    path.write_bytes(zip_of(members))
    refused(path, phrase)


def test_npy_version_2_and_3_headers_are_read(tmp_path, good):
    record, arrays = good["model"]
    for version in ((2, 0), (3, 0)):
        members = _members(good)
        theta = arrays["theta"]
        header = {"descr": "<f4", "fortran_order": False, "shape": theta.shape}
        members[1] = ("theta.npy", npy(header, theta.tobytes(), version))
        path = tmp_path / "v.npz"
        path.write_bytes(zip_of(members))
        assert io.load(path).theta.tobytes() == theta.tobytes()


# -- what the file is -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_npz_is_refused_without_hanging(tmp_path):
    path = tmp_path / "pipe.npz"
    os.mkfifo(path)
    outcome: list[BaseException] = []

    def load():
        try:
            io.load(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the main thread
            outcome.append(exc)

    worker = threading.Thread(target=load, daemon=True)
    worker.start()
    worker.join(10)
    if worker.is_alive():  # unblock the reader so the test process can end
        with open(path, "wb"):
            pass
        pytest.fail("io.load blocked on a FIFO")
    assert isinstance(outcome[0], ModelFileError), outcome
    assert "FIFO" in str(outcome[0]) and str(path) in str(outcome[0])


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_a_link_to_a_device_is_refused(tmp_path):
    path = tmp_path / "zero.npz"
    path.symlink_to("/dev/zero")
    refused(path, "character device")


# -- the CLI ----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["evaluate", "predict"])
def test_the_cli_says_one_line_and_exits_non_zero(tmp_path, good, command):
    from typer.testing import CliRunner

    import cli

    record, arrays = good["model"]
    files = [
        write(
            tmp_path / "null.npz", _set(record, "architecture.layers.0.activation", None), arrays
        ),
        write(tmp_path / "deep.npz", "[" * 100_000 + "]" * 100_000, arrays),
        tmp_path / "dup.npz",
    ]
    files[2].write_bytes(zip_of([*_members(good), *_members(good)[1:]]))
    for path in files:
        result = CliRunner().invoke(cli.app, [command, str(path), "--dataset", "xor"])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and str(path) in lines[0] and "Traceback" not in result.output
