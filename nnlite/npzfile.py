"""Reading ``.npz`` archives nnlite did not write, as if every byte were hostile.

Owns: ``open_npz`` and its ``Archive`` (the zip directory, checked), ``Header`` (one ``.npy``
header, parsed by a strict parser of our own) and ``NpzError`` (what went wrong, in words,
without the file's name: the callers, ``nnlite.io`` for model files and ``nnlite.datasets``
for data sets, put the name in front and raise their own error).

The rules, those of numpy's and PyTorch's weights-only loaders made strict:

- The file must be a regular file (``files.open_regular``: a FIFO or device is refused
  without blocking) that starts as a zip archive does.
- The zip directory is read with ``zipfile``, then checked before any member is opened:
  at most ``max_members`` members, no name twice (``zipfile`` would let the last one win
  silently), every name ending in ``.npy``, compression stored or deflate only, nothing
  encrypted, and declared sizes that the file can really hold (stored: as many bytes as
  the member occupies; deflate: at most ``_MAX_DEFLATE_RATIO`` times its compressed bytes,
  the most deflate can produce).
- A ``.npy`` header is parsed here, never by numpy's ``safe_eval``/tokenize path: the magic,
  version 1.0, 2.0 or 3.0, a header length of at most ``MAX_HEADER_LEN`` bytes, a dict literal
  with exactly the keys ``descr``, ``fortran_order`` and ``shape``, a ``descr`` among the bool,
  integer and float types in ``DTYPES`` (never objects: no pickle), a shape of at most
  ``MAX_NDIM`` non-negative integers. The member's declared size must be exactly header plus
  data: more is trailing data, less is truncation.
- ``Archive.read`` allocates the array only after the caller's bound (``limit``) and the
  checks above, then streams the decompressed bytes into it in ``_CHUNK`` pieces, asking
  for one byte more than the header promises: the array's size is a hard stop, and a short
  stream is reported as truncated. ``np.empty`` reserves memory the kernel hands out only
  when it is written, so a header that lies costs what the stream really delivers. A
  deflated member over ``VERIFY_FIRST`` bytes is first decompressed once with nothing kept
  (length and CRC-32 checked): a damaged deflate bomb costs time, never memory.

Imports numpy, the standard library and ``nnlite.files``. Never ``np.load``, never pickle.

Omits: writing (``np.savez`` does it), zip64 edge cases beyond what ``zipfile`` handles,
and dtypes nnlite does not use (complex, float128, strings, structured, datetime).
"""

from __future__ import annotations

import math
import re
import struct
import sys
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nnlite.files import open_regular

__all__ = ["DTYPES", "MAX_HEADER_LEN", "Archive", "Header", "NpzError", "open_npz", "parse_header"]

_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first entry, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"
# numpy's own bound (``np.lib.format._MAX_HEADER_SIZE``); nnlite's headers are < 128 bytes.
MAX_HEADER_LEN = 10_000
MAX_NDIM = 32
# Deflate turns 2 bits into at most 258 bytes: 1032 bytes out per byte in, at the very best.
_MAX_DEFLATE_RATIO = 1032
_CHUNK = 1 << 20
# A deflated array larger than this is decompressed twice: once to check its length and
# CRC-32 with nothing kept, then into the array. A damaged one then costs time, not memory.
VERIFY_FIRST = 16 << 20

# descr (as numpy writes it) -> dtype. One-byte types carry "|", the others "<" or ">".
DTYPES: dict[str, np.dtype] = {"|b1": np.dtype(bool), "|i1": np.dtype("i1"), "|u1": np.dtype("u1")}
for _order in "<>":
    for _code in ("i2", "i4", "i8", "u2", "u4", "u8", "f2", "f4", "f8"):
        DTYPES[_order + _code] = np.dtype(_order + _code)
del _order, _code

