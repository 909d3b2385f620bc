"""Model files: ``nnlite.io.save`` / ``load`` / ``read_record`` / ``atomic_write``.

Claims checked: a save → load round trip gives back the same network bit for bit;
a failed write leaves the old file untouched and no temporary file behind; every
kind of bad file gives ``ModelFileError`` naming the path, never a traceback from
numpy or zipfile, and never unpickles anything.
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nnlite import io
from nnlite.errors import ModelFileError
from nnlite.layers import Dense
from nnlite.models import Sequential


def _model(dtype, fit: bool = True) -> Sequential:
    """A small trained 4 → 5 (tanh) → 3 (softmax) network with some history."""
    model = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], dtype=dtype, n_inputs=4, seed=3)
    if fit:
        rng = np.random.default_rng(0)
        X = rng.normal(size=(24, 4))
        y = rng.integers(0, 3, size=24)
        model.fit(X, y, epochs=3, batch_size=8, lr=0.1, validation_data=(X[:6], y[:6]))
    return model


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A valid float32 model file (read-only for the tests: copy before damaging)."""
    path = tmp_path_factory.mktemp("model") / "good.npz"
    io.save(_model(np.float32), path, extra={"dataset": "xor", "seed": 0})
    return path


def _no_temp_files(directory) -> None:
    leftovers = [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == [], leftovers


# -- round trip ------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_restores_the_same_network(tmp_path, dtype):
    model = _model(dtype)
    path = io.save(model, tmp_path / "m.npz", extra={"dataset": "xor", "seed": 7})
    back = io.load(path)

    assert back.architecture() == model.architecture()
    assert back.loss == "cce"
    assert back.theta.dtype == np.dtype(dtype)
    # bit-identical θ, not merely close
    assert back.theta.tobytes() == model.theta.tobytes()
    X = np.random.default_rng(1).normal(size=(9, 4))
    assert back.predict(X).tobytes() == model.predict(X).tobytes()
    assert back.history.as_dict() == model.history.as_dict()
    assert len(back.history.loss) == 3 and len(back.history.val_accuracy) == 3
    assert back.extra == {"dataset": "xor", "seed": 7}
    _no_temp_files(tmp_path)


def test_save_adds_the_npz_suffix(tmp_path):
    path = io.save(_model(np.float32, fit=False), tmp_path / "model")
    assert path == tmp_path / "model.npz"
    assert path.is_file() and not (tmp_path / "model").exists()
    assert io.load(path).theta.size == 4 * 5 + 5 + 5 * 3 + 3


def test_save_overwrites_an_existing_file(tmp_path):
    a, b = _model(np.float32, fit=False), _model(np.float32, fit=False)
    b.theta[:] = 0.5
    io.save(a, tmp_path / "m.npz")
    io.save(b, tmp_path / "m.npz")
    assert np.all(io.load(tmp_path / "m.npz").theta == 0.5)
    _no_temp_files(tmp_path)


def test_record_is_json_not_pickle(saved):
    record, theta = io.read_record(saved)
    assert record["format"] == io.FORMAT and record["version"] == io.FORMAT_VERSION
    assert theta.ndim == 1
    with np.load(saved, allow_pickle=False) as npz:
        assert npz["meta"].dtype == np.uint8


# -- atomicity -------------------------------------------------------------------


def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path, saved, monkeypatch):
    target = tmp_path / "m.npz"
    target.write_bytes(saved.read_bytes())
    before = target.read_bytes()

    def half_a_savez(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io.np, "savez", half_a_savez)
    with pytest.raises(OSError, match="No space left"):
        io.save(_model(np.float32, fit=False), target)
    assert target.read_bytes() == before
    _no_temp_files(tmp_path)


