"""config: Numba's JIT cache finds a writable home even when the install and HOME are read-only,
and only ever one that nobody but the current user can write (created 0700; someone else's is
refused, a loose one of ours set aside, an unsafe NUMBA_CACHE_DIR ignored, each said in one line);
the data home is $NNLITE_DATA, else the per-user cache ($XDG_CACHE_HOME/nnlite or ~/.cache/nnlite).
"""

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import os, numpy as np
import nnlite
from nnlite.kernels import cpu
Z = np.zeros((2, 3), np.float32); A = np.empty_like(Z)
cpu.activation_forward(Z, A, cpu.SIGMOID)
print(os.environ["NUMBA_CACHE_DIR"]); print(float(A.sum()))
"""


def _run(env_updates):
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(env_updates)
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=120
    )


def test_unwritable_home_falls_back_to_a_temporary_cache(tmp_path):
    # /proc/... can never be created, even by root: HOME is effectively read-only.
    result = _run({"HOME": "/proc/nnlite-no-home", "TMPDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    cache_dir, total = result.stdout.split()
    assert cache_dir.startswith(str(tmp_path)) and float(total) == 3.0
    assert any(Path(cache_dir).rglob("*.nbi")), "the compiled kernel was not cached"


def test_user_cache_dir_is_per_version_and_user_setting_wins(tmp_path):
    result = _run({"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0].startswith(str(tmp_path / ".cache" / "nnlite" / "numba-"))
    mine = tmp_path / "mine"
    result = _run({"HOME": str(tmp_path), "NUMBA_CACHE_DIR": str(mine)})
    assert result.stdout.split()[0] == str(mine)


# The ownership rule, in this process: configure_numba_cache with HOME, the temp dir and
# NUMBA_CACHE_DIR pointed at a test directory (all restored afterwards).


@pytest.fixture
def choose(tmp_path, monkeypatch):
    """Run ``configure_numba_cache`` here; returns (config, temp dir, home)."""
    from nnlite import config

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)  # like /tmp: everyone may write, the sticky bit protects each entry
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)  # restored: configure sets it
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(config, "_cache_root", None)
    monkeypatch.setattr(config, "_cache_warning", None)
    return config, tmp, tmp_path / "home"


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _default(home) -> Path:
    from nnlite import config

    return home / ".cache" / "nnlite" / f"numba-{config.__version__}"


@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_a_new_cache_directory_and_the_parents_it_creates_are_0700_whatever_the_umask(
    choose, umask
):
    config, _, home = choose
    old = os.umask(umask)  # 0o277 would leave mkdir's 0700 at 0500: not even writable by us
    try:
        path = config.configure_numba_cache()
    finally:
        os.umask(old)
    assert path == str(_default(home)) == os.environ["NUMBA_CACHE_DIR"]
    for made in (_default(home), _default(home).parent, home / ".cache", home):
        assert _mode(made) == 0o700, made
    assert config.numba_cache_root() == path and config.take_cache_warning() is None


@pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root: the planted directory must belong to another user (os.chown)",
)
def test_a_fallback_directory_owned_by_someone_else_is_never_used(choose, tmp_path):
    config, tmp, _ = choose
    (tmp_path / "file").write_text("not a directory")
    os.environ["HOME"] = str(tmp_path / "file" / "home")  # ~/.cache cannot be created
    planted = tmp / f"nnlite-numba-{os.getuid()}"  # the predictable name, made first by uid 65534
    planted.mkdir()
    (planted / "planted.nbi").write_bytes(b"anything")
    os.chmod(planted, 0o777)
    os.chown(planted, 65534, 65534)
    path = config.configure_numba_cache()
    # Neither the planted directory nor inside it. (Not a string-prefix test: mkdtemp's
    # "nnlite-numba-" + 8 random characters starts with "nnlite-numba-0" one time in 37.)
    assert Path(path) != planted and planted not in Path(path).parents
    assert Path(path).parent == tmp and Path(path).name.startswith("nnlite-numba-")
    assert _mode(path) == 0o700 and os.stat(path).st_uid == os.geteuid()
    note = config.take_cache_warning()
    assert f"refused {planted}: it is owned by uid 65534" in note
    assert note.endswith(f"compiled kernels are cached in {path} for this run only")
    assert "\n" not in note and config.take_cache_warning() is None  # said once
    assert os.stat(planted).st_uid == 65534 and (planted / "planted.nbi").exists()  # untouched


def test_a_cache_directory_of_ours_that_others_can_write_is_set_aside_and_replaced(choose):
    config, _, home = choose
    loose = _default(home)
    loose.mkdir(parents=True)
    (loose / "planted.nbi").write_bytes(b"anything")
    os.chmod(loose, 0o777)
    path = config.configure_numba_cache()
    assert path == str(loose) and _mode(loose) == 0o700 and not any(loose.iterdir())
    (aside,) = loose.parent.glob(f"{loose.name}.unsafe-*")
    assert (aside / "planted.nbi").read_bytes() == b"anything"  # kept for the user to look at
    note = config.take_cache_warning()
    assert f"set aside {loose} as {aside.name}: it is writable by group and others" in note


def test_a_symbolic_link_is_never_used_as_the_cache_directory(choose, tmp_path):
    config, tmp, home = choose
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(mode=0o700)
    _default(home).parent.mkdir(parents=True)
    _default(home).symlink_to(elsewhere)
    path = config.configure_numba_cache()
    assert path == str(tmp / f"nnlite-numba-{os.getuid()}") and _mode(path) == 0o700
    assert f"refused {_default(home)}: it is a symbolic link" in config.take_cache_warning()


def test_an_unsafe_numba_cache_dir_is_ignored_and_a_safe_one_is_used(choose, tmp_path):
    config, _, home = choose
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    os.environ["NUMBA_CACHE_DIR"] = str(shared)
    assert config.configure_numba_cache() == str(_default(home))
    note = config.take_cache_warning()
    assert note.startswith(f"nnlite: ignored NUMBA_CACHE_DIR={shared}: it is writable by group")
    assert _mode(shared) == 0o775  # the user's directory is left as it is

    # Private itself, but inside a directory anyone can rename it out of (no sticky bit).
    inside = tmp_path / "open" / "cache"
    inside.mkdir(parents=True, mode=0o700)
    os.chmod(inside.parent, 0o777)
    os.environ["NUMBA_CACHE_DIR"] = str(inside)
    assert config.configure_numba_cache() == str(_default(home))
    assert f"lies under {inside.parent}, writable by group and others without the sticky bit" in (
        config.take_cache_warning()
    )

    mine = tmp_path / "mine"  # not there yet: created private, used, nothing to say
    os.environ["NUMBA_CACHE_DIR"] = str(mine)
    assert config.configure_numba_cache() == str(mine) and _mode(mine) == 0o700
    assert config.take_cache_warning() is None


def test_where_there_are_no_owners_to_check_only_writability_counts(choose, tmp_path, monkeypatch):
    config, _, _ = choose
    monkeypatch.setattr(config, "_checks_ownership", lambda: False)  # as on Windows
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    os.environ["NUMBA_CACHE_DIR"] = str(shared)
    assert config.configure_numba_cache() == str(shared)
    assert config.take_cache_warning() is None


# The data home: where `nnlite data download` writes and the loaders look (read per call).


def test_data_home_is_nnlite_data_when_set(tmp_path, monkeypatch):
    from nnlite import config

    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.setenv("NNLITE_DATA", "~/datasets")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.data_dir() == tmp_path / "me" / "datasets"


def test_data_home_defaults_to_the_per_user_cache(tmp_path, monkeypatch):
    from nnlite import config

    monkeypatch.delenv("NNLITE_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "me"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert config.data_dir() == tmp_path / "xdg" / "nnlite"
    # The XDG rule: a relative XDG_CACHE_HOME is ignored, an empty NNLITE_DATA too.
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("NNLITE_DATA", "")
    assert config.data_dir() == tmp_path / "me" / ".cache" / "nnlite"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert config.data_dir() == tmp_path / "me" / ".cache" / "nnlite"
