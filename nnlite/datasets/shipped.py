"""The data set shipped with nnlite: the 8x8 UCI optical digits (``data/digits.npz``).

Owns: finding the shipped file (inside the installed package as ``nnlite.data``, else in the
checkout's ``data/``: ``setup.cfg`` installs the repository's ``data/`` directory under that
name) and reading it (``load_digits``, ``digits_available``).

Imports: numpy, the standard library, ``nnlite.config`` (``REPO_DATA_DIR``), ``nnlite.errors``
and ``base``. The shipped file is ours, so it is read with ``np.load`` (``allow_pickle=False``)
rather than the hostile-file reader ``nnlite.npzfile``.

Omits: user files (``csv``, ``npz``) and downloaded ones (``idx``).
"""

from __future__ import annotations

import importlib.resources
import io
import zipfile

import numpy as np

from nnlite import config, errors
from nnlite.datasets.base import Dataset

DIGITS_FILE = "digits.npz"


def _digits_bytes() -> tuple[bytes, str]:
    """The shipped ``digits.npz``: from the installed package, else from the checkout."""
    try:
        resource = importlib.resources.files("nnlite.data") / DIGITS_FILE
        if resource.is_file():
            return resource.read_bytes(), f"nnlite.data/{DIGITS_FILE}"
    except ModuleNotFoundError:
        pass  # running from a checkout: data/ is beside nnlite/, not inside it
    path = config.REPO_DATA_DIR / DIGITS_FILE
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise errors.DataError(f"{path}: shipped digits file is missing ({exc.strerror})") from None


def load_digits() -> Dataset:
    """The 8×8 UCI optical digits: 1,797 images, 10 classes (as shipped in scikit-learn).

    Each pixel counts the inked pixels of a 4×4 block (0..16); ``X`` is that count / 16.
    See ``data/README.md`` for source, licence and checksums.

    Returns
    -------
    Dataset
        ``X`` float32 (1797, 64) in [0, 1]; ``y`` int64 (1797,) in 0..9;
        ``image_shape`` (8, 8).
    """
    raw, where = _digits_bytes()
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as archive:
            images = archive["images"]
            labels = archive["labels"]
    except (ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
        raise errors.DataError(f"{where}: unreadable shipped digits file ({exc})") from None
    if images.shape[1:] != (8, 8) or labels.shape != images.shape[:1]:
        raise errors.DataError(
            f"{where}: expected images (n, 8, 8) and labels (n,), "
            f"got {images.shape} and {labels.shape}"
        )
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise errors.DataError(f"{where}: labels outside 0..9")
    X = images.reshape(len(images), 64).astype(np.float32)
    X /= np.float32(16.0)
    y = labels.astype(np.int64)
    text = f"UCI optical digits, {len(y)} images of 8x8 pixels, 10 classes"
    return Dataset("digits", X, y, 10, text, image_shape=(8, 8))


def digits_available() -> bool:
    try:
        if (importlib.resources.files("nnlite.data") / DIGITS_FILE).is_file():
            return True
    except ModuleNotFoundError:
        pass
    return (config.REPO_DATA_DIR / DIGITS_FILE).is_file()
