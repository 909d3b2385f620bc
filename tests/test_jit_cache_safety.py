"""Numba's disk cache never runs someone else's code, and a damaged cache costs one warning.

Claims checked, each in fresh processes (Numba reads its cache once per process):

- A planted file (a pickle that would create a marker file when unpickled) at every name
  Numba or nnlite would read for a kernel (raw, behind a forged seal, sealed with another
  key) is never unpickled: the run computes the right numbers and exits 0. A plain
  ``njit(cache=True)`` function in the same process, given the same file, does create its
  marker: the payload is armed and the place is the one Numba reads.
- A predictable fallback directory made by another user, holding files sealed with a key
  of that user's choosing, is never used (root only: the directory must belong to another uid).
- A truncated, garbage, zero-length or bit-flipped index or data file: the right result,
  exit 0, one warning line, the file set aside as ``*.corrupt-<time>``, and the next run
  loads everything from the cache without a word.
- The same two for the real ``nnlite train`` (one run planted, one damaged, one warm).

Tiny kernels of a module written into ``tmp_path`` keep each process near a second.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import random
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SEED = 16

# Kernels of the tiny module: f_i(x) = 2x + i.
CORRUPTIONS = [
    (kind, which)
    for kind in ("zero-length", "truncated", "garbage", "bit-flip")
    for which in ("index", "data")
]
PLANTS = ["index-raw", "index-forged-mac", "index-other-key", "data-raw", "data-other-key"]


def _module(names: list[str], plain: bool = False) -> str:
    lines = ["from nnlite.kernels.jit import kernel", ""]
    for i, name in enumerate(names):
        lines += ["", "@kernel", f"def {name}(x):", f"    return 2.0 * x + {i}.0", ""]
    if plain:  # the control: stock Numba caching, no seal
        lines += ["", "import numba", "", "", "@numba.njit(cache=True)", "def plain(x):"]
        lines += ["    return 2.0 * x - 1.0", ""]
    return "\n".join(lines)


DRIVER = """
import json, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import nnlite  # points NUMBA_CACHE_DIR at a checked directory, before numba is imported
    import tinymod
    out = {}
    for name in sys.argv[1].split(","):
        f = getattr(tinymod, name)
        value = f(3.0)
        out[name] = [value, sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values())]
print(json.dumps({"results": out, "warnings": [str(w.message) for w in caught],
                  "categories": [w.category.__name__ for w in caught]}))
"""


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    env.update(extra)
    return env


def _run(moddir: Path, names: list[str], **env: str) -> dict:
    """Import the tiny module in a fresh process, call ``names`` at 3.0; it must exit 0."""
    environ = _env(PYTHONPATH=f"{ROOT}{os.pathsep}{moddir}", **env)
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, ",".join(names)],
        env=environ,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _expect(names: list[str]) -> dict[str, float]:
    return {name: 2.0 * 3.0 + i for i, name in enumerate(names)}


def _tiny(tmp_path: Path, names: list[str], plain: bool = False) -> tuple[Path, Path]:
    """(module directory, private cache root) with the module written and its cache filled."""
    moddir, root = tmp_path / "mod", tmp_path / "cache"
    moddir.mkdir()
    root.mkdir(mode=0o700)
    (moddir / "tinymod.py").write_text(_module(names, plain))
    cold = _run(moddir, names + (["plain"] if plain else []), NUMBA_CACHE_DIR=str(root))
    assert all(cold["results"][n][2] == 1 for n in names), cold  # compiled and saved
    return moddir, root


def _files(root: Path, name: str) -> tuple[Path, Path]:
    """A kernel's sealed index and data file."""
    (index,) = root.glob(f"*/tinymod.{name}-*.nnlite.nbi")
    (data,) = root.glob(f"*/tinymod.{name}-*.nnlite.1.nbc")
    return index, data


