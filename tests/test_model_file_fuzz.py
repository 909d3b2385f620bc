"""Fuzz ``io.load`` over valid model files: a model comes back, or one ``ModelFileError`` line.

Three kinds of damage to a valid model file and a valid checkpoint (stored, as ``io.save``
writes them, and deflate-compressed): bytes flipped, short runs inserted and the end cut off;
one field of the JSON record replaced by a random JSON value (huge integers, NaN, strings,
nested lists, ...); one array replaced by a random small array of another dtype or shape.
Every case must end in a loaded model whose θ is finite and fits its architecture, or in a
``ModelFileError`` naming the file, and must stay within a memory bound (tracemalloc peak:
4 MiB plus what deflate could expand the file to). Anything else (an ``OverflowError``, a
``KeyError``, a ``RecursionError``, a ``MemoryError``) fails and hypothesis shrinks it.

``NNLITE_FUZZ_EXAMPLES`` sets the number of cases per test (CI: 150); run
``pytest --hypothesis-show-statistics`` to see how many loaded and how many were refused.
"""

from __future__ import annotations

import json
import os
import warnings
import zipfile

import numpy as np
import pytest
from fuzzing import damaged, traced_peak
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from npzcraft import npy_of, zip_of

from nnlite import io, models
from nnlite.errors import ModelFileError
from nnlite.layers import Dense
from nnlite.models import Callback, Sequential

FUZZ_EXAMPLES = int(os.environ.get("NNLITE_FUZZ_EXAMPLES", "150"))
fuzz = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


class _StopInEpoch2(Callback):
    def on_batch_end(self, epoch, done, logs):
        self.stop_training = epoch == 1


