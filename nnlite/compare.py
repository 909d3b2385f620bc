"""CPU vs CUDA, side by side: the library half of ``nnlite compare``.

Owns: running each kernel on both devices with the same random inputs,
measuring how far the answers are apart (max absolute and relative error,
max distance in float32 units in the last place, and each device's error
against a float64 CPU reference) and how long each takes — the GPU time
split into compile, host↔device copies, kernel and launch + synchronisation,
so a learner sees why a tiny network is slower on a GPU — then a size sweep
that finds where the GPU starts to win, and the same seeded network trained
on both devices. Returns plain data (dicts and lists, JSON-ready); renders
nothing (``nnlite/ui/compare.py`` does).

Imports numpy, nnlite's kernels and their case table (``nnlite.kernels.cases``:
the calls it runs are the ones the tests check, every activation and loss of
nnlite's tables included); the CUDA kernels only through
``nnlite.kernels.get_backend("cuda")``, which raises ``DeviceError`` (one
line) when there is neither a GPU nor the simulator.

Omits: float64 on the GPU (the CUDA kernels are float32 only — float64
appears as the CPU reference), multi-GPU, other precisions.
"""

from __future__ import annotations

import math
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from nnlite.kernels import get_backend, probe_gpu
from nnlite.kernels.cases import KernelCase, cases

SIMULATOR_NOTE = (
    "The CUDA kernels ran in Numba's simulator, on the CPU: their timings measure the "
    "simulator, not a GPU. Shapes are tiny so that it finishes."
)

# (n, i, o): batch × inputs → outputs. On a GPU: an MNIST-sized layer at two batch sizes and a
# large layer; in the simulator: small odd shapes.
GPU_SHAPES = [(64, 784, 128), (512, 784, 128), (4096, 784, 1024)]
SIM_SHAPES = [(5, 7, 3), (17, 33, 9)]


def _cast(args: list, dtype) -> list:
    out = []
    for a in args:
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            out.append(np.ascontiguousarray(a, dtype))
        elif isinstance(a, np.ndarray):
            out.append(a.copy())
        else:
            out.append(a)
    return out


def ulp_distance(a: np.ndarray, b: np.ndarray, significant: float = 0.0) -> int:
    """Largest number of float32 values between a and b, element by element.

    With ``significant`` > 0, only elements where |b| ≥ significant·max|b| count:
    near zero a tiny absolute difference spans millions of float32 values (and
    a sign change, billions), which says nothing about the answer's accuracy.
    """
    a = np.ravel(np.ascontiguousarray(a, np.float32))
    b = np.ravel(np.ascontiguousarray(b, np.float32))
    if significant > 0 and b.size:
        keep = np.abs(b) >= significant * np.abs(b).max()
        a, b = a[keep], b[keep]
    if a.size == 0:
        return 0

    def ordered(x):  # float bits → integers in the same order as the floats
        i = x.view(np.int32).astype(np.int64)
        return np.where(i < 0, -(2**31) - i, i)

    return int(np.abs(ordered(a) - ordered(b)).max())


def _errors(got: list[np.ndarray], want: list[np.ndarray]) -> dict[str, float]:
    g = np.concatenate([np.ravel(x).astype(np.float64) for x in got])
    w = np.concatenate([np.ravel(x).astype(np.float64) for x in want])
    diff = np.abs(g - w)
    scale = float(np.abs(w).max()) if w.size else 0.0
    return {
        "max_abs": float(diff.max()) if diff.size else 0.0,
        # relative to the largest value: element-wise ratios explode near zero
        "max_rel": float(diff.max() / scale) if scale > 0 else float(diff.max(initial=0.0)),
    }


