"""How nnlite touches the file system: reading files it did not write, writing its own atomically.

Owns:

- ``open_regular``: open a file for reading only if it is a regular file. A FIFO, a
  device node (``/dev/zero``), a socket or a directory is refused, and opening never
  blocks (``O_NONBLOCK``: a FIFO with no writer would otherwise hang ``open``). A
  symbolic link is followed, so a link to a regular file reads, a link to ``/dev/zero``
  is refused.
- ``check_target``: everything that can be checked about a file nnlite will write
  *before* the work that produces it (a training run): the name is a file name, not a
  directory, its directory exists and accepts a new file (probed by creating one), and
  an existing file is replaced only when ``overwrite`` says so.
- ``atomic_write``: write through a temporary file in the same directory, fsync, then
  rename it into place, so a reader never sees a half-written file and an interrupted
  write leaves the old file untouched. The temporary file is removed on every error
  (Ctrl-C included); one left by a killed process (``kill -9``) is removed by the next
  write to the same path. A character device or FIFO (``/dev/null``, a pipe), or one of the
  process's own descriptors (``/dev/stdout``, ``/dev/fd/N``, whatever they lead to), is written
  directly, never replaced by a regular file. Without ``overwrite`` the file is created
  exclusively: a file that appeared meanwhile (another run) is never replaced.
- ``claim``: an advisory lock on a path for the length of a run, so two runs writing the
  same file are refused at the start instead of one silently losing its work.

Imports the standard library and ``nnlite.errors`` only. Never prints.

Omits: Windows' file semantics beyond what ``os`` provides (no locking there).
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, BinaryIO

from nnlite.errors import ConfigError, NnliteError

__all__ = [
    "NotRegularFile",
    "TargetBusy",
    "TargetExists",
    "atomic_write",
    "check_target",
    "claim",
    "kind",
    "open_regular",
]

_TMP_SUFFIX = ".nnlite-tmp"
# Temporary files of the earlier naming (``tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")``):
# cleaned only when old enough that no writer can still be using them.
_LEGACY_TMP_AGE_S = 3600.0


class NotRegularFile(OSError):
    """A path nnlite must read or replace is a FIFO, device, socket or directory."""


class TargetExists(NnliteError, FileExistsError):
    """The file to write exists and replacing it was not asked for."""


class TargetBusy(NnliteError, OSError):
    """Another process holds the claim on the file to write."""


def kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: "a regular file", "a FIFO", "a character device", …"""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if it is a regular file; never blocks.

    Raises
    ------
    FileNotFoundError, PermissionError, OSError
        As ``open`` would.
    NotRegularFile
        A directory, FIFO, device or socket (after following symbolic links); its
        ``strerror`` says which ("is a FIFO (named pipe), not a regular file").
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    flags |= getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except IsADirectoryError:
        raise NotRegularFile(
            errno.EISDIR, "is a directory, not a regular file", str(path)
        ) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            code = errno.EISDIR if stat.S_ISDIR(mode) else errno.EINVAL
            raise NotRegularFile(code, f"is {kind(mode)}, not a regular file", str(path))
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _is_stream(mode: int) -> bool:
    """A target written in place rather than replaced: a character device or a FIFO."""
    return stat.S_ISCHR(mode) or stat.S_ISFIFO(mode)


def _descriptor(text: str) -> int | None:
    """The descriptor a path names (``/dev/stdout`` → 1, ``/dev/fd/N``, ``/proc/self/fd/N``)."""
    named = {"/dev/stdin": 0, "/dev/stdout": 1, "/dev/stderr": 2}
    if text in named:
        return named[text]
    for prefix in ("/dev/fd/", "/proc/self/fd/"):
        if text.startswith(prefix) and text[len(prefix) :].isdigit():
            return int(text[len(prefix) :])
    return None


def _in_place(text: str) -> bool:
    """Is ``text`` written in place: one of this process's descriptors, a device, a FIFO?

    A descriptor path is written through the descriptor itself, whatever it leads to:
    renaming a new file over ``/dev/stdout > out.csv``'s would leave the shell's descriptor on
    the old, unlinked file.
    """
    if _descriptor(text) is not None:
        return True
    try:  # through any links
        return _is_stream(os.stat(text).st_mode)
    except OSError:
        return False


