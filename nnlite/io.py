"""Model files: one ``.npz`` holding the flat parameter vector θ and a JSON record.

Owns: ``save`` (atomic: a temporary file in the same directory, flushed and
fsynced, then renamed over the target, so an interrupted save never leaves a
half-written model; a model with a ``resume_state`` is saved as a checkpoint
that ``fit(resume=True)`` continues) and ``load`` (validated: a wrong, truncated or foreign
file gives ``ModelFileError`` in one line). No pickle anywhere: the JSON
record is stored as a uint8 array and read with ``allow_pickle=False``.
Writes go through ``nnlite.files.atomic_write`` (re-exported here as ``atomic_write``).
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from nnlite import config
from nnlite.errors import ModelFileError, NnliteError
from nnlite.files import atomic_write

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
    state = getattr(model, "resume_state", None)
    if state is not None:  # a checkpoint: what ``fit(resume=True)`` needs to continue
        record["resume"] = {k: v for k, v in state.items() if k not in _RESUME_ARRAYS}
        arrays.update({f"resume_{k}": np.asarray(state[k]) for k in _RESUME_ARRAYS})
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


_RESUME_ARRAYS = ("order", "stats", "velocity")  # stored as arrays; the rest is JSON


def read_record(path: str | os.PathLike) -> tuple[dict[str, Any], np.ndarray]:
    """(JSON record, θ) of a model file, validated; raises ``ModelFileError``.

    A checkpoint's resume arrays come back in ``record["resume"]``.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {str(path)!r} does not exist")
    if path.is_dir():
        raise ModelFileError(f"{str(path)!r} is a directory, not a model file")
    # An .npz is a zip archive; np.load on other bytes says "pickled data ... load it
    # unsafely", which is the wrong advice for a file that is simply not a model.
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as exc:
        raise ModelFileError(f"{str(path)!r} cannot be read: {exc.strerror}") from None
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ModelFileError(f"{str(path)!r} is not an nnlite model (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            if not {"theta", "meta"} <= keys:
                raise ModelFileError(f"{str(path)!r} is not an nnlite model (no theta/meta arrays)")
            theta = npz["theta"]
            meta = npz["meta"]
            resume_arrays = {k: npz[f"resume_{k}"] for k in _RESUME_ARRAYS if f"resume_{k}" in keys}
    except ModelFileError:
        raise
    except (zipfile.BadZipFile, EOFError, ValueError, OSError, KeyError) as exc:
        raise ModelFileError(
            f"{str(path)!r} is not a readable nnlite model (truncated or not .npz): {exc}"
        ) from None
    try:
        if meta.dtype != np.uint8:
            raise ValueError("record is not bytes")
        record = json.loads(meta.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelFileError(f"{str(path)!r} has a damaged model record: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise ModelFileError(f"{str(path)!r} is not an nnlite model file")
    if record.get("version") != FORMAT_VERSION:
        raise ModelFileError(
            f"{str(path)!r} has model format version {record.get('version')!r}; "
            f"this nnlite reads version {FORMAT_VERSION}"
        )
    if "resume" in record:
        if not isinstance(record["resume"], dict) or len(resume_arrays) != len(_RESUME_ARRAYS):
            raise ModelFileError(f"{str(path)!r} has a damaged checkpoint (resume state)")
        record["resume"].update(resume_arrays)
    return record, theta


def load(path: str | os.PathLike) -> Any:
    """Read a model written by ``save``; returns a built ``Sequential``."""
    from nnlite.errors import NnliteError
    from nnlite.layers import Dense
    from nnlite.models import History, Sequential

    record, theta = read_record(path)
    arch = record.get("architecture")
    try:
        layers = [Dense(int(x["units"]), str(x["activation"])) for x in arch["layers"]]
        model = Sequential(layers, loss=arch["loss"], dtype=arch["dtype"])
        model.build(int(arch["n_inputs"]))
    except (KeyError, TypeError, ValueError, NnliteError) as exc:
        raise ModelFileError(f"{str(path)!r} has an invalid architecture record: {exc}") from None
    if theta.ndim != 1 or theta.size != model.theta.size:
        raise ModelFileError(
            f"{str(path)!r} holds {theta.size} parameters but its architecture needs "
            f"{model.theta.size}"
        )
    if theta.dtype != model.theta.dtype:
        raise ModelFileError(
            f"{str(path)!r}: parameters are {theta.dtype}, record says {arch['dtype']}"
        )
    if not np.isfinite(theta).all():
        raise ModelFileError(f"{str(path)!r} holds non-finite parameters")
    model.set_parameters(theta)
    history = record.get("history") or {}
    if not isinstance(history, dict) or not isinstance(record.get("extra") or {}, dict):
        raise ModelFileError(f"{str(path)!r} has a damaged model record (history or extra)")
    model.history = History(**{k: v for k, v in history.items() if k in History.__annotations__})
    model.extra = record.get("extra") or {}
    if "resume" in record:
        model.resume_state = _resume_state(path, record["resume"], model)
    return model


def _resume_state(path: Path, state: dict[str, Any], model: Any) -> dict[str, Any]:
    """A checkpoint's resume state, checked against the model it belongs to."""
    keys = {"epochs_done", "position", "rng", "n_samples", "batch_size", "shuffle", "lr",
            "momentum", "nesterov", *_RESUME_ARRAYS}  # fmt: skip
    try:
        if not keys <= set(state):
            raise ValueError(f"missing {sorted(keys - set(state))}")
        n, position = int(state["n_samples"]), int(state["position"])
        order, stats, velocity = state["order"], state["stats"], state["velocity"]
        if not 0 <= position < n or (position and order.shape != (n,)) or stats.shape != (4,):
            raise ValueError("position, order or running sums do not fit the data size")
        if order.dtype != np.int64 or (order.size and not 0 <= order.min() <= order.max() < n):
            raise ValueError("the sample order is not a list of sample indices")
        if velocity.dtype != model.theta.dtype or velocity.size not in (0, model.theta.size):
            raise ValueError("the velocity does not fit the parameters")
        if int(state["epochs_done"]) != len(model.history.loss):
            raise ValueError("the epoch count disagrees with the history")
        np.random.default_rng().bit_generator.state = state["rng"]  # validates it
    except (TypeError, ValueError, KeyError) as exc:
        raise ModelFileError(f"{str(path)!r} has a damaged checkpoint: {exc}") from None
    return dict(state)
