"""Download MNIST and Fashion-MNIST: mirrors in order, pinned checksums, atomic and resumable.

Owns: the table of downloadable data sets (``SOURCES``: mirrors and, per file, the pinned size
and SHA-256 of the ``.gz`` and of its uncompressed content), ``download`` (fetch the four IDX
files of a set into ``HOME/NAME/``), ``verify`` (a file against its ``.gz`` pin), ``compare``
(a file against its publication: the same bytes, the same content compressed otherwise, the
other set's file, or something else), ``open_content`` (a data file's uncompressed bytes, the
one place that decides what counts as gzip), and ``status`` (the state of each file, for
``nnlite data list``; it asks ``nnlite.datasets.idx``, which decides the same states for
training).

How a file is fetched: into ``NAME.part`` beside its final name; when the ``.part`` is complete
its size and SHA-256 are checked, and only then is it renamed (``os.replace``) to ``NAME``, so
an interrupted or corrupted download never leaves a file that looks complete. A ``.part`` left
by an interrupted run is resumed with an HTTP ``Range`` request; a server that ignores the range
(200 instead of 206), or a resumed file that fails the checksum, makes it start again from zero,
once. A mirror that fails (HTTP error, dropped connection, checksum mismatch, deadline passed,
redirect loop) hands over to the next; when all fail, one ``DataError`` line names the file and
every mirror's reason.

Hostile folders and servers: the ``.part`` is never written through a symbolic link or a hard
link (a fresh download removes whatever has that name and creates the file with ``O_EXCL``; a
resume appends only to a regular file with one link, opened with ``O_NOFOLLOW``), so a link
planted there cannot make nnlite write outside the folder. The final ``os.replace`` replaces a
link at the final name, never the file it points to. A symbolic link at the final name whose
target is a verified copy (a shared read-only data folder) counts as present; the loaders
verify what they read again. Every request has a per-read ``timeout`` and every file an overall
``deadline`` (a watchdog shuts the connection down when it passes, so a server that drips one
byte at a time cannot hold a download forever); redirects are followed to http(s) only, at most
``MAX_REDIRECTS``, and a loop ends the mirror at once.

Imports: the standard library (``urllib``, ``http.client``, ``socket`` and ``threading`` only
inside the functions that fetch: they cost every run 45 ms, and most runs download nothing),
``nnlite.errors``, ``nnlite.files`` and ``nnlite.config``; ``status`` imports ``idx`` when it is
called. Never numpy itself (though importing it as ``nnlite.datasets.download`` runs the
package's ``__init__``, which does), typer or rich; never prints: progress goes to a callback
as ``DownloadEvent`` records, which the CLI renders.

Omits: parallel downloads, proxies beyond what ``urllib`` reads from the environment, and
decompression to disk (the loaders read the ``.gz`` files directly).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import gzip
import hashlib
import os
import shlex
import stat
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from nnlite import config, errors, files

if TYPE_CHECKING:
    import http.client

__all__ = [
    "SOURCES",
    "DownloadEvent",
    "FileStatus",
    "Match",
    "RemoteFile",
    "Source",
    "candidate_dirs",
    "command",
    "compare",
    "content_digest",
    "download",
    "fetch",
    "find_files",
    "identify",
    "locate",
    "open_content",
    "partial",
    "read_error",
    "source",
    "status",
    "target_dir",
    "verify",
]

USER_AGENT = f"nnlite/{config.__version__} (teaching neural-network library; Python urllib)"
TIMEOUT_S = 30.0
# The overall deadline of one file from one mirror, when none is given: the time the file takes
# at DEADLINE_RATE (16 KiB/s = 128 kbit/s, slower than any link one would download 30 MB
# over), and never under DEADLINE_FLOOR_S. MNIST's 9.9 MB training images get 10 minutes,
# Fashion-MNIST's 26 MB 27 minutes, a label file 2 minutes.
DEADLINE_FLOOR_S = 120.0
DEADLINE_RATE = 16 * 1024
MAX_REDIRECTS = 10
_CHUNK = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class RemoteFile:
    """One file of a data set and what it must hash to.

    Attributes
    ----------
    name : str
        File name, the same on every mirror (``train-images-idx3-ubyte.gz``).
    size : int
        Exact length in bytes.
    sha256 : str
        Hex SHA-256 of the whole file: the pinned digest that is checked.
    md5 : str
        Hex MD5 as published by torchvision; recorded for cross-reference, not checked
        (MD5 is not collision resistant).
    raw_size : int
        Length of the uncompressed content (the IDX file itself).
    raw_sha256 : str or None
        Hex SHA-256 of the uncompressed content, so that a faithful copy compressed by other
        means (or not at all) is recognised; None where no trustworthy value is known, and
        then only the ``.gz`` itself can be verified.
    """

    name: str
    size: int
    sha256: str
    md5: str
    raw_size: int
    raw_sha256: str | None = None


@dataclass(frozen=True)
class Source:
    """A downloadable data set: its name, mirrors (tried in order) and files."""

    name: str
    title: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]


# MNIST: the mirrors the frameworks use. torchvision (datasets/mnist.py, MNIST.mirrors) uses
# the PyTorch S3 bucket; TensorFlow Datasets (url_checksums/mnist.txt) the CVDF bucket on
# Google Cloud Storage; yann.lecun.com is the original and has been unreliable since 2023, so
# it comes last. Pinned: size and SHA-256 as in tensorflow_datasets/url_checksums/mnist.txt;
# MD5 as in torchvision's MNIST.resources. All three were checked against the publisher's
# files in ../shared/data/mnist (tests/test_download.py checks them again). The uncompressed
# sizes and SHA-256 were computed here from those files (``gzip -dc FILE | sha256sum``), and
# each gzip trailer's ISIZE agrees with the size.
MNIST = Source(
    "mnist",
    "MNIST handwritten digits",
    (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    (
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            9912422,
            "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            47040016,
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            28881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432",
            60008,
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            1648877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3",
            7840016,
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            4542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c",
            10008,
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        ),
    ),
)

# Fashion-MNIST: Keras's bucket (keras/src/datasets/fashion_mnist.py, https) first, then
# Zalando's own S3 website (http; torchvision's FashionMNIST.mirrors and the Zalando README).
# Plain http is acceptable only because every file is checked against the pinned digest.
# Pinned, NOT verified here (this machine cannot reach those mirrors): size and SHA-256 from
# tensorflow_datasets/url_checksums/fashion_mnist.txt; the same SHA-256 values are pinned
# independently in Keras's FILE_HASHES. MD5 from torchvision's FashionMNIST.resources, equal
# to the table in zalandoresearch/fashion-mnist's README. The uncompressed sizes follow from
# the published shapes (60,000 and 10,000 images of 28x28, 16- and 8-byte headers). The
# SHA-256 of the uncompressed files is NOT pinned: no trustworthy value was available offline
# (None below), so a re-compressed copy of Fashion-MNIST can only be reported "unverified".
FASHION_MNIST = Source(
    "fashion-mnist",
    "Fashion-MNIST (Zalando article images)",
    (
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    ),
    (
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            26421880,
            "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            47040016,
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            29515,
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "25c81989df183df01b3e8a0aad5dffbe",
            60008,
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            4422102,
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "bef4ecab320f06d8554ea6380940ec79",
            7840016,
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            5148,
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "bb300cfdad3c16e7a12a480ee83cd310",
            10008,
        ),
    ),
)

SOURCES = {s.name: s for s in (MNIST, FASHION_MNIST)}


def source(name: str) -> Source:
    """The ``Source`` called ``name`` (``"mnist"`` or ``"fashion-mnist"``, case-insensitive)."""
    key = name.strip().lower()
    if key not in SOURCES:
        raise errors.ConfigError(
            f"no download for {name!r}; downloadable data sets: {', '.join(SOURCES)}"
        )
    return SOURCES[key]


def target_dir(name: str, data_dir: str | Path | None = None) -> Path:
    """Where ``download`` writes a set: ``DIR/NAME`` (default DIR: ``config.data_dir()``)."""
    home = Path(data_dir).expanduser() if data_dir is not None else config.data_dir()
    return home / source(name).name


def command(name: str, data_dir: str | Path | None = None) -> str:
    """The shell command that downloads set ``name`` where the loaders will look for it."""
    text = f"nnlite data download {source(name).name}"
    if data_dir is not None:
        text += f" --data-dir {shlex.quote(str(data_dir))}"
    return text


def candidate_dirs(name: str, data_dir: str | Path | None = None) -> list[Path]:
    """Folders that may hold the files of set ``name``, most specific first.

    ``DIR/NAME`` (where ``download`` writes), then ``DIR`` itself (a folder holding the four
    files), where ``DIR`` is ``data_dir`` or else the data home ``config.data_dir()``.
    """
    base = Path(data_dir).expanduser() if data_dir is not None else config.data_dir()
    return [base / source(name).name, base]


def find_files(name: str, folder: Path) -> dict[str, Path | None]:
    """Each file of set ``name`` in ``folder``: the ``.gz``, else the uncompressed file, else None.

    Keyed by the ``.gz`` name, in the set's order (train images, train labels, test images,
    test labels). Whatever exists at a name counts, symbolic links followed: a FIFO, a device
    or a directory named like the file is found here and refused by whoever reads it (with a
    reason), rather than passed over as missing. A dangling link counts as missing.
    """
    found: dict[str, Path | None] = {}
    for spec in source(name).files:
        candidates = (folder / spec.name, folder / spec.name.removesuffix(".gz"))
        found[spec.name] = next((p for p in candidates if p.exists()), None)
    return found


def locate(name: str, data_dir: str | Path | None = None) -> tuple[Path, dict[str, Path | None]]:
    """The folder to use for set ``name`` and its files (None for each one missing).

    The first candidate folder that holds all four files; failing that, the one holding the
    most (the first on a tie), so a message can name what is missing there.
    """
    best = None
    for folder in candidate_dirs(name, data_dir):
        found = find_files(name, folder)
        if all(found.values()):
            return folder, found
        if best is None or sum(map(bool, found.values())) > sum(map(bool, best[1].values())):
            best = (folder, found)
    return best


# ---------------------------------------------------------------------------- checking


@contextlib.contextmanager
def open_content(path: str | Path) -> Iterator[tuple[BinaryIO, bool]]:
    """A data file's content as a stream, and whether it was gzip-compressed.

    The one rule for what counts as gzip, shared by every reader of the IDX files: a file
    whose first two bytes are the gzip magic is decompressed, whatever its name; a file named
    ``.gz`` that is not gzip is refused. Only a regular file is opened (``files.open_regular``:
    a FIFO, a device such as a link to ``/dev/zero``, or a directory is refused at once).

    Raises
    ------
    FileNotFoundError, PermissionError, files.NotRegularFile
        From opening.
    errors.DataError
        A ``.gz`` name on a file that is not gzip-compressed.

    Reading the stream may raise ``OSError`` (``gzip.BadGzipFile``), ``EOFError`` (a cut-off
    gzip stream) or ``zlib.error``; the caller words them (see ``read_error``).
    """
    path = Path(path)
    with files.open_regular(path) as raw:
        compressed = raw.read(2) == _GZIP_MAGIC
        raw.seek(0)
        if path.suffix == ".gz" and not compressed:
            raise errors.DataError(f"{path}: named .gz but is not gzip-compressed")
        if not compressed:
            yield raw, False
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as stream:
            yield stream, True  # type: ignore[misc]


def read_error(path: str | Path, exc: BaseException, compressed: bool) -> errors.DataError:
    """The one-line ``DataError`` for an exception raised while opening or reading ``path``."""
    if isinstance(exc, errors.DataError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return errors.DataError(f"{path}: file not found")
    if isinstance(exc, files.NotRegularFile):
        return errors.DataError(f"{path}: {exc.strerror}")
    if isinstance(exc, IsADirectoryError):
        return errors.DataError(f"{path}: is a directory, not a regular file")
    # gzip.BadGzipFile is an OSError; a cut-off gzip stream raises EOFError.
    what = "corrupt gzip stream" if compressed else "unreadable"
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return errors.DataError(f"{path}: {what} ({_one_line(detail or type(exc).__name__)})")


READ_ERRORS = (OSError, EOFError, zlib.error, errors.DataError)


def content_digest(path: str | Path, limit: int) -> tuple[int, str | None]:
    """Size and SHA-256 of ``path``'s content (decompressed if gzip), reading at most ``limit + 1``.

    Returns ``(size, hexdigest)``, or ``(limit + 1, None)`` when the content is longer than
    ``limit``: a gzip bomb costs one chunk of memory and ``limit`` bytes of work, no more.
    Raises ``errors.DataError`` (one line, from ``read_error``) when the file cannot be read.
    """
    h = hashlib.sha256()
    size = 0
    compressed = False
    try:
        with open_content(path) as (stream, compressed):
            while size <= limit:
                chunk = stream.read(min(1 << 20, limit + 1 - size))
                if not chunk:
                    return size, h.hexdigest()
                h.update(chunk)
                size += len(chunk)
    except READ_ERRORS as exc:
        raise read_error(path, exc, compressed) from None
    return size, None


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with files.open_regular(path) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | Path, spec: RemoteFile) -> str | None:
    """Check a file's bytes against the ``.gz`` pin; None when they match, else a short reason.

    The size is compared first (free), the SHA-256 only when the size is right. Only a regular
    file can match (a FIFO or device is "unreadable", without blocking).
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size != spec.size:
            return f"size {size:,} bytes, expected {spec.size:,}"
        actual = _digest(path)
    except OSError as exc:
        return f"unreadable ({exc.strerror})"
    if actual != spec.sha256:
        return f"sha256 {actual}, expected {spec.sha256}"
    return None


