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
reader of environment variables), ``nnlite.download`` (where MNIST and Fashion-MNIST live,
their pinned checksums, and what counts as gzip), ``nnlite.files`` (``open_regular``) and
``nnlite.npzfile`` (the strict ``.npz`` reader model files use too). Never numba, typer or
rich; never prints (a usable file that is not the published one is reported with
``warnings.warn``).

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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from nnlite import config, errors, npzfile
from nnlite.datasets import download
from nnlite.files import NotRegularFile, open_regular

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


def _first(mask: np.ndarray) -> tuple[int, ...]:
    """Index of the first True of ``mask``."""
    return tuple(int(v) for v in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _one_hot_rows(t: np.ndarray) -> bool:
    """Every row one-hot: k >= 2 columns, exactly one 1 and the rest 0."""
    if t.ndim != 2 or t.shape[1] < 2 or t.shape[0] == 0:
        return False
    if t.dtype.kind != "b" and not ((t == 0) | (t == 1)).all():
        return False
    return bool(((t == 1).sum(axis=1) == 1).all())


def _as_target(t: np.ndarray, path: Path, where, task: str) -> tuple[np.ndarray, int | None]:
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
            i = _first(bad)[0]
            raise errors.DataError(f"{path}: {where(i)}: target {t[i]} is not finite")
        del bad
    if t.ndim == 2 and task != "regression" and _one_hot_rows(t):
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
        y = _float32(t)
        if not np.isfinite(y).all():
            i = _first(~np.isfinite(y))[0]
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


def _as_test_target(
    t: np.ndarray, path: Path, n_classes: int | None, one_hot: bool = False, key: str = "y_test"
) -> np.ndarray:
    """Validate ``y_test`` against the classes (or the regression) of ``y``.

    ``one_hot``: ``y`` was one-hot rows, so ``y_test`` must be too. Works in ``t``'s dtype.
    """
    if t.dtype.kind == "b":
        t = t.view(np.uint8)
    if t.dtype.kind == "f" and not np.isfinite(t).all():
        i = _first(~np.isfinite(t))[0]
        raise errors.DataError(f"{path}: {key}[{i}] is not finite")
    if n_classes is None:
        y = _float32(t)
        if not np.isfinite(y).all():
            raise errors.DataError(f"{path}: {key} overflows float32")
        return y
    if one_hot:
        if not _one_hot_rows(t):
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


# The longest line a CSV may have (a row of 1 million short fields); a longer one is refused
# rather than held whole, with one Python object per field.
CSV_MAX_LINE = 1 << 22
# Rows are converted to numbers in batches of about this many fields: the ``csv`` module's
# lists of strings cost ~70 bytes a field, so only one batch of them exists at a time.
_CSV_BATCH_FIELDS = 1 << 16


def _csv_lines(text, path: Path):
    """The lines of a text stream (universal newlines), each at most ``CSV_MAX_LINE`` long."""
    number = 0
    while True:
        line = text.readline(CSV_MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > CSV_MAX_LINE:
            raise errors.DataError(
                f"{path}: line {number} is longer than {CSV_MAX_LINE:,} characters"
            )
        yield line


class _CsvTable:
    """Rows of numbers as they are parsed: float32 features and a float64 target column.

    The buffers are allocated once, for the most rows the file's size allows (each row
    needs at least ``2 * ncol - 1`` bytes); ``np.empty`` only reserves that memory, and the
    pages are taken as rows are written. ``finish`` gives the unused rows back. Row ``i``'s
    line number is kept only where it is not the line after row ``i - 1``'s.
    """

    def __init__(self, path: Path, ncol: int, tcol: int, size: int, column) -> None:
        self.path, self.tcol, self.column = path, tcol, column
        self.features = [j for j in range(ncol) if j != tcol]
        rows = max(1, size // (2 * ncol - 1) + 1)
        # Past 2 GiB, start smaller and grow (a copy) rather than reserve a huge range.
        self.capacity = min(rows, max(1, (1 << 31) // (4 * ncol)))
        try:
            self.X = np.empty((self.capacity, ncol - 1), np.float32)
            self.t = np.empty(self.capacity, np.float64)
        except MemoryError:
            raise errors.DataError(f"{path}: too large to load into memory") from None
        self.n = 0
        self.jumps: list[tuple[int, int]] = []  # (row, line) where lines are not consecutive
        self.last_line = 0

    def line(self, i: int) -> int:
        """The line number of data row ``i``."""
        row, line = 0, 1  # without jumps, row i is on line i + 1
        for r, ln in self.jumps:
            if r > i:
                break
            row, line = r, ln
        return line + (i - row)

    def add(self, lines: list[int], rows: list[list[str]]) -> None:
        try:
            A = np.array(rows, dtype=np.float64)
        except ValueError as exc:
            # Slow path only to name the culprit; numpy's message does not say where it is.
            for line, row in zip(lines, rows, strict=True):
                for j, field in enumerate(row):
                    if not _is_number(field):
                        raise errors.DataError(
                            f"{self.path}: line {line}, {self.column(j)}: {field!r} is not a number"
                        ) from None
            # Python's float() and numpy disagree on some spelling: still the file's problem.
            raise errors.DataError(f"{self.path}: not all fields are numbers ({exc})") from None
        b = len(rows)
        if self.n + b > self.capacity:
            self._grow(self.n + b)
        X = self.X[self.n : self.n + b]
        with np.errstate(over="ignore"):
            if self.tcol == len(self.features):
                X[...] = A[:, :-1]
            else:
                X[...] = A[:, self.features]
        # Checked after the cast so that 1e39 (finite in float64, inf in float32) is caught too.
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = _first(bad)
            raise errors.DataError(
                f"{self.path}: line {lines[i]}, {self.column(self.features[j])}: "
                f"{A[i, self.features[j]]} is not a finite float32 feature"
            )
        self.t[self.n : self.n + b] = A[:, self.tcol]
        for k, line in enumerate(lines):
            if line != self.last_line + 1:
                self.jumps.append((self.n + k, line))
            self.last_line = line
        self.n += b

    def _grow(self, need: int) -> None:
        capacity = max(need, 2 * self.capacity)
        try:
            X = np.empty((capacity, self.X.shape[1]), np.float32)
            t = np.empty(capacity, np.float64)
        except MemoryError:
            raise errors.DataError(f"{self.path}: too large to load into memory") from None
        X[: self.n] = self.X[: self.n]
        t[: self.n] = self.t[: self.n]
        self.X, self.t, self.capacity = X, t, capacity

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, target) of exactly the rows read; the unused reservation is released."""
        X, t = self.X, self.t
        self.X = self.t = None
        # In place (realloc): no copy, and no other reference to these buffers exists.
        X.resize((self.n, X.shape[1]), refcheck=False)
        t.resize((self.n,), refcheck=False)
        return X, t


def _cannot_open(path: Path, exc: OSError, not_what: str = "") -> errors.DataError:
    """The one line for a user file that could not be opened (``not_what``: what it is not)."""
    if isinstance(exc, FileNotFoundError):
        return errors.DataError(f"{path}: file not found")
    if isinstance(exc, NotRegularFile):
        return errors.DataError(f"{path}: {exc.strerror}{not_what}")
    return errors.DataError(f"{path}: cannot read ({exc.strerror})")


def load_csv(path: str | Path, *, target: str | int = -1, task: str = "auto") -> Dataset:
    """A numeric CSV file: one example per row, one column of it the target.

    Parameters
    ----------
    path : str or Path
        Comma-separated numbers, UTF-8 (a BOM is allowed). The first row is a header when
        any of its fields is not a number. Blank lines are skipped. A line may be at most
        ``CSV_MAX_LINE`` characters long.
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
        Missing, empty or not a regular file (a FIFO or a device such as ``/dev/zero`` is
        refused at once), ragged rows, a non-number, NaN or inf in a feature (naming the
        first bad line and column), or labels that are not integers 0..k-1 (naming the line).
    errors.ConfigError
        Unknown target column or task.

    The file is parsed in a stream, a batch of rows at a time, into float32 features: the
    peak memory is about the result's size plus one batch (1.05–1.5× the result, measured
    on 100 MB files), never one Python object per field of the file.
    """
    path = Path(path)
    _check_task(task)
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise _cannot_open(path, exc) from None
    with handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            text = io.TextIOWrapper(handle, encoding="utf-8-sig")
            header, table = _read_csv(text, path, target, size)
        except UnicodeDecodeError:
            raise errors.DataError(f"{path}: not a text (UTF-8) CSV file") from None
        except OSError as exc:
            raise errors.DataError(f"{path}: cannot read ({exc.strerror})") from None
    X, t = table.finish()
    y, n_classes = _as_target(t, path, lambda i: f"line {table.line(i)}", task)
    kind = f"{n_classes} classes" if n_classes is not None else "regression"
    text = f"{path.name}: {len(y)} rows, {X.shape[1]} features, {kind}"
    return Dataset(path.stem, X, y, n_classes, text)


def _read_csv(text, path: Path, target: str | int, size: int):
    """(header or None, the filled ``_CsvTable``) of a CSV text stream."""
    reader = csv.reader(_csv_lines(text, path))
    header: list[str] | None = None
    ncol = 0
    first_line = 0
    table: _CsvTable | None = None
    lines: list[int] = []
    rows: list[list[str]] = []
    fields = 0

    def column(j: int) -> str:
        return f"column {j + 1}" + (f" ({header[j]!r})" if header is not None else "")

    try:
        for row in reader:
            row = [field.strip() for field in row]
            if not any(row):
                continue
            line = reader.line_num
            if not ncol:
                ncol, first_line = len(row), line
                if not all(_is_number(field) for field in row):
                    header = row
                    continue
            if len(row) != ncol:
                raise errors.DataError(
                    f"{path}: line {line} has {len(row)} columns, expected {ncol} like line "
                    f"{first_line}"
                )
            if table is None:
                if ncol < 2:
                    raise errors.DataError(
                        f"{path}: needs at least one feature column and a target column"
                    )
                tcol = _target_column(target, header, ncol, path)
                table = _CsvTable(path, ncol, tcol, size, column)
            lines.append(line)
            rows.append(row)
            fields += ncol
            if fields >= _CSV_BATCH_FIELDS:
                table.add(lines, rows)
                lines, rows, fields = [], [], 0
    except csv.Error as exc:
        raise errors.DataError(f"{path}: line {reader.line_num}: bad CSV ({exc})") from None
    if table is None:
        if header is not None:
            raise errors.DataError(f"{path}: a header row but no data rows")
        raise errors.DataError(f"{path}: empty file, no rows")
    if rows:
        table.add(lines, rows)
    return header, table


# ----------------------------------------------------------------------------------- npz

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
    _check_task(task)
    try:
        archive = npzfile.open_npz(path)
    except OSError as exc:
        raise _cannot_open(path, exc, ", not an .npz archive") from None
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
            y, n_classes = _as_target(y_raw, path, lambda i: f"{y_key}[{i}]", task)
            one_hot = n_classes is not None and y_raw.ndim == 2
            del y_raw
            X_test = y_test = None
            if "X_test" in roles:
                t = archive.read(roles["y_test"], limit=MAX_ARRAY_BYTES)
                y_test = _as_test_target(t, path, n_classes, one_hot, roles["y_test"])
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