def _files(folder) -> list[tuple[dict, dict[str, np.ndarray]]]:
    """(record, arrays) of a finished model and of a momentum checkpoint stopped mid-epoch."""
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(24, 3)), rng.integers(0, 2, size=24)
    run = {"dataset": "moons", "seed": 0, "val_split": 0.25, "epochs": 3, "batch_size": 8,
           "lr": 0.1, "momentum": 0.5, "nesterov": False, "data_dir": None}  # fmt: skip
    model = Sequential([Dense(4, "relu"), Dense(2, "softmax")], n_inputs=3, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs on noise: chance level, and it says so
        model.fit(X, y, epochs=2, batch_size=8, validation_data=(X[:6], y[:6]))
    io.save(model, folder / "model.npz", extra=run)
    with pytest.MonkeyPatch.context() as mp, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a few epochs on noise: chance level, and it says so
        mp.setattr(models, "SAMPLES_PER_CHUNK", 8)
        ckpt = Sequential([Dense(4, "tanh"), Dense(1, "sigmoid")], n_inputs=3, seed=1)
        ckpt.fit(X, y, epochs=3, batch_size=8, momentum=0.5, callback=_StopInEpoch2())
    io.save(ckpt, folder / "checkpoint.npz", extra=run)
    out = []
    for name in ("model", "checkpoint"):
        with zipfile.ZipFile(folder / f"{name}.npz") as z:
            arrays = {
                n[:-4]: np.lib.format.read_array(z.open(n), allow_pickle=False)
                for n in z.namelist()
            }
        out.append((json.loads(arrays.pop("meta").tobytes()), arrays))
    return out


def _archive(record: dict | str, arrays: dict[str, np.ndarray], method: int) -> bytes:
    text = record if isinstance(record, str) else json.dumps(record)
    meta = np.frombuffer(text.encode(), np.uint8)
    members = [("meta.npy", npy_of(meta))] + [(f"{k}.npy", npy_of(v)) for k, v in arrays.items()]
    return zip_of(members, method)


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    folder = tmp_path_factory.mktemp("valid")
    files = _files(folder)
    blobs = [(folder / f"{n}.npz").read_bytes() for n in ("model", "checkpoint")]
    blobs += [_archive(r, a, zipfile.ZIP_DEFLATED) for r, a in files]
    return {"files": files, "blobs": blobs, "dir": folder}


def _paths(node, prefix=()) -> list[tuple]:
    """Every path into a JSON value (dict keys and list indices), the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node[:3]):
            out += _paths(v, (*prefix, i))
    return out


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**130), 2**130)
    | st.sampled_from([0, 1, -1, 2**24, 2**24 + 1, 2**31, 2**40, 2**63, 2**128])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(["relu", "softmax", "none", "float32", "PCG64", "mse", "cce", "0"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _replace(record: dict, path: tuple, value, delete: bool):
    record = json.loads(json.dumps(record))
    if not path:
        return value
    node = record
    for part in path[:-1]:
        node = node[part]
    if delete and isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return record


DTYPES = ["|b1", "|i1", "|u1", "<i8", ">i8", "<u4", "<f2", "<f4", ">f4", "<f8"]


def load_outcome(path, content: bytes) -> None:
    """Load ``path`` (holding ``content``) under a memory bound; check whatever comes back."""
    path.write_bytes(content)
    with traced_peak() as peak:
        try:
            model = io.load(path)
        except ModelFileError as exc:
            message = str(exc)
            assert str(path) in message and "\n" not in message, message
            event("refused: " + " ".join(message.removeprefix(repr(str(path))).split()[:3]))
            model = None
    assert peak.bytes <= (4 << 20) + 1100 * len(content), f"{peak.bytes:,} bytes"
    if model is not None:
        event("loaded")
        assert np.isfinite(model.theta).all() and model.theta.dtype == model.dtype
        dims = [model.n_inputs] + [layer.units for layer in model.layers]
        assert model.theta.size == sum(i * o + o for i, o in zip(dims[:-1], dims[1:]))
        for layer in model.layers:
            assert layer.W.base is model.theta or layer.W.base is model.theta.base


@fuzz
@given(data=st.data())
def test_byte_damage_loads_or_raises_model_file_error(valid, data):
    blob = data.draw(st.sampled_from(valid["blobs"]), label="base")
    content = data.draw(damaged([blob], reach=10**6), label="content")
    load_outcome(valid["dir"] / "fuzzed.npz", content)


@fuzz
@given(data=st.data())
def test_record_damage_loads_or_raises_model_file_error(valid, data):
    record, arrays = data.draw(st.sampled_from(valid["files"]), label="file")
    path = data.draw(st.sampled_from(_paths(record)), label="path")
    value = data.draw(json_values, label="value")
    changed = _replace(record, path, value, data.draw(st.booleans(), label="delete"))
    method = data.draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    load_outcome(valid["dir"] / "fuzzed.npz", _archive(changed, arrays, method))


@fuzz
@given(data=st.data())
def test_array_damage_loads_or_raises_model_file_error(valid, data):
    record, arrays = data.draw(st.sampled_from(valid["files"]), label="file")
    key = data.draw(st.sampled_from(sorted(arrays)), label="array")
    dtype = np.dtype(data.draw(st.sampled_from(DTYPES), label="dtype"))
    size = arrays[key].size
    shape = data.draw(
        st.sampled_from([(), (0,), (size,), (size - 1,), (size + 1,), (1, size), (size, 1)]),
        label="shape",
    )
    raw = data.draw(st.binary(min_size=dtype.itemsize * int(np.prod(shape)),
                              max_size=dtype.itemsize * int(np.prod(shape))))  # fmt: skip
    if dtype.kind == "b":
        raw = bytes(b & 1 for b in raw)
    new = np.frombuffer(raw, dtype=dtype).reshape(shape) if shape else np.frombuffer(raw, dtype)[0]
    content = _archive(record, {**arrays, key: np.asarray(new)}, zipfile.ZIP_STORED)
    load_outcome(valid["dir"] / "fuzzed.npz", content)
