"""Download MNIST and Fashion-MNIST: mirrors in order, pinned checksums, atomic and resumable.

Owns: the table of downloadable data sets (``SOURCES``: mirrors and, per file, the pinned size
and SHA-256), ``download`` (fetch the four IDX files of a set into ``HOME/NAME/``), ``status``
(which files are present and verified, for ``nnlite data list``) and ``verify``.

How a file is fetched: into ``NAME.part`` beside its final name; when the ``.part`` is complete
its size and SHA-256 are checked, and only then is it renamed (``os.replace``) to ``NAME``, so
an interrupted or corrupted download never leaves a file that looks complete. A ``.part`` left
by an interrupted run is resumed with an HTTP ``Range`` request; a server that ignores the range
(200 instead of 206), or a resumed file that fails the checksum, makes it start again from zero,
once. A mirror that fails (HTTP error, dropped connection, checksum mismatch) hands over to the
next; when all fail, one ``DataError`` line names the file and every mirror's reason.

Imports: the standard library (``urllib`` and ``http.client`` only inside the functions that
fetch: they cost every run 45 ms, and most runs download nothing), ``nnlite.errors`` and
``nnlite.config``. Never numpy, typer or rich; never prints: progress goes to a callback as
``DownloadEvent`` records, which the CLI renders.

Omits: parallel downloads, proxies beyond what ``urllib`` reads from the environment, and
decompression (the loaders read the ``.gz`` files directly).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nnlite import config, errors

if TYPE_CHECKING:
    import http.client

__all__ = [
    "SOURCES",
    "DownloadEvent",
    "FileStatus",
    "RemoteFile",
    "Source",
    "candidate_dirs",
    "command",
    "download",
    "fetch",
    "find_files",
    "identify",
    "locate",
    "source",
    "status",
    "target_dir",
    "verify",
]

USER_AGENT = f"nnlite/{config.__version__} (teaching neural-network library; Python urllib)"
TIMEOUT_S = 30.0
_CHUNK = 1 << 16


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
    """

    name: str
    size: int
    sha256: str
    md5: str


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
# files in ../shared/data/mnist (tests/test_download.py checks them again).
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
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            28881,
            "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "d53e105ee54ea40749a09fcbcd1e9432",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            1648877,
            "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "9fb629c4189551a2d022fa330f9573f3",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            4542,
            "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
            "ec29112dd5afa0611ce80d1b7f02629c",
        ),
    ),
)

# Fashion-MNIST: Keras's bucket (keras/src/datasets/fashion_mnist.py, https) first, then
# Zalando's own S3 website (http; torchvision's FashionMNIST.mirrors and the Zalando README).
# Plain http is acceptable only because every file is checked against the pinned digest.
# Pinned, NOT verified here (this machine cannot reach those mirrors): size and SHA-256 from
# tensorflow_datasets/url_checksums/fashion_mnist.txt; the same SHA-256 values are pinned
# independently in Keras's FILE_HASHES. MD5 from torchvision's FashionMNIST.resources, equal
# to the table in zalandoresearch/fashion-mnist's README.
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
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            29515,
            "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "25c81989df183df01b3e8a0aad5dffbe",
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            4422102,
            "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "bef4ecab320f06d8554ea6380940ec79",
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            5148,
            "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
            "bb300cfdad3c16e7a12a480ee83cd310",
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
    test labels).
    """
    found: dict[str, Path | None] = {}
    for spec in source(name).files:
        candidates = (folder / spec.name, folder / spec.name.removesuffix(".gz"))
        found[spec.name] = next((p for p in candidates if p.is_file()), None)
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


def identify(path: str | Path, exclude: str | None = None) -> str | None:
    """The set (other than ``exclude``) whose pinned file ``path`` is byte for byte, or None.

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