# Anything ``zipfile``, ``zlib`` and the file system raise on damaged bytes.
_ZIP_ERRORS = (
    OSError,
    EOFError,
    ValueError,  # UnicodeDecodeError of a member name included
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    zlib.error,
    struct.error,
    OverflowError,
    NotImplementedError,  # a compression method or flag zipfile does not handle
    RuntimeError,  # an encrypted member
)


class NpzError(Exception):
    """An archive or array that cannot be read; the message says why, in one line.

    ``kind``: "not-zip" (the bytes are not a zip archive), "npy" (a single ``.npy`` file, not
    an archive) or "damaged" (everything else); callers word the first two their own way.
    """

    def __init__(self, message: str, kind: str = "damaged") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Header:
    """One ``.npy`` header: ``dtype`` (one of ``DTYPES``), ``fortran_order``, ``shape``."""

    dtype: np.dtype
    fortran_order: bool
    shape: tuple[int, ...]
    size: int  # bytes of the header itself, magic included: the data start here

    @property
    def count(self) -> int:
        """Number of elements, ``prod(shape)``."""
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of data the header promises."""
        return self.count * self.dtype.itemsize


def _swapped(dtype: np.dtype) -> bool:
    return dtype.byteorder not in ("=", "|", "<" if sys.byteorder == "little" else ">")


# ------------------------------------------------------------------------- .npy header

# One token of a header: a quoted string without escapes, an integer, True/False, punctuation.
_TOKEN = re.compile(
    r"[ \t]*(?:(?P<str>'[^'\\\n]{0,64}'|\"[^\"\\\n]{0,64}\")|(?P<int>-?[0-9]{1,20})"
    r"|(?P<name>True|False)|(?P<punct>[][{}():,]))"
)
_KEYS = ("descr", "fortran_order", "shape")


def _tokens(text: str) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    at = 0
    end = len(text.rstrip(" \t\r\n"))
    while at < end:
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise NpzError(f"unexpected text {text[at : at + 20]!r}")
        at = match.end()
        kind = match.lastgroup
        value = match[kind]
        if kind == "str":
            out.append(("str", value[1:-1]))
        elif kind == "int":
            out.append(("int", int(value)))
        elif kind == "name":
            out.append(("bool", value == "True"))
        else:
            out.append(("punct", value))
    return out


def parse_header(text: str) -> tuple[str | None, bool, tuple[int, ...]]:
    """The dict literal of a ``.npy`` header as (descr, fortran_order, shape).

    Accepts exactly what numpy writes, ``{'descr': '<f8', 'fortran_order': False,
    'shape': (3, 2), }`` with any spacing: the three keys once each, a string descr, a bool,
    a tuple of integers (``()``, ``(3,)``, ``(3, 2)``). ``descr`` is None when it is not a
    string (numpy writes a list for a structured dtype). Raises ``NpzError`` otherwise;
    nothing is evaluated.
    """
    tokens = _tokens(text)
    pos = 0

    def take(kind: str, value: object = None) -> object:
        nonlocal pos
        if pos >= len(tokens):
            raise NpzError("the header ends early")
        got_kind, got = tokens[pos]
        if got_kind != kind or (value is not None and got != value):
            raise NpzError(f"expected {value or kind} at {got!r}")
        pos += 1
        return got

    def peek(value: object) -> bool:
        return pos < len(tokens) and tokens[pos] == ("punct", value)

    def skip_value() -> None:  # a structured dtype's list: stepped over, never evaluated
        nonlocal pos
        depth = 0
        while pos < len(tokens):
            kind, got = tokens[pos]
            if kind == "punct" and got in ("(", "["):
                depth += 1
            elif kind == "punct" and got in (")", "]"):
                depth -= 1
            elif depth == 0 and kind == "punct" and got in (",", "}"):
                return
            pos += 1

    take("punct", "{")
    found: dict[str, object] = {}
    while not peek("}"):
        key = take("str")
        if key not in _KEYS:
            raise NpzError(f"unexpected key {key!r}; a .npy header has {', '.join(_KEYS)}")
        if key in found:
            raise NpzError(f"key {key!r} twice")
        take("punct", ":")
        if key == "descr":
            if pos < len(tokens) and tokens[pos][0] == "str":
                found[key] = take("str")
            else:
                found[key] = None
                skip_value()
        elif key == "fortran_order":
            found[key] = take("bool")
        else:
            take("punct", "(")
            dims: list[int] = []
            while not peek(")"):
                dims.append(take("int"))  # type: ignore[arg-type]
                if len(dims) > MAX_NDIM:
                    raise NpzError(f"more than {MAX_NDIM} dimensions")
                if not peek(")"):
                    take("punct", ",")
                elif len(dims) == 1:
                    raise NpzError("the shape is not a tuple: (n) needs a comma, (n,)")
            take("punct", ")")
            found[key] = tuple(dims)
        if not peek("}"):
            take("punct", ",")
    take("punct", "}")
    if pos != len(tokens):
        raise NpzError("text after the header's closing brace")
    missing = [k for k in _KEYS if k not in found]
    if missing:
        raise NpzError(f"no {', '.join(missing)} in the header")
    return found["descr"], found["fortran_order"], found["shape"]  # type: ignore[return-value]


def _descr_problem(descr: str | None) -> str:
    if descr is None:
        return "has a structured dtype, expected numbers"
    if "O" in descr:
        return "holds Python objects (pickle); nnlite loads plain numeric arrays only"
    return f"has dtype {descr!r}, expected numbers (bool, int, uint or float)"


def read_header(f, key: str) -> Header:
    """Read and parse the ``.npy`` header at the start of stream ``f`` (a member)."""
    head = f.read(8)
    if len(head) < 8 or head[:6] != _NPY_MAGIC:
        raise NpzError(f"array {key!r} is unreadable (not a .npy array: no \\x93NUMPY magic)")
    major, minor = head[6], head[7]
    if major not in (1, 2, 3) or minor != 0:
        raise NpzError(
            f"array {key!r} is in .npy format {major}.{minor}, which nnlite does not read"
        )
    width = 2 if major == 1 else 4
    raw = f.read(width)
    if len(raw) < width:
        raise NpzError(f"array {key!r} is unreadable (the .npy header is cut off)")
    length = int.from_bytes(raw, "little")
    if length > MAX_HEADER_LEN:
        raise NpzError(
            f"array {key!r} is unreadable (a .npy header of {length:,} bytes; "
            f"at most {MAX_HEADER_LEN:,})"
        )
    body = f.read(length)
    if len(body) < length:
        raise NpzError(f"array {key!r} is unreadable (the .npy header is cut off)")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError:
        raise NpzError(f"array {key!r} is unreadable (the .npy header is not ASCII)") from None
    try:
        descr, fortran, shape = parse_header(text)
    except NpzError as exc:
        raise NpzError(f"array {key!r} is unreadable (.npy header: {exc})") from None
    if descr not in DTYPES:
        raise NpzError(f"array {key!r} {_descr_problem(descr)}")
    if any(d < 0 for d in shape):
        raise NpzError(f"array {key!r} has a negative shape {shape}")
    return Header(DTYPES[descr], fortran, shape, 8 + width + length)


# ------------------------------------------------------------------------------ archive


class Archive:
    """An ``.npz`` whose zip directory passed the checks; see the module docstring.

    Use ``open_npz``. ``keys`` are the array names (member names without ``.npy``) in
    archive order.
    """

    def __init__(self, handle, infos: dict[str, zipfile.ZipInfo], zf: zipfile.ZipFile) -> None:
        self._handle = handle
        self._zip = zf
        self._infos = infos
        self._headers: dict[str, Header] = {}
        self.keys = tuple(infos)

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()
        self._handle.close()

    def header(self, key: str, limit: int | None = None) -> Header:
        """The array's ``.npy`` header, checked against ``limit`` and the member's size.

        ``limit``: the most bytes of data the caller reads (None: no bound here). The
        member's declared size must be exactly the header plus the data it promises.
        """
        if key not in self._headers:
            info = self._infos[key]
            try:
                with self._zip.open(info) as f:
                    header = read_header(f, key)
            except _ZIP_ERRORS as exc:
                raise NpzError(f"array {key!r} is unreadable ({_plain(exc)})") from None
            promise = self._promise(key, header)
            if limit is not None and header.nbytes > limit:
                raise NpzError(f"{promise}, more than the {limit:,} nnlite reads")
            data = info.file_size - header.size
            if header.nbytes > data:
                raise NpzError(f"{promise}, the archive member holds {max(data, 0):,}")
            if header.nbytes < data:
                raise NpzError(f"{promise}: trailing bytes after the data")
            self._headers[key] = header
        return self._headers[key]

    @staticmethod
    def _promise(key: str, header: Header) -> str:
        return (
            f"array {key!r}: header {header.shape} {header.dtype.name} promises "
            f"{header.nbytes:,} bytes"
        )

    def read(self, key: str, *, limit: int, dtype: np.dtype | type | None = None) -> np.ndarray:
        """The array ``key``, at most ``limit`` bytes of data, else ``NpzError``.

        ``dtype``: convert to it while streaming (the result is allocated in ``dtype``, never
        a full-size copy in the stored type first); None keeps the stored type, in native
        byte order. Fortran-ordered data come back as an F-contiguous array of the shape.
        """
        header = self.header(key, limit)
        if header.nbytes > limit:
            raise NpzError(f"{self._promise(key, header)}, more than the {limit:,} nnlite reads")
        info = self._infos[key]
        if info.compress_type == zipfile.ZIP_DEFLATED and header.nbytes > VERIFY_FIRST:
            self._verify(key, header)
        stored = header.dtype
        native = stored.newbyteorder("=") if _swapped(stored) else stored
        out = np.empty(header.count, dtype=native if dtype is None else np.dtype(dtype))
        item = stored.itemsize
        per_chunk = max(1, _CHUNK // item)
        filled = 0
        try:
            with self._zip.open(self._infos[key]) as f:
                f.read(header.size)  # the header, parsed already
                with np.errstate(over="ignore", invalid="ignore"):
                    while filled < header.count:
                        want = min(per_chunk, header.count - filled)
                        chunk = f.read(want * item)
                        got = len(chunk) // item
                        if got:
                            values = np.frombuffer(chunk, dtype=stored, count=got)
                            if stored.kind == "b" and values.view(np.uint8).max() > 1:
                                raise NpzError(
                                    f"array {key!r} is bool but holds bytes other than 0/1"
                                )
                            out[filled : filled + got] = values
                            filled += got
                        if len(chunk) < want * item:
                            break
                    extra = f.read(1)  # the hard stop: anything here is past the promise
        except _ZIP_ERRORS as exc:
            raise NpzError(f"array {key!r} is unreadable ({_plain(exc)})") from None
        if filled < header.count:
            raise NpzError(f"{self._promise(key, header)}: truncated")
        if extra:
            raise NpzError(f"{self._promise(key, header)}: trailing bytes after the data")
        if header.fortran_order and len(header.shape) > 1:
            return out.reshape(header.shape[::-1]).T
        return out.reshape(header.shape)

    def _verify(self, key: str, header: Header) -> None:
        """Decompress member ``key`` once without keeping it: its length and CRC-32 are checked
        before memory is spent on the array (a deflate bomb with a bad CRC costs nothing)."""
        total = 0
        try:
            with self._zip.open(self._infos[key]) as f:
                while chunk := f.read(1 << 16):  # small: nothing is kept
                    total += len(chunk)
        except _ZIP_ERRORS as exc:
            raise NpzError(f"array {key!r} is unreadable ({_plain(exc)})") from None
        if total < header.size + header.nbytes:
            raise NpzError(f"{self._promise(key, header)}: truncated")


def _plain(exc: BaseException) -> str:
    """An exception as one short line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


