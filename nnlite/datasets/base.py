"""The ``Dataset`` record and the checks every source of data shares.

Owns: ``Dataset`` (what every loader returns, with its structural check), the two size limits
(``MAX_ARRAY_BYTES``: the most data bytes nnlite reads from one IDX file or one ``.npz`` array;
``MAX_GENERATED``: the most points a generator makes, also the most classes ``one_hot`` builds),
``check_count`` (an integer count within those limits) and ``cannot_open`` (the one line for a
user file that could not be opened).

Imports: numpy, ``nnlite.errors`` and ``nnlite.files``; no other module of this package, so
every module of it may import this one.

Omits: reading anything (the source modules do) and what a target column means
(``targets``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlite import errors
from nnlite.files import NotRegularFile


@dataclass(frozen=True)
class Dataset:
    """A data set ready for training.

    Attributes
    ----------
    name : str
        Built-in name (``"xor"``, ``"digits"``) or the file's stem.
    X : ndarray of float32, shape (n, d)
        Features, one example per row, C-contiguous, all finite.
    y : ndarray, shape (n,) or (n, k)
        Classification: int64 labels in ``0..n_classes-1``. Regression: float32.
    n_classes : int or None
        Number of classes; None for regression.
    description : str
        One line for listings.
    image_shape : tuple of int or None
        ``(rows, cols)`` when each row of ``X`` is a flattened image: (8, 8) digits,
        (28, 28) MNIST.
    X_test, y_test : ndarray or None
        A published test split (MNIST t10k, or ``X_test``/``y_test`` in an ``.npz``).
    class_names : tuple of str or None
        What each label means, when the data set says (Fashion-MNIST: "T-shirt/top", ...).
    """

    name: str
    X: np.ndarray
    y: np.ndarray
    n_classes: int | None
    description: str
    image_shape: tuple[int, int] | None = None
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    class_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        # A cheap structural check so a Dataset built by hand cannot smuggle in
        # float64 or mismatched lengths; the loaders check values, this checks shapes.
        for X, y, part in ((self.X, self.y, "train"), (self.X_test, self.y_test, "test")):
            if X is None and y is None:
                continue
            if X is None or y is None:
                raise errors.DataError(f"{self.name}: {part} split has only one of X and y")
            if X.ndim != 2 or X.dtype != np.float32 or not X.flags.c_contiguous:
                raise errors.DataError(
                    f"{self.name}: {part} X must be C-contiguous float32 (n, d), "
                    f"got {X.dtype} {X.shape}"
                )
            if y.shape[:1] != X.shape[:1]:
                raise errors.DataError(
                    f"{self.name}: {part} X has {X.shape[0]} rows but y has {y.shape[0]}"
                )

    @property
    def n_samples(self) -> int:
        """Number of training examples, ``X.shape[0]``."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of input features, ``X.shape[1]``."""
        return int(self.X.shape[1])

    @property
    def is_classification(self) -> bool:
        """True when ``y`` holds class labels."""
        return self.n_classes is not None


# The most data bytes one IDX file or one .npz array may hold: 1 GiB, twice the largest
# MNIST-format file in use (EMNIST ByClass, 0.55 GB). A header that claims more is refused
# before anything is read, so a gzip bomb behind a lying header cannot fill the memory.
MAX_ARRAY_BYTES = 1 << 30

# The most points a generator makes (10 million 2-D points: 80 MB of float32).
MAX_GENERATED = 10_000_000


def check_count(n_samples: int, minimum: int = 1, what: str = "n_samples") -> int:
    """``n_samples`` as an int in ``minimum..MAX_GENERATED``, or ``ConfigError`` naming ``what``."""
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise errors.ConfigError(f"{what} must be an integer, got {n_samples!r}")
    if not minimum <= n_samples <= MAX_GENERATED:
        raise errors.ConfigError(
            f"{what} must be from {minimum} to {MAX_GENERATED:,}, got {n_samples}"
        )
    return int(n_samples)


def cannot_open(path: Path, exc: OSError, not_what: str = "") -> errors.DataError:
    """The one line for a user file that could not be opened (``not_what``: what it is not)."""
    if isinstance(exc, FileNotFoundError):
        return errors.DataError(f"{path}: file not found")
    if isinstance(exc, NotRegularFile):
        return errors.DataError(f"{path}: {exc.strerror}{not_what}")
    return errors.DataError(f"{path}: cannot read ({exc.strerror})")
