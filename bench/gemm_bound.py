"""The GEMM bound of a training step: its matrix products, each timed at its own shape.

Owns: the list of products one plain-SGD step of a dense network computes
(``step_products``), their exact FLOPs, the batches of one pass over n samples
(``pass_batches``), the bound time of a pass (``pass_bound``), and
``ProductTimer``, which times every product with nnlite's own BLAS entry points
(``nnlite.kernels.blas``: the same OpenBLAS functions, the same gemv and rank-one
paths at one row, in the same process and threads as the step). Used by
``bench/bench_train.py``; the pure functions import nothing, the timer imports
numpy, numba and nnlite when it is built.

The products of one step on a network of layer sizes n₀…n_L, batch of m rows
(row convention, A₀ = X):

- forward, every layer ℓ: Z_ℓ = A_{ℓ−1}·W_ℓ, (m × n_{ℓ−1})·(n_{ℓ−1} × n_ℓ);
- weights, every layer ℓ: W_ℓ ← W_ℓ − α·A_{ℓ−1}ᵀ·dZ_ℓ, one gemm with β = 1
  (nnlite's fused plain-SGD update, ``matmul_tn_add``), (n_{ℓ−1} × m)·(m × n_ℓ);
- backward, layers ℓ ≥ 2 only: dA_{ℓ−1} = dZ_ℓ·W_ℓᵀ, (m × n_ℓ)·(n_ℓ × n_{ℓ−1}):
  the network's input needs no gradient.

Each product of an (M × K)·(K × N) shape costs exactly 2·M·K·N FLOPs. The bound
of a pass is the time these products alone take, summed over its batches: a step
that did nothing else (no bias, activation, loss, gather or Python) would run at
the bound. It leaves out the element-wise work on purpose: that is what a
fraction below 100 % measures.

Omits: other optimisers (their update is not a gemm), dropout and penalties.
"""

from __future__ import annotations

import time

# (label, M, K, N, kind): C (M × N) from an (M × K)·(K × N) product. kind names the
# nnlite.kernels.blas function the step calls for it, whose operands are
#   matmul(A (M, K), B (K, N), C)            C = A·B
#   matmul_tn_add(A (K, M), B (K, N), C, α)  C ← C + α·Aᵀ·B
#   matmul_nt(A (M, K), B (N, K), C)         C = A·Bᵀ
KINDS = ("matmul", "matmul_tn_add", "matmul_nt")
ALPHA = -1e-3  # the timed update W ← W − 10⁻³·Aᵀ·dZ: W stays finite however often it runs


def parse_net(text: str) -> tuple[int, ...]:
    """``"784-128-10"`` → (784, 128, 10); ValueError unless ≥ 2 positive sizes, ≥ 2 outputs."""
    try:
        dims = tuple(int(part) for part in text.split("-"))
    except ValueError:
        dims = ()
    if len(dims) < 2 or min(dims) < 1 or dims[-1] < 2:
        raise ValueError(
            f"expected layer sizes like 784-128-10 (at least two, two outputs or more), got {text!r}"
        )
    return dims


def net_name(dims) -> str:
    return "-".join(str(d) for d in dims)


def n_weights(dims) -> int:
    """Weights of the network (biases not counted): Σ n_{ℓ−1}·n_ℓ."""
    return sum(a * b for a, b in zip(dims[:-1], dims[1:]))


def step_products(dims, m: int) -> list[tuple[str, int, int, int, str]]:
    """The matrix products of one plain-SGD step on a batch of ``m`` rows, in the step's order.

    Forward for every layer, then from the last layer down: dA_{ℓ−1} (ℓ ≥ 2,
    computed with W_ℓ before its update, as nnlite does), then W_ℓ's update.
    """
    products = []
    for layer in range(1, len(dims)):
        k, n = dims[layer - 1], dims[layer]
        products.append((f"Z{layer} = A{layer - 1}·W{layer}", m, k, n, "matmul"))
    for layer in range(len(dims) - 1, 0, -1):
        k, n = dims[layer - 1], dims[layer]
        if layer >= 2:  # the network's input X needs no gradient
            products.append((f"dA{layer - 1} = dZ{layer}·W{layer}ᵀ", m, n, k, "matmul_nt"))
        products.append((f"W{layer} −= α·A{layer - 1}ᵀ·dZ{layer}", k, m, n, "matmul_tn_add"))
    return products


def product_flops(M: int, K: int, N: int) -> int:
    return 2 * M * K * N


def step_flops(dims, m: int) -> int:
    """Exact FLOPs of one step's products (2·M·K·N each)."""
    return sum(product_flops(M, K, N) for _, M, K, N, _ in step_products(dims, m))


