"""Hostile IDX files, hostile download servers and folders, and one rule for `data list` and `train`.

Claims checked:

- An IDX file that is not a regular file (a FIFO, a link to ``/dev/zero``, a directory) is
  refused at once, by ``read_idx``, by the loaders and by ``nnlite data list``, in the same
  words.
- Memory follows what a file really holds, not what its header says: a set whose headers
  disagree is refused before any data is read; a header that promises more than the file
  delivers costs what was delivered; a file that delivers what it promises costs its result
  (float32 images), never a second copy of it. Measured as resident memory
  (``peak_memory``), which is what a user pays; a hypothesis fuzz over headers bounds every
  case by 4x the data delivered plus a few MB.
- ``data list`` (``download.status``), ``nnlite datasets`` (``list_datasets``' available) and
  ``load`` agree on every file: hypothesis builds folders from published files, faithful
  copies (re-compressed, uncompressed), the other set's files, modified, damaged and
  non-regular files, against two small sets pinned in place of MNIST and Fashion-MNIST; a
  set is listed usable exactly when it loads, every refusal is a ``data list`` detail word for
  word, and every warning names the files ``data list`` calls differs/unverified. A content
  digest that is not pinned (Fashion-MNIST's) makes a faithful copy "unverified", never
  "verified". With the real MNIST: re-compressed and uncompressed copies are verified and
  load without a warning; re-compressed MNIST in the Fashion-MNIST folder is refused.
- Downloads: a server that drips bytes (body or headers) fails at the overall deadline with
  one line naming file and mirror, and the ``.part`` is kept and resumed; redirect loops, too
  many redirects and redirects to non-http URLs are one line each; a symbolic or hard link
  planted as the ``.part`` or at the final name is never written through.

No test touches the network: every server is a thread on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import re
import threading
import time
import warnings
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import peak_memory
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nnlite import datasets, errors
from nnlite.datasets import download

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
HAVE_MNIST = all((SHARED_MNIST / spec.name).is_file() for spec in download.MNIST.files)
needs_mnist = pytest.mark.skipif(
    not HAVE_MNIST, reason=f"the four MNIST .gz files are not in {SHARED_MNIST}"
)
needs_rss = pytest.mark.skipif(
    not peak_memory.available(), reason="resident-memory peaks need Linux's /proc/self/clear_refs"
)
MiB = 1 << 20
# NNLITE_FUZZ_EXAMPLES (as in test_datasets_fuzz.py) raises the budget for a longer hunt.
FUZZ = int(os.environ.get("NNLITE_FUZZ_EXAMPLES", "150"))
STEMS = list(datasets.MNIST_FILES.values())  # train images, train labels, test images, test labels


@pytest.fixture(autouse=True)
def _hermetic_data_home(tmp_path, monkeypatch):
    """No test may read or write the real data home."""
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "home"))


# ---------------------------------------------------------------------------- helpers


def idx_bytes(shape: tuple[int, ...], data: bytes | None = None) -> bytes:
    """An IDX file of unsigned bytes: magic, big-endian dimensions, data (default: i % 10)."""
    if data is None:
        data = bytes(i % 10 for i in range(int(np.prod(shape))))
    dims = b"".join(d.to_bytes(4, "big") for d in shape)
    return (0x0800 | len(shape)).to_bytes(4, "big") + dims + data


def gz(content: bytes, level: int = 9, mtime: int = 0) -> bytes:
    return gzip.compress(content, compresslevel=level, mtime=mtime)


def gz_zeros(header: bytes, n_zero_bytes: int) -> bytes:
    """gzip of ``header`` + ``n_zero_bytes`` zeros, compressed chunk by chunk (a small bomb)."""
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [c.compress(header)]
    block = bytes(MiB)
    for start in range(0, n_zero_bytes, MiB):
        parts.append(c.compress(block[: min(MiB, n_zero_bytes - start)]))
    parts.append(c.flush())
    return b"".join(parts)


def finishes(call, seconds: float = 20.0):
    """``call()``'s result or exception, failing the test if it has not ended in ``seconds``
    (a hang detector with a generous bound, not a timing measurement)."""
    box: dict = {}

    def run():
        try:
            box["value"] = call()
        except BaseException as exc:  # handed to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s (a hang)"
    if "error" in box:
        return box["error"]
    return box.get("value")


def one_line(outcome, *parts: str) -> str:
    assert isinstance(outcome, errors.DataError), repr(outcome)
    message = str(outcome)
    assert "\n" not in message, message
    for part in parts:
        assert part in message, message
    return message


def states(name: str, data_dir: Path) -> dict[str, download.FileStatus]:
    return {f"{s}.gz": f for s, f in zip(STEMS, download.status(name, data_dir)[1])}


def available(name: str, data_dir: Path) -> bool:
    return {d["name"]: d["available"] for d in datasets.list_datasets(data_dir)}[name]


def load_recording(name: str, data_dir: Path):
    """``(dataset or DataError, [warning messages])``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = datasets.load(name, data_dir=data_dir)
        except errors.DataError as exc:
            result = exc
    return result, [str(w.message) for w in caught]


