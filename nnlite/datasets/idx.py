"""MNIST-format (IDX) files: the reader, and the MNIST and Fashion-MNIST sets built on it.

Owns: ``read_idx`` (one IDX file, gzip or raw, memory bounded by what the file really holds),
the four standard files of a set (``MNIST_FILES``, ``IDX_SETS``, ``FASHION_MNIST_CLASSES``),
``load_mnist`` and ``load_fashion_mnist``, and the one rule for whether a set's file is usable
and how it compares with the published one (``idx_status``): ``nnlite data list``,
``list_datasets`` and the loaders all apply it, so they agree.

Imports: numpy, the standard library, ``nnlite.errors``, ``base`` (``Dataset``,
``MAX_ARRAY_BYTES``) and ``download`` (where the sets live, their pinned checksums, what
counts as gzip: ``open_content``, ``compare``, ``locate``). ``download.status`` calls back into
``idx_status``, importing this module inside the function.

Omits: downloading (``download``), other IDX element types than unsigned bytes, and any
scaling but pixels / 255.
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from nnlite import errors
from nnlite.datasets import download
from nnlite.datasets.base import MAX_ARRAY_BYTES, Dataset

_IDX_LABELS = 0x00000801
_IDX_IMAGES = 0x00000803
# Read in bounded chunks: ``f.read(n)`` allocates ``n`` bytes up front, and ``n`` comes
# from a header that may be corrupt or hostile.
_CHUNK = 1 << 20
# Arrays from this size on are mapped (4 KiB pages), not from np.empty (see ``allocate``).
_MAPPED = 4 << 20


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
        """An uninitialised array; a ``MemoryError`` is one line naming the file.

        From ``_MAPPED`` bytes on, its memory is an anonymous ``mmap`` rather than
        ``np.empty``: NumPy advises the kernel to back large arrays with 2 MiB huge pages,
        and where free memory has been handed back to a hypervisor (free page reporting:
        Firecracker, WSL2) each fresh huge page faults on the host; MNIST's 188 MB then cost
        1–3 s of page faults in about half the runs, against 0.2 s in 4 KiB pages.
        """
        size = math.prod(shape) * np.dtype(dtype).itemsize
        try:
            if size < _MAPPED:
                return np.empty(shape, dtype)
            return np.frombuffer(mmap.mmap(-1, size), dtype).reshape(shape)
        except (MemoryError, OSError):
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
IDX_SETS = {
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
        f"{IDX_SETS[name][0]} file {missing} (or {missing.removesuffix('.gz')}) not found in "
        f"{searched}; download it with `{download.command(name, data_dir)}`, or point at a "
        "folder holding the four IDX files with data_dir=DIR or NNLITE_DATA=DIR"
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
    (``load_idx_set``) share; the second half is that reading the data (``body``) must
    succeed, and a file whose data is damaged is ``"unusable"`` whatever this says.

    Returns ``(state, detail)``: ``"verified"`` (the published ``.gz``, or its content
    compressed otherwise or not at all), ``"other set"`` (refused: the other set's file),
    ``"differs"`` (used with a warning), ``"unverified"`` (used with a warning: no digest of
    the content is pinned) or ``"unusable"`` (unreadable; ``detail`` is the reason).
    """
    title = IDX_SETS[name][0]
    try:
        match = download.compare(path, spec)
    except errors.DataError as exc:
        return "unusable", _reason(exc, path)
    if match.kind == "other set":
        other = IDX_SETS[match.other][0]
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

    This is ``download.status`` (``nnlite data list``) and what ``list_datasets``
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


def load_idx_set(name: str, data_dir: str | Path | None) -> Dataset:
    """MNIST or Fashion-MNIST: the same four file names, the same format, other pictures.

    In this order, so that a bad set costs nothing: the four headers are read and
    cross-checked; each file is compared with the publication (``_idx_match_state``: another
    set's file or an unreadable one is refused); only then is any data read, straight into
    the result arrays. Files that are readable but not the published ones are used, and one
    warning names them with their ``nnlite data list`` state.
    """
    title, what, class_names = IDX_SETS[name]
    src = download.source(name)
    found = _idx_locate(name, data_dir)
    if isinstance(found, str):
        raise errors.DataError(found, param="data_dir")
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
    return load_idx_set("mnist", data_dir)


def load_fashion_mnist(data_dir: str | Path | None = None) -> Dataset:
    """Fashion-MNIST: Zalando's clothing images, a drop-in replacement for MNIST.

    The same four file names, format, sizes and split as ``load_mnist`` (which see), looked
    for in ``fashion-mnist/`` instead of ``mnist/``; ``nnlite data download fashion-mnist``
    gets them. The returned ``Dataset`` also has ``class_names`` = ``FASHION_MNIST_CLASSES``
    (label 0 is "T-shirt/top", 9 is "Ankle boot").
    """
    return load_idx_set("fashion-mnist", data_dir)


def idx_available(name: str, data_dir: str | Path | None) -> bool:
    """``load`` would load the set: all four files are there and each is in a usable state."""
    _, files = idx_status(name, data_dir)
    return all(f.state in download.USABLE for f in files)
