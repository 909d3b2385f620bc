"""Data sets for the lessons: gates, 2-D toy sets, shipped digits, (Fashion-)MNIST, user files.

Owns: the ``Dataset`` record, every built-in data set by name (``load``, ``list_datasets``),
the readers for IDX (MNIST, Fashion-MNIST), CSV and ``.npz`` files with their validation, and
the two data helpers the training code needs (``train_test_split``, ``one_hot``). For the
MNIST-format sets it also owns the one rule for whether a file is usable and how it compares
with the published one (``idx_status``): ``nnlite data list``, ``list_datasets`` and the
loaders all apply it, so they agree.

Contract: every loader returns ``X`` as C-contiguous float32 ``(n, d)`` with finite values;
class labels are int64 ``0..n_classes-1`` (never remapped: a file with other labels is an
error); regression targets are float32. Every problem with a file or its contents raises
``errors.DataError`` with a one-line message that names the file; a bad option raises
``errors.ConfigError`` that lists the valid choices. The readers treat every file as hostile:
whatever its bytes, they return a valid result or raise ``DataError``, and the memory they use
follows what the file really holds, never what a header claims.

Imports: numpy and the standard library, ``nnlite.errors``, ``nnlite.config`` (the only
reader of environment variables) and ``nnlite.download`` (where MNIST and Fashion-MNIST live,
their pinned checksums, and what counts as gzip). Never numba, typer or rich; never prints
(a usable file that is not the published one is reported with ``warnings.warn``).

Omits: downloading (``nnlite.download`` does it), augmentation, and feature scaling of user
files: CSV and ``.npz`` features are returned as stored.
"""

from __future__ import annotations

import contextlib
import csv
import importlib.resources
import io
import math
import os
import warnings
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from nnlite import config, download, errors

__all__ = [
    "NAMES",
    "Dataset",
    "gate",
    "list_datasets",
    "load",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_npz",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "one_hot",
    "read_idx",
    "train_test_split",
]


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


# --------------------------------------------------------------------------- logic gates

_GATES = {
    "and": (0, 0, 0, 1),
    "or": (0, 1, 1, 1),
    "nand": (1, 1, 1, 0),
    "xor": (0, 1, 1, 0),
}
_GATE_NOTES = {
    "and": "linearly separable",
    "or": "linearly separable",
    "nand": "linearly separable",
    "xor": "not linearly separable: a perceptron cannot learn it",
}


def gate(name: str) -> Dataset:
    """Truth table of a two-input logic gate.

    Parameters
    ----------
    name : {"and", "or", "nand", "xor"}

    Returns
    -------
    Dataset
        ``X`` float32 (4, 2) with rows (0,0), (0,1), (1,0), (1,1); ``y`` int64 (4,);
        ``n_classes`` 2.
    """
    key = name.lower()
    if key not in _GATES:
        raise errors.ConfigError(f"unknown gate {name!r}; valid gates: {', '.join(_GATES)}")
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array(_GATES[key], dtype=np.int64)
    return Dataset(key, X, y, 2, f"{key.upper()} gate truth table, {_GATE_NOTES[key]}")


# ------------------------------------------------------------------------------ generators


# The most points a generator makes (10 million 2-D points: 80 MB of float32).
MAX_GENERATED = 10_000_000


def _check_n(n_samples: int, minimum: int = 1, what: str = "n_samples") -> int:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise errors.ConfigError(f"{what} must be an integer, got {n_samples!r}")
    if not minimum <= n_samples <= MAX_GENERATED:
        raise errors.ConfigError(
            f"{what} must be from {minimum} to {MAX_GENERATED:,}, got {n_samples}"
        )
    return int(n_samples)