# ---------------------------------------------------------------------------- two small pinned sets


_LABELS_SEEN: set = set()


def _tiny_raw(seed: int) -> dict[str, bytes]:
    """The uncompressed content of a small IDX set: 6 training and 3 test images of 4x4."""
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", 6), ("t10k", 3)):
        out[f"{prefix}-images-idx3-ubyte"] = idx_bytes(
            (n, 4, 4), rng.integers(0, 256, n * 16, dtype=np.uint8).tobytes()
        )
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        while (f"{prefix}-labels-idx1-ubyte", labels.tobytes()) in _LABELS_SEEN:
            labels = rng.integers(0, 10, n, dtype=np.uint8)  # each set's labels its own
        _LABELS_SEEN.add((f"{prefix}-labels-idx1-ubyte", labels.tobytes()))
        out[f"{prefix}-labels-idx1-ubyte"] = idx_bytes((n,), labels.tobytes())
    return out


TINY_RAW = {"mnist": _tiny_raw(1), "fashion-mnist": _tiny_raw(2)}
TINY_GZ = {name: {s: gz(raw) for s, raw in files.items()} for name, files in TINY_RAW.items()}


def _pin(name: str, content_digest: bool) -> download.Source:
    real = download.SOURCES[name]
    files = []
    for stem in STEMS:
        data, raw = TINY_GZ[name][stem], TINY_RAW[name][stem]
        files.append(
            download.RemoteFile(
                f"{stem}.gz",
                len(data),
                hashlib.sha256(data).hexdigest(),
                hashlib.md5(data).hexdigest(),
                len(raw),
                hashlib.sha256(raw).hexdigest() if content_digest else None,
            )
        )
    return download.Source(real.name, real.title, real.mirrors, tuple(files))


@pytest.fixture
def pinned(monkeypatch):
    """The two small sets pinned in place of the real ones. As for the real sets, MNIST's
    content digests are pinned and Fashion-MNIST's are not (``raw_sha256=None``)."""
    sources = {"mnist": _pin("mnist", True), "fashion-mnist": _pin("fashion-mnist", False)}
    monkeypatch.setattr(download, "SOURCES", sources)
    return sources


# ---------------------------------------------------------------------------- not regular files


def _plant(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "link to /dev/zero":
        path.symlink_to("/dev/zero")
    elif kind == "directory":
        path.mkdir()
    else:
        raise AssertionError(kind)


NOT_REGULAR = {
    "fifo": "is a FIFO (named pipe), not a regular file",
    "link to /dev/zero": "is a character device, not a regular file",
    "directory": "is a directory, not a regular file",
}


@pytest.mark.parametrize("kind", list(NOT_REGULAR))
def test_an_idx_name_on_something_not_a_regular_file_is_refused_at_once_everywhere(
    tmp_path, pinned, kind
):
    lone = tmp_path / "train-images-idx3-ubyte.gz"
    _plant(lone, kind)
    one_line(finishes(lambda: datasets.read_idx(lone)), str(lone), NOT_REGULAR[kind])

    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem in STEMS:
        (folder / f"{stem}.gz").write_bytes(TINY_GZ["mnist"][stem])
    victim = folder / "t10k-labels-idx1-ubyte.gz"
    victim.unlink()
    _plant(victim, kind)
    refused = one_line(finishes(lambda: datasets.load("mnist", data_dir=tmp_path)), str(victim))
    listed = finishes(lambda: states("mnist", tmp_path))[victim.name]
    assert (listed.state, f"{victim}: {listed.detail}") == ("unusable", refused)
    assert NOT_REGULAR[kind] in listed.detail
    assert not finishes(lambda: available("mnist", tmp_path))


# ---------------------------------------------------------------------------- memory

BOMB_IMAGES = 65536  # of 32x32: 64 MiB of pixels, 65 KB of gzip


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """A gzip IDX image file of 65 KB that delivers the 64 MiB of zeros its header promises."""
    path = tmp_path_factory.mktemp("bomb") / "train-images-idx3-ubyte.gz"
    header = idx_bytes((BOMB_IMAGES, 32, 32), b"")
    path.write_bytes(gz_zeros(header, BOMB_IMAGES * 32 * 32))
    return path


def _set_around(folder: Path, train_images: bytes, n_labels: int) -> Path:
    """A set of 32x32 images: ``train_images`` as given, the rest small and consistent."""
    folder.mkdir()
    (folder / "train-images-idx3-ubyte.gz").write_bytes(train_images)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gz_zeros(idx_bytes((n_labels,), b""), n_labels)
    )
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(gz(idx_bytes((2, 32, 32))))
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gz(idx_bytes((2,))))
    return folder