def _resolve(path: Path) -> Path:
    """``path`` with symbolic links followed (a dangling link: where it points)."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _directory(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


def _file_name(path: str | os.PathLike) -> str:
    """``path`` as text, or ``ConfigError`` when it cannot name a file ('', '.', '/', 'dir/')."""
    text = os.fspath(path)
    if text.endswith(("/", os.sep)) or Path(text).name in ("", ".", ".."):
        raise ConfigError(f"{text!r} is not a file name")
    return text


def check_target(path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Check that ``path`` can be written, before the work whose result it will hold.

    Returns the path (``Path``). Raises ``ConfigError`` when the name cannot be a file
    ('', '.', '/', a name ending in a separator, an existing directory, a socket), when
    its directory is missing or does not accept a new file (read-only, no permission:
    probed by creating and removing an empty file there), and ``TargetExists`` when a
    regular file is there and ``overwrite`` is false. A character device or FIFO is
    accepted: ``atomic_write`` writes it in place.
    """
    text = _file_name(path)
    path = Path(text)
    if _in_place(text):
        return path
    target = _resolve(path)
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise ConfigError(f"{text!r} cannot be written: {exc.strerror}") from None
    if mode is not None:
        if stat.S_ISDIR(mode):
            raise ConfigError(f"{text!r} is a directory; give a file name inside it")
        if not stat.S_ISREG(mode):
            raise ConfigError(f"{text!r} is {kind(mode)}, not a file nnlite can write")
        if not overwrite:
            raise TargetExists(f"{text!r} already exists")
    directory = _directory(target)
    if not directory.is_dir():
        raise ConfigError(f"{text!r}: directory {str(directory)!r} does not exist")
    probe = _temporary_name(directory, target.name)
    try:  # the honest test: root ignores permission bits, a read-only mount does not
        os.close(os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as exc:
        raise ConfigError(
            f"{text!r} cannot be written: directory {str(directory)!r}: {exc.strerror}"
        ) from None
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return path


def _temporary_name(directory: Path, name: str) -> Path:
    """``.NAME.PID.RANDOM.nnlite-tmp``: the writer's pid tells a later write whether it is stale."""
    return directory / f".{name}.{os.getpid()}.{os.urandom(4).hex()}{_TMP_SUFFIX}"


_OURS = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[0-9a-f]{8}" + re.escape(_TMP_SUFFIX) + "$")
_LEGACY = re.compile(r"^\.(?P<name>.+)\.[A-Za-z0-9_]{8}\.tmp$")


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def _clean_stale(directory: Path, name: str) -> int:
    """Remove temporary files of ours for ``name`` whose writer is gone; returns how many."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    now = time.time()
    for entry in entries:
        ours = _OURS.match(entry.name)
        legacy = _LEGACY.match(entry.name) if ours is None else None
        match = ours or legacy
        if match is None or match["name"] != name:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode):
                continue
            if ours is not None and _alive(int(ours["pid"])):
                continue
            if legacy is not None and now - info.st_mtime < _LEGACY_TMP_AGE_S:
                continue
            os.unlink(entry.path)
            removed += 1
        except OSError:
            continue
    return removed


def _fsync_directory(directory: Path) -> None:
    """Make a rename in ``directory`` durable (where the platform allows)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _write_stream(path: Path, mode: str) -> Iterator[IO]:
    """A device, FIFO or descriptor path, opened for writing in place (never replaced).

    A descriptor path (``/dev/stdout``) is written through a duplicate of that descriptor,
    after Python's own buffered output: it continues what the process printed there, at the
    same offset, instead of writing over it.
    """
    number = _descriptor(os.fspath(path))
    if number is not None:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        with os.fdopen(os.dup(number), mode) as handle:
            yield handle
        return
    flags = os.O_WRONLY | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:  # a FIFO nobody reads would block ``open`` forever: fail at once instead
        fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise OSError(exc.errno, "no process is reading this FIFO", str(path)) from None
        raise
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    with os.fdopen(fd, mode) as handle:
        yield handle


@contextlib.contextmanager
def atomic_write(
    path: str | os.PathLike, mode: str = "wb", *, overwrite: bool = True
) -> Iterator[IO]:
    """Open a temporary file beside ``path``; on success fsync it and move it to ``path``.

    On any exception (``KeyboardInterrupt`` included) the temporary file is removed and
    ``path`` is untouched. A symbolic link is followed: the file it points to is replaced
    and the link kept. A character device or FIFO is written in place. With
    ``overwrite=False`` the result is linked in only if ``path`` does not exist
    (``TargetExists`` otherwise, raised after writing: nothing is replaced).
    Temporary files that earlier, killed writers left for this path are removed first.
    """
    text = _file_name(path)
    if _in_place(text):
        with _write_stream(Path(text), mode) as handle:
            yield handle
        return
    target = _resolve(Path(text))
    try:
        mode_now = target.stat().st_mode
    except FileNotFoundError:
        mode_now = None
    if mode_now is not None and not stat.S_ISREG(mode_now):
        if stat.S_ISDIR(mode_now):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), text)
        raise NotRegularFile(
            errno.EINVAL, f"is {kind(mode_now)}, not a file nnlite can replace", text
        )
    if mode_now is not None and not overwrite:
        raise TargetExists(f"{text!r} already exists")
    directory = _directory(target)
    if not directory.is_dir():
        raise FileNotFoundError(errno.ENOENT, "directory does not exist", str(directory))
    _clean_stale(directory, target.name)
    tmp = _temporary_name(directory, target.name)
    permissions = stat.S_IMODE(mode_now) if mode_now is not None else 0o666  # umask applies
    fd = os.open(
        tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), permissions
    )
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if overwrite:
            os.replace(tmp, target)
        else:
            _link_new(tmp, target, text)
        _fsync_directory(directory)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _link_new(tmp: Path, target: Path, text: str) -> None:
    """Give ``tmp``'s content the name ``target`` only if that name is free (atomically)."""
    try:
        os.link(tmp, target)
    except FileExistsError:
        raise TargetExists(
            f"{text!r} already exists (written meanwhile by another process?)"
        ) from None
    except OSError as exc:  # a file system without hard links: the check is not atomic here
        if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV):
            raise
        if target.exists():
            raise TargetExists(f"{text!r} already exists") from None
        os.replace(tmp, target)


@contextlib.contextmanager
def claim(path: str | os.PathLike) -> Iterator[None]:
    """Hold an advisory lock on ``path`` (a hidden ``.NAME.nnlite-lock`` beside it) meanwhile.

    Raises ``TargetBusy`` at once when another process holds it. The lock goes with the
    process (a killed run leaves no lock held); the lock file is removed on release.
    Where ``fcntl`` is missing (Windows) this does nothing.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    target = _resolve(Path(path))
    lock = _directory(target) / f".{target.name}.nnlite-lock"
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise TargetBusy(
                f"{os.fspath(path)!r} is being written by another nnlite run"
            ) from None
        # The holder before us may have removed the file after we opened it: then our lock
        # is on a file nobody else can see, so take the lock again on the current one.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(lock)
        os.close(fd)