def _check_nonneg(value: float, what: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise errors.ConfigError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0:
        raise errors.ConfigError(f"{what} must be a finite number >= 0, got {value}")
    return value


def _finish(
    name: str, X: np.ndarray, y: np.ndarray, n_classes: int, rng: np.random.Generator, text: str
) -> Dataset:
    # The generators build the classes one after another; shuffling once here means a
    # mini-batch taken from the front is not all one class.
    order = rng.permutation(len(y))
    X = np.ascontiguousarray(X[order], dtype=np.float32)
    return Dataset(name, X, y[order].astype(np.int64), n_classes, text)


def _split_counts(n: int, k: int) -> list[int]:
    """``n`` examples over ``k`` classes as evenly as possible (first classes get the extra)."""
    return [n // k + (1 if j < n % k else 0) for j in range(k)]


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (the scikit-learn ``make_moons`` geometry).

    Class 0 is the upper arc ``(cos t, sin t)``, class 1 the lower arc
    ``(1 - cos t, 1/2 - sin t)``, ``t`` evenly spaced in [0, π]; then Gaussian noise with
    standard deviation ``noise`` is added to both coordinates. Rows are shuffled.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, 2) within about [-1, 2] × [-0.5, 1]; ``y`` int64, 2 classes.
    """
    n = _check_n(n_samples)
    noise = _check_nonneg(noise, "noise")
    rng = np.random.default_rng(config.check_seed(seed))
    n_out, n_in = _split_counts(n, 2)
    t_out = np.linspace(0.0, np.pi, n_out)
    t_in = np.linspace(0.0, np.pi, n_in)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            np.column_stack([1.0 - np.cos(t_in), 0.5 - np.sin(t_in)]),
        ]
    )
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.repeat([0, 1], [n_out, n_in])
    return _finish("moons", X, y, 2, rng, f"two interleaving moons, {n} points, noise {noise}")


def make_circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0
) -> Dataset:
    """A small circle inside a large one (the scikit-learn ``make_circles`` geometry).

    Class 0 lies on the unit circle, class 1 on the circle of radius ``factor``; angles are
    evenly spaced, then Gaussian noise with standard deviation ``noise`` is added.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, 2) within about [-1, 1]²; ``y`` int64, 2 classes.
    """
    n = _check_n(n_samples)
    noise = _check_nonneg(noise, "noise")
    if not 0.0 < float(factor) < 1.0:
        raise errors.ConfigError(f"factor must be strictly between 0 and 1, got {factor}")
    rng = np.random.default_rng(config.check_seed(seed))
    n_out, n_in = _split_counts(n, 2)
    t_out = np.linspace(0.0, 2.0 * np.pi, n_out, endpoint=False)
    t_in = np.linspace(0.0, 2.0 * np.pi, n_in, endpoint=False)
    X = np.concatenate(
        [
            np.column_stack([np.cos(t_out), np.sin(t_out)]),
            factor * np.column_stack([np.cos(t_in), np.sin(t_in)]),
        ]
    )
    X += rng.normal(0.0, noise, size=X.shape)
    y = np.repeat([0, 1], [n_out, n_in])
    text = f"two concentric circles, {n} points, noise {noise}, inner radius {factor}"
    return _finish("circles", X, y, 2, rng, text)


def make_spirals(
    n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int = 0
) -> Dataset:
    """Interleaved spiral arms, one per class (the CS231n "spiral data").

    Arm ``j`` has radius ``r`` running evenly from 0 to 1 and angle
    ``θ = 4j + 4r + noise·N(0, 1)``; a point is ``(r sin θ, r cos θ)``.
    Unlike the other generators, the noise perturbs the angle, not the coordinates.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, 2) within [-1, 1]²; ``y`` int64, ``n_classes`` classes.
    """
    k = _check_n(n_classes, 2, "n_classes")
    n = _check_n(n_samples, k, "n_samples")
    noise = _check_nonneg(noise, "noise")
    rng = np.random.default_rng(config.check_seed(seed))
    parts, labels = [], []
    for j, m in enumerate(_split_counts(n, k)):
        r = np.linspace(0.0, 1.0, m)
        theta = np.linspace(4.0 * j, 4.0 * (j + 1), m) + rng.normal(0.0, noise, size=m)
        parts.append(np.column_stack([r * np.sin(theta), r * np.cos(theta)]))
        labels.append(np.full(m, j))
    text = f"{k} interleaved spiral arms, {n} points, angle noise {noise}"
    return _finish("spirals", np.concatenate(parts), np.concatenate(labels), k, rng, text)


def make_blobs(
    n_samples: int = 300,
    centers: int | ArrayLike = 3,
    n_features: int = 2,
    std: float = 1.0,
    seed: int = 0,
) -> Dataset:
    """Isotropic Gaussian clusters, one class per cluster.

    Parameters
    ----------
    n_samples : int
        Total number of points, split as evenly as possible between the clusters.
    centers : int or array_like of shape (k, n_features)
        Number of clusters, whose centres are then drawn uniformly from the box
        [-5, 5]^n_features (scikit-learn uses [-10, 10]; the smaller box keeps the
        features near unit scale), or the centres themselves.
    n_features : int
        Dimension of each point; ignored when ``centers`` is an array.
    std : float
        Standard deviation of every cluster.
    seed : int
        Seed of ``np.random.default_rng``.

    Returns
    -------
    Dataset
        ``X`` float32 (n_samples, n_features); ``y`` int64, k classes.
    """
    std = _check_nonneg(std, "std")
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = _check_n(centers, 1, "centers")
        d = _check_n(n_features, 1, "n_features")
        if k * d > 2 * MAX_GENERATED:
            raise errors.ConfigError(f"{k:,} centres of {d:,} features are too many to draw")
        rng = np.random.default_rng(config.check_seed(seed))
        C = rng.uniform(-5.0, 5.0, size=(k, d))
    else:
        C = np.asarray(centers, dtype=np.float64)
        if C.ndim != 2 or C.shape[0] < 1 or C.shape[1] < 1 or not np.isfinite(C).all():
            raise errors.ConfigError(
                f"centers must be an integer or a finite (k, n_features) array, got shape {C.shape}"
            )
        k, d = C.shape
        rng = np.random.default_rng(config.check_seed(seed))
    n = _check_n(n_samples, k, "n_samples")
    if n * d > 2 * MAX_GENERATED:
        raise errors.ConfigError(
            f"{n:,} points of {d:,} features are more than the {2 * MAX_GENERATED:,} values "
            "a generator makes"
        )
    counts = _split_counts(n, k)
    y = np.repeat(np.arange(k), counts)
    X = C[y] + rng.normal(0.0, std, size=(n, d))
    text = f"{k} Gaussian blobs in {d}-D, {n} points, std {std}"
    return _finish("blobs", X, y, k, rng, text)


# ---------------------------------------------------------------------------- shipped data

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


# ------------------------------------------------------------------------------ IDX / MNIST

_IDX_LABELS = 0x00000801
_IDX_IMAGES = 0x00000803
# Read in bounded chunks: ``f.read(n)`` allocates ``n`` bytes up front, and ``n`` comes
# from a header that may be corrupt or hostile.
_CHUNK = 1 << 20
# The most data bytes one IDX file or one .npz array may hold: 1 GiB, twice the largest
# MNIST-format file in use (EMNIST ByClass, 0.55 GB). A header that claims more is refused
# before anything is read, so a gzip bomb behind a lying header cannot fill the memory.
MAX_ARRAY_BYTES = 1 << 30


def _read_at_most(f, limit: int) -> bytearray:
    """Read until EOF or ``limit`` bytes, never allocating more than what was really read."""
    out = bytearray()
    while len(out) < limit:
        chunk = f.read(min(_CHUNK, limit - len(out)))
        if not chunk:
            break
        out += chunk
    return out


class _IdxFile:
    """One IDX file, open: its header read and checked, its body not yet read.

    How the IDX readers keep memory bounded: the header is parsed and checked first (magic,
    type, ``MAX_ARRAY_BYTES``) and nothing is allocated from it; the caller allocates the
    result only once every header it depends on has passed (for a data set: the four files'
    headers cross-checked), then ``body`` reads the data chunk by chunk straight into it. An
    array from ``np.empty`` costs memory only where it is written, so a header that promises
    more than the file delivers costs what was delivered; a file that delivers what its header
    promises costs its result, the data's legitimate size.

    Attributes
    ----------
    path : Path
    shape : tuple of int
        ``(n,)`` for a label file, ``(n, rows, cols)`` for an image file.
    nbytes : int
        Data bytes the header promises, ``prod(shape)`` (at most ``MAX_ARRAY_BYTES``).
    """

    def __init__(self, path: Path, stream, compressed: bool) -> None:
        self.path = path
        self._stream = stream
        self._compressed = compressed
        head = self._small(4)
        if len(head) < 4:
            raise errors.DataError(f"{path}: truncated IDX header ({len(head)} of 4 magic bytes)")
        magic = int.from_bytes(head, "big")
        if magic >> 16 != 0 or magic & 0xFF not in (1, 3):
            raise errors.DataError(
                f"{path}: bad magic number 0x{magic:08X}, not an IDX label (0x{_IDX_LABELS:08X}) "
                f"or image (0x{_IDX_IMAGES:08X}) file"
            )
        if (magic >> 8) & 0xFF != 0x08:
            raise errors.DataError(
                f"{path}: IDX element type 0x{(magic >> 8) & 0xFF:02X} is not supported "
                "(only 0x08, unsigned byte)"
            )
        ndim = magic & 0xFF
        dims_raw = self._small(4 * ndim)
        if len(dims_raw) < 4 * ndim:
            raise errors.DataError(
                f"{path}: truncated IDX header ({4 + len(dims_raw)} of {4 + 4 * ndim} bytes)"
            )
        self.shape = tuple(int.from_bytes(dims_raw[4 * i : 4 * i + 4], "big") for i in range(ndim))
        self.nbytes = math.prod(self.shape)
        self.dims = "x".join(map(str, self.shape))
        if self.nbytes > MAX_ARRAY_BYTES:
            raise errors.DataError(
                f"{path}: header {self.dims} promises {self.nbytes:,} data bytes, more than the "
                f"{MAX_ARRAY_BYTES:,} nnlite reads from one file (corrupt header?)"
            )
        if not compressed:
            # An uncompressed file's length is known: a wrong one is refused before any
            # allocation, in the words the streaming check would use.
            have = os.fstat(stream.fileno()).st_size - 4 - 4 * ndim
            if have < self.nbytes:
                raise self._truncated(have)
            if have > self.nbytes:
                raise self._trailing()

    def _truncated(self, have: int) -> errors.DataError:
        return errors.DataError(
            f"{self.path}: truncated: header {self.dims} promises {self.nbytes} data bytes, "
            f"file has {have}"
        )

    def _trailing(self) -> errors.DataError:
        return errors.DataError(
            f"{self.path}: trailing bytes after the {self.nbytes} data bytes that header "
            f"{self.dims} promises"
        )

    def _small(self, n: int) -> bytes:
        try:
            return bytes(_read_at_most(self._stream, n))
        except download.READ_ERRORS as exc:
            raise download.read_error(self.path, exc, self._compressed) from None

    def _fill(self, view: np.ndarray) -> int:
        """Read into ``view`` (uint8) until it is full or the data ends; bytes read."""
        buffer = memoryview(view)
        got = 0
        try:
            while got < len(buffer):
                n = self._stream.readinto(buffer[got:])
                if not n:
                    break
                got += n
        except download.READ_ERRORS as exc:
            raise download.read_error(self.path, exc, self._compressed) from None
        return got

    def body(self, dest: np.ndarray | None = None):
        """Read the data: yield ``(offset, chunk)``, uint8 chunks of at most ``_CHUNK`` bytes.

        With ``dest`` (a flat uint8 array of ``nbytes``) the data is read in place and each
        chunk is a view of ``dest``; without, the chunks share one reused buffer. Raises
        ``DataError`` when the data ends before ``nbytes`` (truncated) or goes on after it
        (trailing bytes), or when the stream is corrupt.
        """
        scratch = None if dest is not None else np.empty(min(_CHUNK, self.nbytes), np.uint8)
        pos = 0
        while pos < self.nbytes:
            k = min(_CHUNK, self.nbytes - pos)
            view = dest[pos : pos + k] if dest is not None else scratch[:k]
            got = self._fill(view)
            if got < k:
                raise self._truncated(pos + got)
            yield pos, view
            pos += k
        if self._small(1):
            raise self._trailing()

    def allocate(self, shape: tuple[int, ...], dtype) -> np.ndarray:
        """``np.empty(shape, dtype)``; a ``MemoryError`` is one line naming the file."""
        try:
            return np.empty(shape, dtype)
        except MemoryError:
            size = math.prod(shape) * np.dtype(dtype).itemsize
            raise errors.DataError(
                f"{self.path}: not enough memory for the {size:,} bytes that header "
                f"{self.dims} needs"
            ) from None


@contextlib.contextmanager
def _open_idx(path: str | Path) -> Iterator[_IdxFile]:
    """Open ``path`` (a regular file only; gzip by its magic) and read its IDX header."""
    path = Path(path)
    with contextlib.ExitStack() as stack:
        try:
            stream, compressed = stack.enter_context(download.open_content(path))
        except download.READ_ERRORS as exc:
            raise download.read_error(path, exc, False) from None
        yield _IdxFile(path, stream, compressed)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (the MNIST format), gzip-compressed or raw.

    The header is a big-endian magic number ``0x0000TTDD`` (type ``TT``, here only 0x08 =
    unsigned byte; ``DD`` dimensions, here 1 for labels or 3 for images), then one
    big-endian uint32 per dimension, then the data in C order. A file whose first two bytes
    are the gzip magic is decompressed, whatever its name.

    Parameters
    ----------
    path : str or Path
        A regular file (a symbolic link to one is followed). A FIFO, a device (a link to
        ``/dev/zero``) or a directory is refused at once, without reading.

    Returns
    -------
    ndarray of uint8
        Shape ``(n,)`` for a label file, ``(n, rows, cols)`` for an image file.

    Raises
    ------
    errors.DataError
        Missing or unreadable file, not a regular file, a ``.gz`` name on a file that is not
        gzip, a corrupt gzip stream, a wrong magic number or type, a header that promises
        more than ``MAX_ARRAY_BYTES``, or a data length that differs from what the header
        promises (truncated, or trailing bytes). The array is allocated once from the header
        and the data read into it in chunks: memory is the result plus nothing that grows,
        and only what the file really delivers is ever touched.
    """
    with _open_idx(path) as f:
        out = f.allocate(f.shape, np.uint8)
        for _ in f.body(out.reshape(-1)):
            pass
    return out


