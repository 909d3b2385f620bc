"""Device selection: ``--device cpu|cuda|auto``, the GPU probe, and ``nnlite compare``.

What must hold everywhere, GPU or not: ``import nnlite`` imports nothing
CUDA; asking for CUDA where there is none is one clear line (and exit code 1
in the CLI), never a traceback; the probe never raises; ``auto`` falls back
to the CPU. The "no GPU" cases run in subprocesses with
``NUMBA_DISABLE_CUDA=1`` and without the simulator, so they hold on a GPU
machine too.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nnlite import kernels
from nnlite.errors import ConfigError, DeviceError

REPO = Path(__file__).resolve().parents[1]
REAL_GPU = os.environ.get("NNLITE_REAL_GPU") == "1"


def _python(code: str, *, gpu: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter: gpu = "none" (CUDA disabled) or "simulator"."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_ENABLE_CUDASIM")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if gpu == "none":
        env["NUMBA_DISABLE_CUDA"] = "1"
    else:
        env["NUMBA_ENABLE_CUDASIM"] = "1"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip


def _cli(*args: str, gpu: str) -> subprocess.CompletedProcess:
    code = f"import sys; sys.argv = ['nnlite', *{list(args)!r}]; import cli; cli.main()"
    return _python(code, gpu=gpu)


def test_import_nnlite_imports_nothing_cuda():
    proc = _python(
        "import sys\n"
        "before = set(sys.modules)\n"  # numba-cuda's .pth installs an import redirector at start-up
        "import nnlite\n"
        "from nnlite import Sequential, Dense, kernels\n"
        "m = Sequential([Dense(2, 'sigmoid')], n_inputs=3)\n"
        "m.fit([[0, 1, 2]] * 4, [0, 1, 0, 1], epochs=1)\n"
        "bad = sorted(n for n in set(sys.modules) - before if 'cuda' in n.lower())\n"
        "print(bad)\n"
        "assert not bad, bad\n",
        gpu="simulator",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_asking_for_cuda_without_a_gpu_is_one_clear_error():
    proc = _python(
        "from nnlite.kernels import get_backend, probe_gpu\n"
        "from nnlite.errors import DeviceError\n"
        "print(probe_gpu())\n"
        "try:\n"
        "    get_backend('cuda')\n"
        "except DeviceError as e:\n"
        "    print('ERROR:', e)\n"
        "print('AUTO:', get_backend('auto').__name__)\n",
        gpu="none",
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "'unavailable'" in out
    error = next(line for line in out.splitlines() if line.startswith("ERROR:"))
    assert "no usable GPU" in error
    assert "pip install 'numba-cuda[cu13]'" in error and "pip install '.[cuda]'" in error
    assert "nnlite[" not in error  # an unrelated package on PyPI
    assert "NUMBA_ENABLE_CUDASIM=1" in error and "simulator" in error
    assert "AUTO: nnlite.kernels.cpu" in out


def test_cli_train_on_a_missing_gpu_exits_1_with_one_line():
    proc = _cli("train", "--dataset", "and", "--epochs", "1", "--device", "cuda", gpu="none")
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error:") and "NUMBA_ENABLE_CUDASIM=1" in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout


def test_cli_compare_on_a_missing_gpu_exits_1_with_one_line():
    proc = _cli("compare", gpu="none")
    assert proc.returncode == 1
    assert len([x for x in proc.stderr.splitlines() if x.strip()]) == 1, proc.stderr
    assert "no usable GPU" in proc.stderr


def test_cli_rejects_an_unknown_device():
    proc = _cli("train", "--device", "tpu", gpu="none")
    assert proc.returncode == 2
    assert "cpu" in proc.stderr and "cuda" in proc.stderr and "auto" in proc.stderr


def test_probe_never_raises_when_numba_cuda_is_missing(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "numba_cuda" else real(name)
    )
    kernels.probe_gpu.cache_clear()
    try:
        status, detail = kernels.probe_gpu()
    finally:
        kernels.probe_gpu.cache_clear()
    assert (status, detail) == ("unavailable", "numba-cuda is not installed")


def test_probe_reports_the_simulator_or_the_gpu():
    status, detail = kernels.probe_gpu()
    if REAL_GPU:
        assert status == "available", detail
    else:
        assert status == "simulator"
        assert "simulator" in detail


def test_unknown_device_names_the_valid_ones():
    with pytest.raises(ConfigError, match="cpu, cuda, auto"):
        kernels.get_backend("tpu")


def test_auto_picks_cuda_only_on_a_real_gpu():
    expected = "nnlite.kernels.cuda" if REAL_GPU else "nnlite.kernels.cpu"
    assert kernels.get_backend("auto").__name__ == expected
    assert kernels.get_backend("cuda").__name__ == "nnlite.kernels.cuda"


def test_device_error_is_an_nnlite_error():
    err = kernels._device_error("unavailable", "no CUDA GPU or driver found")
    assert isinstance(err, DeviceError)
    assert "\n" not in str(err)


@pytest.mark.slow
def test_cli_trains_and_evaluates_on_cuda(tmp_path):
    """The whole CLI path on the CUDA device (in the simulator here: a tiny run)."""
    model = tmp_path / "and.npz"
    train = ["train", "--dataset", "and", "--layers", "2", "--epochs", "2", "--batch-size", "4",
             "--device", "cuda", "--quiet", "--save", str(model)]  # fmt: skip
    proc = _run_real(train) if REAL_GPU else _cli(*train, gpu="simulator")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "cuda" in proc.stdout
    evaluate = ["evaluate", str(model), "--device", "cuda"]
    proc = _run_real(evaluate) if REAL_GPU else _cli(*evaluate, gpu="simulator")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "accuracy" in proc.stdout


def _run_real(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    code = f"import sys; sys.argv = ['nnlite', *{args!r}]; import cli; cli.main()"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True
    )


@pytest.mark.slow
def test_compare_json_reports_agreement_timings_sweep_and_training(monkeypatch):
    from nnlite import compare

    if REAL_GPU:
        result = compare.run(quick=True, repeats=2, epochs=2)
    else:  # the simulator: kernels and training only (the sweep adds nothing but time), and
        # the first of the quick shapes: the second costs ~50 s of simulated threads, and the
        # kernels on larger ragged shapes are checked in test_cuda_kernels.py
        monkeypatch.setattr(compare, "SIM_SHAPES", compare.SIM_SHAPES[:1])
        result = compare.run(quick=True, epochs=2, sweep=False)
        assert len(result["kernels"]) == len(compare.cases())  # a row per kernel case
    json.dumps(result)  # plain data
    assert result["device"]["simulator"] is (not REAL_GPU)
    if not REAL_GPU:
        assert "simulator" in result["notes"][0]
    rows = result["kernels"]
    assert {r["kernel"] for r in rows} >= {"dense_forward (relu)", "dense_backward", "sgd_update"}
    for r in rows:
        assert r["all_written"], r
        assert r["max_rel"] < 1e-5, r
        assert r["gpu_vs_f64"] < 1e-5, r
        for key in ("cpu_ms", "gpu_copy_ms", "gpu_kernel_ms", "gpu_launch_sync_ms"):
            assert r[key] >= 0
    t = result["training"]
    assert len(t["cpu"]["loss"]) == len(t["cuda"]["loss"]) == 2
    assert t["max_loss_difference"] < 1e-5
    if REAL_GPU:
        assert result["sweep"]["by_batch"]


def test_ulp_distance_counts_float32_steps():
    import numpy as np

    from nnlite.compare import ulp_distance

    one = np.float32(1)
    assert ulp_distance(np.array([one]), np.array([np.nextafter(one, np.float32(2))])) == 1
    assert ulp_distance(np.array([-0.0], np.float32), np.array([0.0], np.float32)) == 0
    tiny = np.nextafter(np.float32(0), np.float32(1))
    assert ulp_distance(np.array([-tiny]), np.array([tiny])) == 2
    # near zero a tiny difference is millions of steps; "significant" leaves those out
    a, b = np.array([1.0, 1e-9], np.float32), np.array([1.0, -1e-9], np.float32)
    assert ulp_distance(a, b) > 10**6
    assert ulp_distance(a, b, significant=1e-3) == 0
