"""Model files: one ``.npz`` holding the flat parameter vector θ and a JSON record.

Owns: ``save`` (atomic: a temporary file in the same directory, flushed and
fsynced, then renamed over the target, so an interrupted save never leaves a
half-written model; a model with a ``resume_state`` is saved as a checkpoint
that ``fit(resume=True)`` continues), ``read_record`` and ``load``: a model file is read
through ``nnlite.npzfile`` as hostile input, its JSON record bounded and validated as a
whole (types, ranges, parameter count, resume state) before θ is read with the exact size
the record implies; anything wrong is one ``ModelFileError`` line naming the file. No
pickle anywhere: the JSON record is stored as a uint8 array.
Writes go through ``nnlite.files.atomic_write`` (re-exported here as ``atomic_write``).
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from nnlite import activations, config, health, losses, npzfile, optim
from nnlite.errors import ModelFileError, NnliteError
from nnlite.files import NotRegularFile, atomic_write
from nnlite.schedules import Schedule

__all__ = ["atomic_write", "load", "model_path", "read_record", "save", "save_or_rescue"]

FORMAT = "nnlite-model"
FORMAT_VERSION = 1


def save(
    model: Any,
    path: str | os.PathLike,
    extra: dict[str, Any] | None = None,
    *,
    overwrite: bool = True,
) -> Path:
    """Write ``model`` (a built ``Sequential``) to ``path`` atomically; returns the path.

    ``extra`` is stored in the JSON record (e.g. how the model was trained). With
    ``overwrite=False`` an existing file is never replaced (``files.TargetExists``).
    """
    model._require_built()
    path = model_path(path)
    record = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "architecture": model.architecture(),
        "history": model.history.as_dict(),
        "extra": extra or {},
    }
    arrays = {"theta": model.theta}
    if model.history.health:  # layer health: (epochs, layers, figures) in ``health``
        record["history"]["health"] = list(health.FIGURES)  # what its last axis holds
        arrays["health"] = health.table(model.history)
    state = getattr(model, "resume_state", None)
    if state is not None:  # a checkpoint: what ``fit(resume=True)`` needs to continue
        # The optimiser's state goes slot by slot (``resume_state_velocity``, …): any
        # optimiser's, with no field of its own here.
        record["resume"] = {k: v for k, v in state.items() if k not in (*_RESUME_ARRAYS, "state")}
        arrays.update({f"resume_{k}": np.asarray(state[k]) for k in _RESUME_ARRAYS})
        arrays.update({f"resume_state_{k}": np.asarray(v) for k, v in state["state"].items()})
    meta = np.frombuffer(json.dumps(record, allow_nan=True).encode("utf-8"), dtype=np.uint8)
    with atomic_write(path, overwrite=overwrite) as handle:
        np.savez(handle, meta=meta, **arrays)
    return path


def model_path(path: str | os.PathLike) -> Path:
    """Where ``save`` writes: ``path``, with ``.npz`` added when it has another ending.

    A name that is an existing directory is left as it is, so the writer refuses it
    (rather than writing ``DIR.npz`` beside it).
    """
    path = Path(path)
    if path.suffix != ".npz" and path.name not in ("", ".", "..") and not path.is_dir():
        path = path.with_name(path.name + ".npz")
    return path


def save_or_rescue(
    model: Any,
    path: str | os.PathLike,
    extra: dict[str, Any] | None = None,
    *,
    overwrite: bool = True,
) -> tuple[Path, Exception | None]:
    """``save``, and when that fails, save to a rescue file so the trained model is not lost.

    Returns ``(where it was written, None)``, or ``(rescue file, the error)`` when ``path``
    could not be written (disk full, the file appeared meanwhile and ``overwrite`` is false,
    the directory went away): the rescue file is ``NAME.rescued-TIME.npz`` beside ``path``,
    else in the system's temporary directory, else in the per-user cache. Raises the
    original error when no place took it.
    """
    try:
        return save(model, path, extra, overwrite=overwrite), None
    except (OSError, NnliteError) as exc:
        problem = exc
    target = model_path(path)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{target.stem}.rescued-{stamp}-{os.getpid()}.npz"
    for folder in (target.parent, Path(tempfile.gettempdir()), config.user_cache_dir()):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            return save(model, folder / name, extra, overwrite=False), problem
        except (OSError, NnliteError):
            continue
    raise problem


_RESUME_ARRAYS = ("order", "stats")  # stored as arrays, with the optimiser's state; the rest is JSON

# -------------------------------------------------------------------------------- reading
#
# A model file is read as PyTorch's weights-only loader reads one: nothing in it is
# executed or trusted. The JSON record is read first (bounded), validated as a whole, and
# only then are θ and the resume arrays read, each with the dtype and exact size the record
# implies, so no allocation is larger than what the file really holds.

MAX_RECORD_BYTES = 16 << 20  # the JSON record: ~190,000 epochs of history fit in it
MAX_JSON_DEPTH = 32  # nnlite writes 4 levels (record → resume → rng → state)
MAX_UNITS = config.MAX_UNITS  # n_inputs and each layer's units: what nnlite builds
MAX_LAYERS = 4096
MAX_PARAMETERS = config.MAX_PARAMETERS  # elements of θ: what nnlite builds
MAX_SAMPLES = 1 << 40  # a checkpoint's data size
_SLOTS = {slot for rule in optim.OPTIMIZERS.values() for slot in rule.state}
# resume_velocity: the momentum's velocity in checkpoints written before the state was generic
_MEMBERS = {"meta", "theta", "health", "resume_velocity", *(f"resume_{k}" for k in _RESUME_ARRAYS),
            *(f"resume_state_{slot}" for slot in _SLOTS)}  # fmt: skip
_TOP_KEYS = {"format", "version", "architecture", "history", "extra", "resume"}
_ARCH_KEYS = {"n_inputs", "layers", "loss", "dtype"}
# A layer's optional entries (written only when not 0): its penalties and the dropout rate
# of its input, each with its upper bound and whether the bound is allowed.
_LAYER_OPTIONS = {"l1": (1e300, True), "l2": (1e300, True), "dropout": (1.0, False)}
_HISTORY_LISTS = ("loss", "accuracy", "val_loss", "val_accuracy")
# meta, theta, health, the resume arrays and the largest optimiser state: the most a file holds
_MAX_MEMBERS = 3 + len(_RESUME_ARRAYS) + max(len(rule.state) for rule in optim.OPTIMIZERS.values())
_RESUME_KEYS = {"epochs_done", "position", "rng", "n_samples", "batch_size", "shuffle",
                "optimizer"}  # fmt: skip
# Added with schedules and dropout; absent from older checkpoints (constant α, t = 0).
_RESUME_OPTIONAL = {"schedule", "step", "dropout_seed", "run_epoch"}
# Checkpoints written before the optimiser's record was generic held SGD's fields instead.
_OLD_SGD_KEYS = {"lr", "momentum", "nesterov"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}


class _Bad(Exception):
    """A problem with the record, in words; ``read_record`` names the file."""


class _Foreign(_Bad):
    """Valid JSON, but not an nnlite model record."""


class _Version(_Bad):
    """An nnlite model record of another format version."""


class _Theta(_Bad):
    """θ does not match the record (its words follow the file's name)."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _int_in(value: Any, what: str, low: int, high: int) -> int:
    if not _is_int(value) or not low <= value <= high:
        shown = repr(value) if not isinstance(value, (dict, list, str)) else type(value).__name__
        raise _Bad(f"{what} must be an integer in {low:,}..{high:,}, got {shown}")
    return value


def _float_in(value: Any, what: str, low: float, high: float, *, high_open: bool = False) -> float:
    ok = _is_number(value) and math.isfinite(value) and low <= value <= high
    if ok and high_open and value == high:
        ok = False
    if not ok:
        bound = f"[{low:g}, {high:g}{')' if high_open else ']'}"
        shown = repr(value) if not isinstance(value, (dict, list, str)) else type(value).__name__
        raise _Bad(f"{what} must be a number in {bound}, got {shown}")
    return float(value)


def _dict(value: Any, what: str, keys: set[str] | None = None, required: set[str] = frozenset()):
    if not isinstance(value, dict):
        raise _Bad(f"{what} must be a JSON object, got {type(value).__name__}")
    if keys is not None and not set(value) <= keys:
        raise _Bad(f"{what} has unexpected fields {sorted(set(value) - keys)}")
    if not required <= set(value):
        raise _Bad(f"{what} lacks {sorted(required - set(value))}")
    return value


# A JSON string, or the rest of the text after an unterminated one (json.loads stops there).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\\?\Z)', re.S)


_STEP = np.zeros(256, np.int8)
_STEP[[ord("["), ord("{")]] = 1
_STEP[[ord("]"), ord("}")]] = -1


def _json_depth(text: str) -> int:
    """The deepest nesting of [ and { outside strings: checked before ``json.loads`` recurses."""
    bare = np.frombuffer(_JSON_STRING.sub("", text).encode("utf-8", "replace"), np.uint8)
    deepest = depth = 0
    for start in range(0, bare.size, 1 << 16):  # in slices: a few MB of record, little memory
        levels = depth + np.cumsum(_STEP[bare[start : start + (1 << 16)]], dtype=np.int64)
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
    return deepest


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen = set()
        twice = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise _Bad(f"field {twice!r} appears twice in one object")
    return out


def _parse_record(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _Bad("the record is not UTF-8 text") from None
    depth = _json_depth(text)
    if depth > MAX_JSON_DEPTH:
        raise _Bad(f"the record nests {depth:,} levels deep (at most {MAX_JSON_DEPTH})")
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError) as exc:
        raise _Bad(f"the record is not JSON ({' '.join(str(exc).split())[:120]})") from None


def _check_architecture(arch: Any) -> int:
    """Check the network's description; returns its parameter count."""
    arch = _dict(arch, "architecture", _ARCH_KEYS, _ARCH_KEYS)
    _int_in(arch["n_inputs"], "architecture n_inputs", 1, MAX_UNITS)
    layers = arch["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise _Bad(f"architecture layers must be a list of 1..{MAX_LAYERS} layers")
    for i, layer in enumerate(layers, 1):
        _dict(layer, f"layer {i}", {"units", "activation", *_LAYER_OPTIONS},
              {"units", "activation"})  # fmt: skip
        _int_in(layer["units"], f"layer {i} units", 1, MAX_UNITS)
        for key, (high, closed) in _LAYER_OPTIONS.items():
            value = layer.get(key, 0.0)
            if not _is_number(value) or not (0 <= value <= high if closed else 0 <= value < high):
                bound = f"[0, {high:g}{']' if closed else ')'}"
                raise _Bad(f"layer {i} {key} must be a number in {bound}, got {str(value)[:40]}")
        name = layer["activation"]
        # Only the names nnlite writes: a null must not turn into "None", an alias of identity.
        if not isinstance(name, str) or name not in activations.ACTIVATIONS:
            raise _Bad(
                f"layer {i} activation {name!r} is not one of {', '.join(activations.ACTIVATIONS)}"
            )
        if name == "softmax" and i < len(layers):
            raise _Bad(f"layer {i}: softmax belongs on the output layer only")
    if not isinstance(arch["loss"], str) or arch["loss"] not in losses.LOSSES:
        raise _Bad(f"loss {arch['loss']!r} is not one of {', '.join(losses.LOSSES)}")
    if not isinstance(arch["dtype"], str) or arch["dtype"] not in _DTYPES:
        raise _Bad(f"dtype {arch['dtype']!r} is not float32 or float64")
    try:
        with warnings.catch_warnings():  # a legal but poor pairing warns again when built
            warnings.simplefilter("ignore")
            losses.check_pair(layers[-1]["activation"], arch["loss"], layers[-1]["units"])
    except NnliteError as exc:
        raise _Bad(str(exc)) from None
    dims = [arch["n_inputs"]] + [layer["units"] for layer in layers]
    count = sum(i * o + o for i, o in zip(dims[:-1], dims[1:]))
    if count > MAX_PARAMETERS:
        raise _Bad(f"the architecture needs {count:,} parameters, more than {MAX_PARAMETERS:,}")
    return count


def _number_list(value: Any, what: str) -> list[float]:
    if not isinstance(value, list):
        raise _Bad(f"history {what} must be a list of numbers, got {type(value).__name__}")
    for v in value:
        if not _is_number(v) or math.isinf(v):
            raise _Bad(f"history {what} must hold finite numbers or NaN, got {v!r}")
    return [float(v) for v in value]


def _check_history(history: Any) -> dict[str, Any]:
    from nnlite.models import History

    history = _dict(history, "history", set(History.__annotations__))
    out: dict[str, Any] = {k: _number_list(history.get(k, []), k) for k in _HISTORY_LISTS}
    if len(out["accuracy"]) != len(out["loss"]):
        raise _Bad("history: loss and accuracy have different lengths")
    if len(out["val_accuracy"]) != len(out["val_loss"]) or len(out["val_loss"]) > len(out["loss"]):
        raise _Bad("history: the validation lists do not match the epochs")
    if "seconds" in history:
        out["seconds"] = _float_in(history["seconds"], "history seconds", 0.0, math.inf)
    if "samples" in history:
        out["samples"] = _int_in(history["samples"], "history samples", 0, 1 << 62)
    if "start_loss" in history:
        start = history["start_loss"]
        if not _is_number(start) or math.isinf(start):
            raise _Bad(f"history start_loss must be a finite number or NaN, got {start!r}")
        out["start_loss"] = float(start)
    if "interrupted" in history:
        if not isinstance(history["interrupted"], bool):
            raise _Bad("history interrupted must be true or false")
        out["interrupted"] = history["interrupted"]
    if "health" in history:  # the names of the health array's figures (read in ``_read``)
        if history["health"] != list(health.FIGURES):
            raise _Bad(f"history health must name the figures {list(health.FIGURES)}")
        out["health"] = True
    return out


def _check_extra(extra: Any) -> dict[str, Any]:
    """``extra`` as stored; the fields ``nnlite train`` writes must have their types."""
    extra = _dict(extra, "extra")
    rules = {
        "dataset": lambda v: isinstance(v, str),
        "data_dir": lambda v: v is None or isinstance(v, str),
        "seed": lambda v: _is_int(v) and 0 <= v < 1 << 128,
        "epochs": lambda v: _is_int(v) and 1 <= v <= 1 << 62,
        "batch_size": lambda v: _is_int(v) and 1 <= v <= 1 << 62,
        "val_split": lambda v: v is None or (_is_number(v) and 0 <= v < 1),
        "l1": lambda v: _is_number(v) and 0 <= v < math.inf,
        "l2": lambda v: _is_number(v) and 0 <= v < math.inf,
        "dropout": lambda v: _is_number(v) and 0 <= v < 1,
        "early_stopping": lambda v: _is_int(v) and 0 <= v <= 1 << 62,
    }
    words = {
        "dataset": "a string", "data_dir": "a string or null",
        "seed": "an integer >= 0", "epochs": "a positive integer",
        "batch_size": "a positive integer",
        "val_split": "null or a number in [0, 1)",
        "l1": "a number >= 0", "l2": "a number >= 0", "dropout": "a number in [0, 1)",
        "early_stopping": "an integer >= 0",
    }  # fmt: skip
    for key, ok in rules.items():
        if key in extra and not ok(extra[key]):
            value = extra[key]
            shown = repr(value) if not isinstance(value, (dict, list)) else type(value).__name__
            raise _Bad(f"extra {key} must be {words[key]}, got {shown[:60]}")
    # The run's optimiser and schedule records, checked by their tables' own rules.
    for key, parse in (("optimizer", optim.Optimizer.from_dict), ("lr_schedule", Schedule.from_dict)):
        if key in extra:
            record = _dict(extra[key], f"extra {key}")
            if not all(isinstance(v, (bool, int, float, str)) for v in record.values()):
                raise _Bad(f"extra {key} holds a value that is not a number, boolean or name")
            try:
                if parse(record).as_dict() != record:
                    raise _Bad(f"extra {key} is not as nnlite writes it")
            except NnliteError as exc:
                raise _Bad(f"extra {key}: {exc}") from None
    # The optimiser's hyper-parameters of the run, checked by the optimiser table's own rules.
    for key, hyper in optim.hyper_names().items():
        if key in extra:
            if isinstance(extra[key], (dict, list)):
                raise _Bad(f"extra {key} must be a number or true/false")
            try:
                hyper.check(extra[key])
            except NnliteError as exc:
                raise _Bad(f"extra {key}: {exc}") from None
    return extra


def _check_rng(rng: Any) -> None:
    """The shuffling generator's state, as ``np.random.default_rng().bit_generator.state``."""
    keys = {"bit_generator", "state", "has_uint32", "uinteger"}
    rng = _dict(rng, "resume rng", keys, keys)
    if rng["bit_generator"] != "PCG64":
        raise _Bad(f"resume rng is {rng['bit_generator']!r}, not PCG64")
    state = _dict(rng["state"], "resume rng state", {"state", "inc"}, {"state", "inc"})
    for key in ("state", "inc"):
        _int_in(state[key], f"resume rng {key}", 0, (1 << 128) - 1)
    _int_in(rng["has_uint32"], "resume rng has_uint32", 0, 1)
    _int_in(rng["uinteger"], "resume rng uinteger", 0, (1 << 32) - 1)
    try:
        np.random.PCG64().state = rng
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise _Bad(f"resume rng is not a generator state ({exc})") from None


def _check_resume(
    resume: Any, history: dict[str, Any], dtype: np.dtype, parameters: int
) -> dict[str, tuple[np.dtype, tuple[int, ...]]]:
    """Check the JSON part of a checkpoint's state; returns each resume array's dtype and shape.

    A checkpoint from before the optimiser's record was generic (SGD's ``lr``,
    ``momentum`` and ``nesterov`` beside the rest, the velocity in
    ``resume_velocity``) is read as the same state in today's form.
    """
    old = isinstance(resume, dict) and "optimizer" not in resume and _OLD_SGD_KEYS <= set(resume)
    required = (_RESUME_KEYS - {"optimizer"}) | _OLD_SGD_KEYS if old else _RESUME_KEYS
    resume = _dict(resume, "resume", {*required, "data_sha256", *_RESUME_OPTIONAL}, required)
    _int_in(resume.get("step", 0), "resume step", 0, 1 << 62)
    _int_in(resume.get("dropout_seed", 0), "resume dropout_seed", 0, (1 << 32) - 1)
    _int_in(resume.get("run_epoch", 0), "resume run_epoch", 0, 1 << 62)
    if "schedule" in resume:
        record = _dict(resume["schedule"], "resume schedule")
        if not all(isinstance(v, (int, float, str)) for v in record.values()):
            raise _Bad("resume schedule holds a value that is not a number or name")
        try:
            if Schedule.from_dict(record).as_dict() != record:
                raise _Bad("resume schedule is not as nnlite writes it")
        except NnliteError as exc:
            raise _Bad(f"resume schedule: {exc}") from None
    digest = resume.get("data_sha256")  # absent in checkpoints from before it was kept
    if digest is not None and not (isinstance(digest, str) and _SHA256.fullmatch(digest)):
        raise _Bad("resume data_sha256 is not a SHA-256 digest (64 hex digits)")
    n = _int_in(resume["n_samples"], "resume n_samples", 1, MAX_SAMPLES)
    position = _int_in(resume["position"], "resume position", 0, n - 1)
    _int_in(resume["batch_size"], "resume batch_size", 1, n)
    done = _int_in(resume["epochs_done"], "resume epochs_done", 0, 1 << 62)
    if done != len(history["loss"]):
        raise _Bad(f"resume: {done} epochs done but the history has {len(history['loss'])}")
    if not isinstance(resume["shuffle"], bool):
        raise _Bad("resume shuffle must be true or false")
    if old:
        resume["optimizer"] = {"name": "sgd", **{k: resume.pop(k) for k in _OLD_SGD_KEYS}}
    optimizer = _dict(resume["optimizer"], "resume optimizer")
    if not all(isinstance(v, (bool, int, float, str)) for v in optimizer.values()):
        raise _Bad("resume optimizer holds a value that is not a number, boolean or name")
    try:
        opt = optim.Optimizer.from_dict(optimizer)
    except NnliteError as exc:
        raise _Bad(f"resume optimizer: {exc}") from None
    if opt.as_dict() != optimizer:
        raise _Bad("resume optimizer is not as nnlite writes it")
    _check_rng(resume["rng"])
    arrays = {
        "order": (np.dtype(np.int64), (n,) if position else (0,)),
        "stats": (np.dtype(np.float64), (4,)),
    }
    if old:
        arrays["velocity"] = (dtype, (parameters,) if opt.slots else (0,))
    else:
        arrays.update({f"state_{slot}": (dtype, (parameters,)) for slot in opt.slots})
    return arrays


def _check_record(record: Any) -> tuple[dict[str, Any], int, dict]:
    """The record with its history as floats, θ's size, and the resume arrays' dtypes and shapes."""
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise _Foreign()
    if record.get("version") != FORMAT_VERSION:
        raise _Version(repr(record.get("version"))[:40])
    _dict(record, "the record", _TOP_KEYS, {"format", "version", "architecture"})
    parameters = _check_architecture(record["architecture"])
    dtype = _DTYPES[record["architecture"]["dtype"]]
    history = _check_history(record.get("history", {}))
    extra = _check_extra(record.get("extra", {}))
    arrays = {}
    if "resume" in record:
        arrays = _check_resume(record["resume"], history, dtype, parameters)
    return {**record, "history": history, "extra": extra}, parameters, arrays


def _array(archive: npzfile.Archive, key: str, dtype: np.dtype, shape: tuple[int, ...]):
    """Member ``key``, which must hold exactly ``shape`` of ``dtype`` (either byte order)."""
    header = archive.header(key)
    if header.dtype.kind != dtype.kind or header.dtype.itemsize != dtype.itemsize:
        if key == "theta":
            raise _Theta(f"holds {header.dtype.name} parameters; its record says {dtype.name}")
        raise _Bad(f"{key} is {header.dtype.name}, the record says {dtype.name}")
    if header.shape != shape:
        if key == "theta":
            raise _Theta(
                f"holds {header.count:,} parameters (shape {header.shape}) but its architecture "
                f"needs {shape[0]:,}"
            )
        raise _Bad(f"{key} has shape {header.shape}, the record implies {shape}")
    return archive.read(key, limit=dtype.itemsize * math.prod(shape))


def read_record(path: str | os.PathLike) -> tuple[dict[str, Any], np.ndarray]:
    """(JSON record, θ) of a model file, validated; raises ``ModelFileError``.

    A checkpoint's resume arrays come back in ``record["resume"]``. The record is checked
    as a whole (types, ranges, the parameter count) before θ is read; θ and the resume
    arrays are read with the dtype and the exact size the record implies. A layer-health
    array (``nnlite.health``) is checked too, and given to the model by ``load``.
    """
    record, theta, _ = _read_file(path)
    return record, theta


def _read_file(path: str | os.PathLike) -> tuple[dict[str, Any], np.ndarray, np.ndarray | None]:
    """``read_record``'s work: (record, θ, the health array or None)."""
    path = Path(path)
    name = repr(str(path))
    try:
        archive = npzfile.open_npz(path, max_members=_MAX_MEMBERS)
    except FileNotFoundError:
        raise ModelFileError(f"model file {name} does not exist") from None
    except NotRegularFile as exc:
        raise ModelFileError(f"{name} is not a model file: it {exc.strerror}") from None
    except OSError as exc:
        raise ModelFileError(f"{name} cannot be read: {exc.strerror or exc}") from None
    except npzfile.NpzError as exc:
        if exc.kind != "damaged":
            raise ModelFileError(f"{name} is not an nnlite model (not an .npz archive)") from None
        raise ModelFileError(f"{name} is not a readable nnlite model: {exc}") from None
    try:
        with archive:
            return _read(archive, name)
    except npzfile.NpzError as exc:
        raise ModelFileError(f"{name} is not a readable nnlite model: {exc}") from None
    except _Theta as exc:
        raise ModelFileError(f"{name} {exc}") from None
    except _Bad as exc:
        what = "checkpoint" if str(exc).startswith("resume") else "model record"
        raise ModelFileError(f"{name} has a damaged {what}: {exc}") from None


def _read(archive: npzfile.Archive, name: str) -> tuple[dict[str, Any], np.ndarray, Any]:
    keys = set(archive.keys)
    if not {"theta", "meta"} <= keys:
        raise ModelFileError(f"{name} is not an nnlite model (no theta/meta arrays)")
    if not keys <= _MEMBERS:
        raise ModelFileError(
            f"{name} is not an nnlite model (unexpected arrays {sorted(keys - _MEMBERS)})"
        )
    meta = archive.header("meta")
    if meta.dtype != np.uint8 or len(meta.shape) != 1:
        raise _Bad(f"the record is not bytes ({meta.shape} {meta.dtype.name})")
    raw = archive.read("meta", limit=MAX_RECORD_BYTES).tobytes()
    try:
        record, parameters, resume_arrays = _check_record(_parse_record(raw))
    except _Foreign:
        raise ModelFileError(f"{name} is not an nnlite model file") from None
    except _Version as exc:
        raise ModelFileError(
            f"{name} has model format version {exc}; this nnlite reads version {FORMAT_VERSION}"
        ) from None
    arch = record["architecture"]
    stored = {k for k in keys if k.startswith("resume_")}
    if stored and "resume" not in record:
        raise _Bad("resume arrays without a resume state")
    if "resume" in record and stored != {f"resume_{k}" for k in resume_arrays}:
        missing = {f"resume_{k}" for k in resume_arrays} - stored
        what = "missing" if missing else f"{sorted(stored)[0]} not expected"
        raise ModelFileError(f"{name} has a damaged checkpoint (resume arrays {what})")
    theta = _array(archive, "theta", _DTYPES[arch["dtype"]], (parameters,))
    if not _all_finite(theta):
        raise ModelFileError(f"{name} holds non-finite parameters")
    history = record["history"]
    named = history.pop("health", False)
    if named and "health" not in keys:
        raise _Bad("the history names health figures but the file has no health array")
    if "health" in keys and not named:
        raise _Bad("a health array without the history naming its figures")
    values = None
    if "health" in keys:
        shape = (len(history["loss"]), len(arch["layers"]), len(health.FIGURES))
        values = _array(archive, "health", np.dtype(np.float64), shape)
        problem = health.check(values)
        if problem:
            raise _Bad(f"the health array {problem}")
    if "resume" in record:
        resume = record["resume"] = dict(record["resume"])
        for key, (dtype, shape) in resume_arrays.items():
            resume[key] = _array(archive, f"resume_{key}", dtype, shape)
        # The state slots are the arrays ``_check_resume`` asked for (the optimiser checked
        # there); an old checkpoint's momentum state is its ``velocity``, when it has one.
        velocity = resume.pop("velocity", None)
        slots = [k for k in resume_arrays if k.startswith("state_")]
        resume["state"] = {k.removeprefix("state_"): resume.pop(k) for k in slots}
        if velocity is not None and velocity.size:
            resume["state"]["velocity"] = velocity
        _check_resume_arrays(resume)
    return record, theta, values


def _all_finite(a: np.ndarray) -> bool:
    """``np.isfinite(a).all()`` in slices, so the check costs no copy the size of θ."""
    step = 1 << 20
    return all(np.isfinite(a[i : i + step]).all() for i in range(0, a.size, step))


def _check_resume_arrays(resume: dict[str, Any]) -> None:
    order, n = resume["order"], resume["n_samples"]
    if order.size:
        if order.min() < 0 or order.max() >= n or np.bincount(order, minlength=n).max() != 1:
            raise _Bad("resume order is not a permutation of the sample indices")
    if not _all_finite(resume["stats"]):
        raise _Bad("resume running sums are not finite")
    for slot, values in resume["state"].items():
        if not _all_finite(values):
            raise _Bad(f"resume optimizer state {slot} is not finite")


def load(path: str | os.PathLike) -> Any:
    """Read a model written by ``save``; returns a built ``Sequential``.

    Raises ``ModelFileError`` (one line naming the file) for anything that is not a
    valid nnlite model; see ``read_record``.
    """
    from nnlite.layers import Dense, Dropout
    from nnlite.models import History, Sequential

    record, theta, health_values = _read_file(path)
    arch = record["architecture"]
    stack: list[Any] = []
    for x in arch["layers"]:
        if x.get("dropout", 0):
            stack.append(Dropout(x["dropout"]))
        stack.append(Dense(x["units"], x["activation"], l1=x.get("l1", 0.0), l2=x.get("l2", 0.0)))
    model = Sequential(
        stack,
        loss=arch["loss"],
        dtype=_DTYPES[arch["dtype"]],
    )
    try:
        model._validate()
    except NnliteError as exc:  # checked in the record already; a second opinion
        raise ModelFileError(f"{str(path)!r} has an invalid architecture record: {exc}") from None
    # Not ``build``: it would allocate a second θ and draw random weights only to overwrite
    # them. The stored θ becomes the model's θ, and each layer's W and b view into it.
    model._set_dims(arch["n_inputs"])
    model.theta = theta
    model._bind_layers()
    model.history = History(**record["history"])
    if health_values is not None:
        model.history.health = list(health_values)  # one (layers, figures) array per epoch
    model.extra = record["extra"]
    if "resume" in record:
        model.resume_state = _resume_state(Path(path), record["resume"], model)
    return model


def _resume_state(path: Path, state: dict[str, Any], model: Any) -> dict[str, Any]:
    """A checkpoint's resume state, as ``fit(resume=True)`` takes it (checked in the record)."""
    dtypes = {a.dtype for a in state["state"].values()} - {model.theta.dtype}
    if dtypes or state["epochs_done"] != len(model.history.loss):
        raise ModelFileError(f"{str(path)!r} has a damaged checkpoint: it does not fit the model")
    keys = (*_RESUME_KEYS, "data_sha256", *_RESUME_OPTIONAL, *_RESUME_ARRAYS, "state")
    return {key: state[key] for key in keys if key in state}