# The four standard files of an IDX data set (MNIST, Fashion-MNIST): key -> name without .gz.
MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# Label i means FASHION_MNIST_CLASSES[i] (the Zalando README, torchvision's FashionMNIST).
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
# name: (title, what the images show, class names)
_IDX_SETS = {
    "mnist": ("MNIST", "handwritten digits", None),
    "fashion-mnist": ("Fashion-MNIST", "Zalando clothing images", FASHION_MNIST_CLASSES),
}
_N_CLASSES = 10


def _idx_locate(name: str, data_dir: str | Path | None) -> dict[str, Path] | str:
    """The four files of IDX set ``name``, or a one-line explanation of what is missing where."""
    folder, found = download.locate(name, data_dir)
    if all(found.values()):
        return {key: found[f"{stem}.gz"] for key, stem in MNIST_FILES.items()}  # type: ignore[misc]
    missing = next(file for file, where in found.items() if where is None)
    searched = " or ".join(str(d) for d in download.candidate_dirs(name, data_dir))
    return (
        f"{_IDX_SETS[name][0]} file {missing} (or {missing.removesuffix('.gz')}) not found in "
        f"{searched}; download it with `{download.command(name, data_dir)}`, or point at a "
        "folder holding the four IDX files with --data-dir DIR or NNLITE_DATA=DIR"
    )


def _idx_headers_problem(idx: dict[str, _IdxFile]) -> tuple[str, errors.DataError] | None:
    """Cross-check the four headers of a set before any data is read: ``(key, error)`` or None.

    Images are 3-D with nonzero rows and columns, labels 1-D and not empty, as many labels as
    images, and test images of the training images' size.
    """
    for part in ("train", "test"):
        images, labels = idx[f"{part}_images"], idx[f"{part}_labels"]
        if len(images.shape) != 3:
            return f"{part}_images", errors.DataError(
                f"{images.path}: expected an image file (3-D), got {len(images.shape)}-D"
            )
        if len(labels.shape) != 1:
            return f"{part}_labels", errors.DataError(
                f"{labels.path}: expected a label file (1-D), got {len(labels.shape)}-D"
            )
        if images.shape[0] != labels.shape[0]:
            return f"{part}_images", errors.DataError(
                f"{images.path}: {images.shape[0]} images but {labels.path.name} has "
                f"{labels.shape[0]} labels"
            )
        if labels.shape[0] == 0:
            return f"{part}_labels", errors.DataError(f"{labels.path}: no examples")
        if images.shape[1] == 0 or images.shape[2] == 0:
            return f"{part}_images", errors.DataError(
                f"{images.path}: images of {images.shape[1]}x{images.shape[2]} pixels have "
                "no pixels"
            )
    train, test = idx["train_images"].shape[1:], idx["test_images"].shape[1:]
    if train != test:
        return "test_images", errors.DataError(
            f"{idx['test_images'].path}: test images are {test[0]}x{test[1]}, "
            f"training images {train[0]}x{train[1]}"
        )
    return None


