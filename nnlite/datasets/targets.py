"""What a target column means: class labels or regression values, shared by CSV and ``.npz``.

Owns: ``TASKS`` and ``check_task``; ``as_target`` (a training target, any numeric dtype, 1-D
or one-hot rows, to int64 labels ``0..k-1`` with every class present, or float32 values:
labels are never remapped, and a mostly-integer column with a stray fraction is refused, not
silently a regression); ``as_test_target`` (a test target checked against the training
classes); and the small helpers both need (``first_true``, ``one_hot_rows``, ``to_float32``).
The checks work in the target's own dtype: no float64 copy of a large integer array.

Imports: numpy, ``nnlite.errors``. Reads no file: the callers pass arrays and the path their
messages name.

Omits: features (each reader checks its own) and one-hot encoding for training
(``prepare.one_hot``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlite import errors

TASKS = ("auto", "classification", "regression")


def check_task(task: str) -> str:
    if task not in TASKS:
        raise errors.ConfigError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def first_true(mask: np.ndarray) -> tuple[int, ...]:
    """Index of the first True of ``mask``."""
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(mask)), mask.shape))


def one_hot_rows(t: np.ndarray) -> bool:
    """Every row one-hot: k >= 2 columns, exactly one 1 and the rest 0."""
    if t.ndim != 2 or t.shape[1] < 2 or t.shape[0] == 0:
        return False
    if t.dtype.kind != "b" and not ((t == 0) | (t == 1)).all():
        return False
    return bool(((t == 1).sum(axis=1) == 1).all())


def as_target(t: np.ndarray, path: Path, where, task: str) -> tuple[np.ndarray, int | None]:
    """Turn a target (any numeric dtype, 1-D or 2-D) into (labels, n_classes) or (float32, None).

    ``where(i)`` names row ``i`` in messages ("line 7" for CSV, "y[6]" for npz). With
    ``task="auto"`` an all-integer target means classification and a target with no (or
    few) integers means regression; a mostly-integer target with a stray fraction is taken
    for a label column with a typo and rejected, so a mistake is not silently a regression.
    A 2-D target whose every row is one-hot (k >= 2 columns, one 1, the rest 0) is k classes,
    its labels the columns of the ones; any other 2-D target is a regression target.
    The checks work in the target's own dtype: no float64 copy of a large integer array.
    """
    if t.dtype.kind == "b":
        t = t.view(np.uint8)
    if t.dtype.kind == "f":
        bad = ~np.isfinite(t)
        if bad.any():
            i = first_true(bad)[0]
            raise errors.DataError(f"{path}: {where(i)}: target {t[i]} is not finite")
        del bad
    if t.ndim == 2 and task != "regression" and one_hot_rows(t):
        return np.argmax(t, axis=1).astype(np.int64), int(t.shape[1])
    is_int = t == np.round(t) if t.dtype.kind == "f" else None  # integer dtypes: all are
    all_int = is_int is None or bool(is_int.all())
    regression = task == "regression" or t.ndim != 1
    if task == "auto" and not all_int and is_int.mean() <= 0.5:
        regression = True
    if regression:
        is_int = None
        if task == "classification":
            raise errors.DataError(
                f"{path}: class labels must be 1-D or one-hot rows, got shape {t.shape}"
            )
        y = to_float32(t)
        if not np.isfinite(y).all():
            i = first_true(~np.isfinite(y))[0]
            raise errors.DataError(f"{path}: {where(i)}: target {t[i]} overflows float32")
        return y, None
    if not all_int:
        i = int(np.argmin(is_int))
        raise errors.DataError(
            f"{path}: {where(i)}: label {t[i]} is not an integer, but {int(is_int.sum())} of "
            f"{len(t)} targets are; labels must be integers 0..k-1 (task='regression' for a "
            "numeric target)"
        )
    del is_int
    if len(t) and t.min() < 0:
        i = int(np.argmax(t < 0))
        raise errors.DataError(
            f"{path}: {where(i)}: label {int(t[i])} is negative; labels must be integers 0..k-1"
        )
    # Every class 0..k-1 present <=> the sorted distinct labels are exactly 0, 1, ..., k-1.
    # Checked on the distinct values, never with arange(max + 1): a label of 1e15 must not
    # allocate.
    distinct = np.unique(t)
    if distinct[-1] != len(distinct) - 1:
        gaps = [int(g) for g in np.setdiff1d(np.arange(len(distinct) + 5), distinct)]
        shown = [str(g) for g in gaps if g < distinct[-1]][:5]
        more = ", ..." if distinct[-1] + 1 - len(distinct) > len(shown) else ""
        raise errors.DataError(
            f"{path}: labels must be 0..k-1 with every class present, but label(s) "
            f"{', '.join(shown)}{more} never occur (labels run {float(distinct[0]):g}.."
            f"{float(distinct[-1]):g}; task='regression' for a numeric target)"
        )
    return t.astype(np.int64), len(distinct)


def as_test_target(
    t: np.ndarray, path: Path, n_classes: int | None, one_hot: bool = False, key: str = "y_test"
) -> np.ndarray:
    """Validate ``y_test`` against the classes (or the regression) of ``y``.

    ``one_hot``: ``y`` was one-hot rows, so ``y_test`` must be too. Works in ``t``'s dtype.
    """
    if t.dtype.kind == "b":
        t = t.view(np.uint8)
    if t.dtype.kind == "f" and not np.isfinite(t).all():
        i = first_true(~np.isfinite(t))[0]
        raise errors.DataError(f"{path}: {key}[{i}] is not finite")
    if n_classes is None:
        y = to_float32(t)
        if not np.isfinite(y).all():
            raise errors.DataError(f"{path}: {key} overflows float32")
        return y
    if one_hot:
        if not one_hot_rows(t):
            raise errors.DataError(
                f"{path}: {key} is not one-hot rows like y (one 1 and {n_classes - 1} zeros each)"
            )
        return np.argmax(t, axis=1).astype(np.int64)
    outside = (t < 0) | (t >= n_classes)
    if t.dtype.kind == "f":
        outside |= t != np.round(t)
    if t.ndim != 1 or outside.any():
        i = int(np.argmax(outside)) if t.ndim == 1 else 0
        raise errors.DataError(
            f"{path}: {key}[{i}] = {t.flat[i]} is not a label in 0..{n_classes - 1}"
        )
    return t.astype(np.int64)


def to_float32(a: np.ndarray) -> np.ndarray:
    """Cast to float32; values beyond its range become inf, which the callers report."""
    with np.errstate(over="ignore"):
        return a.astype(np.float32)