def _directory_claims(handle, size: int, max_members: int) -> None:
    """Refuse an end-of-central-directory record that announces too many members.

    ``zipfile`` builds one object per directory entry; a file of millions of tiny entries
    would cost far more memory than its size. Zip64 records (counts 0xFFFF) are left to the
    member count checked after ``zipfile`` has read the directory.
    """
    tail = min(size, 22 + 65_535)
    handle.seek(size - tail)
    data = handle.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        raise NpzError("not a readable .npz archive (no zip directory: truncated?)")
    entries, cd_size = struct.unpack("<HL", data[at + 10 : at + 16])
    if entries != 0xFFFF and entries > max_members:
        raise NpzError(
            f"not a readable .npz archive ({entries:,} members; at most {max_members} expected)"
        )
    if cd_size != 0xFFFFFFFF and cd_size > max_members * (46 + 3 * 65_535):
        raise NpzError(f"not a readable .npz archive (a zip directory of {cd_size:,} bytes)")


def open_npz(path: str | Path, *, max_members: int = 64) -> Archive:
    """Open ``path`` as an ``.npz`` archive and check its zip directory.

    Raises
    ------
    FileNotFoundError, PermissionError, files.NotRegularFile, OSError
        From ``files.open_regular``: the callers say it their way.
    NpzError
        Not a zip archive (``kind`` "not-zip"), a lone ``.npy`` (``kind`` "npy"), or an
        archive that breaks a rule of the module docstring.
    """
    handle = open_regular(path)
    try:
        try:
            magic = handle.read(6)
            size = handle.seek(0, 2)
        except OSError as exc:
            raise NpzError(f"cannot read ({exc.strerror or exc})") from None
        if magic == _NPY_MAGIC:
            raise NpzError("holds a single array, not an .npz archive", kind="npy")
        if magic[:4] not in _ZIP_MAGICS:
            raise NpzError("not a readable .npz archive (not a zip file)", kind="not-zip")
        try:
            _directory_claims(handle, size, max_members)
            handle.seek(0)
            zf = zipfile.ZipFile(handle)
        except NpzError:
            raise
        except _ZIP_ERRORS as exc:
            raise NpzError(f"not a readable .npz archive ({_plain(exc)})") from None
        try:
            infos = _check_directory(zf.infolist(), size, max_members)
        except BaseException:
            zf.close()
            raise
        return Archive(handle, infos, zf)
    except BaseException:
        handle.close()
        raise