def _check_labels(f: _IdxFile, offset: int, chunk: np.ndarray) -> None:
    """Labels of an IDX set are 0..9: the first one that is not names its index."""
    if chunk.size and chunk.max() >= _N_CLASSES:
        bad = int(np.argmax(chunk >= _N_CLASSES))
        raise errors.DataError(
            f"{f.path}: label {chunk[bad]} at index {offset + bad} is not 0..{_N_CLASSES - 1}"
        )


def _read_labels(f: _IdxFile) -> np.ndarray:
    """The labels of an opened 1-D file, checked chunk by chunk; int64 (n,)."""
    raw = f.allocate(f.shape, np.uint8)
    for offset, chunk in f.body(raw):
        _check_labels(f, offset, chunk)
    return raw.astype(np.int64)


def _read_images(f: _IdxFile) -> np.ndarray:
    """The images of an opened 3-D file as float32 (n, rows*cols), pixels / 255.

    Each uint8 chunk is converted into its slice of the preallocated result: the peak is the
    float32 result plus one chunk, never a uint8 copy of the whole file beside it.
    """
    n, rows, cols = f.shape
    X = f.allocate((n, rows * cols), np.float32)
    flat = X.reshape(-1)
    for offset, chunk in f.body():
        # uint8 / float32(255) is computed in float32 (as astype(float32) / 255 would be).
        np.divide(chunk, np.float32(255.0), out=flat[offset : offset + len(chunk)])
    return X


def _scan(f: _IdxFile) -> None:
    """Read an opened file's data as the loader would, keeping nothing (``nnlite data list``)."""
    for offset, chunk in f.body():
        if len(f.shape) == 1:
            _check_labels(f, offset, chunk)


def _reason(exc: errors.DataError, path: Path) -> str:
    """An error's message without the file name it starts with: a ``data list`` detail."""
    return str(exc).removeprefix(f"{path}: ")


def _idx_match_state(name: str, spec: download.RemoteFile, path: Path) -> tuple[str, str]:
    """State of a set's file as far as its comparison with the publication tells.

    The first half of the one rule that ``nnlite data list`` (``idx_status``) and the loader
    (``_load_idx_set``) share; the second half is that reading the data (``body``) must
    succeed, and a file whose data is damaged is ``"unusable"`` whatever this says.

    Returns ``(state, detail)``: ``"verified"`` (the published ``.gz``, or its content
    compressed otherwise or not at all), ``"other set"`` (refused: the other set's file),
    ``"differs"`` (used with a warning), ``"unverified"`` (used with a warning: no digest of
    the content is pinned) or ``"unusable"`` (unreadable; ``detail`` is the reason).
    """
    title = _IDX_SETS[name][0]
    try:
        match = download.compare(path, spec)
    except errors.DataError as exc:
        return "unusable", _reason(exc, path)
    if match.kind == "other set":
        other = _IDX_SETS[match.other][0]
        how = " (compressed otherwise)" if match.by_content else ""
        return "other set", (
            f"this is the published {other} file{how}, not {title}'s; use --dataset "
            f"{match.other}, or point --data-dir at the {title} files"
        )
    state = {"published": "verified", "same content": "verified", "unknown": "unverified"}
    return state.get(match.kind, "differs"), match.detail


def idx_status(
    name: str, data_dir: str | Path | None = None
) -> tuple[Path, list[download.FileStatus]]:
    """The folder of IDX set ``name`` and the state of each of its four files.

    This is ``nnlite.download.status`` (``nnlite data list``) and what ``list_datasets``
    reports as ``available``; it applies the loader's rule (``_idx_match_state``, the header
    cross-check, the data read in full without keeping it), so a set is listed usable exactly
    when ``load`` would load it. Files that are the published ones are not read beyond their
    checksum. Memory: one chunk per file.

    Returns
    -------
    folder : Path
        The one the loaders pick when it holds any file, else where ``download`` writes.
    files : list of download.FileStatus
        In the set's order; states as in ``download.FileStatus``.
    """
    src = download.source(name)
    where, found = download.locate(src.name, data_dir)
    if not any(found.values()):
        where = download.target_dir(src.name, data_dir)
    specs = {spec.name: spec for spec in src.files}
    keys = dict(zip((f"{stem}.gz" for stem in MNIST_FILES.values()), MNIST_FILES))
    out: dict[str, download.FileStatus] = {}
    with contextlib.ExitStack() as stack:
        # In the loader's order: every header, the cross-check, the comparison, the data.
        opened: dict[str, _IdxFile] = {}
        for spec in src.files:
            path = found[spec.name]
            if path is None:
                part = where / f"{spec.name}.part"
                done = download.partial(part)
                if done is not None:
                    detail = f"{done:,} of {spec.size:,} bytes"
                    out[spec.name] = download.FileStatus(spec.name, part, "partial", detail)
                else:
                    out[spec.name] = download.FileStatus(spec.name, where / spec.name, "missing")
                continue
            try:
                opened[keys[spec.name]] = stack.enter_context(_open_idx(path))
            except errors.DataError as exc:
                out[spec.name] = download.FileStatus(
                    path.name, path, "unusable", _reason(exc, path)
                )
        problem = _idx_headers_problem(opened) if len(opened) == len(MNIST_FILES) else None
        for key, f in opened.items():
            spec_name = f"{MNIST_FILES[key]}.gz"
            state, detail = _idx_match_state(src.name, specs[spec_name], f.path)
            if problem is not None and problem[0] == key:
                state, detail = "unusable", _reason(problem[1], f.path)
            elif state in ("differs", "unverified"):
                # Not the published file: read it through, as the loader would (a file that
                # fails the cross-check is not: the set is refused whatever its data).
                try:
                    _scan(f)
                except errors.DataError as exc:
                    state, detail = "unusable", _reason(exc, f.path)
            out[spec_name] = download.FileStatus(f.path.name, f.path, state, detail)
    return where, [out[spec.name] for spec in src.files]


