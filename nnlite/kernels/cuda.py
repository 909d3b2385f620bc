"""CUDA kernels of nnlite (``numba.cuda``): the twins of ``cpu.py``.

Owns: the same numerical steps as ``nnlite/kernels/cpu.py`` — dense forward
and backward propagation, activations and their derivatives, the losses and
their gradients, the optimiser updates, the Rosenblatt perceptron and the training
loop that chains them — written as CUDA kernels, plus the launchers that
size their grids and the few host↔device helpers a model needs
(``memory``). Imports numpy and numba.cuda; imported only when the CUDA
device is chosen (``nnlite.kernels.get_backend``), never by ``import nnlite``.

Contracts (shared with the CPU twins):

* Same public names and argument order as ``cpu.py``: inputs, then
  preallocated outputs, then scalars. Raw kernels are private and end in
  ``_kernel``; the public launchers take **device arrays** (``cuda.to_device``
  or ``memory.put``), compute the grid and launch on the default stream.
* Row convention: X (n, i), W (i, o), b (o,), Z and A (n, o).
* float32 only. Every constant inside a kernel is written ``float32(...)``
  and every scalar argument is passed as ``np.float32``: a bare Python float
  would make Numba compute in float64 on the GPU (slow, and it would differ
  from the simulator). ``tests/test_ptx.py`` compiles every kernel to PTX and
  fails on any ``.f64`` instruction.
* The 1/n batch mean is applied once, in the loss gradient.

How the work is split:

* Dense forward is one tiled shared-memory product with the bias and the
  activation fused into its epilogue (``Z = X·W + b``, ``A = σ(Z)``). Each
  thread block computes a BM×BN tile of the output; each thread keeps a
  TM×TN block of it in registers (register blocking), which is what lets a
  product approach the library's speed. Softmax needs a whole row, so it is a
  small row kernel after the product.
* Dense backward uses the same product with transposed *loads* (no transposed
  copies): ``dW = Xᵀ·dZ`` and ``dX = dZ·Wᵀ``; the previous layer's
  activation derivative is fused into the ``dX`` epilogue. ``db = Σₙ dZ`` is a
  shared-memory tree reduction over the batch.
* The loss, the number of correct rows and the output gradient come from one
  single-block row kernel that reduces on the device (shared-memory tree) and
  adds the batch's figures to a small device array of running statistics; a
  training epoch copies back only those figures (one 24-byte read per chunk
  of batches, which also tells whether a batch diverged).
* The optimiser's update is one element-wise kernel per layer (every update
  code in one table, ``_optimizer_update_kernel``), launched as soon as the
  layer's dW, db and dX are known; it adds the layer's L1/L2 gradient to dW
  first. The per-step scalars — α from the schedule (``codes.schedule_rate``),
  Adam's α/(1 − β₁ᵗ) and √(1 − β₂ᵗ), AdamW's 1 − α·λ — are computed on the
  host in float64, as the CPU twin computes them, since the training loop
  runs there anyway: exact, and free. The penalty λ₁·Σ|W| + λ₂·ΣW² of the
  batch's loss is a one-block tree reduction per penalised layer, with θ
  before the step.
* Inverted dropout recomputes its mask from the hash both twins share
  (``codes.dropout_hash``, compared here with the integer ⌈p·2³²⌉ instead of
  dividing), so the CPU and the GPU drop the same
  units and no mask is stored: one kernel masks a layer's input (the batch in
  place, or into ``Dbuf``), one applies the same mask to dD going back.
* Launch cost: a plain numba-cuda launch spends tens of µs on the host, more
  than a small kernel runs; ``_launch`` prepares each call site once (see its
  docstring). Measured numbers: ``bench/RESULTS.md``.

Omits: warp shuffles (the simulator lacks them, and the reductions here are
small), vector (128-bit) global loads (the unrolled K-step's shared reads do
become ``ld.shared.v4.f32``), float64 (use the CPU for reference runs),
multi-GPU, CUDA graphs. Perceptron training is sequential over samples by
definition (Rosenblatt's rule); only the sum over features of each sample is
parallel (one thread block).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import numba
import numpy as np
from numba import cuda, float32

from nnlite.kernels import codes, numpy_compat  # noqa: E402

# The codes both twins know (``codes.py``): the same numbers as the CPU twin's.
from nnlite.kernels.codes import (  # noqa: E402
    ADAGRAD,
    ADAMW,
    BCE,
    CCE,
    FUSED_WITH,
    IDENTITY,
    LEAKY_RELU,
    LEAKY_SLOPE,
    MOMENTUM,
    MSE,
    RELU,
    RMSPROP,
    SGD,
    SIGMOID,
    SOFTMAX,
    SOFTPLUS,
    TANH,
)

try:  # the launcher numba-cuda itself uses (see ``_launch``)
    from cuda.core import LaunchConfig as _CoreLaunchConfig
    from cuda.core import launch as _core_launch
except ImportError:  # the simulator without the CUDA Python packages
    _CoreLaunchConfig = _core_launch = None

numpy_compat()  # before anything compiles (numba-cuda 0.30 on NumPy ≥ 2.5)
# Small grids are deliberate here (a batch of 32 rows, one-block reductions); numba
# would warn about "low occupancy" on every such launch.
numba.config.CUDA_LOW_OCCUPANCY_WARNINGS = 0

SIMULATOR = bool(numba.config.ENABLE_CUDASIM)
DTYPES = (np.dtype(np.float32),)

# Running statistics of an epoch, kept on the device (float32, see ``memory.stats``):
# Σ batch loss × rows, Σ correct rows, rows, the first batch's loss (as on the CPU),
# the Kahan compensation of the first sum, the index of the first batch whose
# loss was not finite (−1: none), and the current batch's L1/L2 penalty.
LOSS_SUM, CORRECT, ROWS, FIRST_LOSS, LOSS_COMP, BAD, PENALTY = 0, 1, 2, 3, 4, 5, 6
STATS_SIZE = 7

# Modes of the output-row kernel (bit flags).
_SOFTMAX_FWD, _GRAD, _ACCUMULATE, _TRAIN, _PENALISED = 1, 2, 4, 8, 16

# GEMM epilogues.
_EPI_FORWARD, _EPI_STORE, _EPI_ACT_GRAD = 0, 1, 2


def _jit(**options):
    """``cuda.jit`` with options the simulator does not accept dropped there."""
    if SIMULATOR:
        return cuda.jit
    return cuda.jit(cache=True, **options)


_device = cuda.jit(device=True) if SIMULATOR else cuda.jit(device=True, forceinline=True)


# ---------------------------------------------------------------------------
# Launch configuration: tile and block sizes.
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchConfig:
    """Tile and block sizes of the launchers.

    gemm_large, gemm_small, gemm_tiny :
        (BM, BN, BK, TM, TN[, contiguous[, pipelined[, unrolled[, min_blocks]]]])
        Block tile BM×BN, K-step BK, and the TM×TN outputs each thread keeps in
        registers; (BM/TM)·(BN/TN) threads per block (flags: see
        ``_gemm_kernel``). The first of large, small, tiny (if set) that still
        gives at least ``large_min_blocks`` blocks (enough to fill the GPU) is
        used, else the last, so MLP-sized products still spread over many
        multiprocessors.
    threads : threads per block of the element-wise kernels.
    rows : threads of the single-block row kernels (a power of two).
    colsum : (columns, rows) of a column-sum block (rows a power of two).
    perceptron : threads of the perceptron block (a power of two).
    """

    # Measured on an H100 (bench/RESULTS.md): 128×64 tiles with 8×4 outputs per thread,
    # contiguous, pipelined, the K-step unrolled and registers capped for 2 blocks per
    # multiprocessor were fastest from 1024³ up and at 4096×784×1024; 64×64 (4×4) is the
    # fallback for mid sizes; at MLP sizes the product is latency-bound and the most
    # blocks win (16×16, one output per thread, still shared-memory tiled).
    gemm_small: tuple[int, ...] = (64, 64, 16, 4, 4, 1, 1)
    gemm_large: tuple[int, ...] = (128, 64, 8, 8, 4, 1, 1, 1, 2)
    large_min_blocks: int = 128
    gemm_tiny: tuple[int, ...] | None = (16, 16, 16, 1, 1, 0, 1)
    threads: int = 256
    rows: int = 256
    colsum: tuple[int, int] = (32, 8)
    perceptron: int = 128


PRODUCTION = LaunchConfig()
# Small blocks for the simulator and its tests: small inputs still span several
# blocks and both GEMM tiles, and the simulator (one OS thread per CUDA thread) stays quick.
TESTING = LaunchConfig(
    gemm_small=(8, 8, 4, 2, 2, 1, 1),
    gemm_large=(16, 16, 8, 4, 4, 1, 1, 1),
    gemm_tiny=None,
    large_min_blocks=4,
    threads=32,
    rows=16,
    colsum=(4, 4),
    perceptron=8,
)

# The simulator runs one OS thread per CUDA thread: small blocks finish far sooner there.
_config = TESTING if SIMULATOR else PRODUCTION


def launch_config() -> LaunchConfig:
    """The tile and block sizes the launchers use now."""
    return _config


def set_launch_config(config: LaunchConfig | None = None, **changes) -> LaunchConfig:
    """Use ``config`` (or the current one with ``changes``); returns the previous one."""
    global _config
    previous = _config
    _config = replace(config or _config, **changes)
    _check_config(_config)
    return previous


def _check_config(c: LaunchConfig) -> None:
    for BM, BN, BK, TM, TN, *_ in _tiles(c):
        if BM % TM or BN % TN or (BM // TM) * (BN // TN) > 1024:
            raise ValueError(f"bad GEMM tile {(BM, BN, BK, TM, TN)}")
    for n in (c.rows, c.colsum[1], c.perceptron):
        if n & (n - 1):
            raise ValueError(f"{n} threads: the tree reductions need a power of two")


def _tiles(c: LaunchConfig) -> list[tuple[int, ...]]:
    return [t for t in (c.gemm_large, c.gemm_small, c.gemm_tiny) if t is not None]


def _blocks(count: int, per_block: int) -> int:
    return max(1, -(-count // per_block))


_SPECIALIZED: dict = {}
_PREPARED: dict = {}
_PREPARED_MAX = 1024
_PLAIN: set = set()  # specialised kernels the fast path cannot prepare


def _launch(kernel, grid, block, *args) -> None:
    """``kernel[grid, block](*args)``, with the host-side work done once per call site.

    A plain numba-cuda launch re-types every argument, looks up the context
    and re-marshals every array (shape, strides, pointer) at each call: tens
    of µs, more than a small kernel runs, and a training step launches about
    ten kernels per batch. Here the kernel is specialised once per argument
    types, and the marshalled arrays are kept per (kernel, grid, block, array
    identities) — the training loop reuses the same views for every batch —
    so a repeated launch only converts its scalars. The arrays are held by
    weak reference and checked by identity, so a freed array's entry is never
    reused for another. Anything unexpected falls back to the plain launch.
    Arrays must be C-contiguous, as every launcher here documents.
    """
    if SIMULATOR:
        kernel[grid, block](*args)
        return
    key = (kernel, grid, block, tuple(id(a) for a in args if hasattr(a, "ndim")))
    entry = _PREPARED.get(key)
    if entry is not None:
        cfunc, config, stream, compiled, prepared = entry
        kernelargs = []
        for t, v, p in zip(compiled.argument_types, args, prepared):
            if p is None:
                compiled._prepare_args(t, v, 0, None, kernelargs)  # a scalar
            elif p[0]() is v:
                kernelargs.extend(p[1])
            else:  # an array died and another took its id: prepare afresh
                entry = None
                break
        if entry is not None:
            _core_launch(stream, config, cfunc, *kernelargs)
            return
    spec = _specialized(kernel, args)
    entry = None
    if spec not in _PLAIN:
        try:
            entry = _prepare_launch(spec, grid, block, args)
        except Exception:  # another numba-cuda: the plain launch still works
            entry = None
        if entry is None:
            _PLAIN.add(spec)
    if entry is None:
        spec[grid, block](*args)
        return
    if len(_PREPARED) >= _PREPARED_MAX:
        _PREPARED.pop(next(iter(_PREPARED)))
    _PREPARED[key] = entry
    _launch(kernel, grid, block, *args)


def _specialized(kernel, args):
    key = (kernel, tuple((type(a), getattr(a, "dtype", None), getattr(a, "ndim", 0)) for a in args))
    spec = _SPECIALIZED.get(key)
    if spec is None:
        spec = _SPECIALIZED[key] = kernel.specialize(*args)
    return spec


def _prepare_launch(spec, grid, block, args):
    """The pieces of numba-cuda's ``_Kernel.launch`` that do not change between launches."""
    import weakref

    from numba.cuda import types as nb_types
    from numba.cuda.cudadrv import driver
    from numba.cuda.errors import normalize_kernel_dimensions

    compiled = next(iter(spec.overloads.values()))
    if compiled.debug or compiled.cooperative or spec.targetoptions.get("extensions"):
        return None
    griddim, blockdim = normalize_kernel_dimensions(grid, block)
    try:
        config = _CoreLaunchConfig(grid=griddim, block=blockdim, shmem_size=0)
    except TypeError:
        return None
    prepared = []
    for t, v in zip(compiled.argument_types, args):
        if isinstance(t, nb_types.Array):
            marshalled: list = []
            compiled._prepare_args(t, v, 0, [], marshalled)
            try:
                ref = weakref.ref(v)
            except TypeError:  # not weakly referenceable: hold it (the cache is bounded)
                ref = lambda v=v: v  # noqa: E731
            prepared.append((ref, marshalled))
        elif isinstance(t, (nb_types.Integer, nb_types.Float, nb_types.Boolean)):
            prepared.append(None)
        else:
            return None
    cfunc = compiled._codelibrary.get_cufunc().kernel
    return cfunc, config, driver._to_core_stream(0), compiled, prepared