@needs_rss
def test_a_set_whose_headers_disagree_is_refused_before_any_data_is_read(tmp_path, bomb):
    # 64 MiB of images behind a 65 KB file, and 3 labels: refused from the headers alone.
    folder = _set_around(tmp_path / "set", bomb.read_bytes(), 3)
    outcome, peak = peak_memory.peak_growth(lambda: datasets.load_mnist(folder))
    one_line(outcome, f"{BOMB_IMAGES} images but train-labels-idx1-ubyte.gz has 3 labels")
    assert peak < 8 * MiB, f"{peak / MiB:.0f} MiB"
    assert states("mnist", folder)["train-images-idx3-ubyte.gz"].state == "unusable"


@needs_rss
def test_a_header_that_promises_more_than_delivered_costs_what_was_delivered(tmp_path):
    # Headers promising 1,000,000 images of 32x32 (1 GB; 4 GB as float32) and as many labels,
    # consistent with each other; the image file holds 1 MiB of data, then ends.
    n = 1_000_000
    images = gz_zeros(idx_bytes((n, 32, 32), b""), MiB)
    folder = _set_around(tmp_path / "set", images, n)
    outcome, peak = peak_memory.peak_growth(lambda: datasets.load_mnist(folder))
    one_line(outcome, "truncated: header 1000000x32x32 promises 1024000000 data bytes")
    # Held: 1 MB of labels (8 MB as int64) and 1 MiB of pixels (4 MiB as float32).
    assert peak < 4 * (2 * MiB) + 16 * MiB, f"{peak / MiB:.0f} MiB"


@needs_rss
def test_a_file_that_delivers_its_promise_costs_its_result_and_no_copy(tmp_path, bomb):
    outcome, peak = peak_memory.peak_growth(lambda: datasets.read_idx(bomb))
    assert isinstance(outcome, np.ndarray) and outcome.shape == (BOMB_IMAGES, 32, 32)
    assert not outcome.any()
    del outcome
    assert peak < 64 * MiB + 8 * MiB, f"{peak / MiB:.0f} MiB for a 64 MiB result"

    folder = _set_around(tmp_path / "set", bomb.read_bytes(), BOMB_IMAGES)
    outcome, peak = peak_memory.peak_growth(lambda: datasets.load_mnist(folder))
    assert isinstance(outcome, datasets.Dataset), outcome
    assert outcome.X.shape == (BOMB_IMAGES, 1024) and outcome.X.dtype == np.float32
    # The float32 images (256 MiB) and int64 labels (0.5 MiB): no uint8 copy beside them.
    assert peak < 256 * MiB + 16 * MiB, f"{peak / MiB:.0f} MiB for a 256 MiB result"


@needs_mnist
def test_real_mnist_loads_bit_for_bit_as_uint8_over_255():
    d = datasets.load_mnist(SHARED_MNIST)
    for X, stem in ((d.X, STEMS[0]), (d.X_test, STEMS[2])):
        pixels = np.frombuffer(
            gzip.decompress((SHARED_MNIST / f"{stem}.gz").read_bytes())[16:], np.uint8
        )
        expected = pixels.reshape(X.shape).astype(np.float32) / np.float32(255.0)
        assert np.array_equal(X.view(np.uint32), expected.view(np.uint32))


@st.composite
def hostile_idx(draw):
    """An IDX file whose header claims anything and whose data is a few KB at most."""
    ndim = draw(st.sampled_from([1, 3]))
    big = st.integers(0, 2**32 - 1)
    small = st.integers(0, 40)
    dims = tuple(draw(st.one_of(small, big)) for _ in range(ndim))
    claimed = int(np.prod(dims, dtype=object))
    if claimed <= 4096 and draw(st.booleans()):
        data = bytes(claimed)  # exactly what it promises
    else:
        data = draw(st.binary(max_size=4096))
    content = idx_bytes(dims, data)
    return (gz(content) if draw(st.booleans()) else content), len(data)