def _load_idx_set(name: str, data_dir: str | Path | None) -> Dataset:
    """MNIST or Fashion-MNIST: the same four file names, the same format, other pictures.

    In this order, so that a bad set costs nothing: the four headers are read and
    cross-checked; each file is compared with the publication (``_idx_match_state``: another
    set's file or an unreadable one is refused); only then is any data read, straight into
    the result arrays. Files that are readable but not the published ones are used, and one
    warning names them with their ``nnlite data list`` state.
    """
    title, what, class_names = _IDX_SETS[name]
    src = download.source(name)
    found = _idx_locate(name, data_dir)
    if isinstance(found, str):
        raise errors.DataError(found)
    with contextlib.ExitStack() as stack:
        idx = {key: stack.enter_context(_open_idx(path)) for key, path in found.items()}
        problem = _idx_headers_problem(idx)
        if problem is not None:
            raise problem[1]
        specs = {spec.name: spec for spec in src.files}
        unpublished = []
        for key, path in found.items():
            state, detail = _idx_match_state(name, specs[f"{MNIST_FILES[key]}.gz"], path)
            if state in ("other set", "unusable"):
                raise errors.DataError(f"{path}: {detail}")
            if state != "verified":
                unpublished.append(f"{path.name} {state}")
        y = _read_labels(idx["train_labels"])
        X = _read_images(idx["train_images"])
        y_test = _read_labels(idx["test_labels"])
        X_test = _read_images(idx["test_images"])
    if unpublished:
        folder = found["train_images"].parent
        warnings.warn(
            f"{folder}: not the published {title} files, used anyway: {', '.join(unpublished)} "
            "(`nnlite data list` says how)",
            stacklevel=3,
        )
    shape = idx["train_images"].shape[1:]
    text = (
        f"{title} {what}, {len(y)} training + {len(y_test)} test images "
        f"of {shape[0]}x{shape[1]} pixels, 10 classes"
    )
    return Dataset(name, X, y, 10, text, shape, X_test, y_test, class_names)


def load_mnist(data_dir: str | Path | None = None) -> Dataset:
    """MNIST handwritten digits from the four standard IDX files.

    Parameters
    ----------
    data_dir : str or Path, optional
        Folder holding ``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``,
        ``t10k-images-idx3-ubyte.gz`` and ``t10k-labels-idx1-ubyte.gz`` (or the same names
        without ``.gz``), in its ``mnist/`` sub-folder or directly. Default: the data home
        (``$NNLITE_DATA``, else the per-user cache), where ``nnlite data download mnist``
        writes.

    Returns
    -------
    Dataset
        ``X`` float32 (60000, 784) and ``X_test`` (10000, 784), pixels / 255 in [0, 1];
        ``y``, ``y_test`` int64 in 0..9; ``image_shape`` (28, 28).

    Raises
    ------
    errors.DataError
        A file is missing (the message says which, where it looked and how to get it),
        malformed, Fashion-MNIST's, or images and labels disagree.
    """
    return _load_idx_set("mnist", data_dir)


def load_fashion_mnist(data_dir: str | Path | None = None) -> Dataset:
    """Fashion-MNIST: Zalando's clothing images, a drop-in replacement for MNIST.

    The same four file names, format, sizes and split as ``load_mnist`` (which see), looked
    for in ``fashion-mnist/`` instead of ``mnist/``; ``nnlite data download fashion-mnist``
    gets them. The returned ``Dataset`` also has ``class_names`` = ``FASHION_MNIST_CLASSES``
    (label 0 is "T-shirt/top", 9 is "Ankle boot").
    """
    return _load_idx_set("fashion-mnist", data_dir)


# ---------------------------------------------------------------------------- user files

TASKS = ("auto", "classification", "regression")


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise errors.ConfigError(f"unknown task {task!r}; valid tasks: {', '.join(TASKS)}")
    return task


def _as_target(t: np.ndarray, path: Path, where, task: str) -> tuple[np.ndarray, int | None]:
    """Turn a float64 target into (labels, n_classes) or (float32 values, None).

    ``where(i)`` names row ``i`` in messages ("line 7" for CSV, "y[6]" for npz). With
    ``task="auto"`` an all-integer target means classification and a target with no (or
    few) integers means regression; a mostly-integer target with a stray fraction is taken
    for a label column with a typo and rejected, so a mistake is not silently a regression.
    """
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.argwhere(bad)[0][0])
        raise errors.DataError(f"{path}: {where(i)}: target {t[i]} is not finite")
    is_int = t == np.round(t)
    regression = task == "regression" or t.ndim != 1
    if task == "auto" and not is_int.all() and is_int.mean() <= 0.5:
        regression = True
    if regression:
        if task == "classification":
            raise errors.DataError(f"{path}: class labels must be 1-D, got shape {t.shape}")
        y = _float32(t)
        if not np.isfinite(y).all():
            i = int(np.argwhere(~np.isfinite(y))[0][0])
            raise errors.DataError(f"{path}: {where(i)}: target {t[i]} overflows float32")
        return y, None
    if not is_int.all():
        i = int(np.argmin(is_int))
        raise errors.DataError(
            f"{path}: {where(i)}: label {t[i]} is not an integer, but {int(is_int.sum())} of "
            f"{len(t)} targets are; labels must be integers 0..k-1 (task='regression' for a "
            "numeric target)"
        )
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
            f"{', '.join(shown)}{more} never occur (labels run {distinct[0]:g}.."
            f"{distinct[-1]:g}; task='regression' for a numeric target)"
        )
    return t.astype(np.int64), len(distinct)


def _as_test_target(t: np.ndarray, path: Path, n_classes: int | None) -> np.ndarray:
    """Validate ``y_test`` against the classes (or the regression) of ``y``."""
    if not np.isfinite(t).all():
        i = int(np.argwhere(~np.isfinite(t))[0][0])
        raise errors.DataError(f"{path}: y_test[{i}] is not finite")
    if n_classes is None:
        y = _float32(t)
        if not np.isfinite(y).all():
            raise errors.DataError(f"{path}: y_test overflows float32")
        return y
    outside = (t != np.round(t)) | (t < 0) | (t >= n_classes)
    if t.ndim != 1 or outside.any():
        i = int(np.argmax(outside)) if t.ndim == 1 else 0
        raise errors.DataError(
            f"{path}: y_test[{i}] = {t.flat[i]} is not a label in 0..{n_classes - 1}"
        )
    return t.astype(np.int64)


def _float32(a: np.ndarray) -> np.ndarray:
    """Cast to float32; values beyond its range become inf, which the callers report."""
    with np.errstate(over="ignore"):
        return a.astype(np.float32)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _target_column(target: str | int, header: list[str] | None, ncol: int, path: Path) -> int:
    if isinstance(target, str):
        if header is not None and target in header:
            return header.index(target)
        try:
            # The CLI passes every option as text: "-1" or "3" mean a column index.
            target = int(target)
        except ValueError:
            columns = f"columns: {', '.join(header)}" if header else "the file has no header row"
            raise errors.ConfigError(
                f"{path}: no target column named {target!r}; {columns}"
            ) from None
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise errors.ConfigError(f"target must be a column name or index, got {target!r}")
    if not -ncol <= target < ncol:
        raise errors.ConfigError(
            f"{path}: target column {target} out of range for {ncol} columns "
            f"(use 0..{ncol - 1} or -{ncol}..-1)"
        )
    return int(target) % ncol