# ---------------------------------------------------------------------------
# Scalar activations σ and their derivatives σ′ (device functions). The same
# formulas as ``cpu.py``; every constant is float32.
# ---------------------------------------------------------------------------


@_device
def _sigmoid(z):
    """σ(z) = 1 / (1 + e^(−z)), without overflow for large |z|."""
    if z >= float32(0):
        return float32(1) / (float32(1) + math.exp(-z))
    e = math.exp(z)  # for z < 0 use e^z / (1 + e^z): e^(−z) could overflow
    return e / (float32(1) + e)


@_device
def _softplus(z):
    """softplus(z) = log(1 + e^z), as max(z, 0) + log(1 + e^(−|z|)) so e^z never overflows."""
    if z > float32(0):
        return z + math.log1p(math.exp(-z))
    return math.log1p(math.exp(z))


# The CUDA twin's activation table: σ in ``_activate`` beside σ′ in
# ``_activation_grad``, one line per code (``codes.py``). Device code cannot
# raise, so the launchers refuse an unknown code first (``_check_codes``).
@_device
def _activate(z, act):
    """a = σ(z) for the element-wise activations (softmax is done per row)."""
    if act == SIGMOID:
        return _sigmoid(z)
    if act == TANH:
        return math.tanh(z)
    if act == RELU:
        return z if z > float32(0) else float32(0)
    if act == LEAKY_RELU:
        return z if z > float32(0) else float32(LEAKY_SLOPE) * z
    if act == SOFTPLUS:
        return _softplus(z)
    return z  # IDENTITY


@_device
def _activation_grad(z, a, act):
    """σ′(z), from z or from a = σ(z) (sigmoid: a(1 − a); tanh: 1 − a²; ReLU: [z > 0])."""
    if act == SIGMOID:
        return a * (float32(1) - a)
    if act == TANH:
        return float32(1) - a * a
    if act == RELU:
        return float32(1) if z > float32(0) else float32(0)
    if act == LEAKY_RELU:
        return float32(1) if z > float32(0) else float32(LEAKY_SLOPE)
    if act == SOFTPLUS:
        return _sigmoid(z)
    return float32(1)  # IDENTITY


def _check_codes(act=None, loss=None, opt=None):
    """Refuse a code the kernels do not know (they cannot raise on the device)."""
    if act is not None and int(act) not in codes.ACTIVATION_CODES:
        raise ValueError(f"unknown activation code {act!r}")
    if loss is not None and int(loss) not in codes.LOSS_CODES:
        raise ValueError(f"unknown loss code {loss!r}")
    if opt is not None and int(opt) not in codes.OPTIMIZER_CODES:
        raise ValueError(f"unknown optimizer code {opt!r}")


@_device
def _softmax_row(Z, A, r):
    """A[r] = softmax(Z[r]) = e^(Z[r] − max Z[r]) / Σ e^(Z[r] − max Z[r]).

    Departs from the lesson's e^z / Σ e^z by the row-max shift, which leaves
    the result unchanged and keeps e^z from overflowing.
    """
    o = Z.shape[1]
    m = Z[r, 0]
    for j in range(1, o):
        if Z[r, j] > m:
            m = Z[r, j]
    s = float32(0)
    for j in range(o):
        e = math.exp(Z[r, j] - m)
        A[r, j] = e
        s += e
    inv = float32(1) / s
    for j in range(o):
        A[r, j] *= inv


@_device
def _clip(p, eps):
    """Clip a probability to [eps, 1 − eps] so that log never sees 0."""
    if p < eps:
        return eps
    if p > float32(1) - eps:
        return float32(1) - eps
    return p


@_device
def _loss_grad(p, y, loss, fused, eps, n, o):
    """One element of ∂L/∂P, or of ∂L/∂Z when ``fused`` with the loss's partner (``FUSED_WITH``).

    MSE: 2(p − y)/(n·o). BCE: (p − y)/(p(1 − p))/(n·o). CCE: −y/p/n.
    Fused: softmax + CCE: (p − y)/n; sigmoid + BCE: (p − y)/(n·o).
    """
    if fused:
        if loss == CCE:
            return (p - y) * (float32(1) / float32(n))
        return (p - y) * (float32(1) / float32(n * o))
    if loss == MSE:
        return float32(2) / float32(n * o) * (p - y)
    if loss == BCE:
        q = _clip(p, eps)
        return (q - y) / (q * (float32(1) - q)) * (float32(1) / float32(n * o))
    return -y / _clip(p, eps) * (float32(1) / float32(n))  # CCE


# ---------------------------------------------------------------------------
# The tiled matrix product C = op(A)·op(B), with a fused epilogue.
# ---------------------------------------------------------------------------


@_device
def _tile_index(e, trans, rows, depth):
    """(k, r) of the e-th element a thread stages from a rows×depth tile of op(X).

    Consecutive e walk along X's memory order (coalesced global reads): along
    r when op(X) = Xᵀ is read from X's rows, else along k.
    """
    if trans:
        k = e // rows
        return k, e - k * rows
    r = e // depth
    return e - r * depth, r


@_device
def _tile_value(X, r, k, R, K, trans):
    """op(X)[r, k], or 0 outside the matrix (ragged edges then add nothing)."""
    if r < R and k < K:
        if trans:
            return X[k, r]
        return X[r, k]
    return float32(0)


@functools.cache
def _k_step(BK, TM, TN, TY, TX, contiguous):
    """The K-step of the register-blocked product, generated fully unrolled.

    ``acc[i, j] += Σₖ As[cur, k, m_i] · Bs[cur, k, n_j]`` over the BK rows of
    the staged tiles, written out as BK·(TM + TN) shared reads into scalar
    fragments and BK·TM·TN FMAs. Numba (NVVM) does not unroll a ``range(BK)``
    loop of this size, and only straight-line code with constant offsets lets
    the compiler fuse a thread's contiguous shared reads into vector
    (``ld.shared.v4.f32``) loads.
    """
    lines = ["def k_step(As, Bs, cur, ty, tx, acc):"]
    for kk in range(BK):
        for i in range(TM):
            m = f"ty * {TM} + {i}" if contiguous else f"ty + {i * TY}"
            lines.append(f"    a{i} = As[cur, {kk}, {m}]")
        for j in range(TN):
            n = f"tx * {TN} + {j}" if contiguous else f"tx + {j * TX}"
            lines.append(f"    b{j} = Bs[cur, {kk}, {n}]")
        for i in range(TM):
            for j in range(TN):
                lines.append(f"    acc[{i}, {j}] += a{i} * b{j}")
    namespace: dict = {}
    exec(compile("\n".join(lines) + "\n", f"<nnlite k_step {BK}x{TM}x{TN}>", "exec"), namespace)
    return _device(namespace["k_step"])