class _Timer:
    """GPU timing: device events on hardware, host clocks in the simulator."""

    def __init__(self, cuda: Any, simulated: bool) -> None:
        self.cuda = cuda
        self.simulated = simulated
        self._delay = None if simulated else _delay_kernel(cuda)

    def device_ms(self, fn: Callable[[], Any]) -> float:
        """Milliseconds of device time between two events around ``fn``.

        A short sleeping kernel runs first, so that the host has queued the
        events and ``fn``'s launches before the GPU reaches them: the events
        then time the GPU's work alone, not the host's launch overhead.
        """
        if self.simulated:
            start = time.perf_counter()
            fn()
            return 1e3 * (time.perf_counter() - start)
        e0, e1 = self.cuda.event(), self.cuda.event()
        self._delay[1, 1](DELAY_US)
        e0.record()
        fn()
        e1.record()
        e1.synchronize()
        return float(self.cuda.event_elapsed_time(e0, e1))

    def wall_ms(self, fn: Callable[[], Any]) -> float:
        """Milliseconds of host time for ``fn`` and a synchronisation."""
        start = time.perf_counter()
        fn()
        self.cuda.synchronize()
        return 1e3 * (time.perf_counter() - start)


DELAY_US = 2000  # longer than the host needs to queue any one launcher's kernels


def _delay_kernel(cuda: Any) -> Any:
    """A one-thread kernel that sleeps about ``us`` microseconds (a timing aid, no arithmetic)."""

    def delay(us):
        for _ in range(us):
            cuda.nanosleep(1000)

    return cuda.jit(delay)


def _median(fn: Callable[[], float], repeats: int) -> float:
    return statistics.median(fn() for _ in range(repeats))


def _cpu_ms(call: Callable[[], Any], repeats: int) -> float:
    call()  # warm-up (and compile)

    def once():
        start = time.perf_counter()
        call()
        return 1e3 * (time.perf_counter() - start)

    return _median(once, repeats)


def _kernel_row(case: KernelCase, shape, cpu, gpu, cuda, timer, repeats, rng) -> dict:
    n, i, o = shape
    o = max(o, case.min_outputs)
    # The same draws in both dtypes: the float64 call is the float32 calls' reference.
    seed = int(rng.integers(2**63))
    a32 = case.make(np.random.default_rng(seed), n, i, o, np.float32)
    a64 = case.make(np.random.default_rng(seed), n, i, o, np.float64)
    f = getattr(cpu, case.kernel)
    g = getattr(gpu, case.kernel)

    ref_args = [a.copy() if isinstance(a, np.ndarray) else a for a in a64]
    ref_value = f(*ref_args)  # float64 reference on the CPU
    ref = [np.array([ref_value])] if case.returns else [ref_args[k] for k in case.outputs]
    cpu_args = [a.copy() if isinstance(a, np.ndarray) else a for a in a32]
    cpu_value = f(*cpu_args)
    cpu_out = [np.array([cpu_value])] if case.returns else [cpu_args[k] for k in case.outputs]
    bench_args = [a.copy() if isinstance(a, np.ndarray) else a for a in a32]
    cpu_ms = _cpu_ms(lambda: f(*bench_args), repeats)

    host = [a.copy() if isinstance(a, np.ndarray) else a for a in a32]
    if case.fill is not None:  # poison: an unwritten element shows up (as NaN)
        for k in case.outputs:
            host[k][...] = case.fill
    dev: list = []

    def copy_in():
        dev.clear()
        dev.extend(cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in host)

    start = time.perf_counter()  # first call: JIT compile (or cache load) + everything else
    copy_in()
    first_value = g(*dev)
    cuda.synchronize()
    first_ms = 1e3 * (time.perf_counter() - start)
    gpu_out = (
        [np.array([first_value])] if case.returns else [dev[k].copy_to_host() for k in case.outputs]
    )

    def copy_out():
        for k in case.outputs:
            dev[k].copy_to_host()

    copy_ms = _median(lambda: timer.device_ms(copy_in) + timer.device_ms(copy_out), repeats)
    kernel_ms = _median(lambda: timer.device_ms(lambda: g(*dev)), repeats)
    wall_ms = _median(lambda: timer.wall_ms(lambda: g(*dev)), repeats)
    launch_ms = 0.0 if timer.simulated else max(0.0, wall_ms - kernel_ms)
    compile_ms = max(0.0, first_ms - copy_ms - wall_ms)
    resident = kernel_ms + launch_ms
    errors = _errors(gpu_out, cpu_out)
    g_flat = np.concatenate([np.ravel(x) for x in gpu_out])
    c_flat = np.concatenate([np.ravel(x) for x in cpu_out])
    finite = all(np.isfinite(x).all() for x in gpu_out)
    return {
        "kernel": case.label,
        "shape": case.shape(n, i, o),
        "dtype": "float32",
        **errors,
        "max_ulp": ulp_distance(g_flat, c_flat, significant=1e-3),
        "max_ulp_all": ulp_distance(g_flat, c_flat),
        "gpu_vs_f64": _errors(gpu_out, ref)["max_rel"],
        "cpu_vs_f64": _errors(cpu_out, ref)["max_rel"],
        "all_written": bool(finite),
        "cpu_ms": cpu_ms,
        "gpu_compile_ms": compile_ms,
        "gpu_copy_ms": copy_ms,
        "gpu_kernel_ms": kernel_ms,
        "gpu_launch_sync_ms": launch_ms,
        "speedup": cpu_ms / resident if resident > 0 else math.nan,
        "speedup_with_copies": cpu_ms / (resident + copy_ms) if resident + copy_ms > 0 else math.nan,
    }  # fmt: skip


