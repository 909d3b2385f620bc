"""Data sets in ``.npz`` archives: ``load_npz``.

Owns: which archive names hold which array (``NPZ_NAMES``: nnlite's ``X, y, X_test, y_test``,
Keras's ``x_train, ...``, the plain ``x, y``), the cross-check of their headers before any
data is read, and features converted to float32 while they are read.

Imports: numpy, ``nnlite.errors``, ``nnlite.npzfile`` (the strict reader: never pickle,
never ``np.load``; model files use it too, so it stays in ``nnlite/``), ``base`` and
``targets``.

Omits: arrays other than the four roles (never read), feature scaling (uint8 pixels stay
0..255), and ``.npy`` files.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nnlite import errors, npzfile
from nnlite.datasets.base import MAX_ARRAY_BYTES, Dataset, cannot_open
from nnlite.datasets.targets import as_target, as_test_target, check_task

# Which archive names hold which array: nnlite's, Keras's (``mnist.npz``: x_train, y_train,
# x_test, y_test) and the plain x, y.
NPZ_NAMES = {
    "X": ("X", "x_train", "x"),
    "y": ("y", "y_train"),
    "X_test": ("X_test", "x_test"),
    "y_test": ("y_test",),
}


def _npz_roles(archive: npzfile.Archive, path: Path) -> dict[str, str]:
    """role (X, y, X_test, y_test) -> the archive's name for it; one clear error if unclear."""
    roles: dict[str, str] = {}
    for role, names in NPZ_NAMES.items():
        present = [name for name in names if name in archive.keys]
        if len(present) > 1:
            raise errors.DataError(
                f"{path}: arrays {' and '.join(map(repr, present))} both look like {role}; "
                "keep one naming: X, y, X_test, y_test, or Keras's x_train, y_train, x_test, "
                "y_test"
            )
        if present:
            roles[role] = present[0]
    for role in ("X", "y"):
        if role not in roles:
            found = ", ".join(archive.keys) or "none"
            also = " or ".join(repr(n) for n in NPZ_NAMES[role][1:])
            raise errors.DataError(
                f"{path}: no array {role!r} (arrays found: {found}); "
                f"the {role} array may also be named {also}"
            )
    if ("X_test" in roles) != ("y_test" in roles):
        raise errors.DataError(f"{path}: has only one of X_test and y_test")
    return roles


