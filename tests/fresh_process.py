"""Run a snippet of Python in a fresh process, for what a test process cannot show.

Some facts hold only in a new interpreter: which modules a run imports, which
BLAS binding was chosen at import, which training loops got compiled. The
snippet runs with the repository on ``sys.path`` and without the CUDA simulator
(``conftest.py`` switches it on for this process), and must print ``ok`` last.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, **env: str) -> str:
    """Run ``code`` with ``python -c`` (extra environment ``env``); it must exit 0 and print ok.

    Returns what it printed before the final ``ok``.
    """
    environ = dict(os.environ, PYTHONPATH=str(ROOT), **env)
    environ.pop("NUMBA_ENABLE_CUDASIM", None)
    out = subprocess.run(
        [sys.executable, "-c", code], env=environ, capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.strip().splitlines()
    assert lines[-1:] == ["ok"], out.stdout[-2000:]
    return "\n".join(lines[:-1])


def assert_prints_ok(code: str, **env: str) -> None:
    """Run ``code`` in a fresh process (``run_python``): it must exit 0 and print ok last."""
    run_python(code, **env)