class _Plant:
    """Unpickling this creates ``marker``: what an attacker's code would do first."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


MAGIC = b"nnlite numba cache 1\n"  # the format tag of jit.py's sealed files


def _sealed(key: bytes, name: str, body: bytes) -> bytes:
    """A file sealed the way jit.py seals, under ``key`` (an attacker's own key, here)."""
    mac = hmac.new(key, MAGIC + name.encode() + b"\0" + body, hashlib.sha256).digest()
    return MAGIC + mac + body


def _plant(path: Path, how: str, evil: bytes) -> None:
    import numba

    other_key = b"k" * 32
    body = {"index": f"numba {numba.__version__}\n".encode() + evil, "data": evil}
    which = how.split("-")[0]
    if how.endswith("raw"):
        path.write_bytes(evil)
    elif how.endswith("forged-mac"):
        path.write_bytes(MAGIC + bytes(32) + body[which])
    else:
        path.write_bytes(_sealed(other_key, path.name, body[which]))


def test_a_planted_cache_file_is_never_unpickled(tmp_path):
    names = [n.replace("-", "_") for n in PLANTS]
    moddir, root = _tiny(tmp_path, names, plain=True)
    marker, control = tmp_path / "pwned", tmp_path / "control-pwned"
    evil = pickle.dumps(_Plant(marker))
    planted = 0
    for how, name in zip(PLANTS, names):
        index, data = _files(root, name)
        _plant(index if how.startswith("index") else data, how, evil)
        for sealed in (index, data):  # plain Numba's names for the same kernel
            sealed.with_name(sealed.name.replace(".nnlite", "")).write_bytes(evil)
        planted += 3
    (plain_index,) = root.glob("*/tinymod.plain-*.nbi")
    plain_index.write_bytes(pickle.dumps(_Plant(control)))

    out = _run(moddir, [*names, "plain"], NUMBA_CACHE_DIR=str(root))
    assert control.exists(), "the control did not fire: the test plants in the wrong place"
    assert not marker.exists(), "a planted cache file was unpickled"
    assert {n: out["results"][n][0] for n in names} == _expect(names)
    assert [out["results"][n][2] for n in names] == [1] * len(names)  # each compiled again
    # The control's file object, opened by its unpickling, is never closed: Python says so.
    ours = [w for w in out["warnings"] if str(control) not in w]
    assert len(ours) == 1 and ".corrupt-" in ours[0], out["warnings"]
    assert len(list(root.glob("*/*.corrupt-*"))) == len(PLANTS)
    print(f"planted files: {planted} at nnlite's and Numba's names, none unpickled")


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root: the planted directory must belong to another user (os.chown)",
)
def test_a_fallback_directory_planted_by_another_user_is_never_used(tmp_path):
    names = ["planted"]
    moddir, root = _tiny(tmp_path, names)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)
    planted = tmp / f"nnlite-numba-{os.getuid()}"  # made before us, world-writable, by uid 65534
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Plant(marker))
    index, data = _files(root, "planted")
    for sealed in (index, data):
        target = planted / sealed.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.with_name(target.name.replace(".nnlite", "")).write_bytes(evil)
    # Sealed with a key the attacker chose, and that key left where nnlite keeps its own:
    # only the directory rule stands between these files and pickle.
    key = b"a" * 32
    (planted / "nnlite-cache-key").write_bytes(key)
    os.chmod(planted / "nnlite-cache-key", 0o600)
    import numba

    index_body = f"numba {numba.__version__}\n".encode() + evil
    (planted / index.relative_to(root)).write_bytes(_sealed(key, index.name, index_body))
    for path in [planted, *planted.rglob("*")]:
        os.chown(path, 65534, 65534)
        os.chmod(path, 0o777 if path.is_dir() else 0o666)

    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("HOME points under a regular file: ~/.cache cannot be made")
    out = _run(moddir, names, HOME=str(not_a_dir / "home"), TMPDIR=str(tmp))
    assert not marker.exists(), "a file in another user's directory was unpickled"
    assert out["results"]["planted"][0] == 6.0
    (warning,) = out["warnings"]
    assert f"refused {planted}: it is owned by uid 65534" in warning and "this run only" in warning


@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """The tiny module's cache, one kernel per (damage, file); then a run and a warm run."""
    tmp_path = tmp_path_factory.mktemp("damaged")
    names = [f"{kind.replace('-', '_')}_{which}" for kind, which in CORRUPTIONS]
    moddir, root = _tiny(tmp_path, names)
    rng = random.Random(SEED)
    damaged_files = []
    for (kind, which), name in zip(CORRUPTIONS, names):
        path = _files(root, name)[which == "data"]
        blob = bytearray(path.read_bytes())
        if kind == "zero-length":
            blob = b""
        elif kind == "truncated":
            blob = blob[: rng.randrange(1, len(blob))]
        elif kind == "garbage":
            blob = rng.randbytes(len(blob))
        else:
            blob[rng.randrange(len(blob))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(blob))
        damaged_files.append(path)
    first = _run(moddir, names, NUMBA_CACHE_DIR=str(root))
    second = _run(moddir, names, NUMBA_CACHE_DIR=str(root))
    return names, damaged_files, first, second


def test_a_damaged_cache_file_is_set_aside_with_one_warning_and_compiled_again(damaged):
    names, damaged_files, first, _ = damaged
    assert {n: first["results"][n][0] for n in names} == _expect(names)
    assert [first["results"][n][2] for n in names] == [1] * len(names)
    (warning,) = first["warnings"]  # one line for the process, however many files
    assert (
        warning.startswith("nnlite: Numba's cache file ") and "set aside as *.corrupt-" in warning
    )
    assert "\n" not in warning
    for path in damaged_files:
        assert len(list(path.parent.glob(path.name + ".corrupt-*"))) == 1, path.name
        assert path.exists(), "the compile did not write the file again"


def test_after_a_damaged_cache_the_next_run_loads_everything_silently(damaged):
    names, _, _, second = damaged
    assert second["warnings"] == []
    assert {n: second["results"][n][0] for n in names} == _expect(names)
    assert [second["results"][n][1:] for n in names] == [[1, 0]] * len(names)  # hit, no miss