def load_csv(path: str | Path, *, target: str | int = -1, task: str = "auto") -> Dataset:
    """A numeric CSV file: one example per row, one column of it the target.

    Parameters
    ----------
    path : str or Path
        Comma-separated numbers. The first row is a header when any of its fields is not
        a number. Blank lines are skipped.
    target : str or int
        The target column: an index (negative counts from the end; default the last
        column), a header name, or the text of an index such as ``"-1"``.
    task : {"auto", "classification", "regression"}
        ``"auto"``: a target of integers 0..k-1 (each present) is a class label; a target
        of mostly non-integers is a regression target. Labels are never remapped.

    Returns
    -------
    Dataset
        ``X`` float32 (n, columns - 1) as stored (not rescaled); ``y`` int64 labels or
        float32 values; ``name`` is the file's stem.

    Raises
    ------
    errors.DataError
        Missing or empty file, ragged rows, a non-number, NaN or inf in a feature (naming
        the first bad line and column), or labels that are not integers 0..k-1 (naming the
        line).
    errors.ConfigError
        Unknown target column or task.
    """
    path = Path(path)
    _check_task(task)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise errors.DataError(f"{path}: file not found") from None
    except UnicodeDecodeError:
        raise errors.DataError(f"{path}: not a text (UTF-8) CSV file") from None
    except OSError as exc:
        raise errors.DataError(f"{path}: cannot read ({exc.strerror})") from None
    reader = csv.reader(io.StringIO(text))
    lines: list[int] = []
    rows: list[list[str]] = []
    try:
        for row in reader:
            fields = [field.strip() for field in row]
            if any(fields):
                lines.append(reader.line_num)
                rows.append(fields)
    except csv.Error as exc:
        raise errors.DataError(f"{path}: line {reader.line_num}: bad CSV ({exc})") from None
    if not rows:
        raise errors.DataError(f"{path}: empty file, no rows")
    header = None
    if not all(_is_number(field) for field in rows[0]):
        header, rows, lines = rows[0], rows[1:], lines[1:]
        if not rows:
            raise errors.DataError(f"{path}: a header row but no data rows")
    ncol = len(header) if header is not None else len(rows[0])
    for line, row in zip(lines, rows, strict=True):
        if len(row) != ncol:
            raise errors.DataError(
                f"{path}: line {line} has {len(row)} columns, expected {ncol} like line "
                f"{lines[0] - (header is not None)}"
            )
    if ncol < 2:
        raise errors.DataError(f"{path}: needs at least one feature column and a target column")
    tcol = _target_column(target, header, ncol, path)

    def column(j: int) -> str:
        return f"column {j + 1}" + (f" ({header[j]!r})" if header is not None else "")

    try:
        A = np.array(rows, dtype=np.float64)
    except ValueError as exc:
        # Slow path only to name the culprit; numpy's message does not say where it is.
        for line, row in zip(lines, rows, strict=True):
            for j, field in enumerate(row):
                if not _is_number(field):
                    raise errors.DataError(
                        f"{path}: line {line}, {column(j)}: {field!r} is not a number"
                    ) from None
        # Python's float() and numpy disagree on some spelling: still the file's problem.
        raise errors.DataError(f"{path}: not all fields are numbers ({exc})") from None
    feature_cols = [j for j in range(ncol) if j != tcol]
    X = np.ascontiguousarray(_float32(A[:, feature_cols]))
    # Checked after the cast so that 1e39 (finite in float64, inf in float32) is caught too.
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise errors.DataError(
            f"{path}: line {lines[i]}, {column(feature_cols[j])}: {A[i, feature_cols[j]]} "
            "is not a finite float32 feature"
        )
    y, n_classes = _as_target(A[:, tcol], path, lambda i: f"line {lines[i]}", task)
    kind = f"{n_classes} classes" if n_classes is not None else "regression"
    text = f"{path.name}: {len(y)} rows, {X.shape[1]} features, {kind}"
    return Dataset(path.stem, X, y, n_classes, text)


def _npz_features(A: np.ndarray, path: Path, key: str) -> tuple[np.ndarray, tuple | None]:
    """``X`` of an npz as float32 (n, d) plus the image shape when it was (n, rows, cols)."""
    if A.dtype.kind not in "biuf":
        raise errors.DataError(f"{path}: {key} has dtype {A.dtype}, expected numbers")
    if A.ndim not in (2, 3) or A.shape[0] == 0 or A.size == 0:
        raise errors.DataError(
            f"{path}: {key} must be (n, d) or (n, rows, cols) with n, d >= 1, got {A.shape}"
        )
    X = _float32(A)
    bad = ~np.isfinite(X)
    if bad.any():
        idx = tuple(int(v) for v in np.argwhere(bad)[0])
        raise errors.DataError(
            f"{path}: {key}[{', '.join(map(str, idx))}] = {A[idx]} is not a finite float32"
        )
    image_shape = (int(A.shape[1]), int(A.shape[2])) if A.ndim == 3 else None
    return np.ascontiguousarray(X.reshape(len(X), -1)), image_shape


_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"
# Anything the zip and .npy layers can raise on damaged bytes.
_ARCHIVE_ERRORS = (
    OSError,
    EOFError,
    ValueError,
    zipfile.BadZipFile,
    zlib.error,
    NotImplementedError,  # an unknown compression method
    RuntimeError,  # an encrypted member
)