@needs_rss
@settings(max_examples=FUZZ, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile_idx())
def test_fuzz_any_header_costs_at_most_four_times_the_data_delivered(tmp_path_factory, case):
    content, delivered = case
    path = tmp_path_factory.mktemp("fuzz", numbered=True) / "train-images-idx3-ubyte.gz"
    path.write_bytes(content)
    outcome, peak = peak_memory.peak_growth(lambda: datasets.read_idx(path))
    if not isinstance(outcome, np.ndarray):
        one_line(outcome, str(path))
    assert peak <= 4 * delivered + 6 * MiB, f"{peak / MiB:.1f} MiB for {delivered} bytes"


# ---------------------------------------------------------------------------- one rule

VARIANTS = [
    "published",  # the pinned .gz, byte for byte
    "recompressed",  # the same content, other gzip level and header
    "uncompressed",  # the content itself, under the name without .gz
    "other set",  # the other set's published .gz
    "other content",  # the other set's content, re-compressed
    "modified",  # one byte of data changed, still a valid file
    "truncated",  # the last byte of data missing
    "trailing",  # one byte after the data
    "bad label",  # a label of 10 (an image file: same as modified)
    "not gzip",  # .gz name, uncompressed content
    "corrupt gzip",  # a byte of the deflate stream flipped
    "empty",
    "fifo",
    "missing",
]


