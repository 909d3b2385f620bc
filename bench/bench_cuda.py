"""Benchmark nnlite's CUDA kernels against cuBLAS (through CuPy) and the CPU path.

Times, on the GPU it finds:

1. the tiled matrix product (``Z = X·W``, and ``dense_forward`` with the bias
   and ReLU fused) from MLP sizes to 4096², against CuPy's float32
   ``matmul`` (cuBLAS SGEMM; no TF32 unless ``CUPY_TF32=1``), as GFLOP/s and
   % of cuBLAS — for several tile configurations, so the chosen one is
   justified by a measurement;
2. the backward products ``dW = Xᵀ·dZ`` and ``dX = dZ·Wᵀ`` at 4096×784→1024;
3. MNIST-shaped training (60,000 × 784 → 128 → 10, random data) with the CPU
   kernels, the CUDA kernels (plain SGD, and SGD with momentum 0.9) and, when
   present, PyTorch CUDA: a one-epoch ``fit``, the cost of each further epoch
   and the fit's fixed cost (checks, and the data set's copy to the GPU).

Device time comes from CUDA events, after warm-up, as the median of repeats;
every result is checked against a float64 reference first. CuPy and PyTorch
are optional: their rows are skipped when they are not importable.

Usage: ``python bench/bench_cuda.py [--quick] [--json results.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlite.kernels import probe_gpu  # noqa: E402

SIZES = [  # (M, K, N): Z (M×N) = X (M×K) · W (K×N)
    (64, 784, 128),
    (512, 784, 128),
    (4096, 784, 1024),
    (1024, 1024, 1024),
    (2048, 2048, 2048),
    (4096, 4096, 4096),
]
TILES = {  # name: (BM, BN, BK, TM, TN[, contiguous[, pipelined]])
    "128x128x8 8x8 strided": (128, 128, 8, 8, 8),
    "128x128x8 8x8 contiguous": (128, 128, 8, 8, 8, 1),
    "128x128x8 8x8 strided pipelined": (128, 128, 8, 8, 8, 0, 1),
    "128x128x8 8x8 contiguous pipelined": (128, 128, 8, 8, 8, 1, 1),
    "128x128x16 8x8 contiguous pipelined": (128, 128, 16, 8, 8, 1, 1),
    "128x64x8 8x4 contiguous pipelined": (128, 64, 8, 8, 4, 1, 1),
    "64x64x16 4x4 strided": (64, 64, 16, 4, 4),
    "64x64x16 4x4 strided pipelined": (64, 64, 16, 4, 4, 0, 1),
    "64x64x16 4x4 contiguous pipelined": (64, 64, 16, 4, 4, 1, 1),
    "32x32x16 2x2 strided pipelined": (32, 32, 16, 2, 2, 0, 1),
    "32x32x32 2x2 strided pipelined": (32, 32, 32, 2, 2, 0, 1),
    "16x16x16 1x1 pipelined": (16, 16, 16, 1, 1, 0, 1),
    # K-step generated fully unrolled (vector shared loads); last field: min blocks per SM
    "128x64x8 8x4 contiguous pipelined unrolled": (128, 64, 8, 8, 4, 1, 1, 1),
    "128x64x8 8x4 contiguous pipelined unrolled 2/SM": (128, 64, 8, 8, 4, 1, 1, 1, 2),
    "128x64x16 8x4 contiguous pipelined unrolled 2/SM": (128, 64, 16, 8, 4, 1, 1, 1, 2),
    "128x128x8 8x8 contiguous pipelined unrolled": (128, 128, 8, 8, 8, 1, 1, 1),
    "128x128x8 8x8 contiguous pipelined unrolled 2/SM": (128, 128, 8, 8, 8, 1, 1, 1, 2),
    "64x64x16 4x4 contiguous pipelined unrolled": (64, 64, 16, 4, 4, 1, 1, 1),
}


def _optional(name):
    try:
        return __import__(name)
    except Exception:
        return None


def _events_ms(cuda, fn, repeats=20, warmup=3):
    """Median device time of ``fn`` (numba events on the default stream)."""
    for _ in range(warmup):
        fn()
    cuda.synchronize()
    times = []
    for _ in range(repeats):
        e0, e1 = cuda.event(), cuda.event()
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        times.append(cuda.event_elapsed_time(e0, e1))
    return statistics.median(times)


def _rel(a, ref):
    a = np.asarray(a, np.float64)
    return float(np.linalg.norm(a - ref) / max(np.linalg.norm(ref), 1e-30))


def bench_gemm(cuda, gpu, cp, sizes, tiles, repeats, baseline=None):
    rows = []
    rng = np.random.default_rng(0)
    for M, K, N in sizes:
        row = _gemm_row(cuda, gpu, cp, M, K, N, tiles, repeats, rng, baseline)
        rows.append(row)
        print(_gemm_line(row), flush=True)
    return rows


def _gemm_row(cuda, gpu, cp, M, K, N, tiles, repeats, rng, baseline=None):
    X = rng.standard_normal((M, K), np.float32)
    W = (rng.standard_normal((K, N), np.float32) / np.float32(np.sqrt(K))).astype(np.float32)
    b = rng.standard_normal(N, np.float32)
    ref = X.astype(np.float64) @ W.astype(np.float64)
    dX, dW, db = cuda.to_device(X), cuda.to_device(W), cuda.to_device(b)
    C = cuda.device_array((M, N), np.float32)
    flops = 2.0 * M * K * N
    row = {"M": M, "K": K, "N": N}
    if cp is not None:
        cX, cW = cp.asarray(dX), cp.asarray(dW)  # zero-copy views of the numba arrays
        cC = cp.asarray(C)
        cp.matmul(cX, cW, out=cC)
        cp.cuda.Device().synchronize()
        row["cublas_rel_err"] = _rel(cC.get(), ref)
        ms = _events_ms(cuda, lambda: cp.matmul(cX, cW, out=cC), repeats)
        row["cublas_ms"] = ms
        row["cublas_gflops"] = flops / ms / 1e6
    for name, tile in tiles.items():
        cfg = gpu.LaunchConfig(gemm_small=tile, gemm_large=tile)
        gpu.set_launch_config(cfg)
        C.copy_to_device(np.full((M, N), np.nan, np.float32))  # poison: unwritten → NaN

        def run(C=C):
            gpu._gemm(dX, dW, db, C, C, C, C, gpu.IDENTITY, M, N, K, False, False,
                      gpu._EPI_STORE)  # fmt: skip

        run()
        cuda.synchronize()
        err = _rel(C.copy_to_host(), ref)
        ms = _events_ms(cuda, run, repeats)
        row[f"ours[{name}]"] = {"ms": ms, "gflops": flops / ms / 1e6, "rel_err": err}
    gpu.set_launch_config(gpu.PRODUCTION)
    Z, A = cuda.device_array((M, N), np.float32), cuda.device_array((M, N), np.float32)
    for key, mod in (("dense_forward_relu", gpu), ("baseline_dense_forward_relu", baseline)):
        if mod is None:
            continue
        Z.copy_to_device(np.full((M, N), np.nan, np.float32))
        ms = _events_ms(cuda, lambda m=mod: m.dense_forward(dX, dW, db, Z, A, m.RELU), repeats)
        row[key] = {"ms": ms, "gflops": flops / ms / 1e6,
                    "rel_err": _rel(Z.copy_to_host(), ref + b)}  # fmt: skip
    best = max((v["gflops"], k) for k, v in row.items() if k.startswith("ours["))
    row["best_tile"] = best[1][5:-1]
    row["best_gflops"] = best[0]
    if "cublas_gflops" in row:
        row["best_pct_of_cublas"] = 100 * best[0] / row["cublas_gflops"]
        row["production_pct_of_cublas"] = (
            100 * row["dense_forward_relu"]["gflops"] / row["cublas_gflops"]
        )
        if "baseline_dense_forward_relu" in row:
            row["baseline_pct_of_cublas"] = (
                100 * row["baseline_dense_forward_relu"]["gflops"] / row["cublas_gflops"]
            )
    return row


def _gemm_line(row):
    s = f"GEMM {row['M']}x{row['K']}x{row['N']}:"
    if "cublas_gflops" in row:
        s += f" cuBLAS {row['cublas_gflops']:8.0f} GFLOP/s |"
    s += f" best ours {row['best_gflops']:8.0f} ({row['best_tile']})"
    if "best_pct_of_cublas" in row:
        s += f" = {row['best_pct_of_cublas']:5.1f}% | dense_forward {row['production_pct_of_cublas']:5.1f}%"
        if "baseline_pct_of_cublas" in row:
            s += f" (baseline {row['baseline_pct_of_cublas']:5.1f}%)"
    for k, v in row.items():
        if isinstance(v, dict):
            print(
                f"    {k:<60} {v['gflops']:8.0f} GFLOP/s  {v['ms']:8.3f} ms  err {v['rel_err']:.1e}"
            )
    return s


def bench_backward(cuda, gpu, cp, repeats, n=4096, i=784, o=1024):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((n, i), np.float32)
    W = rng.standard_normal((i, o), np.float32)
    dZ = (rng.standard_normal((n, o), np.float32) / n).astype(np.float32)
    d = {k: cuda.to_device(v) for k, v in {"X": X, "W": W, "dZ": dZ}.items()}
    dW, db, dX = (cuda.device_array(s, np.float32) for s in ((i, o), (o,), (n, i)))
    gpu.set_launch_config(gpu.PRODUCTION)
    run = lambda: gpu.dense_backward(d["X"], d["W"], d["dZ"], dW, db, dX, True)  # noqa: E731
    run()
    cuda.synchronize()
    X64, W64, dZ64 = X.astype(np.float64), W.astype(np.float64), dZ.astype(np.float64)
    out = {
        "shape": f"{n}x{i}->{o}",
        "rel_err_dW": _rel(dW.copy_to_host(), X64.T @ dZ64),
        "rel_err_db": _rel(db.copy_to_host(), dZ64.sum(0)),
        "rel_err_dX": _rel(dX.copy_to_host(), dZ64 @ W64.T),
        "ours_ms": _events_ms(cuda, run, repeats),
    }
    flops = 2.0 * n * i * o * 2
    out["ours_gflops"] = flops / out["ours_ms"] / 1e6
    if cp is not None:
        cX, cW, cdZ = cp.asarray(d["X"]), cp.asarray(d["W"]), cp.asarray(d["dZ"])
        cdW, cdX = cp.asarray(dW), cp.asarray(dX)

        def lib():
            cp.matmul(cX.T, cdZ, out=cdW)
            cdZ.sum(axis=0)
            cp.matmul(cdZ, cW.T, out=cdX)

        out["cublas_ms"] = _events_ms(cuda, lib, repeats)
        out["cublas_gflops"] = flops / out["cublas_ms"] / 1e6
        out["pct_of_cublas"] = 100 * out["ours_gflops"] / out["cublas_gflops"]
    print(f"dense_backward {out['shape']}: ours {out['ours_gflops']:.0f} GFLOP/s"
          + (f", cuBLAS {out['cublas_gflops']:.0f} ({out['pct_of_cublas']:.1f}%)" if cp else ""),
          flush=True)  # fmt: skip
    return out


def bench_training(cuda, gpu, torch, batches, samples=60000):
    """784 → 128 (ReLU) → 10 (softmax + cross-entropy) SGD on random MNIST-shaped data.

    Each system is timed twice from the same start: a one-epoch ``fit`` and a
    three-epoch ``fit``. Their difference over two is the cost of an epoch; what
    the one-epoch fit takes beyond it is the fit's fixed cost (checking X and
    the targets, and on the GPU copying the 188 MB data set to the device), which
    a one-epoch fit pays in full. PyTorch's data is put on the GPU before its clock.
    """
    from nnlite import Dense, Sequential

    rng = np.random.default_rng(2)
    X = rng.random((samples, 784), np.float32)
    y = rng.integers(0, 10, samples)
    steps = lambda b: -(-samples // b)  # noqa: E731
    results = []
    for batch in batches:
        row = {"batch": batch, "samples": samples}
        # plain SGD (W's step fused into the backward pass) on both devices, then
        # classical momentum (μ = 0.9, a separate velocity update) on the GPU
        for key, device, mu in (("cpu", "cpu", 0.0), ("cuda", "cuda", 0.0),
                                ("cuda_momentum", "cuda", 0.9)):  # fmt: skip
            gpu.set_launch_config(gpu.PRODUCTION)
            seconds = {}
            for epochs in (1, 3):
                model = Sequential([Dense(128, "relu"), Dense(10, "softmax")], device=device,
                                   n_inputs=784, seed=0)  # fmt: skip
                model.warm_up(momentum=mu > 0)
                model.fit(X[: batch * 4], y[: batch * 4], epochs=1, batch_size=batch, lr=0.01,
                          momentum=mu)  # fmt: skip
                start = time.perf_counter()
                history = model.fit(X, y, epochs=epochs, batch_size=batch, lr=0.01, seed=1,
                                    momentum=mu)  # fmt: skip
                seconds[epochs] = time.perf_counter() - start
                if epochs == 1:
                    row[f"{key}_loss"] = history.loss[-1]
            epoch = (seconds[3] - seconds[1]) / 2
            row[f"{key}_s"] = seconds[1]  # the one-epoch fit, as earlier tables give it
            row[f"{key}_epoch_s"] = epoch
            row[f"{key}_fit_fixed_s"] = seconds[1] - epoch
            row[f"{key}_ms_per_step"] = 1e3 * epoch / steps(batch)
        if torch is not None and torch.cuda.is_available():
            row["torch_s"], row["torch_loss"] = _torch_epoch(torch, X, y, batch)
            row["torch_ms_per_step"] = 1e3 * row["torch_s"] / steps(batch)
        row["speedup_cuda_vs_cpu"] = row["cpu_s"] / row["cuda_s"]
        row["speedup_cuda_vs_cpu_per_epoch"] = row["cpu_epoch_s"] / row["cuda_epoch_s"]
        results.append(row)
        line = (f"MNIST-shaped, batch {batch}: one-epoch fit CPU {row['cpu_s']:.3f} s, CUDA "
                f"{row['cuda_s']:.3f} s; a further epoch CPU {row['cpu_epoch_s']:.3f} s, CUDA "
                f"{row['cuda_epoch_s']:.3f} s ({row['cuda_ms_per_step']:.3f} ms/step), CUDA "
                f"with momentum {row['cuda_momentum_epoch_s']:.3f} s; fixed cost of a fit CPU "
                f"{row['cpu_fit_fixed_s']:.3f} s, CUDA {row['cuda_fit_fixed_s']:.3f} s")  # fmt: skip
        if "torch_s" in row:
            line += (f"; PyTorch CUDA epoch {row['torch_s']:.3f} s "
                     f"({row['torch_ms_per_step']:.3f} ms/step, data already on the GPU)")  # fmt: skip
        print(line, flush=True)
    return results


def _torch_epoch(torch, X, y, batch):
    dev = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    g = torch.Generator().manual_seed(0)
    Xt, yt = torch.as_tensor(X, device=dev), torch.as_tensor(y, device=dev)
    net = torch.nn.Sequential(
        torch.nn.Linear(784, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10)
    ).to(dev)
    opt = torch.optim.SGD(net.parameters(), lr=0.01)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch(n):
        order = torch.randperm(n, generator=g).to(dev)
        total = torch.zeros((), device=dev)
        for s in range(0, n, batch):
            idx = order[s : s + batch]
            loss = loss_fn(net(Xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach() * idx.numel()
        return float(total) / n  # one copy back per epoch

    epoch(batch * 4)  # warm-up
    torch.cuda.synchronize()
    start = time.perf_counter()
    loss = epoch(X.shape[0])
    torch.cuda.synchronize()
    return time.perf_counter() - start, loss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, few repeats")
    parser.add_argument("--json", type=Path, help="write all results to this file")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--sizes", help="M×K×N list, e.g. 4096x784x1024,1024x1024x1024")
    parser.add_argument("--tiles", help="comma-separated substrings of the tile names to time")
    parser.add_argument("--batches", help="training batch sizes, e.g. 32,128")
    parser.add_argument("--no-backward", action="store_true", help="skip the backward product")
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another cuda.py (e.g. the committed one) whose dense_forward to time too",
    )
    args = parser.parse_args()
    status, detail = probe_gpu()
    if status != "available":
        print(f"bench_cuda: no usable GPU ({status}: {detail}); nothing to time")
        return 0
    from numba import cuda

    from nnlite.kernels import cuda as gpu

    cp = _optional("cupy")
    torch = _optional("torch")
    info = {
        "gpu": detail,
        "date": time.strftime("%Y-%m-%d"),
        "python": platform.python_version(),
        "numba": __import__("numba").__version__,
        "numba_cuda": _version("numba-cuda"),
        "cupy": getattr(cp, "__version__", None),
        "torch": getattr(torch, "__version__", None),
        "cupy_tf32": os.environ.get("CUPY_TF32", "0"),
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
    }
    print(json.dumps(info), flush=True)
    if cp is None:
        print("CuPy is not installed: the cuBLAS columns are skipped")
    sizes = SIZES[:3] if args.quick else SIZES
    if args.sizes:
        sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")]
    tiles = TILES
    if args.tiles:
        wanted = args.tiles.split(",")
        tiles = {k: v for k, v in TILES.items() if any(w == k for w in wanted)}
    baseline = None
    if args.baseline:
        import importlib.util

        spec = importlib.util.spec_from_file_location("nnlite_cuda_baseline", args.baseline)
        baseline = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = baseline  # dataclasses look their module up
        spec.loader.exec_module(baseline)
    repeats = 3 if args.quick else args.repeats
    results = {"info": info}
    results["gemm"] = bench_gemm(cuda, gpu, cp, sizes, tiles, repeats, baseline)
    if not args.no_backward:
        results["backward"] = bench_backward(cuda, gpu, cp, repeats)
    batches = [32, 128] if args.quick else [32, 128, 512]
    if args.batches:
        batches = [int(x) for x in args.batches.split(",")]
    results["training"] = bench_training(cuda, gpu, torch, batches)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


def _version(name):
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