def _npz_arrays(path: Path) -> dict[str, np.ndarray]:
    """``X``, ``y`` and, if present, ``X_test``, ``y_test`` of an ``.npz`` archive.

    Read member by member with ``zipfile`` rather than ``np.load``: numpy allocates an array
    of the size its ``.npy`` header claims before reading a compressed member, so a header
    that lies would cost that memory. Here a header is checked against ``MAX_ARRAY_BYTES`` and
    the member's size first, and only the bytes really there are read.
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(6)
    except FileNotFoundError:
        raise errors.DataError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise errors.DataError(f"{path}: is a directory, not an .npz archive") from None
    except OSError as exc:
        raise errors.DataError(f"{path}: cannot read ({exc.strerror})") from None
    if magic == _NPY_MAGIC:
        raise errors.DataError(f"{path}: holds a single array, not an .npz archive with X and y")
    if magic[:4] not in _ZIP_MAGICS:
        raise errors.DataError(f"{path}: not a readable .npz archive (not a zip file)")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {name.removesuffix(".npy"): name for name in archive.namelist()}
            for key in ("X", "y"):
                if key not in members:
                    found = ", ".join(members) or "none"
                    raise errors.DataError(f"{path}: no array {key!r} (arrays found: {found})")
            if ("X_test" in members) != ("y_test" in members):
                raise errors.DataError(f"{path}: has only one of X_test and y_test")
            return {
                key: _npz_member(archive, members[key], path, key)
                for key in ("X", "y", "X_test", "y_test")
                if key in members
            }
    except _ARCHIVE_ERRORS as exc:
        if isinstance(exc, errors.DataError):
            raise
        raise errors.DataError(f"{path}: not a readable .npz archive ({exc})") from None


def _npz_member(archive: zipfile.ZipFile, member: str, path: Path, key: str) -> np.ndarray:
    """One ``.npy`` member, its header checked before any data is read."""
    info = archive.getinfo(member)
    fmt = np.lib.format
    try:
        with archive.open(info) as f:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(f)
            else:
                raise errors.DataError(
                    f"{path}: array {key!r} is in .npy format {version[0]}.{version[1]}, "
                    "which nnlite does not read"
                )
            if dtype.hasobject:
                raise errors.DataError(
                    f"{path}: array {key!r} holds Python objects (pickle); "
                    "nnlite loads plain numeric arrays only"
                )
            if dtype.kind not in "biuf":
                raise errors.DataError(f"{path}: array {key!r} has dtype {dtype}, expected numbers")
            if any(d < 0 for d in shape):
                raise errors.DataError(f"{path}: array {key!r} has a negative shape {shape}")
            count = math.prod(shape)
            nbytes = count * dtype.itemsize
            promise = f"{path}: array {key!r}: header {shape} {dtype} promises {nbytes:,} bytes"
            if nbytes > MAX_ARRAY_BYTES:
                raise errors.DataError(f"{promise}, more than the {MAX_ARRAY_BYTES:,} nnlite reads")
            if nbytes > info.file_size:
                raise errors.DataError(f"{promise}, the archive member holds {info.file_size:,}")
            # One byte more than promised: getting it means trailing data.
            data = _read_at_most(f, nbytes + 1)
    except _ARCHIVE_ERRORS as exc:
        if isinstance(exc, errors.DataError):
            raise
        raise errors.DataError(f"{path}: array {key!r} is unreadable ({exc})") from None
    if len(data) != nbytes:
        what = "truncated" if len(data) < nbytes else "trailing bytes after the data"
        raise errors.DataError(f"{promise}: {what}")
    flat = np.frombuffer(data, dtype=dtype) if count else np.zeros(0, dtype=dtype)
    try:
        return flat.reshape(shape, order="F" if fortran else "C")
    except ValueError as exc:
        raise errors.DataError(f"{path}: array {key!r} has an impossible shape ({exc})") from None


def load_npz(path: str | Path, *, task: str = "auto") -> Dataset:
    """An ``.npz`` archive with arrays ``X`` and ``y`` (and optionally ``X_test``, ``y_test``).

    Parameters
    ----------
    path : str or Path
        Written by ``np.savez(path, X=X, y=y)``. ``X`` is (n, d), or (n, rows, cols) for
        images, which are flattened and their ``image_shape`` recorded. Read with
        ``allow_pickle=False``: an archive holding Python objects is refused, not unpickled.
    task : {"auto", "classification", "regression"}
        As in ``load_csv``; a 2-D ``y`` is always a regression target.

    Returns
    -------
    Dataset
        ``X`` float32 (n, d) as stored (not rescaled); ``y`` int64 labels 0..k-1 or float32.

    Raises
    ------
    errors.DataError
        Not an npz archive, pickled objects, missing ``X`` or ``y``, mismatched lengths,
        non-finite values, or labels that are not integers 0..k-1.
    """
    path = Path(path)
    _check_task(task)
    arrays = _npz_arrays(path)
    X, image_shape = _npz_features(arrays["X"], path, "X")
    y_raw = arrays["y"]
    if y_raw.dtype.kind not in "biuf" or y_raw.ndim not in (1, 2):
        raise errors.DataError(
            f"{path}: y must be numbers of shape (n,) or (n, k), got {y_raw.dtype} {y_raw.shape}"
        )
    if len(y_raw) != len(X):
        raise errors.DataError(f"{path}: X has {len(X)} rows but y has {len(y_raw)}")
    y, n_classes = _as_target(y_raw.astype(np.float64), path, lambda i: f"y[{i}]", task)
    X_test = y_test = None
    if "X_test" in arrays:
        X_test, test_shape = _npz_features(arrays["X_test"], path, "X_test")
        if test_shape != image_shape or X_test.shape[1] != X.shape[1]:
            raise errors.DataError(
                f"{path}: X_test rows have shape {arrays['X_test'].shape[1:]}, "
                f"X rows {arrays['X'].shape[1:]}"
            )
        t = arrays["y_test"]
        if t.dtype.kind not in "biuf" or t.shape[1:] != y_raw.shape[1:] or len(t) != len(X_test):
            raise errors.DataError(
                f"{path}: y_test has shape {t.shape}, expected ({len(X_test)},"
                f"{''.join(f' {s},' for s in y_raw.shape[1:])[:-1] if y_raw.ndim > 1 else ''})"
            )
        y_test = _as_test_target(t.astype(np.float64), path, n_classes)
    kind = f"{n_classes} classes" if n_classes is not None else "regression"
    test = f" + {len(X_test)} test" if X_test is not None else ""
    text = f"{path.name}: {len(X)}{test} rows, {X.shape[1]} features, {kind}"
    return Dataset(path.stem, X, y, n_classes, text, image_shape, X_test, y_test)


# ------------------------------------------------------------------------ one entry point

GATES = tuple(_GATES)
GENERATORS = {
    "moons": make_moons,
    "circles": make_circles,
    "spirals": make_spirals,
    "blobs": make_blobs,
}
NAMES = (*GATES, *GENERATORS, "digits", *_IDX_SETS)

# name: (kind, samples, features, classes, description) for list_datasets; samples are
# the generators' defaults and MNIST's training split.
_CATALOG = {
    **{g: ("gate", 4, 2, 2, f"{g.upper()} gate truth table, {_GATE_NOTES[g]}") for g in GATES},
    "moons": ("generated", 200, 2, 2, "two interleaving half circles"),
    "circles": ("generated", 200, 2, 2, "a small circle inside a large one"),
    "spirals": ("generated", 300, 2, 3, "three interleaved spiral arms (CS231n)"),
    "blobs": ("generated", 300, 2, 3, "three Gaussian clusters"),
    "digits": ("shipped", 1797, 64, 10, "UCI optical handwritten digits, 8x8 pixels"),
    "mnist": (
        "external",
        60000,
        784,
        10,
        "MNIST handwritten digits, 28x28 pixels, plus 10,000 test images",
    ),
    "fashion-mnist": (
        "external",
        60000,
        784,
        10,
        "Fashion-MNIST clothing images, 28x28 pixels, plus 10,000 test images",
    ),
}


def load(
    name: str,
    *,
    data_dir: str | Path | None = None,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    target: str | int | None = None,
) -> Dataset:
    """Any data set by name or file path: the single entry point.

    Parameters
    ----------
    name : str
        A built-in name (see ``NAMES``: and, or, nand, xor, moons, circles, spirals, blobs,
        digits, mnist, fashion-mnist; case-insensitive), or a path to a ``.csv`` or ``.npz``
        file.
    data_dir : str or Path, optional
        Where MNIST or Fashion-MNIST lives (see ``load_mnist``); ignored by the others.
    n_samples, noise : optional
        Generator settings; None keeps the generator's default. Giving either for a data
        set that is not generated raises ``ConfigError`` rather than being ignored.
    seed : int
        Seed of the generators; the other data sets are fixed and ignore it.
    target : str or int, optional
        Target column of a ``.csv`` file (see ``load_csv``); an error for anything else.

    Raises
    ------
    errors.ConfigError
        Unknown name (the message lists the valid ones) or an option that does not apply.
    errors.DataError
        From the loader.
    """
    key = name.strip().lower()
    if key in GENERATORS:
        if target is not None:
            raise errors.ConfigError(f"target applies only to .csv files, not to {key!r}")
        kwargs = {"seed": seed}
        if n_samples is not None:
            kwargs["n_samples"] = n_samples
        if noise is not None:
            if key == "blobs":
                kwargs["std"] = noise  # a blob's spread is its noise
            else:
                kwargs["noise"] = noise
        return GENERATORS[key](**kwargs)
    if n_samples is not None or noise is not None:
        raise errors.ConfigError(
            f"n_samples and noise apply only to the generated data sets "
            f"({', '.join(GENERATORS)}), not to {name!r}"
        )
    if target is not None and not key.endswith(".csv"):
        raise errors.ConfigError(f"target applies only to .csv files, not to {name!r}")
    if key in _GATES:
        return gate(key)
    if key == "digits":
        return load_digits()
    if key in _IDX_SETS:
        return _load_idx_set(key, data_dir)
    if key.endswith(".csv"):
        return load_csv(name, target=-1 if target is None else target)
    if key.endswith(".npz"):
        return load_npz(name)
    if Path(name).is_file():
        raise errors.ConfigError(f"{name}: unsupported file type; nnlite reads .csv and .npz files")
    raise errors.ConfigError(
        f"unknown data set {name!r}; valid names: {', '.join(NAMES)}, "
        "or a path to a .csv or .npz file"
    )


def _digits_available() -> bool:
    try:
        if (importlib.resources.files("nnlite.data") / DIGITS_FILE).is_file():
            return True
    except ModuleNotFoundError:
        pass
    return (config.REPO_DATA_DIR / DIGITS_FILE).is_file()


def _idx_available(name: str, data_dir: str | Path | None) -> bool:
    """``load`` would load the set: all four files are there and each is in a usable state."""
    _, files = idx_status(name, data_dir)
    return all(f.state in download.USABLE for f in files)


def list_datasets(data_dir: str | Path | None = None) -> list[dict]:
    """One dict per built-in data set, without loading any of them.

    Parameters
    ----------
    data_dir : str or Path, optional
        Where to look for MNIST and Fashion-MNIST (default: the data home, ``$NNLITE_DATA``
        or the per-user cache). Their ``available`` is decided by ``idx_status``, the rule
        ``load`` applies: true exactly when ``load`` would load them (the published files
        are only checksummed; other files are read through, without keeping their data).

    Returns
    -------
    list of dict
        Keys ``name``, ``kind`` ("gate", "generated", "shipped" or "external": files you
        download or provide), ``samples`` (training examples; the default for generators),
        ``features``, ``classes``,
        ``description`` and ``available`` (bool), in the order of ``NAMES``.
    """
    out = []
    for name in NAMES:
        kind, samples, features, classes, text = _CATALOG[name]
        if name == "digits":
            available = _digits_available()
        elif name in _IDX_SETS:
            available = _idx_available(name, data_dir)
        else:
            available = True
        out.append(
            {
                "name": name,
                "kind": kind,
                "samples": samples,
                "features": features,
                "classes": classes,
                "description": text,
                "available": available,
            }
        )
    return out


# -------------------------------------------------------------------------------- helpers


def train_test_split(
    X: np.ndarray,
    y: np.ndarray,
    test_fraction: float = 0.2,
    seed: int = 0,
    stratify: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Split rows into a training and a test part, at random but reproducibly.

    Parameters
    ----------
    X : ndarray, shape (n, ...)
    y : ndarray, shape (n,) or (n, k)
    test_fraction : float
        Share of rows for the test part, strictly between 0 and 1; the test part gets
        ``round(test_fraction * n)`` rows.
    seed : int
        Seed of ``np.random.default_rng``.
    stratify : bool
        For integer labels, give each class the same share in both parts (up to rounding,
        largest remainders first). Ignored for regression targets.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
        Copies (C-contiguous), rows shuffled.

    Raises
    ------
    errors.ConfigError
        ``test_fraction`` outside (0, 1) or leaving a part empty.
    errors.DataError
        ``X`` and ``y`` of different lengths.
    """
    X = np.asarray(X)
    y = np.asarray(y)
    if len(X) != len(y):
        raise errors.DataError(f"X has {len(X)} rows but y has {len(y)}")
    try:
        fraction = float(test_fraction)
    except (TypeError, ValueError):
        raise errors.ConfigError(f"test_fraction must be a number, got {test_fraction!r}") from None
    if not 0.0 < fraction < 1.0:
        raise errors.ConfigError(f"test_fraction must be strictly between 0 and 1, got {fraction}")
    n = len(y)
    n_test = math.floor(fraction * n + 0.5)
    if n_test == 0 or n_test == n:
        part = "test" if n_test == 0 else "training"
        raise errors.ConfigError(
            f"test_fraction {fraction} of {n} samples leaves the {part} part empty"
        )
    rng = np.random.default_rng(config.check_seed(seed))
    if stratify and y.ndim == 1 and y.dtype.kind in "biu":
        _, inverse = np.unique(y, return_inverse=True)
        counts = np.bincount(inverse)
        exact = fraction * counts
        share = np.floor(exact).astype(np.int64)
        extra = n_test - int(share.sum())
        # Largest remainder: the classes closest to rounding up get the leftover rows.
        share[np.argsort(share - exact, kind="stable")[:extra]] += 1
        share = np.minimum(share, counts)
        is_test = np.zeros(n, dtype=bool)
        for c, m in enumerate(share):
            is_test[rng.permutation(np.flatnonzero(inverse == c))[:m]] = True
        test = rng.permutation(np.flatnonzero(is_test))
        train = rng.permutation(np.flatnonzero(~is_test))
    else:
        order = rng.permutation(n)
        test, train = order[:n_test], order[n_test:]
    return X[train], X[test], y[train], y[test]


def one_hot(y: ArrayLike, n_classes: int, dtype: np.dtype | type = np.float32) -> np.ndarray:
    """Labels as one-hot rows: ``Y[i, y[i]] = 1``, all else 0.

    Parameters
    ----------
    y : array_like of int, shape (n,)
        Labels in ``0..n_classes-1``.
    n_classes : int
    dtype : numpy dtype
        Of the result (float32 by default, the training dtype).

    Returns
    -------
    ndarray, shape (n, n_classes)
        C-contiguous.
    """
    k = _check_n(n_classes, 1, "n_classes")
    y = np.asarray(y)
    if y.ndim != 1 or (y.size and y.dtype.kind not in "biu"):
        raise errors.DataError(f"labels must be a 1-D integer array, got {y.dtype} {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= k):
        raise errors.DataError(f"labels must lie in 0..{k - 1}, got {y.min()}..{y.max()}")
    Y = np.zeros((len(y), k), dtype=dtype)
    Y[np.arange(len(y)), y] = 1
    return Y