@functools.cache
def _gemm_kernel(tile, trans_a, trans_b, epilogue):
    """Build the register-blocked GEMM kernel for one tile shape and variant.

    op(A) is A or Aᵀ (``trans_a``), op(B) is B or Bᵀ (``trans_b``): a transpose
    is only a different index order in the loads, never a copy. Epilogues:

    * forward: ``C = Z = op(A)·op(B) + b`` and ``D = A = σ(Z)`` (not for softmax);
    * store: ``C = op(A)·op(B)``;
    * act_grad: ``C = dA = op(A)·op(B)`` and ``D = dZ = dA ⊙ σ′(P, Q)``, with
      P, Q the previous layer's Z and A.

    ``tile`` = (BM, BN, BK, TM, TN[, contiguous[, pipelined]]). The sizes and
    flags are closure constants, which Numba compiles in: shared and register
    arrays need compile-time shapes.
    """
    BM, BN, BK, TM, TN = tile[:5]
    # Which outputs a thread owns: strided (rows ty, ty + TY, …; a warp reads consecutive
    # shared words) or contiguous (rows ty·TM … ty·TM + TM − 1).
    CONTIGUOUS = len(tile) > 5 and tile[5] == 1
    # Pipelined: two shared buffers; the next K-step's tiles are read from global
    # memory into registers while this one is computed, and one barrier per step.
    PIPELINED = len(tile) > 6 and tile[6] == 1
    # Unrolled: the K-step is generated straight-line code (``_k_step``).
    UNROLLED = len(tile) > 7 and tile[7] == 1
    # Blocks per multiprocessor the compiler must leave registers for (launch bounds).
    MIN_BLOCKS = tile[8] if len(tile) > 8 else 1
    TY = BM // TM  # threads along the rows of the tile
    TX = BN // TN  # threads along its columns
    NT = TX * TY
    LA = -(-BM * BK // NT)  # elements of the op(A) tile each thread stages
    LB = -(-BK * BN // NT)
    PAD = 4  # pads the shared rows so the transposing stores hit distinct banks
    BMP = BM + PAD
    BNP = BN + PAD
    k_step = _k_step(BK, TM, TN, TY, TX, CONTIGUOUS)
    # 16-byte aligned shared tiles let a thread's 4 contiguous floats be one vector load.
    # The simulators need no alignment, and numba's built-in one rejects the keyword, so
    # they take the plain branch (ALIGNED is a compile-time constant: the GPU build
    # keeps only the aligned one).
    ALIGNED = not SIMULATOR

    @_jit(launch_bounds=(NT, MIN_BLOCKS))
    def gemm_kernel(A, B, bias, C, D, P, Q, act, M, N, K):
        if ALIGNED:
            As = cuda.shared.array((2, BK, BMP), float32, alignment=16)  # op(A): As[buf, k, m]
            Bs = cuda.shared.array((2, BK, BNP), float32, alignment=16)  # op(B): Bs[buf, k, n]
        else:
            As = cuda.shared.array((2, BK, BMP), float32)  # op(A) tiles, k-major
            Bs = cuda.shared.array((2, BK, BNP), float32)  # op(B) tiles
        acc = cuda.local.array((TM, TN), float32)  # this thread's outputs, in registers
        ra = cuda.local.array(TM, float32)
        rb = cuda.local.array(TN, float32)
        pa = cuda.local.array(LA, float32)  # the next tiles, on their way to shared memory
        pb = cuda.local.array(LB, float32)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * TX + tx
        row0 = cuda.blockIdx.y * BM
        col0 = cuda.blockIdx.x * BN
        for i in range(TM):
            for j in range(TN):
                acc[i, j] = float32(0)
        steps = (K + BK - 1) // BK
        for step in range(-1 if PIPELINED else 0, steps):
            cur = step % 2 if PIPELINED else 0
            k0 = (step + 1) * BK if PIPELINED else step * BK  # the tiles staged this step
            if k0 < K:
                # Read the op(A) and op(B) tiles at k0 (global → registers).
                for r in range(LA):
                    e = tid + r * NT
                    if e < BM * BK:
                        kk, mm = _tile_index(e, trans_a, BM, BK)
                        pa[r] = _tile_value(A, row0 + mm, k0 + kk, M, K, trans_a)
                for r in range(LB):
                    e = tid + r * NT
                    if e < BK * BN:
                        kk, nn = _tile_index(e, not trans_b, BN, BK)
                        pb[r] = _tile_value(B, col0 + nn, k0 + kk, N, K, not trans_b)
            if PIPELINED and step >= 0 or not PIPELINED:
                if not PIPELINED:  # store first, then compute this same step
                    for r in range(LA):
                        e = tid + r * NT
                        if e < BM * BK:
                            kk, mm = _tile_index(e, trans_a, BM, BK)
                            As[0, kk, mm] = pa[r]
                    for r in range(LB):
                        e = tid + r * NT
                        if e < BK * BN:
                            kk, nn = _tile_index(e, not trans_b, BN, BK)
                            Bs[0, kk, nn] = pb[r]
                    cuda.syncthreads()
                # Outer products of a column of As and a row of Bs, TM×TN per thread.
                if UNROLLED:
                    k_step(As, Bs, cur, ty, tx, acc)
                else:
                    for kk in range(BK):
                        for i in range(TM):
                            ra[i] = (
                                As[cur, kk, ty * TM + i] if CONTIGUOUS else As[cur, kk, ty + i * TY]
                            )
                        for j in range(TN):
                            rb[j] = (
                                Bs[cur, kk, tx * TN + j] if CONTIGUOUS else Bs[cur, kk, tx + j * TX]
                            )
                        for i in range(TM):
                            for j in range(TN):
                                acc[i, j] += ra[i] * rb[j]  # Z = X·W, one k at a time
                if not PIPELINED:
                    cuda.syncthreads()
            if PIPELINED:
                if k0 < K:  # into the other buffer, which nobody reads this step
                    nxt = 1 - cur if step >= 0 else 0
                    for r in range(LA):
                        e = tid + r * NT
                        if e < BM * BK:
                            kk, mm = _tile_index(e, trans_a, BM, BK)
                            As[nxt, kk, mm] = pa[r]
                    for r in range(LB):
                        e = tid + r * NT
                        if e < BK * BN:
                            kk, nn = _tile_index(e, not trans_b, BN, BK)
                            Bs[nxt, kk, nn] = pb[r]
                cuda.syncthreads()
        # Epilogue, in two passes: the first (small, fully unrolled, so acc
        # stays in registers) stores the product; the second reads back this
        # thread's own outputs and applies σ or σ′ — with σ inside the first
        # loop the compiler stops unrolling it and moves acc to local memory.
        for i in range(TM):
            m = row0 + (ty * TM + i if CONTIGUOUS else ty + i * TY)
            for j in range(TN):
                n = col0 + (tx * TN + j if CONTIGUOUS else tx + j * TX)
                if m < M and n < N:
                    if epilogue == _EPI_FORWARD:
                        C[m, n] = acc[i, j] + bias[n]  # Z = X·W + b
                    else:
                        C[m, n] = acc[i, j]  # dW = Xᵀ·dZ, or dA = dZ·Wᵀ
        if epilogue == _EPI_STORE or (epilogue == _EPI_FORWARD and act == SOFTMAX):
            return
        for i in range(TM):
            m = row0 + (ty * TM + i if CONTIGUOUS else ty + i * TY)
            for j in range(TN):
                n = col0 + (tx * TN + j if CONTIGUOUS else tx + j * TX)
                if m < M and n < N:
                    if epilogue == _EPI_FORWARD:
                        D[m, n] = _activate(C[m, n], act)  # A = σ(Z)
                    else:
                        D[m, n] = C[m, n] * _activation_grad(P[m, n], Q[m, n], act)  # dZ = dA ⊙ σ′

    return gemm_kernel


def _gemm(A, B, bias, C, D, P, Q, act, M, N, K, trans_a, trans_b, epilogue):
    """Launch C (M, N) = op(A)·op(B) (inner size K) with the chosen epilogue."""
    cfg = _config
    for tile in _tiles(cfg):  # the largest tile that still fills the GPU, else the smallest
        BM, BN = tile[0], tile[1]
        if _blocks(M, BM) * _blocks(N, BN) >= cfg.large_min_blocks:
            break
    kernel = _gemm_kernel(tile, trans_a, trans_b, epilogue)
    grid = (_blocks(N, BN), _blocks(M, BM))
    block = (BN // tile[4], BM // tile[3])
    _launch(kernel, grid, block, A, B, bias, C, D, P, Q, act, M, N, K)


# ---------------------------------------------------------------------------
# Element-wise and row kernels.
# ---------------------------------------------------------------------------


@_jit()
def _activation_forward_kernel(Z, A, act):
    """A = σ(Z): one thread per element, or per row for softmax."""
    t = cuda.grid(1)
    n, o = Z.shape
    if act == SOFTMAX:
        if t < n:
            _softmax_row(Z, A, t)
    elif t < n * o:
        r = t // o
        j = t - r * o
        A[r, j] = _activate(Z[r, j], act)


@_jit()
def _activation_grad_kernel(Z, A, dA, dZ, act):
    """dZ = dA ⊙ σ′(Z); softmax (one thread per row): dZ = A ⊙ (dA − Σⱼ dAⱼ·Aⱼ)."""
    t = cuda.grid(1)
    n, o = Z.shape
    if act == SOFTMAX:
        if t < n:
            s = float32(0)
            for j in range(o):
                s += dA[t, j] * A[t, j]
            for j in range(o):
                dZ[t, j] = A[t, j] * (dA[t, j] - s)
    elif t < n * o:
        r = t // o
        j = t - r * o
        dZ[r, j] = dA[r, j] * _activation_grad(Z[r, j], A[r, j], act)


@_jit()
def _loss_grad_kernel(P, Y, dP, loss, fused, eps):
    """dP = ∂L/∂P element by element (``loss``, ``fused`` as in ``_loss_grad``)."""
    t = cuda.grid(1)
    n, o = P.shape
    if t < n * o:
        r = t // o
        j = t - r * o
        dP[r, j] = _loss_grad(P[r, j], Y[r, j], loss, fused, eps, n, o)


@_device
def _row_loss(P, Y, r, loss, eps):
    """Row r's share of Σ before the mean: (P − Y)², −[y log p + (1 − y) log(1 − p)] or −y log p."""
    o = P.shape[1]
    s = float32(0)
    for j in range(o):
        p = P[r, j]
        y = Y[r, j]
        if loss == MSE:
            d = p - y
            s += d * d
        elif loss == BCE:
            q = _clip(p, eps)
            s -= y * math.log(q) + (float32(1) - y) * math.log(float32(1) - q)
        elif y != float32(0):
            s -= y * math.log(_clip(p, eps))
    return s


@_device
def _row_correct(P, Y, r):
    """1 when row r's predicted class is the target's (argmax, or [p ≥ ½] for one output)."""
    o = P.shape[1]
    half = float32(0.5)
    if o == 1:
        return float32(1) if (P[r, 0] >= half) == (Y[r, 0] >= half) else float32(0)
    bp = 0
    by = 0
    for j in range(1, o):
        if P[r, j] > P[r, bp]:
            bp = j
        if Y[r, j] > Y[r, by]:
            by = j
    return float32(1) if bp == by else float32(0)


@functools.cache
def _output_rows_kernel(NT):
    """Build the single-block kernel for the output layer (NT threads, a power of two).

    Thread t handles rows t, t + NT, … (any batch size), then the block sums
    the per-thread loss and correct counts with a shared-memory tree. Modes:

    * ``_SOFTMAX_FWD``: first A = softmax(Z) for its rows;
    * ``_GRAD``: write dZ (and dA = ∂L/∂P when the loss and σ are not fused);
    * ``_ACCUMULATE``: add loss × n, correct and n to the running ``stats``
      (Kahan-compensated); otherwise write stats[0] = L, stats[1] = correct;
    * ``_TRAIN``: a batch whose loss is not finite is recorded in
      stats[BAD]; once one is, nothing more is added (the CPU loop stops there);
    * ``_PENALISED``: the batch's loss includes stats[PENALTY] (``_penalty_kernel``).
    """

    @_jit()
    def output_rows_kernel(Z, A, Y, dA, dZ, stats, act, loss, eps, mode, batch):
        sl = cuda.shared.array(NT, float32)
        sc = cuda.shared.array(NT, float32)
        t = cuda.threadIdx.x
        n, o = A.shape
        lsum = float32(0)
        csum = float32(0)
        fused = FUSED_WITH[loss] == act
        for r in range(t, n, NT):
            if mode & _SOFTMAX_FWD:
                _softmax_row(Z, A, r)
            lsum += _row_loss(A, Y, r, loss, eps)
            csum += _row_correct(A, Y, r)
            if mode & _GRAD:
                if fused:
                    for j in range(o):
                        dZ[r, j] = _loss_grad(A[r, j], Y[r, j], loss, fused, eps, n, o)
                else:
                    for j in range(o):
                        dA[r, j] = _loss_grad(A[r, j], Y[r, j], loss, fused, eps, n, o)
                    if act == SOFTMAX:
                        s = float32(0)
                        for j in range(o):
                            s += dA[r, j] * A[r, j]
                        for j in range(o):
                            dZ[r, j] = A[r, j] * (dA[r, j] - s)
                    else:
                        for j in range(o):
                            dZ[r, j] = dA[r, j] * _activation_grad(Z[r, j], A[r, j], act)
        sl[t] = lsum
        sc[t] = csum
        cuda.syncthreads()
        stride = NT // 2
        while stride > 0:  # tree reduction in shared memory
            if t < stride:
                sl[t] += sl[t + stride]
                sc[t] += sc[t + stride]
            cuda.syncthreads()
            stride //= 2
        if t == 0:
            norm = n if loss == CCE else n * o
            value = sl[0] / float32(norm)  # L = mean over the batch (and outputs)
            if mode & _PENALISED:
                value += stats[PENALTY]  # + λ₁·Σ|W| + λ₂·ΣW², θ before the step
            if not (mode & _ACCUMULATE):
                stats[0] = value
                stats[1] = sc[0]
            elif not (mode & _TRAIN and stats[BAD] >= float32(0)):
                if mode & _TRAIN and (math.isnan(value) or math.isinf(value)):
                    stats[BAD] = float32(batch)
                else:
                    if stats[ROWS] == float32(0):
                        stats[FIRST_LOSS] = value  # the loss before the first update
                    # Kahan summation: an epoch adds thousands of float32 terms.
                    y = value * float32(n) - stats[LOSS_COMP]
                    total = stats[LOSS_SUM] + y
                    stats[LOSS_COMP] = (total - stats[LOSS_SUM]) - y
                    stats[LOSS_SUM] = total
                    stats[CORRECT] += sc[0]
                    stats[ROWS] += float32(n)

    return output_rows_kernel


@functools.cache
def _column_sum_kernel(BX, BY):
    """Build db = Σₙ dZ: a BX-column × BY-row block per BX columns, tree-reduced over rows."""

    @_jit()
    def column_sum_kernel(dZ, db):
        s = cuda.shared.array((BY, BX), float32)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        n, o = dZ.shape
        col = cuda.blockIdx.x * BX + tx
        acc = float32(0)
        if col < o:
            for r in range(ty, n, BY):  # each thread sums every BY-th row
                acc += dZ[r, col]
        s[ty, tx] = acc
        cuda.syncthreads()
        stride = BY // 2
        while stride > 0:  # then the BY partial sums meet in a tree
            if ty < stride:
                s[ty, tx] += s[ty + stride, tx]
            cuda.syncthreads()
            stride //= 2
        if ty == 0 and col < o:
            db[col] = s[0, tx]

    return column_sum_kernel


# The CUDA twin's optimiser table: one branch per update code (``codes.py``).
# Scalars that do not depend on the element (α of this step, the bias
# corrections, 1 − α·λ, 1 − β, …) are computed once on the host in float64 and
# passed rounded to float32 (``_coefficients``, ``_step_scalars``): the element
# arithmetic below is float32 only, as ``tests/test_ptx.py`` checks.
@_device
def _penalty_grad(w, g, l1, l2x2):
    """g + ∂(λ₁·|w| + λ₂·w²)/∂w = g + λ₁·sign(w) + 2λ₂·w (``l2x2`` = 2λ₂), as the CPU adds it."""
    if w > float32(0):
        return g + (l1 + l2x2 * w)
    if w < float32(0):
        return g + (l2x2 * w - l1)
    return g  # sign(0) = 0: an exact zero weight gets no push


@_jit()
def _optimizer_update_kernel(
    theta, grad, s0, s1, off, count, wcount, opt, coef, lr, step, root2, decay, l1, l2x2, stats,
):  # fmt: skip
    """θ ← update(θ, ∂L/∂θ, state) on θ[off : off + count], frozen once a batch diverged.

    ``s0``, ``s1``: the optimiser's state rows (``codes.py``; the same row twice
    when it keeps one). ``coef`` (float32 device vector, ``_coefficients``)
    holds its constants; ``lr`` = α of this step; ``step``, ``root2``,
    ``decay`` = α/(1 − β₁ᵗ), √(1 − β₂ᵗ) and 1 − α·λ for Adam(W). The first
    ``wcount`` parameters of the range are a layer's W: its L1/L2 penalty
    gradient (``l1`` = λ₁, ``l2x2`` = 2λ₂) is added to dW there, W before its step.

    SGD: w ← w − α·g. MOMENTUM: v ← μ·v − α·g; w ← w + v (or w + μ·v − α·g,
    Nesterov). ADAGRAD: s ← s + g²; w ← w − α·g/(√s + ε). RMSPROP: v ← ρ·v +
    (1 − ρ)·g²; d = √v + ε; w ← w − α·g/d, or with μ > 0: b ← μ·b + g/d; w ← w − α·b.
    ADAM: m ← β₁·m + (1 − β₁)·g; v ← β₂·v + (1 − β₂)·g²; w ← w − (α/bc₁)·m/(√v/√bc₂ + ε).
    ADAMW: w ← w·(1 − α·λ) first, then the Adam step.
    """
    k = cuda.grid(1)
    if k < count and stats[BAD] < float32(0):
        i = off + k
        g = grad[i]
        if k < wcount:  # dW += ∂(λ₁·Σ|W| + λ₂·ΣW²)/∂W, before the step
            g = _penalty_grad(theta[i], g, l1, l2x2)
            grad[i] = g
        if opt == SGD:
            theta[i] -= lr * g
        elif opt == MOMENTUM:  # coef = (μ, Nesterov)
            a = lr * g
            v = coef[0] * s0[i] - a
            s0[i] = v
            if coef[1] != float32(0):
                theta[i] += coef[0] * v - a
            else:
                theta[i] += v
        elif opt == ADAGRAD:  # coef = (ε,)
            s = s0[i] + g * g
            s0[i] = s
            theta[i] -= lr * g / (math.sqrt(s) + coef[0])
        elif opt == RMSPROP:  # coef = (ρ, 1 − ρ, ε, μ)
            v = coef[0] * s0[i] + coef[1] * g * g
            s0[i] = v
            d = math.sqrt(v) + coef[2]
            if coef[3] != float32(0):
                b = coef[3] * s1[i] + g / d
                s1[i] = b
                theta[i] -= lr * b
            else:
                theta[i] -= lr * g / d
        else:  # ADAM, ADAMW; coef = (β₁, 1 − β₁, β₂, 1 − β₂, ε)
            w = theta[i]
            if opt == ADAMW:
                w = w * decay  # decoupled weight decay, before the Adam step
            m = coef[0] * s0[i] + coef[1] * g
            v = coef[2] * s1[i] + coef[3] * g * g
            s0[i] = m
            s1[i] = v
            theta[i] = w - step * m / (math.sqrt(v) / root2 + coef[4])


@_jit()
def _penalty_grad_kernel(W, dW, l1, l2x2):
    """dW ← dW + λ₁·sign(W) + 2λ₂·W, element by element (flat W and dW)."""
    k = cuda.grid(1)
    if k < W.size:
        dW[k] = _penalty_grad(W[k], dW[k], l1, l2x2)


@functools.cache
def _penalty_kernel(NT):
    """Build the one-block kernel that adds λ₁·Σ|W| + λ₂·ΣW² of one layer to stats[PENALTY].

    Thread t sums every NT-th weight, then a shared-memory tree adds the NT
    partial sums (a fixed order: the same bits on every run). ``first``:
    stats[PENALTY] is set, not added to (the batch's first penalised layer).
    """

    @_jit()
    def penalty_kernel(theta, off, count, l1, l2, first, stats):
        s1 = cuda.shared.array(NT, float32)
        s2 = cuda.shared.array(NT, float32)
        t = cuda.threadIdx.x
        a1 = float32(0)
        a2 = float32(0)
        for k in range(t, count, NT):
            w = theta[off + k]
            a1 += abs(w)
            a2 += w * w
        s1[t] = a1
        s2[t] = a2
        cuda.syncthreads()
        stride = NT // 2
        while stride > 0:
            if t < stride:
                s1[t] += s1[t + stride]
                s2[t] += s2[t + stride]
            cuda.syncthreads()
            stride //= 2
        if t == 0 and stats[BAD] < float32(0):
            value = l1 * s1[0] + l2 * s2[0]  # λ₁·Σ|W| + λ₂·ΣW²
            if first:
                stats[PENALTY] = value
            else:
                stats[PENALTY] += value

    return penalty_kernel


# Inverted dropout: the mask is a function of (seed, t, layer, element) — the
# hash both twins share (``codes.dropout_unit``) — so it is recomputed in the
# backward pass instead of stored, and the CPU and the GPU drop the same units.
# The device compares the hash h with the integer ⌈p·2³²⌉ (``_dropout_threshold``),
# which decides exactly as ``codes.dropout_unit`` = h/2³² ≥ p does, without the
# float64 division and comparison on every element (``tests/test_ptx.py``).
_dropout_hash = _device(codes.dropout_hash)


@_jit()
def _dropout_kernel(A, D, seed, t, layer, threshold, scale, stats):
    """D = A ⊙ keep/(1 − p): keep(r, c) = [hash(seed, t, layer, r·width + c) ≥ ⌈p·2³²⌉].

    ``threshold`` = ⌈p·2³²⌉ (``_dropout_threshold``), so the integer test is
    exactly ``codes.dropout_unit(…) ≥ p``; ``scale`` = 1/(1 − p). A and D
    (m, width) may be the same array (layer 0 masks the gathered batch in place).
    """
    e = cuda.grid(1)
    n, width = A.shape
    if e < n * width and stats[BAD] < float32(0):
        r = e // width
        c = e - r * width
        if _dropout_hash(seed, t, layer, e) >= threshold:
            D[r, c] = A[r, c] * scale
        else:
            D[r, c] = float32(0)


@_jit()
def _dropout_grad_kernel(dA, seed, t, layer, threshold, scale, stats):
    """dA ← dD ⊙ keep/(1 − p), in place: the same mask as the forward pass's."""
    e = cuda.grid(1)
    n, width = dA.shape
    if e < n * width and stats[BAD] < float32(0):
        r = e // width
        c = e - r * width
        if _dropout_hash(seed, t, layer, e) >= threshold:
            dA[r, c] = dA[r, c] * scale
        else:
            dA[r, c] = float32(0)


@_jit()
def _gather_kernel(X, Y, order, start, m, Xb, Yb, stats):
    """Xb[r] = X[order[start + r]], Yb[r] = Y[order[start + r]] for r < m (the batch's rows).

    Skipped once stats[BAD] ≥ 0, so the buffers keep the diverged batch for
    the diagnosis.
    """
    t = cuda.grid(1)
    if stats[BAD] >= float32(0):
        return
    i = X.shape[1]
    o = Y.shape[1]
    if t < m * i:
        r = t // i
        Xb[r, t - r * i] = X[order[start + r], t - r * i]
    elif t < m * i + m * o:
        u = t - m * i
        r = u // o
        Yb[r, u - r * o] = Y[order[start + r], u - r * o]


# ---------------------------------------------------------------------------
# The perceptron.
# ---------------------------------------------------------------------------


@_jit()
def _perceptron_predict_kernel(X, w, b, threshold, out):
    """out[r] = [X[r]·w + b ≥ θ], one thread per row."""
    r = cuda.grid(1)
    if r < X.shape[0]:
        s = b[0]
        for k in range(X.shape[1]):
            s += X[r, k] * w[k]  # weighted sum Σ wₖxₖ + b
        out[r] = 1 if s >= threshold else 0


@functools.cache
def _perceptron_epoch_kernel(NT):
    """Build the one-block learning-rule kernel: samples in order, features in parallel.

    For each sample: the threads sum wₖxₖ over their features, a shared-memory
    tree gives Σ wₖxₖ + b, thread 0 decides ŷ, then every thread applies
    w ← w + η(y − ŷ)x to its features. result[0] = the last y − ŷ, result[1] =
    the number of updates.
    """

    @_jit()
    def perceptron_epoch_kernel(X, y, w, b, eta, threshold, result):
        s = cuda.shared.array(NT, float32)
        step = cuda.shared.array(1, float32)
        t = cuda.threadIdx.x
        n, i = X.shape
        updates = 0
        err = 0
        for r in range(n):
            acc = float32(0)
            for k in range(t, i, NT):
                acc += X[r, k] * w[k]
            s[t] = acc
            cuda.syncthreads()
            stride = NT // 2
            while stride > 0:
                if t < stride:
                    s[t] += s[t + stride]
                cuda.syncthreads()
                stride //= 2
            if t == 0:
                y_hat = 1 if s[0] + b[0] >= threshold else 0
                err = y[r] - y_hat
                step[0] = eta * float32(err)
                if err != 0:
                    b[0] += step[0]
                    updates += 1
            cuda.syncthreads()
            if step[0] != float32(0):
                for k in range(t, i, NT):
                    w[k] += step[0] * X[r, k]
            cuda.syncthreads()
        if t == 0:
            result[0] = err
            result[1] = updates

    return perceptron_epoch_kernel


# ---------------------------------------------------------------------------
# Public launchers: the twins of cpu.py.
# ---------------------------------------------------------------------------


def _f32(x) -> np.float32:
    return np.float32(x)


def activation_forward(Z, A, act):
    """A = σ(Z), elementwise (softmax: row by row). Device arrays (n, o); writes A."""
    _check_codes(act)
    n, o = Z.shape
    count = n if act == SOFTMAX else n * o
    blocks = _blocks(count, _config.threads)
    _launch(_activation_forward_kernel, blocks, _config.threads, Z, A, act)


def activation_grad(Z, A, dA, dZ, act):
    """dZ = dA ⊙ σ′(Z) (softmax: dZ = A ⊙ (dA − Σⱼ dAⱼ·Aⱼ)). Writes dZ."""
    _check_codes(act)
    n, o = Z.shape
    count = n if act == SOFTMAX else n * o
    blocks = _blocks(count, _config.threads)
    _launch(_activation_grad_kernel, blocks, _config.threads, Z, A, dA, dZ, act)


def dense_forward(X, W, b, Z, A, act):
    """Z = X·W + b;  A = σ(Z)  — one tiled product with the bias and σ fused.

    X (n, i), W (i, o), b (o,), Z and A (n, o) float32 device arrays; writes Z
    and A. Softmax, which needs whole rows, runs as a row kernel afterwards.
    """
    _check_codes(act)
    n, i = X.shape
    o = W.shape[1]
    _gemm(X, W, b, Z, A, Z, Z, act, n, o, i, False, False, _EPI_FORWARD)
    if act == SOFTMAX:
        activation_forward(Z, A, SOFTMAX)


def dense_backward(X, W, dZ, dW, db, dX, want_dX):
    """dW = Xᵀ·dZ;  db = Σₙ dZ;  dX = dZ·Wᵀ (only when ``want_dX``).

    X (n, i), W (i, o), dZ (n, o) inputs; dW (i, o), db (o,), dX (n, i)
    outputs, float32 device arrays. ``dZ`` already holds the 1/n mean.
    """
    n, i = X.shape
    o = W.shape[1]
    _gemm(X, dZ, db, dW, dW, dW, dW, IDENTITY, i, o, n, True, False, _EPI_STORE)  # dW = Xᵀ·dZ
    column_sum(dZ, db)  # db = Σₙ dZ
    if want_dX:
        _gemm(dZ, W, db, dX, dX, dX, dX, IDENTITY, n, i, o, False, True, _EPI_STORE)  # dX = dZ·Wᵀ


def _dense_backward_fused(X, W, dZ, dW, db, dX, Zp, Ap, dZp, act_prev):
    """``dense_backward`` plus the previous layer's σ′ fused into the dX product.

    dA_prev = dZ·Wᵀ goes to ``dX`` and dZ_prev = dA_prev ⊙ σ′(Z_prev) to
    ``dZp`` in the same epilogue (what ``activation_grad`` would do next).
    """
    n, i = X.shape
    o = W.shape[1]
    _gemm(X, dZ, db, dW, dW, dW, dW, IDENTITY, i, o, n, True, False, _EPI_STORE)
    column_sum(dZ, db)
    _gemm(dZ, W, db, dX, dZp, Zp, Ap, act_prev, n, i, o, False, True, _EPI_ACT_GRAD)


def column_sum(dZ, db):
    """db = Σₙ dZ: a shared-memory tree reduction over the rows. Writes db (o,)."""
    BX, BY = _config.colsum
    kernel = _column_sum_kernel(BX, BY)
    _launch(kernel, _blocks(dZ.shape[1], BX), (BX, BY), dZ, db)


_SCRATCH: dict = {}


def _scratch(shape):
    """A float32 device array of ``shape``, reused between calls (an allocation costs ~100 µs).

    Safe because every use is on the default stream and read back (or
    discarded) before the next launcher runs.
    """
    a = _SCRATCH.get(shape)
    if a is None:
        a = _SCRATCH[shape] = cuda.device_array(shape, np.float32)
    return a


def _never_diverged():
    """Running statistics with no diverged batch: lets ``sgd_update`` share the training kernel."""
    a = _SCRATCH.get("stats")
    if a is None:
        a = _SCRATCH["stats"] = memory.stats()
    return a


def _output_rows(Z, A, Y, dA, dZ, stats, act, loss, eps, mode, batch=0):
    kernel = _output_rows_kernel(_config.rows)
    _launch(kernel, 1, _config.rows, Z, A, Y, dA, dZ, stats, act, loss, _f32(eps), mode, batch)


def loss_value(P, Y, loss, eps):
    """L(P, Y) by loss code, reduced on the device; returns a Python float."""
    out = _scratch(2)
    _output_rows(P, P, Y, P, P, out, IDENTITY, loss, eps, 0)
    return float(out.copy_to_host()[0])


def mse_loss(P, Y):
    """L = 1/(n·o) · Σ (P − Y)², reduced on the device."""
    return loss_value(P, Y, MSE, 0.0)


def bce_loss(P, Y, eps):
    """L = −1/(n·o) · Σ [Y·log P + (1 − Y)·log(1 − P)], P clipped to [eps, 1 − eps]."""
    return loss_value(P, Y, BCE, eps)


def cce_loss(P, Y, eps):
    """L = −1/n · Σ Y·log P, P clipped below at eps."""
    return loss_value(P, Y, CCE, eps)


def count_correct(P, Y):
    """Number of rows whose predicted class matches the target's (reduced on the device)."""
    out = _scratch(2)
    _output_rows(P, P, Y, P, P, out, IDENTITY, MSE, 0.0, 0)
    return int(round(float(out.copy_to_host()[1])))


def _loss_grad_launch(P, Y, dP, loss, fused, eps):
    n, o = P.shape
    blocks = _blocks(n * o, _config.threads)
    _launch(_loss_grad_kernel, blocks, _config.threads, P, Y, dP, loss, fused, _f32(eps))


def loss_grad(P, Y, dP, loss, eps):
    """dP = ∂L/∂P by loss code (an unknown one raises). Writes dP."""
    _check_codes(loss=loss)
    _loss_grad_launch(P, Y, dP, int(loss), False, eps)


def mse_grad(P, Y, dP):
    """dP = 2·(P − Y) / (n·o). Writes dP."""
    _loss_grad_launch(P, Y, dP, MSE, False, 0.0)


def bce_grad(P, Y, dP, eps):
    """dP = (P − Y) / (P·(1 − P)) / (n·o), P clipped. Writes dP."""
    _loss_grad_launch(P, Y, dP, BCE, False, eps)


def cce_grad(P, Y, dP, eps):
    """dP = −Y / P / n (the long way round). Writes dP."""
    _loss_grad_launch(P, Y, dP, CCE, False, eps)


def softmax_cce_grad(P, Y, dZ):
    """dZ = (P − Y) / n: softmax and cross-entropy differentiated together. Writes dZ."""
    _loss_grad_launch(P, Y, dZ, CCE, True, 0.0)


def sigmoid_bce_grad(P, Y, dZ):
    """dZ = (P − Y) / (n·o): sigmoid and binary cross-entropy fused. Writes dZ."""
    _loss_grad_launch(P, Y, dZ, BCE, True, 0.0)


def is_fused(act, loss):
    """True when the output activation and the loss differentiate together (``codes.FUSED_WITH``)."""
    return FUSED_WITH[loss] == act


def output_grad(Z, A, Y, dA, dZ, act, loss, eps):
    """dZ of the output layer: fused (P − Y)/n, or ∂L/∂P then the σ′ chain rule.

    Writes ``dZ`` and, on the unfused path, ``dA`` = ∂L/∂P (one row kernel).
    """
    _check_codes(act, loss)
    out = _scratch(2)
    _output_rows(Z, A, Y, dA, dZ, out, act, loss, eps, _GRAD)


_COEF: dict = {}


def _coefficients(opt, hyper):
    """The update's constants as a float32 device vector, copied once per distinct value.

    Computed in float64 from ``hyper`` (slot 0 = α₀ is not among them: α comes
    per step) and rounded once, as PyTorch passes ``1 − β`` to its float32
    kernels: MOMENTUM (μ, Nesterov), ADAGRAD (ε,), RMSPROP (ρ, 1 − ρ, ε, μ),
    ADAM and ADAMW (β₁, 1 − β₁, β₂, 1 − β₂, ε).
    """
    h = [float(x) for x in np.asarray(hyper, np.float64)]
    if opt == MOMENTUM:
        c = [h[codes.MU], h[codes.NESTEROV]]
    elif opt == ADAGRAD:
        c = [h[codes.EPS_ADAGRAD]]
    elif opt == RMSPROP:
        rho = h[codes.RHO]
        c = [rho, 1.0 - rho, h[codes.EPS_RMS], h[codes.MU_RMS] if len(h) > codes.MU_RMS else 0.0]
    elif opt in (codes.ADAM, ADAMW):
        b1, b2 = h[codes.BETA1], h[codes.BETA2]
        c = [b1, 1.0 - b1, b2, 1.0 - b2, h[codes.EPS_ADAM]]
    else:  # SGD reads none
        c = [0.0]
    key = (opt, tuple(c))
    a = _COEF.get(key)
    if a is None:
        if len(_COEF) >= 64:
            _COEF.pop(next(iter(_COEF)))
        a = _COEF[key] = cuda.to_device(np.array(c, np.float32))
    return a


def _step_scalars(opt, hyper, lr, t):
    """(α, α/bc₁, √bc₂, 1 − α·λ) of step ``t`` as float32: float64 on the host, rounded once.

    bc₁ = 1 − β₁ᵗ and bc₂ = 1 − β₂ᵗ are Adam's bias corrections (PyTorch's
    ``step_size`` and ``bias_correction2_sqrt``); the other updates read only α.
    """
    lr = float(lr)
    s1, s2, decay = lr, 1.0, 1.0
    if opt in (codes.ADAM, ADAMW):
        bc1 = 1.0 - float(hyper[codes.BETA1]) ** t
        bc2 = 1.0 - float(hyper[codes.BETA2]) ** t
        s1 = lr / bc1
        s2 = math.sqrt(bc2)
        if opt == ADAMW:
            decay = 1.0 - lr * float(hyper[codes.DECAY])
    return np.float32(lr), np.float32(s1), np.float32(s2), np.float32(decay)


_NO_PENALTY = (0, np.float32(0), np.float32(0))  # (W elements, λ₁, 2λ₂): no L1/L2 term


_ROWS: dict = {}


def _state_rows(state):
    """(row 0, row 1) of a (slots, θ size) state array as 1-D views (row 0 twice for one slot).

    Cached by the array's identity (and holding it), so the training loop
    launches with the same view objects every batch (``_launch``'s fast path).
    """
    hit = _ROWS.get(id(state))
    if hit is None or hit[0] is not state:
        if len(_ROWS) >= 32:
            _ROWS.pop(next(iter(_ROWS)))
        first = state[0]
        hit = _ROWS[id(state)] = (state, first, state[1] if state.shape[0] > 1 else first)
    return hit[1], hit[2]


def _update(theta, grad, rows, off, count, opt, coef, scalars, stats, penalty=_NO_PENALTY):
    """Launch ``_optimizer_update_kernel`` on θ[off : off + count] (``coef`` on the device)."""
    blocks = _blocks(count, _config.threads)
    wcount, l1, l2x2 = penalty
    _launch(_optimizer_update_kernel, blocks, _config.threads, theta, grad, *rows, off, count,
            wcount, opt, coef, *scalars, l1, l2x2, stats)  # fmt: skip


def optimizer_update(theta, grad, state, off, count, opt, hyper, lr, t):
    """θ ← update(θ, ∂L/∂θ, state) on θ[off : off + count], in place on the device.

    theta, grad: flat float32 device arrays; state: (slots, θ size) float32
    device array (updated; rows as ``codes.py`` lists them); opt: update code
    (an unknown one raises); hyper: the hyper-parameters (host float64 array);
    lr: α of this step (after the schedule); t: the step number, from 1 (Adam's
    bias corrections).
    """
    _check_codes(opt=opt)
    opt, t = int(opt), int(t)
    _update(theta, grad, _state_rows(state), int(off), int(count), opt,
            _coefficients(opt, hyper), _step_scalars(opt, hyper, lr, t),
            _never_diverged())  # fmt: skip


def _flat_update(W, dW, rows, opt, hyper, lr, t):
    """One update of a whole W (any shape) with state arrays shaped like it (the twins below)."""
    w = W.reshape(W.size)
    rows = tuple(r.reshape(r.size) for r in rows)
    _update(w, dW.reshape(dW.size), (rows[0], rows[-1]), 0, w.size, opt,
            _coefficients(opt, hyper), _step_scalars(opt, hyper, lr, t),
            _never_diverged())  # fmt: skip


def sgd_update(W, dW, lr):
    """W ← W − α·dW, in place (any shape; C-contiguous device arrays)."""
    w = W.reshape(W.size)
    dw = dW.reshape(dW.size)
    optimizer_update(w, dw, _scratch((1, 1)), 0, w.size, SGD, [lr], lr, 1)


def dense_sgd_update(W, X, dZ, lr):
    """W ← W − α·Xᵀ·dZ, in place: a dense layer's SGD step from ∂L/∂W = Xᵀ·dZ.

    The CPU twin adds the product to W inside one BLAS call, to keep W in the
    core's cache. Here it runs dense_backward's dW product into a scratch dW
    (kept per shape), then ``sgd_update``: the GPU training loop calls those two
    directly, and this launcher serves the trace.
    """
    n, i = X.shape
    o = W.shape[1]
    dW = _scratch((i, o))
    unused = _scratch(2)  # the bias operand, unread by the store epilogue
    _gemm(X, dZ, unused, dW, dW, dW, dW, IDENTITY, i, o, n, True, False, _EPI_STORE)  # dW = Xᵀ·dZ
    sgd_update(W, dW, lr)


def momentum_update(W, dW, V, lr, mu, nesterov):
    """V ← μ·V − α·dW; W ← W + V (or W + μ·V − α·dW with ``nesterov``), in place on the device."""
    _flat_update(W, dW, (V,), MOMENTUM, [lr, mu, 1.0 if nesterov else 0.0], lr, 1)


def adagrad_update(W, dW, S, lr, eps):
    """AdaGrad: S ← S + dW²;  W ← W − α·dW/(√S + ε), in place on the device."""
    _flat_update(W, dW, (S,), ADAGRAD, [lr, eps], lr, 1)


def rmsprop_update(W, dW, V, B, lr, rho, eps, mu):
    """RMSProp: V ← ρ·V + (1−ρ)·dW²;  d = √V + ε;  W ← W − α·dW/d, in place on the device.

    With momentum μ > 0: B ← μ·B + dW/d;  W ← W − α·B (``B`` unused when μ = 0).
    """
    rows = (V, B) if mu > 0 else (V,)
    _flat_update(W, dW, rows, RMSPROP, [lr, rho, eps, mu], lr, 1)


def adam_update(W, dW, M, V, lr, beta1, beta2, eps, decay, t):
    """Adam (AdamW when ``decay`` λ > 0), step ``t`` ≥ 1, in place on the device.

    W ← W·(1 − α·λ) (AdamW); M ← β₁·M + (1−β₁)·dW; V ← β₂·V + (1−β₂)·dW²;
    W ← W − (α/(1−β₁ᵗ))·M/(√V/√(1−β₂ᵗ) + ε), the corrections in float64 on the host.
    """
    opt = ADAMW if decay > 0 else codes.ADAM
    _flat_update(W, dW, (M, V), opt, [lr, beta1, beta2, eps, decay], lr, int(t))


def penalty(W, l1, l2):
    """λ₁·Σ|W| + λ₂·ΣW², reduced on the device (one block, float32); returns a Python float."""
    out = _never_diverged()  # its PENALTY slot: nothing else reads it
    w = W.reshape(W.size)
    _launch(_penalty_kernel(_config.rows), 1, _config.rows, w, 0, w.size, _f32(l1), _f32(l2),
            True, out)  # fmt: skip
    return float(out.copy_to_host()[PENALTY])


def network_penalty(theta, dims, layer_hyper):
    """Σ over layers of λ₁·Σ|W| + λ₂·ΣW² (``layer_hyper`` (L, 3) on the host); a Python float."""
    reg = _regularisation(layer_hyper, dims)
    if not reg.penalties:
        return 0.0
    out = _never_diverged()
    _penalties(theta.reshape(theta.size), dims, reg, out)
    return float(out.copy_to_host()[PENALTY])


def _penalties(theta, dims, reg, stats):
    """stats[PENALTY] = Σ over the penalised layers of λ₁·Σ|W| + λ₂·ΣW² (θ flat, on the device)."""
    kernel = _penalty_kernel(_config.rows)
    for k, (layer, l1, l2) in enumerate(reg.penalties):
        off = codes.param_offset(dims, layer)
        count = int(dims[layer]) * int(dims[layer + 1])
        _launch(kernel, 1, _config.rows, theta, off, count, _f32(l1), _f32(l2), k == 0, stats)


def penalty_grad(W, dW, l1, l2):
    """dW ← dW + λ₁·sign(W) + 2λ₂·W, in place on the device (W before its step)."""
    w = W.reshape(W.size)
    _launch(_penalty_grad_kernel, _blocks(w.size, _config.threads), _config.threads, w,
            dW.reshape(dW.size), _f32(l1), _f32(2.0 * float(l2)))  # fmt: skip


def dropout_forward(A, D, p, seed, t, layer):
    """D = A ⊙ keep/(1 − p), keep = [``codes.dropout_unit``(seed, t, layer, r·o + c) ≥ p].

    Inverted dropout on a layer's input A (n, o) device array; ``D`` may be ``A``.
    """
    drop = (_dropout_threshold(p), _f32(1.0 / (1.0 - float(p))))
    _dropout(A, D, int(seed), int(t), int(layer), drop, _never_diverged())


def dropout_backward(dD, p, seed, t, layer):
    """dA = dD ⊙ keep/(1 − p), in place: the same mask as ``dropout_forward``'s."""
    n, o = dD.shape
    _launch(_dropout_grad_kernel, _blocks(n * o, _config.threads), _config.threads, dD,
            int(seed), int(t), int(layer), _dropout_threshold(p),
            _f32(1.0 / (1.0 - float(p))), _never_diverged())  # fmt: skip


def _dropout_threshold(p: float) -> int:
    """⌈p·2³²⌉: hash ≥ it exactly when ``codes.dropout_unit`` = hash/2³² ≥ p (p·2³² is exact)."""
    return int(math.ceil(float(p) * 4294967296.0))


def perceptron_predict(X, w, b, threshold, out):
    """out = [X·w + b ≥ θ] as 0/1. X (n, i), w (i,), b (1,) float32; out (n,) int64."""
    blocks = _blocks(X.shape[0], _config.threads)
    _launch(_perceptron_predict_kernel, blocks, _config.threads, X, w, b, _f32(threshold), out)


def perceptron_epoch(X, y, w, b, eta, threshold):
    """One pass of the learning rule over the samples in order; returns the number of updates.

    X (n, i) float32, y (n,) int64, w (i,) and b (1,) float32 (updated in place).
    """
    result = cuda.device_array(2, np.int64)
    kernel = _perceptron_epoch_kernel(_config.perceptron)
    _launch(kernel, 1, _config.perceptron, X, y, w, b, _f32(eta), _f32(threshold), result)
    return int(result.copy_to_host()[1])


def perceptron_step(x, y, w, b, eta, threshold):
    """One learning-rule step on one sample (x (i,) device array, y int); returns y − ŷ."""
    X = x.reshape((1, x.shape[0]))
    Y = cuda.to_device(np.array([y], np.int64))
    result = cuda.device_array(2, np.int64)
    kernel = _perceptron_epoch_kernel(_config.perceptron)
    _launch(kernel, 1, _config.perceptron, X, Y, w, b, _f32(eta), _f32(threshold), result)
    return int(result.copy_to_host()[0])


# ---------------------------------------------------------------------------
# A whole network: θ and the per-layer buffers are flat device vectors, laid
# out exactly as on the CPU (see cpu.py); each layer's W, b, Z, A, … is a view.
# ---------------------------------------------------------------------------


class _Layers:
    """Per-layer views into θ, ∂L/∂θ and the Z/A/dZ/dA(/D) buffers for a batch of m rows."""

    def __init__(
        self, theta, grad, Zbuf, Abuf, dZbuf, dAbuf, dims, m, Xb=None, Yb=None, Dbuf=None
    ):  # fmt: skip
        # Xb[:m], Yb[:m]: slicing a device array builds a new Python object, so keep them too.
        self.Xb = None if Xb is None else Xb[:m]
        self.Yb = None if Yb is None else Yb[:m]
        dims = [int(d) for d in dims]
        L = len(dims) - 1
        self.W, self.b, self.dW, self.db = [], [], [], []
        self.Z, self.A, self.dZ, self.dA, self.D = [], [], [], [], []
        self.offsets, self.counts = [], []  # each layer's W and b: θ[off : off + count]
        for layer in range(L):
            i, o = dims[layer], dims[layer + 1]
            off = codes.param_offset(dims, layer)
            self.offsets.append(off)
            self.counts.append(i * o + o)
            for flat, Wl, bl in ((theta, self.W, self.b), (grad, self.dW, self.db)):
                if flat is not None:
                    Wl.append(flat[off : off + i * o].reshape((i, o)))
                    bl.append(flat[off + i * o : off + i * o + o])
            buffers = ((Zbuf, self.Z), (Abuf, self.A), (dZbuf, self.dZ), (dAbuf, self.dA),
                       (Dbuf, self.D))  # fmt: skip
            for buf, views in buffers:
                if buf is not None:
                    act_off = codes.buffer_offset(dims, layer, buf.shape[0])
                    views.append(buf[act_off : act_off + m * o].reshape((m, o)))


_VIEWS: dict = {}


def _layers(
    theta, grad, Zbuf, Abuf, dZbuf, dAbuf, dims, m, Xb=None, Yb=None, Dbuf=None
) -> _Layers:  # fmt: skip
    """Cached ``_Layers``: a training run reuses the same views for every batch.

    Keyed by the arrays' identities; the cache holds the arrays, so an identity
    cannot be reused by another array while its entry lives.
    """
    arrays = (theta, grad, Zbuf, Abuf, dZbuf, dAbuf, Xb, Yb, Dbuf)
    key = tuple(id(a) for a in arrays) + (tuple(int(d) for d in dims), m)
    hit = _VIEWS.get(key)
    if hit is None:
        if len(_VIEWS) >= 32:
            _VIEWS.pop(next(iter(_VIEWS)))
        hit = (arrays, _Layers(*arrays[:6], dims, m, Xb, Yb, Dbuf))
        _VIEWS[key] = hit
    return hit[1]


def _host(a, dtype):
    """A host copy of a small argument that may be a device array (the clock, the schedule)."""
    return a.copy_to_host() if memory.is_device(a) else np.asarray(a, dtype)


@dataclass(frozen=True)
class _Regularisation:
    """A run's L1/L2 penalties and dropout, per Dense layer, from ``layer_hyper`` (L, 3).

    ``penalties``: (layer, λ₁, λ₂) of each layer with a penalty; ``wcount``,
    ``l1``, ``l2x2``: per layer, what the update kernel adds to dW (W's size,
    λ₁, 2λ₂ as float32; 0 elements: no penalty). ``drops``: per layer, None or
    (⌈p·2³²⌉, 1/(1 − p) as float32) for the dropout on its input.
    """

    penalties: tuple
    update_terms: tuple
    drops: tuple

    @property
    def dropout_after_input(self) -> bool:
        """Some layer ℓ ≥ 1 drops its input (so ``Dbuf`` holds the dropped activations)."""
        return any(d is not None for d in self.drops[1:])


_NO_REGULARISATION: dict = {}


def _regularisation(layer_hyper, dims) -> _Regularisation:
    L = len(dims) - 1
    h = np.zeros((0, 3)) if layer_hyper is None else _host(layer_hyper, np.float64)
    if not h.any():  # no penalty, no dropout: any shape, as on the CPU (``_NO_LAYERS``)
        h = np.zeros((L, 3))
    if h.shape != (L, 3):
        raise ValueError("layer_hyper must hold one (l1, l2, drop) row per layer")
    penalties, terms, drops = [], [], []
    for layer in range(L):
        l1, l2, p = (float(x) for x in h[layer])
        wcount = int(dims[layer]) * int(dims[layer + 1])
        if l1 or l2:
            penalties.append((layer, l1, l2))
            terms.append((wcount, np.float32(l1), np.float32(2.0 * l2)))
        else:
            terms.append(_NO_PENALTY)
        drops.append((_dropout_threshold(p), np.float32(1.0 / (1.0 - p))) if p > 0 else None)
    return _Regularisation(tuple(penalties), tuple(terms), tuple(drops))


def _dropout(A, D, seed, t, layer, drop, stats):
    """D = A ⊙ keep/(1 − p) for the (m, width) input of ``layer`` (``_dropout_kernel``)."""
    threshold, scale = drop
    blocks = _blocks(A.shape[0] * A.shape[1], _config.threads)
    _launch(_dropout_kernel, blocks, _config.threads, A, D, seed, t, layer, threshold, scale,
            stats)  # fmt: skip


def _forward(X, views, acts, defer_softmax, dropout=None):
    """Aˡ = σ(Aˡ⁻¹·Wˡ + bˡ) layer by layer; a softmax output may be left to the row kernel.

    ``dropout`` = (seed, t, regularisation, stats) while training: a layer that
    drops its input multiplies it by keep/(1 − p) first — layer 0 the batch X
    in place, a layer ℓ ≥ 1 into its D block (A keeps σ(Z) for σ′).
    """
    A_prev = X
    last = len(acts) - 1
    for layer in range(len(acts)):
        act = int(acts[layer])
        if dropout is not None and dropout[2].drops[layer] is not None:
            seed, t, reg, stats = dropout
            D = X if layer == 0 else views.D[layer - 1]
            _dropout(A_prev, D, seed, t, layer, reg.drops[layer], stats)
            A_prev = D
        n, i = A_prev.shape
        o = views.W[layer].shape[1]
        Z, A = views.Z[layer], views.A[layer]
        _gemm(A_prev, views.W[layer], views.b[layer], Z, A, Z, Z, act, n, o, i, False, False,
              _EPI_FORWARD)  # fmt: skip
        if act == SOFTMAX and not (defer_softmax and layer == last):
            activation_forward(Z, A, SOFTMAX)
        A_prev = A


def _backward(X, views, acts, update=None, dropout=None):
    """From the output layer's dZ to every dW and db, right to left (σ′ fused into dX).

    ``update`` = (θ, ∂L/∂θ, state, opt, coef, step scalars, stats), flat
    device arrays: each layer takes the optimiser's step as soon as its dW, db
    and dX (with W before its step) are known — the CPU twin's order
    (``cpu._backward``). ``dropout`` as in ``_forward``: a layer ℓ ≥ 1 that
    dropped its input gets dW = Dᵀ·dZ, and dA of layer ℓ − 1 = (dZ·Wᵀ) ⊙ keep/(1 − p)
    before σ′ (three launches instead of the fused product); the update adds
    each layer's L1/L2 gradient to dW (``_optimizer_update_kernel``).
    """
    reg = None if dropout is None else dropout[2]
    for layer in range(len(acts) - 1, -1, -1):
        W, dZ, dW, db = views.W[layer], views.dZ[layer], views.dW[layer], views.db[layer]
        dropped = reg is not None and reg.drops[layer] is not None
        if layer > 0 and dropped:
            seed, t, _, stats = dropout
            D, dA = views.D[layer - 1], views.dA[layer - 1]
            n, i = D.shape
            o = W.shape[1]
            _gemm(D, dZ, db, dW, dW, dW, dW, IDENTITY, i, o, n, True, False, _EPI_STORE)
            column_sum(dZ, db)
            _gemm(dZ, W, db, dA, dA, dA, dA, IDENTITY, n, i, o, False, True, _EPI_STORE)  # dD
            threshold, scale = reg.drops[layer]
            _launch(_dropout_grad_kernel, _blocks(n * i, _config.threads), _config.threads, dA,
                    seed, t, layer, threshold, scale, stats)  # fmt: skip
            activation_grad(views.Z[layer - 1], views.A[layer - 1], dA, views.dZ[layer - 1],
                            int(acts[layer - 1]))  # fmt: skip
        elif layer > 0:
            _dense_backward_fused(
                views.A[layer - 1], W, dZ, dW, db, views.dA[layer - 1],
                views.Z[layer - 1], views.A[layer - 1], views.dZ[layer - 1], int(acts[layer - 1]),
            )  # fmt: skip
        else:  # X is already the dropped input when layer 0 drops it (masked in place)
            n, i = X.shape
            o = W.shape[1]
            _gemm(X, dZ, db, dW, dW, dW, dW, IDENTITY, i, o, n, True, False, _EPI_STORE)
            column_sum(dZ, db)
        if update is not None:  # θ ← update(θ, ∂L/∂θ) on this layer's W and b
            theta, grad, rows, opt, coef, scalars, stats = update
            terms = _NO_PENALTY if reg is None else reg.update_terms[layer]
            _update(theta, grad, rows, views.offsets[layer], views.counts[layer], opt, coef,
                    scalars, stats, terms)  # fmt: skip


def forward_pass(X, theta, dims, acts, Zbuf, Abuf):
    """Forward propagation through every layer: A⁰ = X, Aˡ = σ(Aˡ⁻¹·Wˡ + bˡ).

    X (m, n_in), theta, Zbuf, Abuf: float32 device arrays; dims, acts: host
    int64 arrays (they size the grids).
    """
    views = _layers(theta, None, Zbuf, Abuf, None, None, dims, X.shape[0])
    _forward(X, views, acts, False)


def backward_pass(X, Y, theta, dims, acts, loss, eps, Zbuf, Abuf, dZbuf, dAbuf, grad):
    """Backward propagation from the loss to every W and b (needs the forward pass's Z, A)."""
    m = X.shape[0]
    views = _layers(theta, grad, Zbuf, Abuf, dZbuf, dAbuf, dims, m)
    last = len(acts) - 1
    out = _scratch(2)
    _output_rows(views.Z[last], views.A[last], Y, views.dA[last], views.dZ[last], out,
                 int(acts[last]), loss, eps, _GRAD)  # fmt: skip
    _backward(X, views, acts)


def backprop(X, Y, theta, dims, acts, loss, eps, Zbuf, Abuf, dZbuf, dAbuf, grad):
    """``forward_pass`` then ``backward_pass`` on the rows X, Y (the CPU twin: one compiled call)."""
    forward_pass(X, theta, dims, acts, Zbuf, Abuf)
    backward_pass(X, Y, theta, dims, acts, loss, eps, Zbuf, Abuf, dZbuf, dAbuf, grad)


def train_batches(
    X, Y, order, start, stop, batch_size, theta, dims, acts, loss, opt, hyper, state, eps,
    Xb, Yb, Zbuf, Abuf, dZbuf, dAbuf, grad, stats, layer_hyper=None, schedule=None, clock=None,
    Dbuf=None,
):  # fmt: skip
    """Mini-batch training over ``order[start:stop]``, ``batch_size`` rows at a time, on the GPU.

    Same contract and step as the CPU twin, with device arrays (``dims``/``acts``,
    ``hyper``, ``layer_hyper`` and ``schedule`` stay on the host; ``clock`` may
    be either): for each batch, gather its rows, forward pass (with dropout),
    loss plus the L1/L2 penalty (reduced on the device into ``stats``), backward
    pass with each layer's update (``opt``, ``hyper``, ``state``) as soon as its
    gradient is complete. The loop runs on the host, so each step's α
    (``codes.schedule_rate``, float64) and Adam's bias corrections are computed
    there, exactly as the CPU twin computes them, and reach the update kernel as
    float32 scalars. Nothing comes back per batch; at the end of the call one
    small copy of ``stats`` tells whether a batch diverged. A batch whose loss is
    not finite freezes θ, the buffers and ``stats`` from there on, as the CPU
    loop stops there; ``clock[0]`` then counts the updates really taken.

    ``stats`` is a device array from ``memory.stats()``; ``layer_hyper`` (L, 3)
    = (λ₁, λ₂, p) per Dense layer; ``schedule`` = (code, per_step, a, b, c);
    ``clock`` = (t, epoch, seed), clock[0] advanced by the updates taken;
    ``Dbuf``: like ``Abuf`` when a layer ℓ ≥ 1 drops its input, else unused.

    Returns
    -------
    int : −1, or the index (from 0, within this call) of the non-finite batch.
    """
    loss, opt = int(loss), int(opt)
    last = len(acts) - 1
    act_out = int(acts[last])
    _check_codes(loss=loss, opt=opt)
    for act in acts:
        _check_codes(act)
    reg = _regularisation(layer_hyper, dims)
    sched = np.zeros(codes.SCHEDULE_SIZE) if schedule is None else _host(schedule, np.float64)
    code, per_step = int(sched[0]), sched[1] != 0
    if code not in codes.SCHEDULE_CODES:
        raise ValueError(f"unknown schedule code {sched[0]}")
    a, b, c = (float(x) for x in sched[2:5])
    tick = np.zeros(3, np.int64) if clock is None else _host(clock, np.int64)
    if reg.dropout_after_input and (Dbuf is None or Dbuf.size < Abuf.size):
        raise ValueError("dropout on a hidden layer's output needs a Dbuf the size of Abuf")
    t0, epoch, seed = int(tick[0]), int(tick[1]), int(tick[2])
    alpha0 = float(np.asarray(hyper, np.float64)[0])
    n_cols = X.shape[1] + Y.shape[1]
    mode = _GRAD | _ACCUMULATE | _TRAIN | (_SOFTMAX_FWD if act_out == SOFTMAX else 0)
    if reg.penalties:
        mode |= _PENALISED
    flat_theta = theta.reshape(theta.size)
    flat_grad = grad.reshape(grad.size)
    coef = _coefficients(opt, hyper)
    rows = _state_rows(state)
    batch = 0
    for s in range(start, stop, batch_size):
        m = min(batch_size, stop - s)
        t = t0 + batch + 1  # this step's number
        lr = codes.schedule_rate(code, alpha0, t - 1 if per_step else epoch, a, b, c)
        scalars = _step_scalars(opt, hyper, lr, t)
        views = _layers(theta, grad, Zbuf, Abuf, dZbuf, dAbuf, dims, m, Xb, Yb,
                        Dbuf if reg.dropout_after_input else None)  # fmt: skip
        Xm, Ym = views.Xb, views.Yb
        gather_blocks = _blocks(m * n_cols, _config.threads)
        _launch(_gather_kernel, gather_blocks, _config.threads, X, Y, order, s, m, Xm, Ym, stats)
        dropout = (seed, t, reg, stats)
        _forward(Xm, views, acts, True, dropout)
        if reg.penalties:  # λ₁·Σ|W| + λ₂·ΣW² into stats[PENALTY], with θ before the step
            _penalties(flat_theta, dims, reg, stats)
        _output_rows(views.Z[last], views.A[last], Ym, views.dA[last], views.dZ[last], stats,
                     act_out, loss, eps, mode, batch)  # fmt: skip
        update = (flat_theta, flat_grad, rows, opt, coef, scalars, stats)
        _backward(Xm, views, acts, update, dropout)
        batch += 1
    bad = stats.copy_to_host()[BAD]  # the one copy back; it also synchronises
    bad = int(bad) if bad >= 0 else -1
    tick[0] = t0 + (bad if bad >= 0 else batch)  # the updates taken
    if memory.is_device(clock):
        clock.copy_to_device(tick)
    elif clock is not None and tick is not clock:
        clock[0] = tick[0]
    return bad


def evaluate_rows(X, Y, start, stop, theta, dims, acts, loss, eps, Zbuf, Abuf, stats):
    """Add Σ loss × rows and Σ correct over rows ``start:stop`` to ``stats`` (no update)."""
    Xm = X[start:stop]
    Ym = Y[start:stop]
    views = _layers(theta, None, Zbuf, Abuf, None, None, dims, stop - start)
    last = len(acts) - 1
    _forward(Xm, views, acts, True)
    act = int(acts[last])
    mode = _ACCUMULATE | (_SOFTMAX_FWD if act == SOFTMAX else 0)
    _output_rows(views.Z[last], views.A[last], Ym, views.A[last], views.A[last], stats, act,
                 int(loss), eps, mode)  # fmt: skip


# ---------------------------------------------------------------------------
# Host↔device memory for the models (the CPU backend's twin keeps host arrays).
# ---------------------------------------------------------------------------


class _Memory:
    """Where a model's arrays live on this backend: device memory.

    ``put`` copies a host array to the device (a device array is returned as
    it is); ``get`` copies back; ``stats`` makes the device array of running
    epoch statistics that the kernels add to and ``read_stats`` turns it into
    the CPU layout (Σ loss × rows, Σ correct, rows, first batch's loss) as float64.
    """

    dtypes = DTYPES
    device = "cuda"

    @staticmethod
    def is_device(a) -> bool:
        return not isinstance(a, np.ndarray) and hasattr(a, "copy_to_host")

    def put(self, a):
        if self.is_device(a):
            return a
        return cuda.to_device(np.ascontiguousarray(a))

    def get(self, a, out=None):
        if not self.is_device(a):
            if out is not None and out is not a:
                out[...] = a
                return out
            return a
        if out is not None:
            a.copy_to_host(out)
            return out
        return a.copy_to_host()

    def zeros(self, shape, dtype):
        return cuda.to_device(np.zeros(shape, dtype))

    def copy_into(self, dst, src):
        """dst ← src: a host array into a device array of the same shape."""
        dst.copy_to_device(np.ascontiguousarray(src, dtype=dst.dtype))

    def stats(self, initial=None):
        s = np.zeros(STATS_SIZE, np.float32)
        s[BAD] = -1
        if initial is not None:  # (Σ loss × rows, Σ correct, rows, first loss), as read_stats gives
            s[LOSS_SUM], s[CORRECT], s[ROWS], s[FIRST_LOSS] = initial
        return cuda.to_device(s)

    def read_stats(self, stats) -> np.ndarray:
        h = stats.copy_to_host() if self.is_device(stats) else stats
        return np.array([h[LOSS_SUM], h[CORRECT], h[ROWS], h[FIRST_LOSS]], np.float64)

    def fits(self, nbytes: int) -> bool:
        """True when ``nbytes`` more fit comfortably (half the free device memory)."""
        try:
            free, _total = cuda.current_context().get_memory_info()
        except Exception:  # the simulator or an old driver: assume it fits
            return True
        return nbytes <= 0.5 * free

    def synchronize(self) -> None:
        cuda.synchronize()


memory = _Memory()


# ---------------------------------------------------------------------------
# Every kernel with a signature, for the PTX lint (nnlite/tools/ptxlint.py).
# ---------------------------------------------------------------------------


def ptx_targets(config: LaunchConfig = PRODUCTION):
    """(name, python function, signature) of every kernel the launchers use with ``config``."""
    m2 = "float32[:, ::1]"
    v1 = "float32[::1]"
    f, i64 = "float32", "int64"
    gemm_sig = f"void({m2}, {m2}, {v1}, {m2}, {m2}, {m2}, {m2}, {i64}, {i64}, {i64}, {i64})"
    targets = []
    for tile in _tiles(config):
        for name, ta, tb, epi in (
            ("dense_forward", False, False, _EPI_FORWARD),
            ("dW = Xᵀ·dZ", True, False, _EPI_STORE),
            ("dX = dZ·Wᵀ", False, True, _EPI_STORE),
            ("dX = dZ·Wᵀ ⊙ σ′", False, True, _EPI_ACT_GRAD),
        ):
            kernel = _gemm_kernel(tile, ta, tb, epi)
            targets.append((f"gemm {name} {tile}", kernel, gemm_sig))
    targets += [
        ("activation_forward", _activation_forward_kernel, f"void({m2}, {m2}, {i64})"),
        ("activation_grad", _activation_grad_kernel, f"void({m2}, {m2}, {m2}, {m2}, {i64})"),
        ("loss_grad", _loss_grad_kernel, f"void({m2}, {m2}, {m2}, {i64}, boolean, {f})"),
        (
            "output_rows",
            _output_rows_kernel(config.rows),
            f"void({m2}, {m2}, {m2}, {m2}, {m2}, {v1}, {i64}, {i64}, {f}, {i64}, {i64})",
        ),
        ("column_sum", _column_sum_kernel(*config.colsum), f"void({m2}, {v1})"),
        (
            "optimizer_update",
            _optimizer_update_kernel,
            f"void({v1}, {v1}, {v1}, {v1}, {i64}, {i64}, {i64}, {i64}, {v1}, {f}, {f}, {f}, {f},"
            f" {f}, {f}, {v1})",
        ),
        ("penalty_grad", _penalty_grad_kernel, f"void({v1}, {v1}, {f}, {f})"),
        (
            "penalty",
            _penalty_kernel(config.rows),
            f"void({v1}, {i64}, {i64}, {f}, {f}, boolean, {v1})",
        ),
        (
            "dropout",
            _dropout_kernel,
            f"void({m2}, {m2}, {i64}, {i64}, {i64}, {i64}, {f}, {v1})",
        ),
        (
            "dropout_grad",
            _dropout_grad_kernel,
            f"void({m2}, {i64}, {i64}, {i64}, {i64}, {f}, {v1})",
        ),
        (
            "gather",
            _gather_kernel,
            f"void({m2}, {m2}, int64[::1], {i64}, {i64}, {m2}, {m2}, {v1})",
        ),
        (
            "perceptron_predict",
            _perceptron_predict_kernel,
            f"void({m2}, {v1}, {v1}, {f}, int64[::1])",
        ),
        (
            "perceptron_epoch",
            _perceptron_epoch_kernel(config.perceptron),
            f"void({m2}, int64[::1], {v1}, {v1}, {f}, {f}, int64[::1])",
        ),
    ]
    return [(name, getattr(k, "py_func", k), sig) for name, k, sig in targets]
