"""PTX lint: every CUDA kernel compiles for a real GPU and computes in float32 only.

The simulator runs kernels as Python, so it cannot see what the compiler
does with a bare ``0.5`` (float64 on the GPU) or a runtime-sized shared
array (a compile error). This test compiles each kernel to PTX with
``cuda.compile_ptx`` — no GPU needed, but NVVM is (``pip install
'numba-cuda[cu13]'``, or ``pip install '.[cuda]'`` in a clone) — in a separate process without ``NUMBA_ENABLE_CUDASIM``
(the simulator cannot compile), and fails on any ``.f64`` instruction.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _lint(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "nnlite.tools.ptxlint", *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


@pytest.fixture(scope="module")
def lint_report():
    proc = _lint("--json", "--cc", "8.0", "--cc", "9.0")
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip() or "PTX cannot be compiled here")
    assert proc.returncode in (0, 1), proc.stdout + proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.slow
def test_every_cuda_kernel_compiles_without_float64(lint_report):
    bad = [
        f"{r['kernel']} (cc {r['cc']}): {r.get('error') or r.get('f64_examples')}"
        for r in lint_report["kernels"]
        if not r["ok"]
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.slow
def test_the_tiled_products_keep_their_accumulators_in_registers(lint_report):
    """Register blocking only pays if the TM×TN accumulators never touch local memory."""
    gemms = [r for r in lint_report["kernels"] if r["kernel"].startswith("gemm")]
    assert gemms
    spills = [f"{r['kernel']} cc {r['cc']}: {r['local']}" for r in gemms if r["local"]]
    assert not spills, spills


@pytest.mark.slow
def test_the_lint_catches_a_float64_literal(tmp_path):
    """The check can fail: a kernel with bare float literals must be reported."""
    script = tmp_path / "leak.py"
    script.write_text(
        "import sys\n"
        "from nnlite.tools import ptxlint\n"
        "reason = ptxlint.cannot_check()\n"
        "if reason: print(reason); sys.exit(3)\n"
        "from numba import cuda\n"
        "def leak(a):\n"
        "    acc = 0.0\n"  # a float64 accumulator: what float32(0.0) avoids
        "    for k in range(a.size):\n"
        "        acc += a[k] * 1.1\n"
        "    a[0] = acc\n"
        "ptx, _ = cuda.compile_ptx(leak, 'void(float32[::1])', cc=(9, 0))\n"
        "sys.exit(0 if ptxlint.F64.search(ptx) else 1)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True)
    if proc.returncode == 3:
        pytest.skip(proc.stdout.strip())
    assert proc.returncode == 0, proc.stdout + proc.stderr