FLIPS = """
import glob, json, os, random, warnings
import nnlite
import tinymod
from nnlite.kernels import jit

rng = random.Random({seed})
f = tinymod.flipped.py_func
tried = clean = 0
for pattern in ("*/tinymod.flipped-*.nnlite.nbi", "*/tinymod.flipped-*.nnlite.1.nbc"):
    (path,) = glob.glob(os.path.join({root!r}, pattern))
    size = os.path.getsize(path)
    tag, mac = {magic}, 32
    positions = {{0, tag - 1, tag, tag + mac - 1, tag + mac, size - 1}}
    positions |= {{rng.randrange(size) for _ in range({n})}}
    for pos in sorted(positions):
        blob = bytearray(open(path, "rb").read())
        blob[pos] ^= 1 << rng.randrange(8)
        open(path, "wb").write(blob)
        jit._warned = False  # one warning per process: let each flip have its own
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            k = jit.kernel(f)  # a new dispatcher reads the cache again
            value = k(3.0)
        aside = glob.glob(path + ".corrupt-*")
        k2 = jit.kernel(f)  # and the file written by that compile loads
        ok = (
            value == 6.0 and k2(3.0) == 6.0 and len(caught) == 1 and len(aside) == 1
            and sum(k.stats.cache_misses.values()) == 1
            and sum(k2.stats.cache_hits.values()) == 1
        )
        tried += 1
        clean += ok
        for p in aside:
            os.remove(p)
print(json.dumps({{"tried": tried, "clean": clean}}))
"""


def test_a_flipped_bit_anywhere_in_an_index_or_data_file_is_caught(tmp_path):
    moddir, root = _tiny(tmp_path, ["flipped"])
    code = FLIPS.format(seed=SEED, root=str(root), magic=len(MAGIC), n=10)
    proc = subprocess.run(
        [sys.executable, "-c", code],
        env=_env(PYTHONPATH=f"{ROOT}{os.pathsep}{moddir}", NUMBA_CACHE_DIR=str(root)),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"bit flips: {counts}")
    assert counts["tried"] >= 20 and counts["clean"] == counts["tried"], counts


# The real CLI: one run with planted files, one with a damaged file, one warm.


def _train(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", "train", "--epochs", "1", "--quiet"],
        cwd=ROOT,
        env=_env(NUMBA_CACHE_DIR=str(root)),
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory):
    """A cache root where every module-level kernel's files are planted; the CLI run on it."""
    from nnlite import config
    from nnlite.kernels import blas, cpu

    tmp_path = tmp_path_factory.mktemp("cli")
    root = tmp_path / "cache"
    root.mkdir(mode=0o700)
    marker = tmp_path / "pwned"
    evil = pickle.dumps(_Plant(marker))
    here = config.numba_cache_root()
    planted = 0
    for module in (cpu, blas):
        for value in vars(module).values():
            cache_file = getattr(getattr(value, "_cache", None), "_cache_file", None)
            index = getattr(cache_file, "_index_path", None)
            if index is None or not index.startswith(here):
                continue
            target = root / os.path.relpath(index, here)
            target.parent.mkdir(exist_ok=True)
            for path in (target, target.with_name(target.name.replace(".nnlite", ""))):
                path.write_bytes(evil)
                planted += 1
    assert planted >= 20
    return root, marker, planted, _train(root)


def test_the_cli_never_unpickles_a_planted_cache_file(cli_cache):
    root, marker, planted, run = cli_cache
    assert run.returncode == 0, run.stderr[-3000:]
    assert not marker.exists(), "a planted cache file was unpickled"
    (line,) = run.stderr.strip().splitlines()  # one line: the warning, no traceback
    assert line.startswith("warning: nnlite: Numba's cache file ") and ".corrupt-" in line
    print(f"CLI: {planted} planted files, none unpickled")


def test_the_cli_sets_a_damaged_cache_file_aside_with_one_line_then_runs_warm(cli_cache):
    root, _, _, _ = cli_cache
    (data,) = root.glob("*/cpu._for_config.locals.train_batches_for_config-*.nnlite.1.nbc")
    blob = bytearray(data.read_bytes())
    blob[len(blob) // 2] ^= 0x10
    data.write_bytes(bytes(blob))
    for old in root.glob("*/*.corrupt-*"):
        old.unlink()  # what the planted run set aside
    damaged = _train(root)
    assert damaged.returncode == 0, damaged.stderr[-3000:]
    (line,) = damaged.stderr.strip().splitlines()
    assert line.startswith(f"warning: nnlite: Numba's cache file {data}") and ".corrupt-" in line
    assert len(list(root.glob(f"*/{data.name}.corrupt-*"))) == 1
    assert data.exists(), "the compile did not write the file again"
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.glob("*/*.nnlite.*")}
    warm = _train(root)
    assert warm.returncode == 0 and warm.stderr.strip() == "", warm.stderr[-3000:]
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.glob("*/*.nnlite.*")}
    assert after == before  # nothing compiled, so nothing saved: every kernel came from the cache