def test_atomic_write_failure_keeps_the_target(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with pytest.raises(KeyboardInterrupt):
        with io.atomic_write(target, "w") as handle:
            handle.write("new, half written")
            raise KeyboardInterrupt  # even an interrupt must not leave a half file
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_success_replaces_the_target(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")
    with io.atomic_write(target, "w") as handle:
        handle.write("new\n")
    assert target.read_text() == "new\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_atomic_write_into_a_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        with io.atomic_write(tmp_path / "nowhere" / "m.npz"):
            pass


def test_atomic_write_onto_a_directory_names_the_directory(tmp_path):
    (tmp_path / "d").mkdir()
    with pytest.raises(IsADirectoryError) as info:
        with io.atomic_write(tmp_path / "d"):
            pass
    assert info.value.filename == str(tmp_path / "d")
    _no_temp_files(tmp_path)


# -- validation --------------------------------------------------------------------


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _meta(record) -> np.ndarray:
    return np.frombuffer(json.dumps(record).encode(), dtype=np.uint8)


def _good_record(saved) -> tuple[dict, np.ndarray]:
    record, theta = io.read_record(saved)
    return record, theta.copy()


def _bad_files(tmp_path, saved):
    """(name, path) of files that ``load`` must refuse."""
    record, theta = _good_record(saved)
    good = saved.read_bytes()
    files = {}

    files["missing"] = tmp_path / "missing.npz"
    (tmp_path / "a_directory.npz").mkdir()
    files["directory"] = tmp_path / "a_directory.npz"

    files["truncated"] = tmp_path / "truncated.npz"
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["empty"] = tmp_path / "empty.npz"
    files["empty"].write_bytes(b"")
    files["random bytes"] = tmp_path / "random.npz"
    files["random bytes"].write_bytes(np.random.default_rng(0).bytes(500))

    files["no arrays"] = _write_npz(tmp_path / "foreign.npz", X=np.zeros(3))
    files["meta not JSON"] = _write_npz(
        tmp_path / "notjson.npz", theta=theta, meta=np.frombuffer(b"{not json", np.uint8)
    )
    files["meta not bytes"] = _write_npz(tmp_path / "metafloat.npz", theta=theta, meta=np.zeros(4))
    files["wrong format"] = _write_npz(
        tmp_path / "format.npz", theta=theta, meta=_meta({**record, "format": "keras"})
    )
    files["future version"] = _write_npz(
        tmp_path / "version.npz", theta=theta, meta=_meta({**record, "version": 99})
    )
    files["theta too short"] = _write_npz(
        tmp_path / "short.npz", theta=theta[:-1], meta=_meta(record)
    )
    files["theta 2-D"] = _write_npz(tmp_path / "twod.npz", theta=theta[None, :], meta=_meta(record))
    files["theta wrong dtype"] = _write_npz(
        tmp_path / "dtype.npz", theta=theta.astype(np.float64), meta=_meta(record)
    )
    nan = theta.copy()
    nan[5] = np.nan
    files["NaN in theta"] = _write_npz(tmp_path / "nan.npz", theta=nan, meta=_meta(record))
    files["bad architecture"] = _write_npz(
        tmp_path / "arch.npz",
        theta=theta,
        meta=_meta({**record, "architecture": {"layers": [{"units": "x"}]}}),
    )
    files["history not a dict"] = _write_npz(
        tmp_path / "history.npz", theta=theta, meta=_meta({**record, "history": [1, 2]})
    )
    return files


BAD = [
    "missing",
    "directory",
    "truncated",
    "empty",
    "random bytes",
    "no arrays",
    "meta not JSON",
    "meta not bytes",
    "wrong format",
    "future version",
    "theta too short",
    "theta 2-D",
    "theta wrong dtype",
    "NaN in theta",
    "bad architecture",
    "history not a dict",
]


@pytest.fixture
def bad_files(tmp_path, saved):
    return _bad_files(tmp_path, saved)


@pytest.mark.parametrize("case", BAD)
def test_bad_model_file_raises_model_file_error_naming_the_path(bad_files, case):
    path = bad_files[case]
    with pytest.raises(ModelFileError) as info:
        io.load(path)
    message = str(info.value)
    assert str(path) in message
    assert "\n" not in message  # one line for the CLI
    assert "allow_pickle" not in message  # no advice to unpickle an untrusted file


@pytest.mark.parametrize(
    ("case", "phrase"),
    [
        ("missing", "does not exist"),
        ("directory", "is a directory"),
        ("random bytes", "not an nnlite model"),
        ("future version", "version 99"),
        ("theta too short", "parameters"),
        ("NaN in theta", "non-finite"),
    ],
)
def test_bad_model_file_message_says_what_is_wrong(bad_files, case, phrase):
    with pytest.raises(ModelFileError, match=phrase):
        io.load(bad_files[case])


def test_object_array_is_refused_without_unpickling(tmp_path, saved, monkeypatch):
    record, theta = _good_record(saved)
    path = tmp_path / "pickled.npz"
    np.savez(path, theta=theta.astype(object), meta=_meta(record))
    # If anything unpickled the array, this would fire.
    import pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("nnlite unpickled a model file")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    monkeypatch.setattr(pickle, "loads", no_unpickling)
    with pytest.raises(ModelFileError) as info:
        io.load(path)
    assert str(path) in str(info.value)


def test_zip_with_corrupt_member_is_refused(tmp_path, saved):
    """A zip whose first member's data bytes were flipped: its CRC check must fail cleanly."""
    path = tmp_path / "crc.npz"
    data = bytearray(saved.read_bytes())
    first_npy = data.find(b"\x93NUMPY")
    data[first_npy + 140] ^= 0xFF  # past the 128-byte .npy header, inside the numbers
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is not None  # the damage is real
    with pytest.raises(ModelFileError, match="(?i)crc"):
        io.load(path)


# -- files written by earlier versions ---------------------------------------------------

DATA = Path(__file__).parent / "data"


def _digest(a: np.ndarray) -> str:
    return hashlib.sha256(a.tobytes()).hexdigest()


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_files_written_by_main_at_5cf111d_load_bit_for_bit():
    """Made by ``tests/data/make_main_fixtures.py`` with the ``io.save`` of commit 5cf111d."""
    digests = json.loads((DATA / "main-5cf111d-digests.json").read_text())
    model = io.load(DATA / "main-5cf111d-model.npz")
    expected = digests["main-5cf111d-model.npz"]
    assert _digest(model.theta) == expected["theta"] and model.theta.dtype == np.float64
    assert model.loss == "mse" and model.extra["val_split"] == 0.2
    assert len(model.history.loss) == 3 and math.isnan(model.history.accuracy[0])
    assert model.resume_state is None

    ckpt = io.load(DATA / "main-5cf111d-checkpoint.npz")
    expected = digests["main-5cf111d-checkpoint.npz"]
    state = ckpt.resume_state
    assert _digest(ckpt.theta) == expected["theta"]
    for key in ("order", "stats"):
        assert _digest(state[key]) == expected[f"resume_{key}"], key
    # its SGD fields and velocity come back as today's generic optimiser record and state
    assert _digest(state["state"]["velocity"]) == expected["resume_velocity"]
    assert state["position"] == 8192 and state["epochs_done"] == 1
    assert state["optimizer"] == {"name": "sgd", "lr": 0.01, "momentum": 0.9, "nesterov": True}


@pytest.mark.filterwarnings("ignore::UserWarning")  # noise data: the run ends at chance level
def test_a_checkpoint_written_by_main_at_5cf111d_still_resumes_bit_for_bit():
    sys.path.insert(0, str(DATA))
    try:
        import make_main_fixtures as made
    finally:
        sys.path.remove(str(DATA))
    _, _, Xc, yc = made.data()
    fit = {"batch_size": 1, "lr": 0.01, "momentum": 0.9, "nesterov": True, "seed": 2}
    whole = Sequential([Dense(5, "tanh"), Dense(3, "softmax")], n_inputs=4, seed=2)
    whole.fit(Xc, yc, epochs=4, **fit)
    ckpt = io.load(DATA / "main-5cf111d-checkpoint.npz")
    ckpt.fit(Xc, yc, epochs=3, resume=True, **fit)
    assert ckpt.theta.tobytes() == whole.theta.tobytes()
