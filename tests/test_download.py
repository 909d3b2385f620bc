"""The downloader (``nnlite.datasets.download`` and ``nnlite data``) against local HTTP servers.

Every server here is a ``ThreadingHTTPServer`` on 127.0.0.1, port 0, serving the real MNIST
files from ``../shared/data/mnist`` (tests that need them are skipped when it is absent) with
a chosen misbehaviour: a corrupted byte, a connection dropped half-way, a Range header
ignored, 404, silence. No test touches the real network.

Claims checked: the pinned checksums are those of the publisher's files; a download is
verified before it gets its final name, so a corrupt or interrupted one never looks complete;
an interrupted download resumes with ``Range`` (and restarts when the server ignores it or the
resumed file is wrong); mirrors are tried in order; every failure is one line naming the file
(and, for a checksum, both digests); ``nnlite data download`` / ``data list`` work end to end,
and ``train --dataset fashion-mnist`` works exactly like mnist and says how to get the files.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import threading
import time
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

import cli
from nnlite import config, datasets, errors
from nnlite.datasets import download

SHARED_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
HAVE_MNIST = all((SHARED_MNIST / spec.name).is_file() for spec in download.MNIST.files)
needs_mnist = pytest.mark.skipif(
    not HAVE_MNIST, reason=f"the four MNIST .gz files are not in {SHARED_MNIST}"
)
SMALL = download.MNIST.files[3]  # t10k-labels-idx1-ubyte.gz, 4,542 bytes
MEDIUM = download.MNIST.files[2]  # t10k-images-idx3-ubyte.gz, 1,648,877 bytes
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


# ---------------------------------------------------------------------------- the server


class _Handler(BaseHTTPRequestHandler):
    """GET /NAME: the file NAME of the server's folder, misbehaving as the server's plan says."""

    def log_message(self, *args) -> None:  # keep pytest's output clean
        pass

    def do_GET(self) -> None:
        srv: MirrorServer = self.server  # type: ignore[assignment]
        name = self.path.rsplit("/", 1)[-1]
        asked = self.headers.get("Range")
        srv.requests.append((name, asked))
        mode = srv.plan[name].pop(0) if srv.plan[name] else srv.mode
        path = srv.root / name
        if mode == "404" or not path.is_file():
            self.send_error(404, "Not Found")
            return
        if mode == "silent":
            time.sleep(3)
            return
        data = path.read_bytes()
        if mode == "corrupt":
            middle = len(data) // 2
            data = data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
        if mode == "long":
            data += b"more and more"
        start = 0
        if asked and mode != "norange":
            start = int(re.fullmatch(r"bytes=(\d+)-", asked).group(1))
            if start >= len(data):
                self.send_error(416, "Range Not Satisfiable")
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if mode == "drop":
            # Half the promised bytes, then the connection closes (HTTP/1.0: after return).
            self.wfile.write(body[: len(body) // 2])
            return
        self.wfile.write(body)


class MirrorServer(ThreadingHTTPServer):
    """A mirror on 127.0.0.1 serving ``root``; ``mode`` for every request unless ``plan``
    queues other modes for a file's next requests. ``requests`` logs (name, Range header)."""

    daemon_threads = True

    def __init__(self, root: Path, mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.root = root
        self.mode = mode
        self.plan: dict[str, list[str]] = defaultdict(list)
        self.requests: list[tuple[str, str | None]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/"
        self.thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture
def serve(monkeypatch):
    """``serve(mode="ok", root=SHARED_MNIST)`` starts a mirror, stopped after the test."""
    # A proxy from the environment must not see (or break) requests to 127.0.0.1.
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    started = []

    def start(mode: str = "ok", root: Path = SHARED_MNIST) -> MirrorServer:
        started.append(MirrorServer(root, mode))
        return started[-1]

    yield start
    for server in started:
        server.stop()


@pytest.fixture(autouse=True)
def _hermetic_data_home(tmp_path, monkeypatch):
    """No test may read or write the real data home: it is an empty folder of this test."""
    monkeypatch.setenv("NNLITE_DATA", str(tmp_path / "home"))


class Events(list):
    """A progress callback that keeps every ``DownloadEvent``."""

    def __call__(self, event: download.DownloadEvent) -> None:
        self.append(event)

    def kinds(self, kind: str) -> list[download.DownloadEvent]:
        return [e for e in self if e.kind == kind]


def one_line_data_error(call, *parts: str) -> str:
    with pytest.raises(errors.DataError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    return message


# ---------------------------------------------------------------------------- pins


def test_pins_are_well_formed_and_name_the_same_files_for_both_sets():
    for src in download.SOURCES.values():
        assert [f.name for f in src.files] == [f"{s}.gz" for s in datasets.MNIST_FILES.values()]
        assert all(m.startswith(("https://", "http://")) and m.endswith("/") for m in src.mirrors)
        for spec in src.files:
            assert re.fullmatch(r"[0-9a-f]{64}", spec.sha256), spec
            assert re.fullmatch(r"[0-9a-f]{32}", spec.md5), spec
    # Fashion-MNIST: published sizes (tensorflow_datasets) and MD5s (torchvision, Zalando).
    sizes = {f.name: f.size for f in download.FASHION_MNIST.files}
    assert sizes["train-images-idx3-ubyte.gz"] == 26421880
    assert download.FASHION_MNIST.files[0].md5 == "8d4fb7e6c68d591d4c3dfef9ec88bf0d"


@needs_mnist
def test_mnist_pins_match_the_publishers_files_by_size_sha256_and_md5():
    for spec in download.MNIST.files:
        data = (SHARED_MNIST / spec.name).read_bytes()
        assert len(data) == spec.size
        assert hashlib.sha256(data).hexdigest() == spec.sha256
        assert hashlib.md5(data).hexdigest() == spec.md5
        assert download.verify(SHARED_MNIST / spec.name, spec) is None


# ---------------------------------------------------------------------------- happy path


@needs_mnist
def test_download_verifies_renames_and_the_files_load(tmp_path, serve):
    server = serve()
    events = Events()
    folder = download.download("mnist", tmp_path, mirrors=[server.url], progress=events)
    assert folder == tmp_path / "mnist"
    for spec in download.MNIST.files:
        assert (folder / spec.name).read_bytes() == (SHARED_MNIST / spec.name).read_bytes()
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in download.MNIST.files)
    assert [e.file for e in events.kinds("done")] == [f.name for f in download.MNIST.files]
    last = [e for e in events.kinds("progress") if e.file == MEDIUM.name][-1]
    assert (last.done, last.total, last.mirror) == (MEDIUM.size, MEDIUM.size, server.url)
    assert all(asked is None for _, asked in server.requests)
    ds = datasets.load("mnist", data_dir=tmp_path)
    assert ds.X.shape == (60000, 784) and ds.X_test.shape == (10000, 784)

    # Again: nothing is fetched, each file is reported present and verified.
    server.requests.clear()
    again = Events()
    download.download("mnist", tmp_path, mirrors=[server.url], progress=again)
    assert server.requests == [] and len(again.kinds("skip")) == 4

    # A damaged file is fetched again (and only that one); --force fetches everything.
    (folder / SMALL.name).write_bytes(b"damaged")
    download.download("mnist", tmp_path, mirrors=[server.url])
    assert server.requests == [(SMALL.name, None)]
    assert download.verify(folder / SMALL.name, SMALL) is None
    server.requests.clear()
    download.download("mnist", tmp_path, mirrors=[server.url], force=True)
    assert len(server.requests) == 4


@needs_mnist
def test_default_target_is_the_data_home(tmp_path, serve, monkeypatch):
    monkeypatch.delenv("NNLITE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    server = serve()
    folder = download.download("mnist", mirrors=[server.url])
    assert folder == tmp_path / "cache" / "nnlite" / "mnist" == config.data_dir() / "mnist"
    assert datasets.list_datasets()[list(datasets.NAMES).index("mnist")]["available"]


# ---------------------------------------------------------------------------- failures


@needs_mnist
def test_corrupted_file_fails_its_checksum_and_nothing_is_kept(tmp_path, serve):
    server = serve("corrupt")
    data = bytearray((SHARED_MNIST / SMALL.name).read_bytes())
    data[len(data) // 2] ^= 0xFF
    actual = hashlib.sha256(data).hexdigest()
    message = one_line_data_error(
        lambda: download.fetch(SMALL, tmp_path, [server.url]),
        SMALL.name,
        f"expected {SMALL.sha256}",
        f"sha256 {actual}",
    )
    assert "checksum mismatch" in message
    assert list(tmp_path.iterdir()) == []


@needs_mnist
def test_corrupt_first_mirror_hands_over_to_the_second(tmp_path, serve):
    bad, good = serve("corrupt"), serve()
    events = Events()
    assert download.fetch(SMALL, tmp_path, [bad.url, good.url], progress=events) == good.url
    assert download.verify(tmp_path / SMALL.name, SMALL) is None
    assert "checksum mismatch" in events.kinds("retry")[0].message


@needs_mnist
def test_dropped_connection_leaves_no_final_file_and_a_later_run_resumes(tmp_path, serve):
    server = serve()
    server.plan[MEDIUM.name] = ["drop"]
    one_line_data_error(
        lambda: download.fetch(MEDIUM, tmp_path, [server.url]),
        MEDIUM.name,
        "run the command again to resume",
    )
    part = tmp_path / f"{MEDIUM.name}.part"
    assert not (tmp_path / MEDIUM.name).exists()
    assert part.stat().st_size == MEDIUM.size // 2

    download.fetch(MEDIUM, tmp_path, [server.url])
    assert server.requests[-1] == (MEDIUM.name, f"bytes={MEDIUM.size // 2}-")
    assert download.verify(tmp_path / MEDIUM.name, MEDIUM) is None
    assert not part.exists()


@needs_mnist
def test_server_that_ignores_range_makes_the_download_restart_from_zero(tmp_path, serve):
    server = serve()
    server.plan[MEDIUM.name] = ["drop", "norange"]
    with pytest.raises(errors.DataError):
        download.fetch(MEDIUM, tmp_path, [server.url])
    events = Events()
    download.fetch(MEDIUM, tmp_path, [server.url], progress=events)
    assert server.requests[-1][1] is not None  # it asked for the rest, got everything
    assert "ignored the resume request" in events.kinds("retry")[0].message
    assert download.verify(tmp_path / MEDIUM.name, MEDIUM) is None


@needs_mnist
def test_resumed_file_that_fails_its_checksum_restarts_once(tmp_path, serve):
    server = serve()
    part = tmp_path / f"{MEDIUM.name}.part"
    part.write_bytes(b"\0" * 1000)  # not the first 1000 bytes of the file
    events = Events()
    download.fetch(MEDIUM, tmp_path, [server.url], progress=events)
    assert server.requests == [(MEDIUM.name, "bytes=1000-"), (MEDIUM.name, None)]
    assert "downloading from the start" in events.kinds("retry")[0].message
    assert download.verify(tmp_path / MEDIUM.name, MEDIUM) is None and not part.exists()


@needs_mnist
def test_404_on_the_first_mirror_falls_back_to_the_second(tmp_path, serve):
    missing, good = serve("404"), serve()
    assert download.fetch(SMALL, tmp_path, [missing.url, good.url]) == good.url
    assert missing.requests == [(SMALL.name, None)]


@needs_mnist
def test_404_everywhere_is_one_line_naming_the_file_and_each_mirror(tmp_path, serve):
    a, b = serve("404"), serve("404")
    message = one_line_data_error(
        lambda: download.download("mnist", tmp_path, mirrors=[a.url, b.url]),
        download.MNIST.files[0].name,
        f"{a.url}: HTTP 404",
        f"{b.url}: HTTP 404",
    )
    assert message.startswith(str(tmp_path / "mnist"))
    assert list((tmp_path / "mnist").iterdir()) == []


@needs_mnist
def test_a_server_that_sends_too_much_or_nothing_in_time_is_refused(tmp_path, serve):
    long, silent = serve("long"), serve("silent")
    one_line_data_error(
        lambda: download.fetch(SMALL, tmp_path, [long.url]), "sent more than the 4,542 bytes"
    )
    assert list(tmp_path.iterdir()) == []
    start = time.perf_counter()
    one_line_data_error(
        lambda: download.fetch(SMALL, tmp_path, [silent.url], timeout=0.3), "timed out"
    )
    assert time.perf_counter() - start < 2.5


@needs_mnist
def test_an_interrupted_download_never_leaves_a_final_named_file(tmp_path, serve):
    server = serve()

    def interrupt(event):
        if event.kind == "progress" and event.done > MEDIUM.size // 3:
            raise KeyboardInterrupt

    folder = tmp_path / "mnist"
    folder.mkdir()
    with pytest.raises(KeyboardInterrupt):
        download.fetch(MEDIUM, folder, [server.url], progress=interrupt)
    assert [p.name for p in folder.iterdir()] == [f"{MEDIUM.name}.part"]
    assert download.status("mnist", tmp_path)[1][2].state == "partial"


@needs_mnist
def test_a_complete_verified_part_is_renamed_without_a_request(tmp_path, serve):
    server = serve()
    (tmp_path / f"{SMALL.name}.part").write_bytes((SHARED_MNIST / SMALL.name).read_bytes())
    assert download.fetch(SMALL, tmp_path, [server.url]) == ""
    assert server.requests == [] and [p.name for p in tmp_path.iterdir()] == [SMALL.name]


def test_bad_names_and_mirrors_are_config_errors(tmp_path):
    with pytest.raises(errors.ConfigError, match="mnist, fashion-mnist"):
        download.download("cifar10", tmp_path)
    with pytest.raises(errors.ConfigError, match="not an http"):
        download.download("mnist", tmp_path, mirrors=["file:///etc/"])
    with pytest.raises(errors.ConfigError, match="empty"):
        download.download("mnist", tmp_path, mirrors=[])
    with pytest.raises(errors.ConfigError, match="not an http"):
        download.fetch(SMALL, tmp_path, ["file:///etc/"])


def test_status_reports_each_state(tmp_path):
    # (The states of readable files, verified, differs, unverified and other set, are in
    # test_idx_hardening.py, with the loader's agreement.)
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / SMALL.name).write_bytes(b"x" * SMALL.size)
    (folder / "train-images-idx3-ubyte").write_bytes(b"raw")
    (folder / f"{MEDIUM.name}.part").write_bytes(b"123")
    where, files = download.status("mnist", tmp_path)
    assert where == folder
    assert [f.state for f in files] == ["unusable", "missing", "partial", "unusable"]
    assert files[0].detail == "truncated IDX header (3 of 4 magic bytes)"
    assert files[0].name == "train-images-idx3-ubyte"
    assert files[3].detail == "named .gz but is not gzip-compressed"
    assert files[2].detail == f"3 of {MEDIUM.size:,} bytes"
    # A .part that is a symbolic link is no download in progress (the next one removes it).
    (folder / f"{MEDIUM.name}.part").unlink()
    (folder / f"{MEDIUM.name}.part").symlink_to(folder / SMALL.name)
    assert download.status("mnist", tmp_path)[1][2].state == "missing"
    # Nothing anywhere: the folder shown is where a download would write.
    assert download.status("fashion-mnist", tmp_path)[0] == tmp_path / "fashion-mnist"


# ---------------------------------------------------------------------------- CLI

runner = CliRunner()


def invoke(*args):
    return runner.invoke(cli.app, [str(a) for a in args])


def plain(text: str) -> str:
    return ANSI.sub("", text)


def clean_error(result, *parts: str) -> str:
    """A non-zero exit with exactly one ``error:`` line on stderr holding every part."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    lines = [line for line in plain(result.stderr).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


@needs_mnist
def test_cli_download_then_list(tmp_path, serve):
    server = serve()
    result = invoke("data", "download", "mnist", "--data-dir", tmp_path, "--mirror", server.url)
    assert result.exit_code == 0, result.output
    out = plain(result.stdout)
    assert "4 files verified in" in out and "nnlite train --dataset mnist --data-dir" in out
    assert not result.stderr
    # Outside a terminal: one plain line per file.
    assert len(re.findall(r"bytes from 127\.0\.0\.1:\d+, verified", out)) == 4

    again = plain(
        invoke("data", "download", "mnist", "--data-dir", tmp_path, "--mirror", server.url).stdout
    )
    assert again.count("already present and verified") == 4

    listing = invoke("data", "list", "--data-dir", tmp_path)
    assert listing.exit_code == 0, listing.output
    mnist_part, fashion_part = plain(listing.stdout).split("fashion-mnist:", 1)
    assert mnist_part.startswith(f"mnist: {tmp_path / 'mnist'}\n")
    assert mnist_part.count("│ verified") == 4 and "\ncomplete and verified\n" in mnist_part
    assert fashion_part.startswith(f" {tmp_path / 'fashion-mnist'}\n")
    assert fashion_part.count("│ missing") == 4
    assert f"\nto get the missing files: {download.command('fashion-mnist', tmp_path)}\n" in (
        fashion_part
    )


def test_cli_download_failure_is_one_clean_line(tmp_path, serve):
    server = serve("404")
    result = invoke(
        "data", "download", "fashion-mnist", "--data-dir", tmp_path, "--mirror", server.url
    )
    clean_error(result, "train-images-idx3-ubyte.gz", "HTTP 404")
    clean_error(invoke("data", "download", "mnist", "--mirror", "ftp://x/"), "not an http")
    assert invoke("data", "download", "cifar").exit_code == 2  # not a choice: usage error


def test_cli_data_list_in_an_empty_home_says_how_to_get_both(tmp_path):
    text = plain(invoke("data", "list").stdout)
    assert "files: nnlite data download mnist\n" in text
    assert "files: nnlite data download fashion-mnist\n" in text
    assert f"mnist: {tmp_path / 'home' / 'mnist'}\n" in text


def tiny_idx_set(folder: Path, n_train: int = 40, n_test: int = 10) -> None:
    """Four gzip IDX files of 4x4 images whose label is their brightest quarter."""
    import numpy as np

    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        y = np.arange(n, dtype=np.uint8) % 4
        X = rng.integers(0, 40, size=(n, 4, 4), dtype=np.uint8)
        for i, label in enumerate(y):
            X[i, 2 * (label // 2) : 2 * (label // 2) + 2, 2 * (label % 2) : 2 * (label % 2) + 2] = (
                250
            )
        images = (0x803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in X.shape)
        labels = (0x801).to_bytes(4, "big") + n.to_bytes(4, "big")
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(images + X.tobytes()))
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels + y.tobytes()))


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_cli_trains_and_evaluates_fashion_mnist_exactly_like_mnist(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)  # short paths in the summary table
    tiny_idx_set(tmp_path / "data" / name)
    result = invoke("train", "-d", name, "--data-dir", "data", "-e", "30", "-q", "--save", "m.npz")
    assert result.exit_code == 0, result.output
    assert "validation accuracy" in plain(result.stdout)  # on the published test split
    result = invoke("evaluate", "m.npz", "-d", name, "--data-dir", "data")
    assert result.exit_code == 0, result.output
    assert f"{name}: test set (10)" in plain(result.stdout)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_cli_training_on_missing_data_says_how_to_get_it(tmp_path, name):
    clean_error(invoke("train", "-d", name, "-q"), f"`nnlite data download {name}`")
    clean_error(
        invoke("train", "-d", name, "--data-dir", tmp_path, "-q"),
        f"`nnlite data download {name} --data-dir {tmp_path}`",
        str(tmp_path / name),
    )
