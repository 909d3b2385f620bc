"""Hand-made ``.npy`` members and zip archives for the hostile-file tests (no nnlite imports).

``np.savez`` only writes honest archives; the tests need ones that lie: a header claiming
64 GiB, a member name twice, a compression method or flag ``zipfile`` cannot handle, sizes
in the zip directory that disagree with the data. ``zip_of`` writes plain zip entries (no
zip64 extras), so ``patch_entry`` can rewrite the fixed fields of an entry in place.
"""

from __future__ import annotations

import io
import struct
import warnings
import zipfile

import numpy as np


def npy(header: str | dict, data: bytes = b"", version: tuple[int, int] = (1, 0)) -> bytes:
    """A ``.npy`` member: magic, version, header length, ``header`` (a dict or raw text), data."""
    text = header if isinstance(header, str) else repr(header)
    raw = text.encode("latin1")
    width = 2 if version[0] == 1 else 4
    pad = -(6 + 2 + width + len(raw) + 1) % 64
    head = raw + b" " * pad + b"\n"
    return b"\x93NUMPY" + bytes(version) + len(head).to_bytes(width, "little") + head + data


def npy_of(array: np.ndarray) -> bytes:
    """What ``np.save`` writes for ``array``."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.asanyarray(array), allow_pickle=False)
    return buffer.getvalue()


def zip_of(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    """A zip of ``members`` in order; a name may repeat (``zipfile`` warns and writes it)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name"
        with zipfile.ZipFile(buffer, "w", method) as archive:
            for name, content in members:
                archive.writestr(name, content)
    return buffer.getvalue()


def npz_of(arrays: dict[str, np.ndarray], method: int = zipfile.ZIP_STORED) -> bytes:
    """An ``.npz`` as ``np.savez`` (stored) or ``np.savez_compressed`` (deflate) would hold it."""
    return zip_of([(f"{k}.npy", npy_of(v)) for k, v in arrays.items()], method)


# Offsets of the fields patch_entry rewrites: (local header, central directory entry).
_FIELDS = {
    "flags": (6, 8, "<H"),
    "method": (8, 10, "<H"),
    "compress_size": (18, 20, "<L"),
    "file_size": (22, 24, "<L"),
}


def patch_entry(data: bytes, name: str, nth: int = 0, **fields: int) -> bytes:
    """Rewrite ``fields`` of the ``nth`` entry called ``name``, in both its local header and
    its central directory entry."""
    out = bytearray(data)
    encoded = name.encode()
    for signature, fixed, index in ((b"PK\x03\x04", 30, 0), (b"PK\x01\x02", 46, 1)):
        at, seen = -1, -1
        while seen < nth:
            at = out.index(signature, at + 1)
            length = struct.unpack_from("<H", out, at + (26 if index == 0 else 28))[0]
            if bytes(out[at + fixed : at + fixed + length]) == encoded:
                seen += 1
        for field, value in fields.items():
            offset, fmt = _FIELDS[field][index], _FIELDS[field][2]
            struct.pack_into(fmt, out, at + offset, value)
    return bytes(out)