def _layer_step(k, X, W, b, Z, A, dZ, dW, db, dX):
    """One dense layer's forward and backward pass (what a training step does per layer)."""
    k.dense_forward(X, W, b, Z, A, 3)
    k.dense_backward(X, W, dZ, dW, db, dX, True)


def _sweep_point(cpu, gpu, cuda, timer, n, i, o, repeats, rng) -> dict:
    host = [
        rng.normal(size=(n, i)), rng.normal(size=(i, o)) / math.sqrt(i), rng.normal(size=o),
        np.zeros((n, o)), np.zeros((n, o)), rng.normal(size=(n, o)) / n,
        np.zeros((i, o)), np.zeros(o), np.zeros((n, i)),
    ]  # fmt: skip
    host = _cast(host, np.float32)
    cpu_ms = _cpu_ms(lambda: _layer_step(cpu, *host), repeats)
    dev = [cuda.to_device(a) for a in host]
    _layer_step(gpu, *dev)  # warm-up
    cuda.synchronize()
    gpu_ms = _median(lambda: timer.wall_ms(lambda: _layer_step(gpu, *dev)), repeats)
    flops = 2 * n * i * o * 3  # Z = X·W, dW = Xᵀ·dZ, dX = dZ·Wᵀ
    return {
        "batch": n, "inputs": i, "outputs": o, "cpu_ms": cpu_ms, "gpu_ms": gpu_ms,
        "speedup": cpu_ms / gpu_ms if gpu_ms > 0 else math.nan,
        "cpu_gflops": flops / cpu_ms / 1e6, "gpu_gflops": flops / gpu_ms / 1e6,
    }  # fmt: skip


def _crossover(points: list[dict], key: str) -> int | None:
    """The smallest size from which the GPU is faster at every larger size in the sweep."""
    winner = None
    for p in reversed(points):
        if p["speedup"] > 1:
            winner = p[key]
        else:
            break
    return winner


def _training(simulated: bool, epochs: int, seed: int) -> dict:
    from nnlite import Dense, Sequential, datasets

    if simulated:
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(40, 6)).astype(np.float32)
        y = (X @ rng.normal(size=(6, 3))).argmax(1)
        name, hidden, batch, lr = "40 random samples, 3 classes", [8], 10, 0.3
    else:
        ds = datasets.load_digits()
        X, y = ds.X, ds.y
        name, hidden, batch, lr = "digits (1,797 8×8 images)", [64], 32, 0.1
    curves: dict[str, Any] = {}
    for device in ("cpu", "cuda"):
        model = Sequential(
            [Dense(u, "relu") for u in hidden] + [Dense(int(y.max()) + 1, "softmax")],
            device=device, n_inputs=X.shape[1], seed=seed,
        )  # fmt: skip
        warm = model.warm_up()
        history = model.fit(X, y, epochs=epochs, batch_size=batch, lr=lr, seed=seed)
        curves[device] = {
            "loss": list(history.loss),
            "accuracy": list(history.accuracy),
            "seconds": history.seconds,
            "warm_up_seconds": warm,
        }
    diff = [abs(a - b) for a, b in zip(curves["cpu"]["loss"], curves["cuda"]["loss"])]
    return {
        "data": name,
        "network": "-".join(str(v) for v in [X.shape[1], *hidden, int(y.max()) + 1]),
        "epochs": epochs,
        "batch_size": batch,
        "lr": lr,
        "cpu": curves["cpu"],
        "cuda": curves["cuda"],
        "max_loss_difference": max(diff) if diff else math.nan,
    }