def _write_variant(folder: Path, name: str, stem: str, variant: str) -> None:
    other = "fashion-mnist" if name == "mnist" else "mnist"
    raw = TINY_RAW[name][stem]
    path = folder / f"{stem}.gz"
    if variant == "published":
        path.write_bytes(TINY_GZ[name][stem])
    elif variant == "recompressed":
        path.write_bytes(gz(raw, level=1, mtime=12345))
    elif variant == "uncompressed":
        (folder / stem).write_bytes(raw)
    elif variant == "other set":
        path.write_bytes(TINY_GZ[other][stem])
    elif variant == "other content":
        path.write_bytes(gz(TINY_RAW[other][stem], level=5, mtime=7))
    elif variant in ("modified", "bad label"):
        data = bytearray(raw)
        is_labels = "labels" in stem
        data[-1] = 10 if variant == "bad label" and is_labels else (data[-1] + 1) % 10
        path.write_bytes(gz(bytes(data)))
    elif variant == "truncated":
        path.write_bytes(gz(raw[:-1]))
    elif variant == "trailing":
        path.write_bytes(gz(raw + b"\0"))
    elif variant == "not gzip":
        path.write_bytes(raw)
    elif variant == "corrupt gzip":
        data = bytearray(TINY_GZ[name][stem])
        data[len(data) // 2] ^= 0x55
        path.write_bytes(bytes(data))
    elif variant == "empty":
        path.write_bytes(b"")
    elif variant == "fifo":
        os.mkfifo(path)
    elif variant != "missing":
        raise AssertionError(variant)


@settings(
    max_examples=FUZZ * 4 // 5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(["mnist", "fashion-mnist"]),
    variants=st.lists(st.sampled_from(VARIANTS), min_size=4, max_size=4),
)
def test_data_list_datasets_and_load_agree_on_every_folder(
    tmp_path_factory, pinned, name, variants
):
    home = tmp_path_factory.mktemp("home", numbered=True)
    folder = home / name
    folder.mkdir()
    for stem, variant in zip(STEMS, variants):
        _write_variant(folder, name, stem, variant)
    listed = finishes(lambda: states(name, home))
    usable = finishes(lambda: available(name, home))
    result, caught = finishes(lambda: load_recording(name, home))

    assert usable == all(f.state in download.USABLE for f in listed.values())
    assert usable == isinstance(result, datasets.Dataset), (variants, listed, result)
    if isinstance(result, datasets.Dataset):
        unpublished = {f.name: f.state for f in listed.values() if f.state != "verified"}
        if unpublished:
            (message,) = caught
            assert "\n" not in message
            named = dict(re.findall(r"(\S+ubyte(?:\.gz)?) (differs|unverified)", message))
            assert named == unpublished
        else:
            assert caught == []
    else:
        message = one_line(result)
        refusals = {
            f"{f.path}: {f.detail}" for f in listed.values() if f.state in ("unusable", "other set")
        }
        if any(f.state == "missing" for f in listed.values()):
            assert "not found" in message
        else:
            assert message in refusals, (message, refusals)
    # The states themselves, where one variant decides them alone.
    for stem, variant in zip(STEMS, variants):
        state = listed[f"{stem}.gz"].state
        if variant == "published" or (
            variant in ("recompressed", "uncompressed") and name == "mnist"
        ):
            assert state in ("verified", "unusable"), (variant, state)  # unusable: a cross-check
        if variant in ("recompressed", "uncompressed") and name == "fashion-mnist":
            assert state in ("unverified", "unusable"), (variant, state)  # no content digest
        if variant == "other set" or (variant == "other content" and name == "fashion-mnist"):
            assert state in ("other set", "unusable"), (variant, state)  # unusable: a cross-check
        if variant in ("truncated", "trailing", "not gzip", "corrupt gzip", "empty", "fifo"):
            assert state == "unusable", (variant, state)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_the_states_in_a_hand_made_folder(tmp_path, pinned, name):
    folder = tmp_path / name
    folder.mkdir()
    for stem, variant in zip(STEMS, ["recompressed", "modified", "uncompressed", "published"]):
        _write_variant(folder, name, stem, variant)
    listed = states(name, tmp_path)
    got = [(f.state, f.detail) for f in listed.values()]
    if name == "mnist":
        assert got[0] == ("verified", "same content as the published file, compressed otherwise")
        assert got[1][0] == "differs" and "not the published file: content sha256" in got[1][1]
        assert got[2][0] == "verified" and listed["t10k-images-idx3-ubyte.gz"].name == STEMS[2]
    else:  # no content digest pinned: a faithful copy cannot be told from a modified one
        assert [s for s, _ in got[:3]] == ["unverified"] * 3
        assert "no digest of the uncompressed" in got[0][1]
    assert got[3] == ("verified", "")
    result, caught = load_recording(name, tmp_path)
    assert isinstance(result, datasets.Dataset) and len(caught) == 1
    assert "train-labels-idx1-ubyte.gz" in caught[0]
    assert ("differs" if name == "mnist" else "unverified") in caught[0]


def test_ui_data_status_shows_each_state_and_what_to_do(tmp_path, pinned, capsys):
    from nnlite.ui import tables

    folder = tmp_path / "mnist"
    folder.mkdir()
    for stem, variant in zip(STEMS, ["modified", "published", "published", "published"]):
        _write_variant(folder, "mnist", stem, variant)
    tables.data_status("mnist", folder, download.status("mnist", tmp_path)[1], "CMD")
    out = re.sub(r"[\s│]+", " ", capsys.readouterr().out)  # the table may wrap a detail
    assert "differs: not the published file" in out and "training uses the files" in out
    _write_variant(folder, "mnist", STEMS[1], "other set")
    tables.data_status("mnist", folder, download.status("mnist", tmp_path)[1], "CMD")
    out = re.sub(r"[\s│]+", " ", capsys.readouterr().out)
    assert "other set: this is the published Fashion-MNIST file" in out
    assert "training refuses this set; to get the published files: CMD" in out


# ---------------------------------------------------------------------------- the real MNIST


@pytest.fixture(scope="module")
def recompressed_mnist(tmp_path_factory) -> Path:
    """The four MNIST files decompressed and compressed again (gzip level 1, another mtime)."""
    folder = tmp_path_factory.mktemp("recompressed") / "mnist"
    folder.mkdir()
    for spec in download.MNIST.files:
        raw = gzip.decompress((SHARED_MNIST / spec.name).read_bytes())
        (folder / spec.name).write_bytes(gz(raw, level=1, mtime=1))
    return folder


@needs_mnist
def test_mnist_content_pins_are_the_publishers_files_uncompressed():
    for spec in download.MNIST.files:
        raw = gzip.decompress((SHARED_MNIST / spec.name).read_bytes())
        assert (len(raw), hashlib.sha256(raw).hexdigest()) == (spec.raw_size, spec.raw_sha256)
    fashion = [(f.raw_size, f.raw_sha256) for f in download.FASHION_MNIST.files]
    assert fashion == [(47040016, None), (60008, None), (7840016, None), (10008, None)]


@needs_mnist
def test_a_recompressed_mnist_is_verified_and_loads_without_a_warning(recompressed_mnist):
    listed = states("mnist", recompressed_mnist.parent)
    assert {f.state for f in listed.values()} == {"verified"}
    assert all("compressed otherwise" in f.detail for f in listed.values())
    assert available("mnist", recompressed_mnist.parent)
    result, caught = load_recording("mnist", recompressed_mnist.parent)
    assert caught == [] and isinstance(result, datasets.Dataset)
    original = datasets.load_mnist(SHARED_MNIST)
    assert np.array_equal(result.X, original.X) and np.array_equal(result.y_test, original.y_test)


@needs_mnist
def test_a_recompressed_mnist_is_refused_as_fashion_mnist_in_the_same_words(
    tmp_path, recompressed_mnist
):
    fashion = tmp_path / "fashion-mnist"
    fashion.symlink_to(recompressed_mnist, target_is_directory=True)
    listed = states("fashion-mnist", tmp_path)
    assert {f.state for f in listed.values()} == {"other set"}
    first = listed[download.MNIST.files[0].name]
    assert (
        "this is the published MNIST file (compressed otherwise), not Fashion-MNIST's"
        in first.detail
    )
    assert not available("fashion-mnist", tmp_path)
    result, _ = load_recording("fashion-mnist", tmp_path)
    assert one_line(result) == f"{first.path}: {first.detail}"


@needs_mnist
def test_an_uncompressed_mnist_file_is_verified(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for spec in download.MNIST.files[1:]:
        (folder / spec.name).symlink_to(SHARED_MNIST / spec.name)
    raw = gzip.decompress((SHARED_MNIST / download.MNIST.files[0].name).read_bytes())
    (folder / STEMS[0]).write_bytes(raw)
    listed = states("mnist", tmp_path)
    assert {f.state for f in listed.values()} == {"verified"}
    result, caught = load_recording("mnist", tmp_path)
    assert caught == [] and result.X.shape == (60000, 784)


# ---------------------------------------------------------------------------- a hostile server


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        srv: Server = self.server  # type: ignore[assignment]
        srv.requests.append((self.path, self.headers.get("Range")))
        behaviour = srv.routes.get(self.path.rsplit("/", 1)[-1], "404")
        with contextlib.suppress(OSError):
            if callable(behaviour):
                behaviour(self)
            elif behaviour == "404":
                self.send_error(404, "Not Found")


class Server(ThreadingHTTPServer):
    """A server on 127.0.0.1; ``routes`` maps a file name to a function of the handler."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict = {}
        self.requests: list = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()


@pytest.fixture
def server(monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    srv = Server()
    yield srv
    srv.shutdown()
    srv.server_close()


def serve(data: bytes):
    """A route that serves ``data``, honouring ``Range: bytes=N-``."""

    def route(h: BaseHTTPRequestHandler) -> None:
        start = 0
        asked = h.headers.get("Range")
        if asked:
            start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
            h.send_response(206)
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            h.send_response(200)
        h.send_header("Content-Length", str(len(data) - start))
        h.end_headers()
        h.wfile.write(data[start:])

    return route


def drip_body(data: bytes, every: float = 0.4):
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        for byte in data:
            h.wfile.write(bytes([byte]))
            h.wfile.flush()
            time.sleep(every)

    return route


def drip_headers(h: BaseHTTPRequestHandler) -> None:
    for byte in b"HTTP/1.0 200 OK\r\nX-Slow: " + b"a" * 1000:
        h.wfile.write(bytes([byte]))
        h.wfile.flush()
        time.sleep(0.3)


def redirect(to: str):
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return route


def endless_redirect_body(to: str):
    def route(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", to)
        h.end_headers()
        for _ in range(100_000):  # 6.4 GB if anyone reads it
            h.wfile.write(bytes(65536))

    return route


PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes


def spec_for(data: bytes, name: str = "f.gz") -> download.RemoteFile:
    sha = hashlib.sha256(data).hexdigest()
    return download.RemoteFile(name, len(data), sha, hashlib.md5(data).hexdigest(), 0)


def test_the_default_deadline_follows_the_size_with_a_floor():
    assert download.default_deadline(spec_for(b"x")) == download.DEADLINE_FLOOR_S == 120.0
    big = download.FASHION_MNIST.files[0]
    assert download.default_deadline(big) == pytest.approx(26421880 / 16384)
    with pytest.raises(errors.ConfigError, match="deadline must be a positive"):
        download.fetch(big, ".", ["http://127.0.0.1/"], deadline=0)


def test_a_dripping_server_fails_at_the_deadline_and_the_part_is_resumed(tmp_path, server):
    spec = spec_for(PAYLOAD)
    server.routes["f.gz"] = drip_body(PAYLOAD, every=0.4)
    outcome = finishes(lambda: download.fetch(spec, tmp_path, [server.url], deadline=1.5))
    one_line(
        outcome, str(tmp_path / "f.gz"), f"{server.url}: no complete file within the 1.5 s deadline"
    )
    part = tmp_path / "f.gz.part"
    kept = part.stat().st_size
    assert 1 <= kept < len(PAYLOAD) and part.read_bytes() == PAYLOAD[:kept]

    server.routes["f.gz"] = serve(PAYLOAD)
    assert download.fetch(spec, tmp_path, [server.url], deadline=5) == server.url
    assert server.requests[-1] == ("/f.gz", f"bytes={kept}-")
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD and not part.exists()


def test_a_server_dripping_its_headers_fails_at_the_deadline(tmp_path, server):
    server.routes["f.gz"] = drip_headers
    outcome = finishes(
        lambda: download.fetch(spec_for(PAYLOAD), tmp_path, [server.url], deadline=1.5)
    )
    one_line(outcome, "no complete file within the 1.5 s deadline (0 of 10,240 bytes)")


@pytest.mark.parametrize(
    "routes, words",
    [
        ({"f.gz": redirect("f.gz")}, "redirect loop at {url}f.gz"),
        (
            {"f.gz": redirect("a"), "a": redirect("b"), "b": redirect("f.gz")},
            "redirect loop at {url}f.gz",
        ),
        (
            {"f.gz": redirect("r0"), **{f"r{i}": redirect(f"r{i + 1}") for i in range(30)}},
            "more than 10 redirects (the last to {url}r10)",
        ),
        (
            {"f.gz": redirect("file:///etc/passwd")},
            "Redirection to url 'file:///etc/passwd' is not allowed",
        ),
        (
            {"f.gz": redirect("ftp://127.0.0.1/f.gz")},
            "redirected to ftp://127.0.0.1/f.gz, which is not",
        ),
        ({"f.gz": endless_redirect_body("f.gz")}, "redirect loop at {url}f.gz"),
    ],
    ids=["self", "cycle", "chain", "file", "ftp", "endless-body"],
)
def test_redirect_faults_are_one_line(tmp_path, server, routes, words):
    server.routes.update(routes)
    outcome = finishes(
        lambda: download.fetch(spec_for(PAYLOAD), tmp_path, [server.url], deadline=10)
    )
    one_line(outcome, str(tmp_path / "f.gz"), words.format(url=server.url))
    assert not (tmp_path / "f.gz").exists()


def test_a_redirect_to_a_good_mirror_is_followed(tmp_path, server):
    server.routes.update({"f.gz": redirect("elsewhere/f2"), "f2": serve(PAYLOAD)})
    download.fetch(spec_for(PAYLOAD), tmp_path, [server.url])
    assert (tmp_path / "f.gz").read_bytes() == PAYLOAD


@pytest.mark.parametrize("resume", [False, True])
@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_a_link_planted_as_the_part_is_never_written_through(tmp_path, server, link, resume):
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "precious"
    # Resuming would append to it when it is shorter than the download.
    victim.write_bytes(PAYLOAD[:100] if resume else b"precious data")
    before = victim.read_bytes()
    folder = tmp_path / "data"
    folder.mkdir()
    part = folder / "f.gz.part"
    part.symlink_to(victim) if link == "symbolic" else os.link(victim, part)
    server.routes["f.gz"] = serve(PAYLOAD)
    download.fetch(spec_for(PAYLOAD), folder, [server.url])
    assert victim.read_bytes() == before and not victim.is_symlink()
    final = folder / "f.gz"
    assert final.read_bytes() == PAYLOAD and not final.is_symlink() and os.stat(final).st_nlink == 1
    assert server.requests == [("/f.gz", None)]  # nothing was resumed from the link


@pytest.mark.parametrize("resume", [False, True])
def test_a_link_planted_while_the_request_is_made_is_not_written_through(tmp_path, server, resume):
    # The race: the .part is checked, then (the "start" event, before the response and the
    # open) someone replaces it with a link to a file outside.
    victim = tmp_path / "precious"
    victim.write_bytes(b"precious data")
    folder = tmp_path / "data"
    folder.mkdir()
    part = folder / "f.gz.part"
    if resume:
        part.write_bytes(PAYLOAD[:100])

    def plant(event):
        if event.kind == "start" and not part.is_symlink():
            part.unlink(missing_ok=True)
            part.symlink_to(victim)

    server.routes["f.gz"] = serve(PAYLOAD)
    outcome = finishes(
        lambda: download.fetch(spec_for(PAYLOAD), folder, [server.url], progress=plant)
    )
    assert victim.read_bytes() == b"precious data"
    if resume:  # appending refuses the link (O_NOFOLLOW): one line, nothing written
        assert isinstance(outcome, OSError) and "\n" not in str(outcome), outcome
    else:  # a fresh .part replaces whatever has its name, then is created exclusively
        assert outcome == server.url and (folder / "f.gz").read_bytes() == PAYLOAD


def test_a_symlinked_part_that_is_complete_is_not_renamed_into_place(tmp_path, server):
    outside = tmp_path / "elsewhere"
    outside.write_bytes(PAYLOAD)
    (tmp_path / "f.gz.part").symlink_to(outside)
    server.routes["f.gz"] = serve(PAYLOAD)
    assert download.fetch(spec_for(PAYLOAD), tmp_path, [server.url]) == server.url
    assert not (tmp_path / "f.gz").is_symlink() and outside.read_bytes() == PAYLOAD


def _serve_set(server: Server, name: str) -> None:
    for stem in STEMS:
        server.routes[f"{stem}.gz"] = serve(TINY_GZ[name][stem])


@pytest.mark.parametrize("target", ["wrong file", "verified copy", "/dev/zero", "dangling"])
def test_a_symlink_at_the_final_name(tmp_path, server, pinned, target):
    _serve_set(server, "mnist")
    folder = tmp_path / "home" / "mnist"
    folder.mkdir(parents=True)
    name = f"{STEMS[1]}.gz"
    outside = tmp_path / "outside"
    if target == "wrong file":
        outside.write_bytes(b"not the labels")
    elif target == "verified copy":
        outside.write_bytes(TINY_GZ["mnist"][STEMS[1]])
    (folder / name).symlink_to("/dev/zero" if target == "/dev/zero" else outside)
    events = []
    download.download("mnist", tmp_path / "home", mirrors=[server.url], progress=events.append)
    if target == "verified copy":
        # Kept, and said so: a shared folder of verified files may be linked in.
        (skip,) = [e for e in events if e.kind == "skip" and e.file == name]
        assert f"a symbolic link to {outside}" in skip.message
        assert (folder / name).is_symlink() and (f"/{name}", None) not in server.requests
    else:
        assert not (folder / name).is_symlink()
        assert (folder / name).read_bytes() == TINY_GZ["mnist"][STEMS[1]]
    if target == "wrong file":
        assert outside.read_bytes() == b"not the labels"
    assert {f.state for f in download.status("mnist", tmp_path / "home")[1]} == {"verified"}


def test_a_faithful_recompressed_copy_is_not_downloaded_again(tmp_path, server, pinned):
    _serve_set(server, "mnist")
    folder = tmp_path / "home" / "mnist"
    folder.mkdir(parents=True)
    for stem, variant in zip(STEMS, ["recompressed"] * 3 + ["modified"]):
        _write_variant(folder, "mnist", stem, variant)
    events = []
    download.download("mnist", tmp_path / "home", mirrors=[server.url], progress=events.append)
    assert [r for r, _ in server.requests] == [f"/{STEMS[3]}.gz"]
    skips = [e for e in events if e.kind == "skip"]
    assert len(skips) == 3 and all("compressed otherwise" in e.message for e in skips)
    (retry,) = [e for e in events if e.kind == "retry"]
    assert "present, but not the published file: content sha256" in retry.message


FAULTS = {
    "404": lambda h: h.send_error(404, "Not Found"),
    "500": lambda h: (
        h.send_response(500, "Broken"),
        h.send_header("Content-Length", "0"),
        h.end_headers(),
    ),
    "garbage status line": lambda h: h.wfile.write(b"NOT HTTP AT ALL\r\n\r\n"),
    "header line of 100 KB": lambda h: h.wfile.write(b"HTTP/1.0 200 OK\r\nX: " + b"a" * 100_000),
    "200 headers": lambda h: h.wfile.write(
        b"HTTP/1.0 200 OK\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(200)) + b"\r\n"
    ),
    "close at once": lambda h: h.connection.shutdown(2),
    "bad content-length": lambda h: h.wfile.write(
        b"HTTP/1.0 200 OK\r\nContent-Length: lots\r\n\r\n" + PAYLOAD[:10]
    ),
    "bad chunk size": lambda h: h.wfile.write(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n"
    ),
    "endless body": lambda h: (
        h.wfile.write(b"HTTP/1.0 200 OK\r\n\r\n"),
        [h.wfile.write(bytes(65536)) for _ in range(2000)],
    ),
    "wrong bytes": serve(bytes(len(PAYLOAD))),
    "206 without asking": lambda h: (
        h.send_response(206),
        h.send_header("Content-Range", "bytes 5-10239/10240"),
        h.send_header("Content-Length", "10235"),
        h.end_headers(),
        h.wfile.write(PAYLOAD[5:]),
    ),
    "drip body": drip_body(PAYLOAD, every=0.2),
    "drip headers": drip_headers,
}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_every_server_fault_is_one_line_naming_file_and_mirror(tmp_path, server, fault):
    server.routes["f.gz"] = FAULTS[fault]
    outcome = finishes(
        lambda: download.fetch(spec_for(PAYLOAD), tmp_path, [server.url], deadline=2)
    )
    one_line(outcome, f"{tmp_path / 'f.gz'}: download failed: {server.url}: ")
    assert not (tmp_path / "f.gz").exists()
