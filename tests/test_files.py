"""``nnlite.files``: reading only regular files, writing atomically, never destroying work.

Claims checked: a FIFO, a device node (also behind a symlink) or a directory is refused
for reading at once, without blocking; a write never replaces a device node or FIFO (it
writes them in place) and never leaves a half-written target; ``kill -9`` during saves,
in a loop, leaves the target either absent or a complete earlier version, and the next
write removes every temporary file the killed writers left; ``overwrite=False`` never
replaces a file, even one that appears during the write; ``check_target`` finds the
problems a long run would otherwise meet only at its end; ``claim`` refuses a second
writer.
"""

from __future__ import annotations

import errno
import os
import signal
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from nnlite import files, io
from nnlite.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
ROOT_ONLY = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0, reason="mknod of a device node needs root"
)


def _temporaries(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith("."))


# -- reading -----------------------------------------------------------------------------


def test_open_regular_reads_a_regular_file_and_a_symlink_to_one(tmp_path):
    target = tmp_path / "data.csv"
    target.write_bytes(b"1,2\n")
    (tmp_path / "link.csv").symlink_to(target)
    for path in (target, tmp_path / "link.csv"):
        with files.open_regular(path) as f:
            assert f.read() == b"1,2\n"


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path):
    fifo = tmp_path / "x.npz"
    os.mkfifo(fifo)
    start = time.monotonic()
    with pytest.raises(files.NotRegularFile, match="is a FIFO"):
        files.open_regular(fifo)  # no writer: a plain open() would hang here
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_open_regular_refuses_a_device_and_a_symlink_to_it(tmp_path, device):
    link = tmp_path / "data.csv"
    link.symlink_to(device)
    for path in (device, link):
        with pytest.raises(files.NotRegularFile, match="is a character device"):
            files.open_regular(path)


def test_open_regular_refuses_a_directory(tmp_path):
    with pytest.raises(files.NotRegularFile, match="is a directory"):
        files.open_regular(tmp_path)


# -- atomic writes -----------------------------------------------------------------------


def test_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), files.atomic_write(target) as f:
        f.write(b"half of the new")
        raise RuntimeError("disk full, say")
    assert target.read_bytes() == b"old"
    assert _temporaries(tmp_path) == []
    with files.atomic_write(target) as f:
        f.write(b"new")
    assert target.read_bytes() == b"new"
    assert _temporaries(tmp_path) == []


