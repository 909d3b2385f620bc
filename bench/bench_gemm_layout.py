"""Which layout of Z = X·W is faster in OpenBLAS: row-major as asked, or through Zᵀ = Wᵀ·Xᵀ.

``blas.matmul_scratch`` (the forward product of every dense layer) takes the
transposed layout only where ``blas.transposed_pays`` says so: 20–32 rows, at
least 64 columns, enough work for OpenBLAS's two threads, and two threads. That
rule was measured on this project's 2-core machine (OpenBLAS 0.3.31, Haswell
kernels). This script times both layouts over a grid of shapes, in one process,
alternating, median of the rounds, so the rule can be checked on another
machine or another OpenBLAS. Cells where the rule takes the transposed layout
are marked ``T``.

Usage: ``python bench/bench_gemm_layout.py [--threads 2] [--rounds 7]
[--rows 8,16,20,24,32,40,48,64] [--inner 256,784] [--cols 10,64,128,256]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path


def _microseconds(product, operands, reps: int) -> float:
    """Time of one call, averaged over ``reps`` calls after one untimed call."""
    product(*operands)
    t = time.perf_counter()
    for _ in range(reps):
        product(*operands)
    return (time.perf_counter() - t) / reps * 1e6


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    p.add_argument("--rows", default="8,16,20,24,32,40,48,64")
    p.add_argument("--inner", default="256,784")
    p.add_argument("--cols", default="10,64,128,256")
    args = p.parse_args()
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)  # before numpy loads OpenBLAS
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    import numpy as np

    from nnlite.kernels import blas

    if blas.SOURCE != "numpy":
        sys.exit("NumPy's OpenBLAS is not bound here (NNLITE_BLAS=numba or another BLAS)")
    rows = [int(x) for x in args.rows.split(",")]
    rng = np.random.default_rng(0)
    print(f"OpenBLAS threads: {blas.threads()}; µs per product, row-major / through Zᵀ (ratio)")
    print()
    print("| K × N | " + " | ".join(f"{m} rows" for m in rows) + " |")
    print("|---|" + "---:|" * len(rows))
    for K in (int(x) for x in args.inner.split(",")):
        for N in (int(x) for x in args.cols.split(",")):
            cells = []
            for M in rows:
                X = rng.standard_normal((M, K)).astype(np.float32)
                W = rng.standard_normal((K, N)).astype(np.float32)
                Z, scratch = np.empty((M, N), np.float32), np.empty((M, N), np.float32)
                layouts = {
                    "row-major": (blas.matmul, (X, W, Z)),
                    "through Zᵀ": (blas.matmul_transposed, (X, W, Z, scratch)),
                }
                reps = max(10, int(3e7 / (M * N * K)))
                times = {name: [] for name in layouts}
                for _ in range(args.rounds):
                    for name, (product, operands) in layouts.items():
                        times[name].append(_microseconds(product, operands, reps))
                a, b = (statistics.median(t) for t in times.values())
                mark = " T" if blas.transposed_pays(M, K, N) else ""
                cells.append(f"{a:.1f} / {b:.1f} ({a / b:.2f}×){mark}")
            print(f"| {K} × {N} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