def pass_batches(n: int, m: int) -> list[tuple[int, int]]:
    """The batches of a pass over ``n`` samples at batch size ``m``: [(rows, how many)].

    ⌊n/m⌋ full batches and, when m does not divide n, one last batch of n mod m rows.
    """
    full, rest = divmod(n, m)
    out = [(m, full)] if full else []
    if rest:
        out.append((rest, 1))
    return out


def pass_bound(step_seconds: dict[int, float], n: int, m: int) -> float:
    """Bound time of a pass: Σ over its batches of the step's product time at that batch's rows.

    ``step_seconds[rows]``: Σ of the product times of one step of ``rows`` rows.
    """
    return sum(count * step_seconds[rows] for rows, count in pass_batches(n, m))


class ProductTimer:
    """Times one step's products at given batch sizes with nnlite's BLAS entry points.

    Operands are float32 arrays of each product's shape (random values, made once
    and reused, so they sit in the cache as a step's do between its products).
    Each product runs inside a small compiled loop, so the time of a call is the
    kernel's, not the Python-to-Numba dispatch's. ``block()`` times every product
    at every size: best of ``reps`` timed repetitions of ``iters`` calls each,
    ``iters`` calibrated once so that a repetition lasts at least ``min_s``.
    """

    def __init__(self, dims, sizes, min_s: float = 0.005, reps: int = 3, seed: int = 0):
        import numba
        import numpy as np

        from nnlite.kernels import blas

        self.dims, self.reps = tuple(dims), reps
        self.blas = blas
        self.alpha = np.float32(ALPHA)  # a float32 α, as the step passes it
        rng = np.random.default_rng(seed)
        f32 = np.float32

        matmul, matmul_tn_add, matmul_nt = blas.matmul, blas.matmul_tn_add, blas.matmul_nt

        @numba.njit
        def loop_matmul(A, B, C, iters, alpha):
            for _ in range(iters):
                matmul(A, B, C)

        @numba.njit
        def loop_tn_add(A, B, C, iters, alpha):
            for _ in range(iters):
                matmul_tn_add(A, B, C, alpha)

        @numba.njit
        def loop_nt(A, B, C, iters, alpha):
            for _ in range(iters):
                matmul_nt(A, B, C)

        loops = {"matmul": loop_matmul, "matmul_tn_add": loop_tn_add, "matmul_nt": loop_nt}
        self.cases = {}  # rows → [(label, M, K, N, kind, loop, A, B, C, iters)]
        for rows in sorted(set(sizes)):
            cases = []
            for label, M, K, N, kind in step_products(self.dims, rows):
                if kind == "matmul":
                    A, B = rng.random((M, K), f32), rng.random((K, N), f32)
                elif kind == "matmul_tn_add":
                    A, B = rng.random((K, M), f32), rng.random((K, N), f32)
                else:
                    A, B = rng.random((M, K), f32), rng.random((N, K), f32)
                C = rng.random((M, N), f32)
                cases.append([label, M, K, N, kind, loops[kind], A, B, C, 1])
            self.cases[rows] = cases
        for cases in self.cases.values():  # compile, then calibrate
            for case in cases:
                loop, A, B, C = case[5:9]
                loop(A, B, C, 1, self.alpha)
                iters = 1
                while self._time(loop, A, B, C, iters) < min_s and iters < 1 << 20:
                    iters *= 2
                case[9] = iters

    def _time(self, loop, A, B, C, iters: int) -> float:
        t = time.perf_counter()
        loop(A, B, C, iters, self.alpha)
        return time.perf_counter() - t

    def block(self) -> dict[int, list[float]]:
        """Seconds per call of every product at every size: {rows: [seconds, in step order]}."""
        out = {}
        for rows, cases in self.cases.items():
            out[rows] = [
                min(self._time(loop, A, B, C, iters) for _ in range(self.reps)) / iters
                for *_, loop, A, B, C, iters in cases
            ]
        return out

    def products(self, rows: int) -> list[tuple[str, int, int, int, str]]:
        return [tuple(case[:5]) for case in self.cases[rows]]

    def check(self) -> float:
        """Largest relative error of each product (one call) against NumPy's: the shapes are right."""
        import numpy as np

        worst = 0.0
        for cases in self.cases.values():
            for _, _, _, _, kind, _, A, B, C, _ in cases:
                C0 = C.astype(np.float64)
                A64, B64 = A.astype(np.float64), B.astype(np.float64)
                if kind == "matmul":
                    self.blas.matmul(A, B, C)
                    want = A64 @ B64
                elif kind == "matmul_tn_add":
                    self.blas.matmul_tn_add(A, B, C, self.alpha)
                    want = C0 + ALPHA * (A64.T @ B64)
                else:
                    self.blas.matmul_nt(A, B, C)
                    want = A64 @ B64.T
                worst = max(worst, float(np.max(np.abs(C - want)) / np.max(np.abs(want))))
        return worst