def identify(path: str | Path, exclude: str | None = None) -> str | None:
    """The set (other than ``exclude``) whose pinned ``.gz`` file ``path`` is byte for byte, or None.

    Hashes only when the size equals a pinned size, so it is free for most files.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError:
        return None
    for src in SOURCES.values():
        if src.name == exclude:
            continue
        for spec in src.files:
            if spec.size == size and verify(path, spec) is None:
                return src.name
    return None


@dataclass(frozen=True)
class Match:
    """How a file compares with the published file it stands for (``compare``).

    ``kind`` is ``"published"`` (byte for byte the published ``.gz``), ``"same content"``
    (its uncompressed content is the published content: a re-compressed or uncompressed
    faithful copy), ``"other set"`` (the published file of set ``other``, compressed or not),
    ``"differs"`` (something else; ``detail`` says how) or ``"unknown"`` (not the published
    ``.gz``, and no digest of the uncompressed content is pinned to check it against).
    ``by_content`` tells an ``"other set"`` recognised by its content from one recognised
    byte for byte.
    """

    kind: str
    detail: str = ""
    other: str | None = None
    by_content: bool = False

    @property
    def verified(self) -> bool:
        """True for the published file and for a faithful copy of its content."""
        return self.kind in ("published", "same content")


def _owner(spec: RemoteFile) -> Source:
    return next(src for src in SOURCES.values() if spec in src.files)


def compare(path: str | Path, spec: RemoteFile) -> Match:
    """Compare ``path`` with the published file ``spec`` (of its set), by ``.gz`` and by content.

    First the bytes against the ``.gz`` pins (``verify``; free unless the size matches); then,
    only when no ``.gz`` pin matches, the uncompressed content (``content_digest``, streamed,
    at most the pinned uncompressed size + 1 bytes) against the pinned content digests. So a
    copy that was re-compressed (other gzip level or tool) or decompressed is recognised.

    Raises ``errors.DataError`` when the content has to be read and cannot be (not a regular
    file, a corrupt gzip stream, ...): the caller decides what an unreadable file is.
    """
    own = _owner(spec)
    if verify(path, spec) is None:
        return Match("published")
    others = [
        (src, other)
        for src in SOURCES.values()
        if src is not own
        for other in src.files
        if other.name == spec.name
    ]
    for src, other in others:
        if verify(path, other) is None:
            return Match("other set", f"this is the published {src.title} file", src.name)
    limit = max([spec.raw_size] + [other.raw_size for _, other in others])
    size, digest = content_digest(path, limit)
    if size == spec.raw_size and digest is not None and digest == spec.raw_sha256:
        return Match("same content", "same content as the published file, compressed otherwise")
    for src, other in others:
        if size == other.raw_size and digest is not None and digest == other.raw_sha256:
            text = f"this is the content of the published {src.title} file"
            return Match("other set", text, src.name, by_content=True)
    shown = f"{size:,}" if digest is not None else f"more than {limit:,}"
    if size != spec.raw_size:
        return Match(
            "differs",
            f"not the published file: content {shown} bytes, published {spec.raw_size:,}",
        )
    if spec.raw_sha256 is None:
        return Match(
            "unknown",
            "not the published .gz; its content has the published size, but no digest of "
            f"the uncompressed {own.title} files is pinned to check it",
        )
    return Match(
        "differs",
        f"not the published file: content sha256 {digest}, published {spec.raw_sha256}",
    )


@dataclass(frozen=True)
class FileStatus:
    """What ``status`` found for one file.

    ``state`` is one of ``STATES``: ``"verified"`` (the published ``.gz``, or a faithful copy
    of its content), ``"unverified"`` (a readable file whose content cannot be checked: no
    digest of it is pinned), ``"differs"`` (readable, but not the published file: training
    uses it with a warning), ``"other set"`` (the other data set's file: training refuses),
    ``"unusable"`` (training refuses it: ``detail`` gives the reason, in the words of the
    error), ``"partial"`` (an interrupted download's ``.part``, ``detail`` says how much) or
    ``"missing"``.
    """

    name: str
    path: Path
    state: str
    detail: str = ""


STATES = ("verified", "unverified", "differs", "other set", "unusable", "partial", "missing")
# States in which training uses the file (with a warning unless verified).
USABLE = ("verified", "unverified", "differs")


def status(name: str, data_dir: str | Path | None = None) -> tuple[Path, list[FileStatus]]:
    """The folder of set ``name`` (as the loaders find it) and the state of each of its files.

    The folder is the one ``locate`` picks when it holds any file, else where ``download``
    would write. The states of present files are decided by ``nnlite.datasets.idx.idx_status``,
    the same function the loaders use, so ``nnlite data list`` and ``nnlite train`` agree.
    """
    # Imported here: idx imports this module (and numpy, which a download never needs).
    from nnlite.datasets import idx

    return idx.idx_status(name, data_dir)


def _one_line(text: str) -> str:
    """``text`` with control characters (a server's reason phrase, say) shown as spaces."""
    return "".join(c if c.isprintable() else " " for c in str(text)).strip()


def _lregular(path: Path) -> os.stat_result | None:
    """``path``'s own ``lstat`` when it is a regular file with one link, else None."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    if stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
        return info
    return None


# ---------------------------------------------------------------------------- fetching


@dataclass(frozen=True)
class DownloadEvent:
    """One thing the downloader reports, as plain data.

    Attributes
    ----------
    kind : str
        ``"skip"`` (present and verified), ``"start"`` (a request to ``mirror``; ``done`` is
        the resume offset), ``"progress"`` (``done`` of ``total`` bytes), ``"done"`` (verified
        and renamed into place), ``"retry"`` (``message`` says why this mirror or this
        attempt failed and what happens next).
    file : str
        The file name.
    done, total : int
        Bytes on disk so far, and the file's pinned size.
    mirror : str
        The base URL in use.
    message : str
        For ``"retry"`` and ``"skip"``: one line for the user.
    """

    kind: str
    file: str
    done: int = 0
    total: int = 0
    mirror: str = ""
    message: str = ""


Progress = Callable[[DownloadEvent], None]


def _ignore(event: DownloadEvent) -> None:
    """The progress callback when none is given."""


class _MirrorFailed(Exception):
    """This mirror could not deliver a verified file; try the next one."""


def default_deadline(spec: RemoteFile) -> float:
    """Seconds one mirror gets for ``spec``: its size at ``DEADLINE_RATE``, at least the floor."""
    return max(DEADLINE_FLOOR_S, spec.size / DEADLINE_RATE)


class _Watchdog:
    """The overall deadline of one file from one mirror.

    Every socket the download opens (redirects included) is registered with ``add``; when the
    deadline passes, a timer thread shuts them down, which wakes a read blocked in ``recv``
    (the per-read ``timeout`` alone never fires while a server drips a byte at a time).
    """

    def __init__(self, seconds: float) -> None:
        import threading

        self.seconds = seconds
        self.expired = False
        self._end = time.monotonic() + seconds
        self._sockets: list = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def left(self) -> float:
        return self._end - time.monotonic()

    def add(self, sock):
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                self._shut(sock)
        return sock

    @staticmethod
    def _shut(sock) -> None:
        import socket

        # socket.socket's own shutdown, also for an SSL socket: SSLSocket.shutdown would
        # tear down its TLS state under the reading thread's feet.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                self._shut(sock)

    def check(self) -> None:
        """Mark the deadline passed when the clock says so (a timer can be late)."""
        if self.left() <= 0:
            self._expire()

    def close(self) -> None:
        self._timer.cancel()


@functools.cache
def _handler_classes() -> tuple[type, ...]:
    """urllib handlers that register their sockets with a watchdog, and refuse redirect loops."""
    import urllib.request

    def watched(http_class, watchdog: _Watchdog):
        def connection(host, **kwargs):
            conn = http_class(host, **kwargs)
            create = getattr(conn, "_create_connection", None)
            if create is not None:
                # Registered right after the TCP connect: the TLS handshake and the response
                # headers are under the deadline too.
                conn._create_connection = lambda *a, **k: watchdog.add(create(*a, **k))
            else:  # pragma: no cover - an http.client without the hook
                connect = conn.connect

                def connect_and_watch():
                    connect()
                    watchdog.add(conn.sock)

                conn.connect = connect_and_watch
            return conn

        return connection

    def under_watch(base: type) -> type:
        """``base`` (urllib's HTTP or HTTPS handler) with its connections under a watchdog."""

        class Watched(base):
            def __init__(self, watchdog: _Watchdog) -> None:
                super().__init__()
                self.watchdog = watchdog

            def do_open(self, http_class, req, **kwargs):
                return super().do_open(watched(http_class, self.watchdog), req, **kwargs)

        return Watched

    bases = [urllib.request.HTTPHandler, getattr(urllib.request, "HTTPSHandler", None)]
    handlers: list[type] = [under_watch(base) for base in bases if base is not None]

    class Redirects(urllib.request.HTTPRedirectHandler):
        """Follow http(s) redirects only, at most ``MAX_REDIRECTS``, never the same URL twice.

        urllib's own check raises an ``HTTPError`` whose text spans lines and names no loop;
        this one says what happened in one line. The redirect's body is never read.
        """

        def __init__(self, url: str) -> None:
            super().__init__()
            self.seen = {url}

        def redirect_request(self, req, fp, code, msg, headers, newurl):
            fp.close()
            shown = _one_line(newurl)
            if not newurl.lower().startswith(("http://", "https://")):
                raise _MirrorFailed(f"redirected to {shown}, which is not an http(s) URL")
            if newurl in self.seen:
                raise _MirrorFailed(f"redirect loop at {shown}")
            if len(self.seen) > MAX_REDIRECTS:
                raise _MirrorFailed(f"more than {MAX_REDIRECTS} redirects (the last to {shown})")
            self.seen.add(newurl)
            return super().redirect_request(req, fp, code, msg, headers, newurl)

    return (*handlers, Redirects)


def _open(url: str, offset: int, timeout: float, watchdog: _Watchdog) -> http.client.HTTPResponse:
    import urllib.request

    *connections, redirects = _handler_classes()
    opener = urllib.request.build_opener(*(h(watchdog) for h in connections), redirects(url))
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return opener.open(request, timeout=timeout)


def _content_range_start(response) -> int | None:
    # "bytes 100-199/200": the first byte the server is sending.
    value = response.headers.get("Content-Range", "")
    try:
        unit, rest = value.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def partial(part: str | Path) -> int | None:
    """Bytes in ``part``, an interrupted download a later one resumes; None when there is none.

    Only a regular file with one link counts (``download`` removes anything else there).
    """
    info = _lregular(Path(part))
    return None if info is None else info.st_size


def _part_offset(part: Path) -> int:
    """Bytes of an earlier download to resume from: a ``.part`` that is a regular file with one
    link; anything else at that name (a symbolic link, a hard link, a FIFO) is removed."""
    info = _lregular(part)
    if info is not None:
        return info.st_size
    with contextlib.suppress(FileNotFoundError):
        os.unlink(part)  # a directory raises IsADirectoryError: a local problem, reported
    return 0


def _open_part(part: Path, append: bool) -> BinaryIO:
    """The ``.part`` for writing, never through a link.

    A fresh download removes the name and creates a new file exclusively (``O_EXCL`` fails
    on any existing name, a symbolic link included); a resume appends with ``O_NOFOLLOW`` and
    checks that what it opened is a regular file with one link.
    """
    flags = os.O_WRONLY | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    if append:
        fd = os.open(part, flags | os.O_APPEND)
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            os.close(fd)
            raise OSError(errno.EPERM, "not a regular file of its own; refusing to append", part)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(part)
        fd = os.open(part, flags | os.O_CREAT | os.O_EXCL, 0o644)
    return os.fdopen(fd, "ab" if append else "wb")


def _transfer(
    url: str,
    mirror: str,
    part: Path,
    spec: RemoteFile,
    timeout: float,
    watchdog: _Watchdog,
    report: Progress,
) -> bool:
    """Append the rest of ``url`` to ``part``; True when it resumed, False when it started at 0.

    Raises ``_MirrorFailed`` with the reason (the ``.part`` is kept for a later resume).
    """
    import http.client
    import urllib.error

    offset = _part_offset(part)
    if offset >= spec.size:
        # Nothing left to ask for (a whole or over-long .part): start again.
        part.unlink()
        offset = 0
    report(DownloadEvent("start", spec.name, offset, spec.size, mirror))

    def late(done: int) -> _MirrorFailed:
        return _MirrorFailed(
            f"no complete file within the {watchdog.seconds:g} s deadline "
            f"({done:,} of {spec.size:,} bytes); run the command again to resume"
        )

    try:
        response = _open(url, offset, timeout, watchdog)
    except urllib.error.HTTPError as exc:
        exc.close()
        if watchdog.expired:
            raise late(offset) from None
        if exc.code == 416 and offset:  # range not satisfiable: the .part is no good
            part.unlink()
            return _transfer(url, mirror, part, spec, timeout, watchdog, report)
        raise _MirrorFailed(f"HTTP {exc.code} {_one_line(exc.reason)}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        if watchdog.expired:
            raise late(offset) from None
        raise _MirrorFailed(_reason(exc)) from None
    with response:
        resumed = offset > 0 and response.status == 206
        if resumed and _content_range_start(response) != offset:
            # A 206 for some other range than the one asked for: start again from zero.
            part.unlink()
            return _transfer(url, mirror, part, spec, timeout, watchdog, report)
        if offset and not resumed:
            # The server ignored the Range header and sends the whole file: start from zero.
            note = "the server ignored the resume request; downloading from the start"
            report(DownloadEvent("retry", spec.name, 0, spec.size, mirror, note))
            offset = 0
        done = offset
        too_long = False
        # Errors of the local disk (OSError from write) are not the mirror's fault: they
        # propagate, and the .part stays for a later resume.
        with _open_part(part, append=resumed) as out:
            while True:
                watchdog.check()
                if watchdog.expired:
                    raise late(done)
                try:
                    # read1: at most one recv, so the deadline is looked at between them.
                    chunk = response.read1(min(_CHUNK, spec.size + 1 - done))
                except (http.client.HTTPException, OSError, ValueError) as exc:
                    if watchdog.expired:
                        raise late(done) from None
                    raise _MirrorFailed(
                        f"connection lost after {done:,} of {spec.size:,} bytes "
                        f"({_reason(exc)}); run the command again to resume"
                    ) from None
                if not chunk:
                    if watchdog.expired:
                        raise late(done)
                    break
                if done + len(chunk) > spec.size:
                    # A server that keeps sending: stop at the pinned size, never fill a disk.
                    too_long = True
                    break
                out.write(chunk)
                done += len(chunk)
                report(DownloadEvent("progress", spec.name, done, spec.size, mirror))
            out.flush()
            os.fsync(out.fileno())
    if too_long:
        part.unlink()
        raise _MirrorFailed(f"sent more than the {spec.size:,} bytes expected")
    if done < spec.size:
        raise _MirrorFailed(
            f"connection closed after {done:,} of {spec.size:,} bytes; "
            "run the command again to resume"
        )
    return resumed


def _reason(exc: BaseException) -> str:
    import http.client
    import urllib.error

    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, http.client.IncompleteRead):
        return "incomplete read"
    return _one_line(str(exc)) or type(exc).__name__


def _from_mirror(
    mirror: str,
    part: Path,
    spec: RemoteFile,
    timeout: float,
    deadline: float,
    report: Progress,
) -> None:
    """Leave a verified ``part`` or raise ``_MirrorFailed``; restarts from zero at most once.

    ``deadline`` seconds cover everything fetched from this mirror for this file.
    """
    url = mirror if mirror.endswith("/") else mirror + "/"
    url += spec.name
    watchdog = _Watchdog(deadline)
    try:
        for attempt in range(2):
            resumed = _transfer(url, mirror, part, spec, timeout, watchdog, report)
            problem = verify(part, spec)
            if problem is None:
                return
            part.unlink()
            if resumed and attempt == 0:
                note = (
                    f"the resumed file failed its checksum ({problem}); downloading from the start"
                )
                report(DownloadEvent("retry", spec.name, 0, spec.size, mirror, note))
                continue
            raise _MirrorFailed(f"checksum mismatch: {problem}")
    finally:
        watchdog.close()


def _check_mirrors(mirrors: Sequence[str]) -> None:
    if not mirrors:
        raise errors.ConfigError("the mirror list is empty")
    for mirror in mirrors:
        if not str(mirror).lower().startswith(("http://", "https://")):
            raise errors.ConfigError(f"mirror {mirror!r} is not an http:// or https:// URL")


def _check_deadline(deadline: float | None) -> None:
    if deadline is not None and not (isinstance(deadline, (int, float)) and deadline > 0):
        raise errors.ConfigError(f"deadline must be a positive number of seconds, got {deadline!r}")


def fetch(
    spec: RemoteFile,
    folder: str | Path,
    mirrors: Sequence[str],
    *,
    timeout: float = TIMEOUT_S,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> str:
    """Download one file into ``folder``: the first mirror that delivers a verified copy wins.

    Parameters
    ----------
    spec : RemoteFile
        The file and its pinned size and SHA-256.
    folder : str or Path
        An existing directory; ``folder/spec.name.part`` is the download in progress.
    mirrors : sequence of str
        Base URLs, tried in order; the file's URL is ``mirror + spec.name``.
    timeout : float
        Seconds without an answer after which a request fails (per read).
    deadline : float, optional
        Seconds after which one mirror's download of this file fails however much data still
        trickles in (the ``.part`` is kept for a resume). Default ``default_deadline(spec)``:
        the file's size at 16 KiB/s, at least two minutes.
    progress : callable, optional
        Called with every ``DownloadEvent``.

    Returns
    -------
    str
        The mirror that delivered the file ("" when a complete, verified ``.part`` left by
        an interrupted run only needed its rename).

    Raises
    ------
    errors.DataError
        Every mirror failed; one line names the file and each mirror's reason (for a checksum
        mismatch, the expected and the actual digest). No final-named file is written and no
        corrupt ``.part`` is kept; the ``.part`` of a dropped connection stays for a resume.
    errors.ConfigError
        No mirror, one that is not an http(s) URL, or a deadline that is not positive.
    """
    _check_mirrors(mirrors)
    _check_deadline(deadline)
    seconds = default_deadline(spec) if deadline is None else float(deadline)
    report = progress if progress is not None else _ignore
    final = Path(folder) / spec.name
    part = final.with_name(f"{spec.name}.part")
    if _lregular(part) is not None and verify(part, spec) is None:
        # A run stopped between the last byte and the rename: nothing left to fetch.
        os.replace(part, final)
        report(DownloadEvent("done", spec.name, spec.size, spec.size, ""))
        return ""
    reasons = []
    for mirror in mirrors:
        try:
            _from_mirror(mirror, part, spec, timeout, seconds, report)
        except _MirrorFailed as exc:
            reasons.append(f"{mirror}: {exc}")
            report(DownloadEvent("retry", spec.name, 0, spec.size, mirror, str(exc)))
            continue
        os.replace(part, final)  # replaces a link at the final name, never its target
        report(DownloadEvent("done", spec.name, spec.size, spec.size, mirror))
        return mirror
    raise errors.DataError(f"{final}: download failed: {'; '.join(reasons)}")


def _present(final: Path, spec: RemoteFile) -> tuple[bool, str]:
    """Whether the file at ``final`` can stay, and one line saying why or why not."""
    try:
        match = compare(final, spec)
    except errors.DataError as exc:
        reason = str(exc).removeprefix(f"{final}: ")
        return False, f"present but unusable ({reason}); downloading again"
    if not match.verified:
        return False, f"present, but {match.detail}; downloading again"
    message = "already present and verified"
    if match.kind == "same content":
        message += " (same content as the published file, compressed otherwise)"
    if final.is_symlink():
        message += f" (a symbolic link to {os.path.realpath(final)})"
    return True, message


def download(
    name: str,
    data_dir: str | Path | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    force: bool = False,
    timeout: float = TIMEOUT_S,
    deadline: float | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download the four IDX files of ``name`` into ``DIR/NAME/`` and verify them.

    A file already there is kept when it is verified: the published ``.gz``, or a faithful
    copy of its content (re-compressed: the loaders read it without a warning), also behind a
    symbolic link (its target is what is checked). Anything else at that name (a file that
    differs, a FIFO, a link to something else) is replaced by the download, once verified;
    a link is replaced, the file it points to is never written.

    Parameters
    ----------
    name : {"mnist", "fashion-mnist"}
    data_dir : str or Path, optional
        The data home (default ``config.data_dir()``: ``$NNLITE_DATA``, else the per-user
        cache). Created if needed.
    mirrors : sequence of str, optional
        Base URLs to try in order instead of the set's own (a local mirror; tests).
    force : bool
        Download again even when a file is present and verified.
    timeout : float
        Seconds without an answer after which a request fails (per read).
    deadline : float, optional
        Overall seconds per file and mirror (see ``fetch``; default from the file's size).
    progress : callable, optional
        Called with every ``DownloadEvent``.

    Returns
    -------
    Path
        The folder now holding the four verified files.

    Raises
    ------
    errors.DataError
        A file could not be fetched from any mirror (see ``fetch``).
    errors.ConfigError
        Unknown name, an empty mirror list, or a deadline that is not positive.
    """
    src = source(name)
    chosen = tuple(mirrors) if mirrors is not None else src.mirrors
    _check_mirrors(chosen)
    _check_deadline(deadline)
    folder = target_dir(src.name, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    report = progress if progress is not None else _ignore
    for spec in src.files:
        final = folder / spec.name
        part = final.with_name(f"{spec.name}.part")
        if force:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        elif final.exists() or final.is_symlink():
            keep, message = _present(final, spec)
            if keep:
                report(DownloadEvent("skip", spec.name, spec.size, spec.size, "", message))
                continue
            # Downloaded again into .part and renamed over it only once verified.
            report(DownloadEvent("retry", spec.name, 0, spec.size, "", message))
        fetch(spec, folder, chosen, timeout=timeout, deadline=deadline, progress=report)
    return folder