def _check_directory(
    infos: list[zipfile.ZipInfo], size: int, max_members: int
) -> dict[str, zipfile.ZipInfo]:
    if len(infos) > max_members:
        raise NpzError(
            f"not a readable .npz archive ({len(infos):,} members; at most {max_members} expected)"
        )
    out: dict[str, zipfile.ZipInfo] = {}
    for info in infos:
        name = info.filename
        shown = repr(name[:80])
        if not name.endswith(".npy") or len(name) == 4:
            raise NpzError(f"member {shown} is not a .npy array; an .npz holds only arrays")
        key = name[:-4]
        if key in out:
            raise NpzError(f"array {key!r} is in the archive twice")
        if info.flag_bits & 0x1:
            raise NpzError(f"array {key!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise NpzError(
                f"array {key!r} uses zip compression method {info.compress_type}; "
                "nnlite reads stored and deflate members (what numpy writes)"
            )
        if info.compress_size > size:
            raise NpzError(
                f"array {key!r} claims {info.compress_size:,} compressed bytes in a file of {size:,}"
            )
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise NpzError(
                f"array {key!r} is stored uncompressed but declares {info.file_size:,} bytes "
                f"in {info.compress_size:,}"
            )
        if info.file_size > _MAX_DEFLATE_RATIO * info.compress_size + 1024:
            raise NpzError(
                f"array {key!r} declares {info.file_size:,} bytes from {info.compress_size:,} "
                "compressed bytes, more than deflate can produce"
            )
        out[key] = info
    return out
