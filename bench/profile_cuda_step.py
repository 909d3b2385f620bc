"""Where one CUDA training step's time goes, and which launch settings shorten it.

For the MNIST-shaped network (784 → 128 ReLU → 10 softmax, cross-entropy, SGD)
at each batch size:

1. the whole step: ``train_batches`` over 60,000 random rows, CUDA events
   around the call, ms per step (median of 3 epochs);
2. each kernel of one step alone: the step's launches are recorded, then each
   is replayed back to back between two events (ms per launch). A kernel that
   runs shorter than a launch from Python takes (10–20 µs) shows that launch
   cost instead; the sum against (1) says whether the step is bound by the
   GPU's work or by the host's launches;
3. the whole step again under variants of ``LaunchConfig`` (row-kernel and
   column-sum block sizes, the GEMM tile choice), with the trained θ compared
   to the production setting's so a faster variant is also a correct one.

Usage: ``python bench/profile_cuda_step.py [--batches 32,128,1024] [--json out.json]``
(needs a CUDA GPU; prints nothing to time without one).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlite.kernels import probe_gpu  # noqa: E402

VARIANTS = {  # name: LaunchConfig changes
    "production": {},
    "rows 1024": {"rows": 1024},
    "rows 64": {"rows": 64},
    "colsum 32x32": {"colsum": (32, 32)},
    "colsum 16x64": {"colsum": (16, 64)},
    "colsum 8x128": {"colsum": (8, 128)},
    "min blocks 256": {"large_min_blocks": 256},
    "min blocks 512": {"large_min_blocks": 512},
    "rows 1024 + colsum 32x32": {"rows": 1024, "colsum": (32, 32)},
}


def _capture_fit_arguments(gpu, X, y, batch, hidden=128):
    """Run a short fit and keep the arguments of its ``train_batches`` call."""
    from nnlite import Dense, Sequential

    model = Sequential([Dense(hidden, "relu"), Dense(10, "softmax")], device="cuda",
                       n_inputs=X.shape[1], seed=0)  # fmt: skip
    seen = {}
    real = gpu.train_batches

    def spy(*args):
        seen["args"] = list(args)
        return real(*args)

    gpu.train_batches = spy
    try:
        model.fit(X, y, epochs=1, batch_size=batch, lr=0.01)
    finally:
        gpu.train_batches = real
    return model, seen["args"]


def _epoch_ms_per_step(cuda, gpu, args, theta0, n, batch, repeats=3):
    """Median ms per step of ``train_batches`` over n rows (θ reset first); returns (ms, θ)."""
    times = []
    for _ in range(repeats):
        a = list(args)
        a[6].copy_to_device(theta0)  # theta
        a[3], a[4], a[5] = 0, n, batch
        a[-1] = gpu.memory.stats()
        start, end = cuda.event(), cuda.event()
        start.record()
        bad = gpu.train_batches(*a)
        end.record()
        end.synchronize()
        assert bad < 0, "a batch diverged"
        times.append(start.elapsed_time(end) / -(-n // batch))
    return statistics.median(times), a[6].copy_to_host()


def _kernel_times(cuda, gpu, args, batch, replays=50):
    """Each launch of one step, replayed ``replays`` times between two events."""
    launches = []
    real = gpu._launch
    depth = [0]  # a first launch prepares itself, then calls _launch again: count it once

    def spy(kernel, grid, block, *kargs):
        if depth[0] == 0:
            launches.append((kernel, grid, block, kargs))
        depth[0] += 1
        try:
            return real(kernel, grid, block, *kargs)
        finally:
            depth[0] -= 1

    a = list(args)
    a[3], a[4], a[5] = 0, batch, batch
    a[-1] = gpu.memory.stats()
    gpu._launch = spy
    try:
        gpu.train_batches(*a)
    finally:
        gpu._launch = real
    rows = []
    for kernel, grid, block, kargs in launches:
        name = getattr(getattr(kernel, "py_func", None), "__name__", None) or str(kernel)
        if name == "gemm_kernel":
            M, N, K = kargs[-3:]
            name += f" {M}×{N}, K={K}"
        for _ in range(3):
            real(kernel, grid, block, *kargs)
        start, end = cuda.event(), cuda.event()
        start.record()
        for _ in range(replays):
            real(kernel, grid, block, *kargs)
        end.record()
        end.synchronize()
        ms = start.elapsed_time(end) / replays
        rows.append({"kernel": name, "grid": str(grid), "block": str(block), "ms": ms})
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="32,128,1024")
    parser.add_argument("--samples", type=int, default=60000)
    parser.add_argument("--variants", help="comma-separated variant names (default: all)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    unknown = set((args.variants or "").split(",")) - set(VARIANTS) - {""}
    if unknown:
        parser.error(f"unknown variant {sorted(unknown)[0]!r}; choose from {', '.join(VARIANTS)}")
    status, detail = probe_gpu()
    if status != "available":
        print(f"profile_cuda_step: no usable GPU ({status}: {detail}); nothing to time")
        return 0
    from numba import cuda

    from nnlite.kernels import cuda as gpu

    print(detail, flush=True)
    rng = np.random.default_rng(2)
    X = rng.random((args.samples, 784), np.float32)
    y = rng.integers(0, 10, args.samples)
    variants = VARIANTS
    if args.variants:
        variants = {k: VARIANTS[k] for k in args.variants.split(",")}
    out = []
    for batch in [int(b) for b in args.batches.split(",")]:
        gpu.set_launch_config(gpu.PRODUCTION)
        model, fit_args = _capture_fit_arguments(gpu, X, y, batch)
        theta0 = model.theta.copy()  # θ after the short fit; every timing starts from it
        n = fit_args[0].shape[0]
        _epoch_ms_per_step(cuda, gpu, fit_args, theta0, n, batch)  # the clocks ramp up first
        step_ms, theta_ref = _epoch_ms_per_step(cuda, gpu, fit_args, theta0, n, batch)
        kernels = _kernel_times(cuda, gpu, fit_args, batch)
        gpu_ms = sum(r["ms"] for r in kernels)
        print(f"\nbatch {batch}: {step_ms:.3f} ms per step; its {len(kernels)} kernels alone "
              f"{gpu_ms:.3f} ms", flush=True)  # fmt: skip
        for r in kernels:
            print(f"  {r['ms'] * 1e3:8.1f} µs  {r['kernel']:<40} grid {r['grid']:<10} "
                  f"block {r['block']}")  # fmt: skip
        row = {"batch": batch, "step_ms": step_ms, "kernels": kernels, "variants": {}}
        # production again at the end: the spread of its rows is the noise
        for name, changes in [*variants.items(), ("production, again", {})]:
            gpu.set_launch_config(gpu.PRODUCTION, **changes)
            _epoch_ms_per_step(cuda, gpu, fit_args, theta0, n, batch, repeats=1)  # compile
            ms, theta = _epoch_ms_per_step(cuda, gpu, fit_args, theta0, n, batch)
            diff = float(np.max(np.abs(theta - theta_ref)) / np.max(np.abs(theta_ref)))
            row["variants"][name] = {"step_ms": ms, "theta_vs_production": diff}
            print(f"  variant {name:<28} {ms:.3f} ms per step ({step_ms / ms:.2f}×), "
                  f"θ vs production {diff:.1e}", flush=True)  # fmt: skip
        gpu.set_launch_config(gpu.PRODUCTION)
        out.append(row)
    if args.json:
        args.json.write_text(json.dumps({"gpu": detail, "by_batch": out}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
