"""config: Numba's JIT cache finds a writable home even when the install and HOME are read-only;
the data home is $NNLITE_DATA, else the per-user cache ($XDG_CACHE_HOME/nnlite or ~/.cache/nnlite).
"""

import os
import subprocess
import sys
from pathlib import Path

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