def _npz_features(
    archive: npzfile.Archive, key: str, path: Path
) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Features ``key`` as float32 (n, d) plus the image shape when stored as (n, rows, cols).

    Converted while it is read: no full-size copy in the stored dtype.
    """
    A = archive.read(key, limit=MAX_ARRAY_BYTES, dtype=np.float32)
    X = np.ascontiguousarray(A)  # a copy only for Fortran-ordered data
    del A
    flat = X.reshape(-1)
    step = 1 << 20
    for start in range(0, flat.size, step):
        bad = ~np.isfinite(flat[start : start + step])
        if bad.any():
            idx = np.unravel_index(start + int(np.argmax(bad)), X.shape)
            value = X[idx]
            what = "NaN" if np.isnan(value) else "infinite in float32 (beyond ±3.4e38?)"
            raise errors.DataError(
                f"{path}: {key}[{', '.join(str(int(v)) for v in idx)}] is {what}, "
                "not a finite float32"
            )
    image_shape = (int(X.shape[1]), int(X.shape[2])) if X.ndim == 3 else None
    return X.reshape(len(X), -1), image_shape


def _npz_headers(archive: npzfile.Archive, roles: dict[str, str], path: Path) -> dict:
    """The headers of the arrays to read, checked against each other before any data is read."""
    h = {role: archive.header(key, MAX_ARRAY_BYTES) for role, key in roles.items()}
    X, y = h["X"], h["y"]
    xk, yk = roles["X"], roles["y"]
    if len(X.shape) not in (2, 3) or X.count == 0:
        raise errors.DataError(
            f"{path}: {xk} must be (n, d) or (n, rows, cols) with n, d >= 1, got {X.shape}"
        )
    if len(y.shape) not in (1, 2):
        raise errors.DataError(
            f"{path}: {yk} must be numbers of shape (n,) or (n, k), got {y.dtype.name} {y.shape}"
        )
    if y.shape[0] != X.shape[0]:
        raise errors.DataError(f"{path}: {xk} has {X.shape[0]} rows but {yk} has {y.shape[0]}")
    if "X_test" in h:
        Xt, yt = h["X_test"], h["y_test"]
        xtk, ytk = roles["X_test"], roles["y_test"]
        if len(Xt.shape) != len(X.shape) or Xt.count == 0 or Xt.shape[1:] != X.shape[1:]:
            raise errors.DataError(
                f"{path}: {xtk} rows have shape {Xt.shape[1:]}, {xk} rows {X.shape[1:]}"
            )
        if yt.shape != (Xt.shape[0], *y.shape[1:]):
            raise errors.DataError(
                f"{path}: {ytk} has shape {yt.shape}, expected {(Xt.shape[0], *y.shape[1:])}"
            )
    return h


def load_npz(path: str | Path, *, task: str = "auto") -> Dataset:
    """An ``.npz`` archive with arrays ``X`` and ``y`` (and optionally ``X_test``, ``y_test``).

    Parameters
    ----------
    path : str or Path
        Written by ``np.savez(path, X=X, y=y)``; Keras's names (``x_train``, ``y_train``,
        ``x_test``, ``y_test``, as in its ``mnist.npz``, or ``x``, ``y``) are read too. ``X``
        is (n, d), or (n, rows, cols) for images, which are flattened and their
        ``image_shape`` recorded. Other arrays in the archive are ignored (never read).
        Read by ``nnlite.npzfile``: never unpickled, never ``np.load``.
    task : {"auto", "classification", "regression"}
        As in ``load_csv``. A 2-D ``y`` whose every row is one-hot (k >= 2 columns, one 1,
        the rest 0) is k classes (labels: where the 1 is); any other 2-D ``y`` is a
        regression target.

    Returns
    -------
    Dataset
        ``X`` float32 (n, d) as stored (not rescaled: uint8 pixels stay 0..255); ``y`` int64
        labels 0..k-1 or float32.

    Raises
    ------
    errors.DataError
        Not a regular file or not an npz archive, an archive that breaks ``npzfile``'s rules
        (duplicated, encrypted or non-``.npy`` members, lying headers, ...), pickled objects,
        missing or ambiguous ``X``/``y``, mismatched shapes (checked from the headers before
        any data is read), non-finite values, or labels that are not integers 0..k-1.
    """
    path = Path(path)
    check_task(task)
    try:
        archive = npzfile.open_npz(path)
    except OSError as exc:
        raise cannot_open(path, exc, ", not an .npz archive") from None
    except npzfile.NpzError as exc:
        if exc.kind == "npy":
            raise errors.DataError(
                f"{path}: holds a single array, not an .npz archive with X and y"
            ) from None
        raise errors.DataError(f"{path}: {exc}") from None
    try:
        with archive:
            roles = _npz_roles(archive, path)
            headers = _npz_headers(archive, roles, path)
            # The targets first: they are small, and a bad label is refused before the
            # features (the bulk of the file) are decompressed and converted.
            y_raw = archive.read(roles["y"], limit=MAX_ARRAY_BYTES)
            y_key = roles["y"]
            y, n_classes = as_target(y_raw, path, lambda i: f"{y_key}[{i}]", task)
            one_hot = n_classes is not None and y_raw.ndim == 2
            del y_raw
            X_test = y_test = None
            if "X_test" in roles:
                t = archive.read(roles["y_test"], limit=MAX_ARRAY_BYTES)
                y_test = as_test_target(t, path, n_classes, one_hot, roles["y_test"])
                del t
            X, image_shape = _npz_features(archive, roles["X"], path)
            if "X_test" in roles:
                X_test, _ = _npz_features(archive, roles["X_test"], path)
    except npzfile.NpzError as exc:
        raise errors.DataError(f"{path}: {exc}") from None
    kind = f"{n_classes} classes" if n_classes is not None else "regression"
    if one_hot:
        kind += " (one-hot rows)"
    test = f" + {len(X_test)} test" if X_test is not None else ""
    stored = headers["X"].dtype.name
    text = f"{path.name}: {len(X)}{test} rows, {X.shape[1]} features ({stored}), {kind}"
    return Dataset(path.stem, X, y, n_classes, text, image_shape, X_test, y_test)