def run(
    *,
    quick: bool | None = None,
    repeats: int | None = None,
    epochs: int = 3,
    seed: int = 0,
    sweep: bool = True,
    train: bool = True,
    kernels: bool = True,
) -> dict[str, Any]:
    """Compare the CPU and CUDA kernels; returns a JSON-ready dict.

    Parameters
    ----------
    quick : tiny shapes and one repeat (the default in the simulator).
    repeats : timed repeats per measurement, after a warm-up (median reported).
    epochs : epochs of the side-by-side training run.
    sweep, train, kernels : which parts to run.

    Raises ``DeviceError`` when neither a GPU nor the simulator is available.
    """
    gpu = get_backend("cuda")  # DeviceError, one line, when there is no GPU
    from numba import cuda

    from nnlite.kernels import cpu

    status, detail = probe_gpu()
    simulated = status == "simulator"
    quick = simulated if quick is None else quick
    repeats = repeats or (1 if quick else 20)
    timer = _Timer(cuda, simulated)
    rng = np.random.default_rng(seed)
    # In the simulator (one OS thread per CUDA thread) small blocks finish far sooner.
    previous = gpu.set_launch_config(gpu.TESTING if simulated else gpu.PRODUCTION)
    try:
        return _run(gpu, cpu, cuda, timer, rng, status, detail, simulated, quick, repeats,
                    epochs, seed, sweep, train, kernels)  # fmt: skip
    finally:
        gpu.set_launch_config(previous)


def _run(gpu, cpu, cuda, timer, rng, status, detail, simulated, quick, repeats, epochs, seed,
         sweep, train, kernels) -> dict[str, Any]:  # fmt: skip
    result: dict[str, Any] = {
        "device": {
            "gpu": detail,
            "simulator": simulated,
            "cpu": platform.processor() or platform.machine(),
        },
        "versions": _versions(),
        "repeats": repeats,
        "launch_config": "testing (small blocks)" if simulated else "production",
        "notes": [SIMULATOR_NOTE] if simulated else [],
    }
    if kernels:
        rows = []
        for case in cases():
            for shape in SIM_SHAPES if quick else GPU_SHAPES:
                rows.append(_kernel_row(case, shape, cpu, gpu, cuda, timer, repeats, rng))
        result["kernels"] = rows
    if sweep:
        if quick:
            batches, widths, layer, width_batch = [1, 4, 16], [4, 8, 16], (9, 5), 4
        else:
            batches = [1, 8, 32, 128, 512, 2048, 8192]
            widths = [16, 64, 256, 1024, 2048]
            layer, width_batch = (784, 256), 64
        by_batch = [
            _sweep_point(cpu, gpu, cuda, timer, b, layer[0], layer[1], repeats, rng)
            for b in batches
        ]
        by_width = [
            _sweep_point(cpu, gpu, cuda, timer, width_batch, w, w, repeats, rng) for w in widths
        ]
        result["sweep"] = {
            "what": "one dense layer's forward and backward pass (ReLU), data on the device",
            "by_batch": by_batch,
            "layer": f"{layer[0]}→{layer[1]}",
            "crossover_batch": _crossover(by_batch, "batch"),
            "by_width": by_width,
            "width_batch": width_batch,
            "crossover_width": _crossover(by_width, "inputs"),
        }
    if train:
        result["training"] = _training(simulated, epochs, seed)
    return result


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("numba", "numba-cuda", "numpy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "—"
    return out