def test_atomic_write_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"old")
    target.chmod(0o640)
    with files.atomic_write(target) as f:
        f.write(b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_atomic_write_follows_a_symlink_and_keeps_it(tmp_path):
    real = tmp_path / "real.npz"
    real.write_bytes(b"old")
    link = tmp_path / "link.npz"
    link.symlink_to(real)
    with files.atomic_write(link) as f:
        f.write(b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


@ROOT_ONLY
def test_atomic_write_writes_a_device_node_in_place_and_never_replaces_it(tmp_path):
    node = tmp_path / "null"  # a private /dev/null: the real one is never put at risk
    os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    with files.atomic_write(node, "w") as f:
        f.write("predictions\n")
    assert stat.S_ISCHR(node.stat().st_mode)
    assert files.check_target(node, overwrite=False) == node  # writable in place, not "exists"


def test_atomic_write_writes_a_fifo_in_place_and_fails_at_once_without_a_reader(tmp_path):
    fifo = tmp_path / "out.csv"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="no process is reading"):
        with files.atomic_write(fifo, "w") as f:
            f.write("x")
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()))
    reader.start()
    time.sleep(0.2)  # the reader opens the FIFO first
    with files.atomic_write(fifo, "w") as f:
        f.write("class,p0\n")
    reader.join(10)
    assert got == ["class,p0\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_overwrite_false_never_replaces_a_file_even_one_that_appears_meanwhile(tmp_path):
    target = tmp_path / "m.npz"
    target.write_bytes(b"mine")
    with pytest.raises(files.TargetExists):
        with files.atomic_write(target, overwrite=False) as f:
            f.write(b"theirs")
    assert target.read_bytes() == b"mine"
    fresh = tmp_path / "fresh.npz"
    with pytest.raises(files.TargetExists, match="meanwhile"):
        with files.atomic_write(fresh, overwrite=False) as f:
            f.write(b"second")
            fresh.write_bytes(b"first")  # another process, while this write runs
    assert fresh.read_bytes() == b"first"
    assert _temporaries(tmp_path) == []


def test_a_stale_temporary_of_a_dead_writer_is_removed_by_the_next_write(tmp_path):
    target = tmp_path / "m.npz"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()  # fmt: skip
    stale = tmp_path / f".m.npz.{dead}.0badf00d.nnlite-tmp"
    alive = tmp_path / f".m.npz.{os.getppid()}.0badf00d.nnlite-tmp"  # a live writer's
    other = tmp_path / f".other.npz.{dead}.0badf00d.nnlite-tmp"  # another file's
    for path in (stale, alive, other):
        path.write_bytes(b"partial")
    with files.atomic_write(target) as f:
        f.write(b"new")
    assert not stale.exists()
    assert alive.exists() and other.exists()


SAVER = """
import sys
import numpy as np
from nnlite import Dense, Sequential, io
model = Sequential([Dense(2048, "relu"), Dense(10, "softmax")], n_inputs=784, seed=int(sys.argv[2]))
print("ready", flush=True)
while True:
    io.save(model, sys.argv[1])
"""


def test_kill_9_during_saves_in_a_loop_never_breaks_the_file_and_leaves_no_temporaries(tmp_path):
    """20 writers of a 6.5 MB model killed at random moments; the file is always whole."""
    target = tmp_path / "model.npz"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    rng = np.random.default_rng(0)
    seeds_seen = set()
    for seed in range(20):
        proc = subprocess.Popen([sys.executable, "-c", SAVER, str(target), str(seed)], env=env,
                                stdout=subprocess.PIPE, text=True)  # fmt: skip
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(float(rng.uniform(0.0, 0.3)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        if target.exists():  # whole: it loads, and is one of the writers' models
            model = io.load(target)
            seeds_seen.add(model.theta.size)
    assert target.exists(), "no save finished in 20 tries"
    # The next write removes what the killed writers left.
    with files.atomic_write(tmp_path / "model.npz") as f:
        f.write(target.read_bytes())
    assert _temporaries(tmp_path) == []
    io.load(target)


# -- checking a target before the work -----------------------------------------------------


@pytest.mark.parametrize("name", ["", ".", "..", "/", "dir/"])
def test_check_target_refuses_what_is_not_a_file_name(name):
    with pytest.raises(ConfigError, match="not a file name"):
        files.check_target(name)


def test_check_target_refuses_a_directory_a_missing_directory_and_an_existing_file(tmp_path):
    with pytest.raises(ConfigError, match="is a directory"):
        files.check_target(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        files.check_target(tmp_path / "missing" / "m.npz")
    (tmp_path / "m.npz").write_bytes(b"x")
    with pytest.raises(files.TargetExists):
        files.check_target(tmp_path / "m.npz", overwrite=False)
    assert files.check_target(tmp_path / "m.npz", overwrite=True) == tmp_path / "m.npz"
    assert _temporaries(tmp_path) == []  # the probe file is gone


def test_check_target_probes_the_directory_for_real(tmp_path, monkeypatch):
    """A read-only file system refuses the probe even to root (os.access would say yes)."""
    real_open = os.open

    def read_only(path, flags, *args):
        if str(path).endswith(".nnlite-tmp"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", read_only)
    with pytest.raises(ConfigError, match="Read-only file system"):
        files.check_target(tmp_path / "m.npz")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a mode-0500 directory")
def test_check_target_refuses_a_directory_without_write_permission(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(ConfigError, match="Permission denied"):
        files.check_target(locked / "m.npz")


def test_claim_refuses_a_second_writer_and_is_released(tmp_path):
    target = tmp_path / "m.npz"
    with files.claim(target):
        with pytest.raises(files.TargetBusy, match="another nnlite run"):
            with files.claim(target):
                pass
    with files.claim(target):  # released: free again
        pass
    assert _temporaries(tmp_path) == []


def test_save_or_rescue_keeps_the_model_when_the_target_cannot_be_written(tmp_path, disk_full):
    from nnlite import Dense, Sequential

    model = Sequential([Dense(3, "softmax")], n_inputs=2, seed=1)
    target = disk_full(tmp_path / "m.npz")
    written, problem = io.save_or_rescue(model, target, {"dataset": "xor"})
    assert isinstance(problem, OSError) and problem.errno == errno.ENOSPC
    assert written.parent == tmp_path and written.name.startswith("m.rescued-")
    assert io.load(written).theta.tobytes() == model.theta.tobytes()
    assert not target.exists()


def test_dev_stdout_is_written_through_the_descriptor_in_order_never_replaced(tmp_path):
    """`… --output /dev/stdout > out.csv`: the file stays the shell's, the text in order."""
    out = tmp_path / "out.csv"
    code = (
        "from nnlite import files\n"
        "print('a table first')\n"
        "with files.atomic_write(files.check_target('/dev/stdout', overwrite=False), 'w') as f:\n"
        "    f.write('class,p0\\n0,1\\n')\n"
        "print('wrote 1 prediction')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with open(out, "w") as handle:
        inode = os.fstat(handle.fileno()).st_ino
        done = subprocess.run([sys.executable, "-c", code], stdout=handle, env=env, timeout=60)
    assert done.returncode == 0
    assert out.read_text() == "a table first\nclass,p0\n0,1\nwrote 1 prediction\n"
    assert out.stat().st_ino == inode  # the shell's file, not a new one renamed over it