# ---------------------------------------------------------------------------- checking


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: str | Path, spec: RemoteFile) -> str | None:
    """Check a file against its pin; None when it matches, else a short reason.

    The size is compared first (free), the SHA-256 only when the size is right.
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


@dataclass(frozen=True)
class FileStatus:
    """What ``status`` found for one file.

    ``state`` is ``"verified"`` (size and SHA-256 match the pin), ``"unverified"`` (only the
    uncompressed file is there, which has no published digest), ``"corrupt"`` (present but the
    checksum differs; ``detail`` says how), ``"partial"`` (an interrupted download's ``.part``,
    ``detail`` says how much) or ``"missing"``.
    """

    name: str
    path: Path
    state: str
    detail: str = ""


def status(name: str, data_dir: str | Path | None = None) -> tuple[Path, list[FileStatus]]:
    """The folder of set ``name`` (as the loaders find it) and the state of each of its files.

    The folder is the one ``locate`` picks when it holds any file, else where ``download``
    would write.
    """
    src = source(name)
    where, found = locate(src.name, data_dir)
    if not any(found.values()):
        where = target_dir(src.name, data_dir)
    out = []
    for spec in src.files:
        path = where / spec.name
        raw = where / spec.name.removesuffix(".gz")
        part = where / f"{spec.name}.part"
        if path.is_file():
            problem = verify(path, spec)
            other = identify(path, exclude=src.name) if problem else None
            if other is not None:
                problem = f"this is the {other} file, not {src.name}'s"
            state = "verified" if problem is None else "corrupt"
            out.append(FileStatus(spec.name, path, state, problem or ""))
        elif raw.is_file():
            out.append(FileStatus(raw.name, raw, "unverified", "uncompressed: no published digest"))
        elif part.is_file():
            done = part.stat().st_size
            out.append(FileStatus(spec.name, part, "partial", f"{done:,} of {spec.size:,} bytes"))
        else:
            out.append(FileStatus(spec.name, path, "missing"))
    return where, out


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


def _open(url: str, offset: int, timeout: float) -> http.client.HTTPResponse:
    import urllib.request
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _content_range_start(response) -> int | None:
    # "bytes 100-199/200": the first byte the server is sending.
    value = response.headers.get("Content-Range", "")
    try:
        unit, rest = value.split(" ", 1)
        return int(rest.split("-", 1)[0]) if unit == "bytes" else None
    except ValueError:
        return None


def _transfer(
    url: str, mirror: str, part: Path, spec: RemoteFile, timeout: float, report: Progress
) -> bool:
    """Append the rest of ``url`` to ``part``; True when it resumed, False when it started at 0.

    Raises ``_MirrorFailed`` with the reason (the ``.part`` is kept for a later resume).
    """
    import http.client
    import urllib.error
    offset = part.stat().st_size if part.is_file() else 0
    if offset >= spec.size:
        # Nothing left to ask for (a whole or over-long .part): start again.
        part.unlink()
        offset = 0
    report(DownloadEvent("start", spec.name, offset, spec.size, mirror))
    try:
        response = _open(url, offset, timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and offset:  # range not satisfiable: the .part is no good
            part.unlink()
            return _transfer(url, mirror, part, spec, timeout, report)
        raise _MirrorFailed(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        raise _MirrorFailed(_reason(exc)) from None
    with response:
        resumed = offset > 0 and response.status == 206
        if resumed and _content_range_start(response) != offset:
            # A 206 for some other range than the one asked for: start again from zero.
            part.unlink()
            return _transfer(url, mirror, part, spec, timeout, report)
        if offset and not resumed:
            # The server ignored the Range header and sends the whole file: start from zero.
            note = "the server ignored the resume request; downloading from the start"
            report(DownloadEvent("retry", spec.name, 0, spec.size, mirror, note))
            offset = 0
        done = offset
        too_long = False
        # Errors of the local disk (OSError from write) are not the mirror's fault: they
        # propagate, and the .part stays for a later resume.
        with open(part, "ab" if resumed else "wb") as out:
            while True:
                try:
                    chunk = response.read(min(_CHUNK, spec.size + 1 - done))
                except (http.client.HTTPException, OSError) as exc:
                    raise _MirrorFailed(
                        f"connection lost after {done:,} of {spec.size:,} bytes "
                        f"({_reason(exc)}); run the command again to resume"
                    ) from None
                if not chunk:
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
    return str(exc) or type(exc).__name__


def _from_mirror(
    mirror: str, part: Path, spec: RemoteFile, timeout: float, report: Progress
) -> None:
    """Leave a verified ``part`` or raise ``_MirrorFailed``; restarts from zero at most once."""
    url = mirror if mirror.endswith("/") else mirror + "/"
    url += spec.name
    for attempt in range(2):
        resumed = _transfer(url, mirror, part, spec, timeout, report)
        problem = verify(part, spec)
        if problem is None:
            return
        part.unlink()
        if resumed and attempt == 0:
            note = f"the resumed file failed its checksum ({problem}); downloading from the start"
            report(DownloadEvent("retry", spec.name, 0, spec.size, mirror, note))
            continue
        raise _MirrorFailed(f"checksum mismatch: {problem}")


def _check_mirrors(mirrors: Sequence[str]) -> None:
    if not mirrors:
        raise errors.ConfigError("the mirror list is empty")
    for mirror in mirrors:
        if not str(mirror).lower().startswith(("http://", "https://")):
            raise errors.ConfigError(f"mirror {mirror!r} is not an http:// or https:// URL")


def fetch(
    spec: RemoteFile,
    folder: str | Path,
    mirrors: Sequence[str],
    *,
    timeout: float = TIMEOUT_S,
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
        Seconds without an answer after which a request fails.
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
        No mirror, or one that is not an http(s) URL.
    """
    _check_mirrors(mirrors)
    report = progress if progress is not None else _ignore
    final = Path(folder) / spec.name
    part = final.with_name(f"{spec.name}.part")
    if part.is_file() and verify(part, spec) is None:
        # A run stopped between the last byte and the rename: nothing left to fetch.
        os.replace(part, final)
        report(DownloadEvent("done", spec.name, spec.size, spec.size, ""))
        return ""
    reasons = []
    for mirror in mirrors:
        try:
            _from_mirror(mirror, part, spec, timeout, report)
        except _MirrorFailed as exc:
            reasons.append(f"{mirror}: {exc}")
            report(DownloadEvent("retry", spec.name, 0, spec.size, mirror, str(exc)))
            continue
        os.replace(part, final)
        report(DownloadEvent("done", spec.name, spec.size, spec.size, mirror))
        return mirror
    raise errors.DataError(f"{final}: download failed: {'; '.join(reasons)}")


def download(
    name: str,
    data_dir: str | Path | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    force: bool = False,
    timeout: float = TIMEOUT_S,
    progress: Progress | None = None,
) -> Path:
    """Download the four IDX files of ``name`` into ``DIR/NAME/`` and verify them.

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
        Seconds without an answer after which a request fails.
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
        Unknown name, or an empty mirror list.
    """
    src = source(name)
    chosen = tuple(mirrors) if mirrors is not None else src.mirrors
    _check_mirrors(chosen)
    folder = target_dir(src.name, data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    report = progress if progress is not None else _ignore
    for spec in src.files:
        final = folder / spec.name
        part = final.with_name(f"{spec.name}.part")
        if force:
            with contextlib.suppress(FileNotFoundError):
                part.unlink()
        elif final.is_file():
            problem = verify(final, spec)
            if problem is None:
                message = "already present and verified"
                report(DownloadEvent("skip", spec.name, spec.size, spec.size, "", message))
                continue
            # Downloaded again into .part and renamed over it only once verified.
            note = f"present but fails its checksum ({problem}); downloading again"
            report(DownloadEvent("retry", spec.name, 0, spec.size, "", note))
        fetch(spec, folder, chosen, timeout=timeout, progress=report)
    return folder
