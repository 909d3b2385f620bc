"""CPU training benchmark: nnlite's ``fit`` against NumPy, PyTorch and scikit-learn.

Every system trains the same network — 784-128-10, ReLU hidden, softmax +
cross-entropy, plain SGD α = 0.1, float32, shuffled mini-batches — on MNIST
(random data of the same shape when the IDX files are absent) for a fixed
number of samples, at batch sizes 1, 32, 128 and 1024. Issue 18's variants
run in the same interleaved passes: ``nnlite+adam`` and ``torch+adam`` (Adam,
α = 10⁻³, PyTorch's ``torch.optim.Adam`` eager with its defaults) and
``nnlite+dropout`` (plain SGD with Dropout(0.2) after the hidden layer), so an
Adam step's and dropout's cost are ratios of passes seconds apart. Each system runs in
its own process whose thread count is set in its environment before numpy or
torch is imported. A worker loads the data, runs one untimed warm-up pass
(JIT, allocator, caches), then waits; the parent interleaves the timed
passes of all systems (rotating their order) so that a noisy neighbour on a
shared machine hurts every system alike, and reports the median.

Also measured in the same run: the best float32 GEMM rate (NumPy and
PyTorch, same threads), from which the GEMM-bound floor follows (6 FLOPs per
weight per sample: forward, dW and dX), and, around each nnlite pass, the
rate of the step's two products at that moment (the "paired" floor); nnlite's
cold and warm JIT start-up; optionally (``--memory``) the peak resident
memory of a full MNIST ``nnlite train`` and (``--startup``) the time of
``nnlite --help`` and of a warm-cache ``nnlite train`` until its first batch.

The parent imports only the standard library; it prints progress on stderr
and a markdown report (for ``bench/RESULTS.md``) on stdout.

Usage: ``python bench/bench_train.py [--quick] [--threads 2] [--repeats 5]
[--samples N] [--json out.json] [--memory] [--startup] [--no-train] [--baseline DIR]
[--systems nnlite,nnlite+adam,torch+adam,nnlite+dropout] [--torch-python PATH]``;
``--torch-python`` runs the PyTorch workers under another interpreter (a
virtualenv with torch, numpy and threadpoolctl; also ``NNLITE_BENCH_TORCH_PYTHON``);
``--baseline DIR`` also trains another checkout of nnlite (a git worktree of an older
commit, say) in the same interleaved passes, so a change's cost is a ratio from one run.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "mnist"
SYSTEMS = ("nnlite", "numpy", "torch", "sklearn", "nnlite+adam", "torch+adam", "nnlite+dropout")
VARIANTS = {"nnlite+adam", "torch+adam", "nnlite+dropout"}  # issue 18's rows
N_IN, N_HIDDEN, N_OUT = 784, 128, 10
N_WEIGHTS = N_IN * N_HIDDEN + N_HIDDEN * N_OUT  # 101,632
FLOPS_PER_SAMPLE = 6 * N_WEIGHTS  # 2 forward + 2 for dW + 2 for dX, per weight
LR = 0.1
ADAM_LR = 1e-3  # Adam's usual α (PyTorch's and Keras's default)
DROPOUT = 0.2  # the Keras MNIST tutorial's rate, after the hidden layer
LOSS_ROWS = 10_000  # rows of the training set on which each system's final loss is checked
# Goals of issue 3: nnlite ÷ system at each batch size, and the GEMM-floor fraction.
GOALS = {("torch", 1): 8.0, ("torch", 32): 3.0, ("torch", 128): 1.5, ("torch", 1024): 1.1}
GOALS[("numpy", 32)] = 2.5
FLOOR_GOAL = (1024, 0.85)
# Goals of issue 18, as (a, b, batch, kind, goal) on the ratio rate(a) ÷ rate(b):
# "ahead": a is at least goal× faster; "cost": b's step takes at most goal× a's.
GOALS_18 = [
    ("nnlite", "nnlite+adam", 128, "cost", 1.15),
    ("nnlite", "nnlite+adam", 1024, "cost", 1.15),
    ("nnlite+adam", "torch+adam", 1, "ahead", 8.0),
    ("nnlite+adam", "torch+adam", 32, "ahead", 2.5),
    ("nnlite+adam", "torch+adam", 128, "ahead", 1.5),
    ("nnlite+adam", "torch+adam", 1024, "ahead", 1.2),
    ("nnlite", "nnlite+dropout", 128, "cost", 1.10),
]
MARK = "@@ "  # prefix of the one-line JSON messages a worker writes on stdout


def log(msg: str) -> None:
    """Progress for the person running the benchmark (stderr; stdout is the report)."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ============================================================================ workers
# Everything below up to the parent section runs inside a child process, whose
# environment already holds the thread count: numpy/torch are imported here only.


def _send(obj: dict) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _limit_threads(threads: int) -> object:
    """threadpoolctl limit on every BLAS/OpenMP pool loaded so far (keep the result alive)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads)


def _pools() -> list[dict]:
    """The BLAS and OpenMP libraries loaded in this process, as threadpoolctl sees them."""
    from threadpoolctl import threadpool_info

    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    return [
        {k: p.get(k) for k in keys} | {"file": Path(p["filepath"]).name} for p in threadpool_info()
    ]


def _load_data(tmp: Path, samples: int):
    import numpy as np

    X = np.load(tmp / "X.npy")[:samples]
    y = np.load(tmp / "y.npy")[:samples]
    return X, y


def worker_prepare(args) -> None:
    """Load MNIST (or make random data of its shape) once, as .npy files for the workers."""
    import numpy as np

    sys.path.insert(0, str(REPO))
    rng = np.random.default_rng(0)
    n = args.samples
    try:
        from nnlite.datasets import load_mnist

        ds = load_mnist(args.data_dir)
        X, y = ds.X[:n], ds.y[:n]
        note = f"MNIST from {args.data_dir} (first {len(y):,} training images)"
        real = True
    except Exception as exc:  # missing files or a broken nnlite: fall back, and say so
        X = rng.random((n, N_IN), dtype=np.float32)
        y = rng.integers(0, N_OUT, n).astype(np.int64)
        note = f"RANDOM data of MNIST's shape ({n:,}×{N_IN}): MNIST not loaded ({exc})"
        real = False
    np.save(args.tmp / "X.npy", np.ascontiguousarray(X, np.float32))
    np.save(args.tmp / "y.npy", y.astype(np.int64))
    _send({"note": note, "real": real, "rows": int(len(y))})


# (label, m, k, n, transpose A): C(m,n) = A(m,k)·B(k,n); the first two are the step's products
GEMM_SHAPES = [
    ("X·W 1024×784·784×128", 1024, 784, 128, False),
    ("Xᵀ·dZ 784×1024·1024×128", 784, 1024, 128, True),
    ("1024×1024·1024×1024", 1024, 1024, 1024, False),
]


def _gemm_rates(shapes, min_s: float, reps: int, torch=None) -> dict[str, float]:
    """GFLOP/s per shape: best of ``reps`` timed reps of at least ``min_s`` each (NumPy or torch)."""
    import numpy as np

    rng = np.random.default_rng(0)
    rates = {}
    for label, m, k, n, trans in shapes:
        A = rng.random((k, m), dtype=np.float32).T if trans else rng.random((m, k), np.float32)
        B = rng.random((k, n), dtype=np.float32)
        C = np.empty((m, n), np.float32)
        if torch is not None:
            A, B, C = torch.from_numpy(A), torch.from_numpy(B), torch.from_numpy(C)

            def mm(A=A, B=B, C=C):
                torch.mm(A, B, out=C)
        else:

            def mm(A=A, B=B, C=C):
                np.matmul(A, B, out=C)

        mm()
        iters = 1
        while True:  # calibrate: one timed rep lasts at least min_s
            t = time.perf_counter()
            for _ in range(iters):
                mm()
            if time.perf_counter() - t >= min_s:
                break
            iters *= 2
        best = min(_timed(mm, iters) for _ in range(reps))
        rates[label] = 2.0 * m * k * n / best / 1e9
    return rates


def worker_gemm(args) -> None:
    """Best float32 GEMM GFLOP/s of one library at the shapes of this network."""
    torch = None
    if args.system.startswith("torch"):
        try:
            import torch
        except ImportError as exc:
            _send({"skip": f"torch not importable ({exc})"})
            return
        torch.set_num_threads(args.threads)
    keep = _limit_threads(args.threads)  # noqa: F841
    min_s, reps = (0.02, 3) if args.quick else (0.1, 7)
    rates = _gemm_rates(GEMM_SHAPES, min_s, reps, torch)
    _send({"rates": rates, "pools": _pools()})


def _timed(fn, iters: int) -> float:
    t = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - t) / iters


def worker_jit(args) -> None:
    """nnlite's ``warm_up`` (compile or load from cache) in this process's NUMBA_CACHE_DIR."""
    t0 = time.perf_counter()
    sys.path.insert(0, str(REPO))
    import numpy as np

    from nnlite import Dense, Sequential

    model = Sequential([Dense(N_HIDDEN, "relu"), Dense(N_OUT, "softmax")], n_inputs=N_IN)
    t_import = time.perf_counter() - t0
    warm_up = model.warm_up()
    # A tiny fit right after warm_up shows whether fit still compiles something.
    rng = np.random.default_rng(0)
    X = rng.random((64, N_IN), dtype=np.float32)
    y = rng.integers(0, N_OUT, 64)
    t = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=32, lr=LR)
    first_fit = time.perf_counter() - t
    t = time.perf_counter()
    model.fit(X, y, epochs=1, batch_size=32, lr=LR)
    second_fit = time.perf_counter() - t
    _send(
        {
            "import_s": t_import,
            "warm_up_s": warm_up,
            "first_fit_s": first_fit,
            "second_fit_s": second_fit,
        }
    )


class _Trainer:
    """One system's training loop: ``run(seed)`` is one timed pass over the samples."""

    def loss(self, X, y) -> float:
        raise NotImplementedError


BASELINE = "nnlite@base"  # another checkout of nnlite (--baseline DIR), run side by side


def _nnlite_trainer(X, y, batch: int, system: str = "nnlite"):
    """nnlite's fit; ``system`` "nnlite+adam": Adam; "nnlite+dropout": Dropout after the hidden layer."""
    # the checkout this worker measures: this one, or --baseline's (NNLITE_BENCH_REPO)
    sys.path.insert(0, os.environ.get("NNLITE_BENCH_REPO", str(REPO)))
    import numba

    from nnlite import Dense, Sequential
    from nnlite.models import Callback

    fit_args = {"lr": LR}
    stack = [Dense(N_HIDDEN, "relu"), Dense(N_OUT, "softmax")]
    if system == "nnlite+adam":
        from nnlite.optim import Adam

        fit_args = {"optimizer": Adam(lr=ADAM_LR)}
    elif system == "nnlite+dropout":
        from nnlite.layers import Dropout

        stack.insert(1, Dropout(DROPOUT))

    class Progress(Callback):
        """Stands in for the CLI's progress bar: trivial work per update."""

        def on_train_begin(self, info):
            self.updates = 0

        def on_batch_end(self, epoch, batches_done, logs):
            self.updates += 1
            self.text = f"epoch {epoch + 1} batch {batches_done} loss {logs['loss']:.4f}"

        def on_epoch_end(self, epoch, logs):
            self.text = f"epoch {epoch + 1} loss {logs['loss']:.4f}"

    class T(_Trainer):
        def __init__(self):
            self.model = Sequential(stack)
            self.model.build(N_IN, seed=0)
            self.model.warm_up()  # the SGD loop; the warm-up pass compiles the others
            self.progress = Progress()

        def run(self, seed, n):
            self.model.fit(
                X[:n], y[:n], epochs=1, batch_size=batch, shuffle=True, seed=seed,
                callback=self.progress, **fit_args,
            )  # fmt: skip
            return {"inner_s": self.model.history.seconds, "updates": self.progress.updates}

        def loss(self, X, y):
            return self.model.evaluate(X, y)[0]

    return T(), {"numba": numba.__version__}


def _numpy_trainer(X, y, batch: int):
    import numpy as np

    f32 = np.float32
    Y1 = np.zeros((len(y), N_OUT), f32)
    Y1[np.arange(len(y)), y] = 1

    class T(_Trainer):
        def __init__(self):
            rng = np.random.default_rng(0)
            self.W1 = rng.normal(0, np.sqrt(2 / N_IN), (N_IN, N_HIDDEN)).astype(f32)
            self.b1 = np.zeros(N_HIDDEN, f32)
            lim = np.sqrt(6 / (N_HIDDEN + N_OUT))
            self.W2 = rng.uniform(-lim, lim, (N_HIDDEN, N_OUT)).astype(f32)
            self.b2 = np.zeros(N_OUT, f32)

        def forward(self, Xb):
            Z1 = Xb @ self.W1 + self.b1
            A1 = np.maximum(Z1, f32(0))
            Z2 = A1 @ self.W2 + self.b2
            E = np.exp(Z2 - Z2.max(axis=1, keepdims=True))  # row-max shift: no overflow
            P = E / E.sum(axis=1, keepdims=True)
            return Z1, A1, P

        def run(self, seed, n):
            lr = f32(LR)
            order = np.random.default_rng(seed).permutation(n)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                Xb, Yb = X[idx], Y1[idx]
                Z1, A1, P = self.forward(Xb)
                dZ2 = (P - Yb) * f32(1 / len(idx))  # dZ = (P − Y)/n
                dW2 = A1.T @ dZ2
                db2 = dZ2.sum(axis=0)
                dA1 = dZ2 @ self.W2.T
                dZ1 = dA1 * (Z1 > 0)
                dW1 = Xb.T @ dZ1
                db1 = dZ1.sum(axis=0)
                self.W2 -= lr * dW2
                self.b2 -= lr * db2
                self.W1 -= lr * dW1
                self.b1 -= lr * db1
            assert self.W1.dtype == f32
            return {}

        def loss(self, X, y):
            P = self.forward(X)[2]
            return float(-np.log(np.maximum(P[np.arange(len(y)), y], 1e-7)).mean())

    return T(), {"numpy": np.__version__}


def _torch_trainer(X, y, batch: int, threads: int, adam: bool = False):
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(threads)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(N_IN, N_HIDDEN)
            self.fc2 = nn.Linear(N_HIDDEN, N_OUT)

        def forward(self, x):
            return self.fc2(F.relu(self.fc1(x)))

    class T(_Trainer):
        def __init__(self):
            torch.manual_seed(0)
            self.net = Net()
            if adam:  # eager, PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8; the for-loop path)
                self.opt = torch.optim.Adam(self.net.parameters(), lr=ADAM_LR)
            else:
                self.opt = torch.optim.SGD(self.net.parameters(), lr=LR)

        def run(self, seed, n):
            gen = torch.Generator().manual_seed(seed)
            order = torch.randperm(n, generator=gen)
            for start in range(0, n, batch):
                idx = order[start : start + batch]
                self.opt.zero_grad()
                loss = F.cross_entropy(self.net(Xt[idx]), yt[idx])
                loss.backward()
                self.opt.step()
            return {}

        def loss(self, X, y):
            with torch.no_grad():
                return float(F.cross_entropy(self.net(torch.from_numpy(X)), torch.from_numpy(y)))

    info = {
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "torch_mkl": torch.backends.mkl.is_available(),
        "torch_blas": torch.__config__.show().split("BLAS_INFO=")[-1].split(",")[0],
    }
    return T(), info


def _sklearn_trainer(X, y, batch: int):
    import numpy as np
    import sklearn
    from sklearn.metrics import log_loss
    from sklearn.neural_network import MLPClassifier

    class T(_Trainer):
        def __init__(self):
            self.clf = MLPClassifier(
                hidden_layer_sizes=(N_HIDDEN,), activation="relu", solver="sgd",
                learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False, alpha=0.0,
                batch_size=batch, shuffle=True, random_state=0,
            )  # fmt: skip
            self.first = True

        def run(self, seed, n):
            # partial_fit makes one pass over what it is given, batching (and shuffling) inside.
            if self.first:
                self.clf.partial_fit(X[:n], y[:n], classes=np.arange(N_OUT))
                self.first = False
            else:
                self.clf.partial_fit(X[:n], y[:n])
            return {"dtype": str(self.clf.coefs_[0].dtype)}

        def loss(self, X, y):
            return float(log_loss(y, self.clf.predict_proba(X), labels=np.arange(N_OUT)))

    return T(), {"sklearn": sklearn.__version__}


def worker_train(args) -> None:
    """Set up one system, warm it up, then run a timed pass per ``run`` line on stdin."""
    import numpy as np

    X, y = _load_data(args.tmp, args.samples)
    limits = [_limit_threads(args.threads)]  # kept alive while the worker runs
    try:
        if args.system in ("nnlite", BASELINE, "nnlite+adam", "nnlite+dropout"):
            trainer, info = _nnlite_trainer(X, y, args.batch, args.system)
        elif args.system == "numpy":
            trainer, info = _numpy_trainer(X, y, args.batch)
        elif args.system in ("torch", "torch+adam"):
            try:
                adam = args.system == "torch+adam"
                trainer, info = _torch_trainer(X, y, args.batch, args.threads, adam)
            except ImportError as exc:
                _send({"skip": f"torch not importable ({exc})"})
                return
        else:
            try:
                trainer, info = _sklearn_trainer(X, y, args.batch)
            except ImportError as exc:
                _send({"skip": f"scikit-learn not importable ({exc})"})
                return
        limits.append(_limit_threads(args.threads))  # again: torch/scipy load pools too
        # Warm-up pass, not timed: compiles, allocates, fills caches. Kept short (a few
        # batches) so a very slow system does not spend minutes here.
        warm_n = min(len(y), max(4096, 4 * args.batch))
        t = time.perf_counter()
        trainer.run(1000, warm_n)
        warm = time.perf_counter() - t
    except Exception as exc:
        _send({"error": f"{type(exc).__name__}: {exc}"})
        return
    info["pools"] = _pools()
    _send({"ready": True, "warm_up_samples": warm_n, "warm_up_pass_s": warm, "info": info})
    for line in sys.stdin:
        cmd = line.split()
        if not cmd or cmd[0] == "quit":
            break
        seed, n = int(cmd[1]), int(cmd[2])
        try:
            # nnlite: the step's two products timed with NumPy (the same OpenBLAS) just
            # before and after the pass, for the floor at the machine's rate of the moment
            paired = args.system == "nnlite"
            before = _gemm_rates(GEMM_SHAPES[:2], 0.03, 3) if paired else {}
            t, cpu = time.perf_counter(), time.process_time()
            extra = trainer.run(seed, n)
            seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
            if paired:
                after = _gemm_rates(GEMM_SHAPES[:2], 0.03, 3)
                extra["gemm_now"] = max((before[k] + after[k]) / 2 for k in before)
        except Exception as exc:
            _send({"error": f"{type(exc).__name__}: {exc}"})
            return
        _send({"seconds": seconds, "cpu_s": cpu, "samples": n, **extra})
    rows = min(LOSS_ROWS, len(y))
    _send({"loss": trainer.loss(np.ascontiguousarray(X[:rows]), y[:rows])})


def worker_memory(args) -> None:
    """Peak RSS of a full MNIST ``nnlite train`` (this process has no other children)."""
    cmd = [sys.executable, "cli.py", "train", "--dataset", "mnist", "--data-dir"]
    cmd += [str(args.data_dir), "-q", "-e", "1", "-b", "32"]
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
    _send(
        {
            "command": "python " + " ".join(cmd[1:]),
            "rc": proc.returncode,
            "peak_rss_mb": peak_kib * 1024 / 1e6,
            "seconds": seconds,
            "tail": tail,
        }
    )


WORKERS = {
    "prepare": worker_prepare,
    "gemm": worker_gemm,
    "jit": worker_jit,
    "train": worker_train,
    "memory": worker_memory,
}


# ============================================================================ parent


def child_env(threads: int, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[name] = str(threads)
    env["NUMBA_NUM_THREADS"] = str(threads)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Worker:
    """A child process running this file in ``--worker`` mode; talks in MARK lines."""

    def __init__(self, args, mode: str, system: str = "", batch: int = 0, samples: int = 0, **env):
        python = args.torch_python if system.startswith("torch") else sys.executable
        cmd = [str(python), __file__, "--worker", mode, "--system", system]
        cmd += ["--batch", str(batch), "--samples", str(samples), "--threads", str(args.threads)]
        cmd += ["--tmp", str(args.tmp), "--data-dir", str(args.data_dir)]
        cmd += ["--quick"] if args.quick else []
        self.stderr = tempfile.TemporaryFile(mode="w+")
        self.proc = subprocess.Popen(
            cmd, cwd=REPO, env=child_env(args.threads, **env), text=True,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
        )  # fmt: skip

    def receive(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK) :])
        self.proc.wait()
        self.stderr.seek(0)
        err = [s for s in self.stderr.read().strip().splitlines() if s.strip()]
        return {"error": f"worker exited with {self.proc.returncode}: {(err or ['?'])[-1]}"}

    def send(self, line: str) -> None:
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stderr.close()


def once(args, mode: str, system: str = "", samples: int = 0, **env) -> dict:
    w = Worker(args, mode, system=system, samples=samples, **env)
    try:
        return w.receive()
    finally:
        w.close()


def cpu_seconds() -> tuple[float, float]:
    """(CPU-seconds busy on the whole machine, CPU-seconds used by this process tree)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n")[0].split()[1:9]]
    busy = (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # minus idle, iowait
    mine = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        mine += usage.ru_utime + usage.ru_stime
    return busy, mine


def machine_facts() -> dict:
    facts = {"cpu": "?", "flags": []}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name" and facts["cpu"] == "?":
                facts["cpu"] = value.strip()
            if key.strip() == "flags" and not facts["flags"]:
                have = set(value.split())
                facts["flags"] = [f for f in ("avx2", "fma", "avx512f") if f in have]
        mem = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
        facts["memory_gb"] = round(int(mem) / 1e6, 1)
    except OSError:
        pass
    facts["cpu_count"] = os.cpu_count()
    facts["usable_cpus"] = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    )
    facts["python"] = platform.python_version()
    facts["platform"] = platform.platform()
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True)
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True)
        facts["commit"] = rev.stdout.decode().strip() + (" (dirty)" if dirty.stdout.strip() else "")
    except OSError:
        facts["commit"] = "?"
    return facts


def bench_gemm(args, when: str) -> dict:
    out = {}
    for lib in ("numpy", "torch"):
        log(f"GEMM rate with {lib} ({when} the training runs)")
        out[lib] = once(args, "gemm", system=lib)
    return out


def best_gemm(*runs: dict) -> dict:
    """Per library and shape, the best rate of several GEMM runs (the load varies)."""
    out = {}
    for run in runs:
        for lib, r in run.items():
            if "rates" not in r:
                out.setdefault(lib, r)
                continue
            rates = out.setdefault(lib, {}).setdefault("rates", {})
            for label, rate in r["rates"].items():
                rates[label] = max(rate, rates.get(label, 0.0))
    return out


def bench_jit(args) -> dict:
    """warm_up() in a fresh NUMBA_CACHE_DIR (cold) and again with that cache (warm)."""
    cache = Path(tempfile.mkdtemp(prefix="nnlite-bench-numba-"))
    try:
        log("JIT start-up, cold cache")
        cold = once(args, "jit", NUMBA_CACHE_DIR=str(cache))
        log("JIT start-up, warm cache")
        warm = once(args, "jit", NUMBA_CACHE_DIR=str(cache))
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return {"cold": cold, "warm": warm}


def samples_for(args, batch: int) -> int:
    if args.samples:
        return args.samples
    if args.quick:
        return 2_048 if batch == 1 else 8_192
    return 20_000 if batch == 1 else 60_000


def bench_batch(args, batch: int) -> dict:
    """All systems at one batch size: start each, warm up, then interleave timed passes."""
    n = samples_for(args, batch)
    results, live = {}, {}
    for system in args.systems:
        log(f"batch {batch}: starting {system} ({n:,} samples per pass, warm-up pass)")
        env = {}
        if system == BASELINE:
            env["NNLITE_BENCH_REPO"] = str(args.baseline)
            env["PYTHONPATH"] = str(args.baseline)
        w = Worker(args, "train", system=system, batch=batch, samples=n, **env)
        msg = w.receive()
        results[system] = {"samples": n, "requested": n, "seconds": [], **msg}
        if msg.get("ready"):
            live[system] = w
            # A baseline too slow for n samples within the pass budget runs fewer (whole
            # batches); nnlite (each variant) always runs all n, its per-fit overhead included.
            fit = int(msg["warm_up_samples"] / msg["warm_up_pass_s"] * args.pass_budget)
            if not system.startswith("nnlite"):
                results[system]["samples"] = min(n, max(batch, fit // batch * batch))
        else:
            log(f"  {system}: {msg.get('skip') or msg.get('error')}")
            w.close()
    for rep in range(args.repeats):
        order = list(live)
        order = order[rep % len(order) :] + order[: rep % len(order)] if order else []
        for system in order:
            time.sleep(args.settle)  # let the previous system's spinning threads go idle
            live[system].send(f"run {rep} {results[system]['samples']}")
            msg = live[system].receive()
            if "seconds" not in msg:
                results[system]["error"] = msg.get("error", "?")
                log(f"  {system}: {results[system]['error']}")
                live.pop(system).close()
                continue
            results[system]["seconds"].append(msg["seconds"])
            results[system].setdefault("rep_rates", {})[rep] = msg["samples"] / msg["seconds"]
            if msg.get("cpu_s"):  # the worker's CPU time: what time-slicing does not inflate
                results[system].setdefault("rep_cpu_rates", {})[rep] = msg["samples"] / msg["cpu_s"]
            if "gemm_now" in msg:  # this pass's rate ÷ the floor at the GEMM rate around it
                floor_now = msg["gemm_now"] * 1e9 / FLOPS_PER_SAMPLE
                results[system].setdefault("paired_floor", []).append(
                    msg["samples"] / msg["seconds"] / floor_now
                )
            results[system]["last"] = msg
            rate = msg["samples"] / msg["seconds"]
            log(f"  rep {rep + 1}/{args.repeats} {system:8s} {rate:>12,.0f} samples/s")
    for system, w in live.items():
        w.send("quit")
        results[system]["loss"] = w.receive().get("loss")
        w.close()
    for r in results.values():
        if r["seconds"]:
            rates = [r["samples"] / s for s in r["seconds"]]
            r["median"], r["min"], r["max"] = statistics.median(rates), min(rates), max(rates)
    return results


def bench_startup(args) -> dict:
    """``nnlite --help`` wall time, and a warm-cache ``nnlite train`` until its first batch."""
    py = sys.executable
    log("startup: nnlite --help")
    helps = []
    for _ in range(3 if args.quick else 10):
        t = time.perf_counter()
        subprocess.run([py, "cli.py", "--help"], cwd=REPO, stdout=subprocess.DEVNULL, check=True)
        helps.append(time.perf_counter() - t)
    probe = (
        "import sys, cli; sys.argv=['nnlite','--help']\ntry: cli.main()\nexcept SystemExit: pass\n"
    )
    probe += "print('NUMBA', 'numba' in sys.modules, 'numpy' in sys.modules)"
    out = subprocess.run([py, "-c", probe], cwd=REPO, capture_output=True, text=True).stdout
    flags = out.split("NUMBA")[-1].split()
    result = {
        "help_s": statistics.median(helps),
        "help_all_s": helps,
        "help_imports_numba": flags[:1] == ["True"],
        "help_imports_numpy": flags[1:2] == ["True"],
    }
    cases = {"digits": ["train", "-q", "-e", "1"]}
    if args.real_data:
        cases["mnist"] = ["train", "-d", "mnist", "--data-dir", str(args.data_dir), "-q", "-e", "1"]
    for name, cli_args in cases.items():
        log(f"startup: warm-cache nnlite {' '.join(cli_args)} until its first batch")
        runs = [first_batch(cli_args) for _ in range(1 + (3 if args.quick else 5))][1:]
        result[name] = {
            "command": "nnlite " + " ".join(cli_args),
            "train_begin_s": statistics.median(r[0] for r in runs),
            "first_update_s": statistics.median(r[1] for r in runs),
        }
    return result


# The CLI run with its progress callback wrapped: it reports (on stderr) the moment
# fit calls on_train_begin — the first batch starts right after — and the moment of
# the first on_batch_end (the first compiled chunk of batches is done).
_FIRST_BATCH = """
import sys, time
sys.argv = ['nnlite'] + sys.argv[1:]
import nnlite.ui.progress as ui
def mark(name, old):
    def hook(self, *a):
        old(self, *a)
        sys.stderr.write(f'@@{name} {time.time()}\\n'); sys.stderr.flush()
    return hook
ui.TrainingProgress.on_train_begin = mark('begin', ui.TrainingProgress.on_train_begin)
ui.TrainingProgress.on_batch_end = mark('batch', ui.TrainingProgress.on_batch_end)
import cli
cli.main()
"""


def first_batch(cli_args: list[str]) -> tuple[float, float]:
    """Seconds from launching the CLI to (train begins, first progress update)."""
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", _FIRST_BATCH, *cli_args], cwd=REPO, text=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    marks = {}
    for line in proc.stderr:
        if line.startswith("@@"):
            name, stamp = line[2:].split()
            marks.setdefault(name, float(stamp) - t0)
            if "batch" in marks:
                break
    proc.kill()  # the rest of the training run is not part of this measurement
    proc.wait()
    proc.stderr.close()
    return marks.get("begin", float("nan")), marks.get("batch", float("nan"))


# ---------------------------------------------------------------------------- report


def _rate(r: dict | None) -> str:
    if not (r and "median" in r):
        return "—"
    return f"{r['median']:,.0f}" + ("*" if r["samples"] < r["requested"] else "")


def _ratio(a: dict | None, b: dict | None) -> str:
    if not (a and b and "median" in a and "median" in b):
        return "—"
    return f"{a['median'] / b['median']:.2f}×"


def report(res: dict) -> str:
    a, m = res["args"], res["machine"]
    lines = [f"### CPU training benchmark, {res['date']}", ""]
    lines += [
        f"- machine: {m['cpu']} ({', '.join(m['flags'])}), {m['cpu_count']} CPUs "
        f"({m['usable_cpus']} usable), {m.get('memory_gb', '?')} GB; {m['platform']}",
        f"- load average before: {res['load_before']}, after: {res['load_after']}; "
        f"other processes used {res['others_cpus']:.2f} of the {res['cpus']} CPUs on average "
        f"during the {res['wall_s'] / 60:.1f}-minute run",
        f"- commit {m['commit']}; Python {m['python']}; {res.get('versions', '')}",
        f"- threads: {a['threads']} (env + threadpoolctl + torch.set_num_threads); "
        f"command: `{res['command']}`",
    ]
    if a.get("torch_python") and a["torch_python"] != sys.executable:
        lines.append(f"- PyTorch workers ran under `{a['torch_python']}`")
    for pools_of, pools in res.get("pools", {}).items():
        text = "; ".join(
            f"{p['internal_api']} {p['version']} ({p['file']}, {p['num_threads']} threads"
            + (f", {p['architecture']}" if p.get("architecture") else "")
            + ")"
            for p in pools
        )
        lines.append(f"- thread pools in the {pools_of} worker: {text or 'none'}")
    if "data" in res:
        lines.append(f"- data: {res['data']['note']}")
    if res["others_cpus"] > 0.25 or res["load_before"][0] > 0.5 * res["cpus"]:
        lines.append(
            "- **warning: the machine was busy with other work.** Multi-threaded BLAS and "
            "OpenMP wait for a thread that is not scheduled: small-batch numbers at more than "
            "one thread can be many times too slow. Rerun on a quiet machine, or compare with "
            "`--threads 1`."
        )
    if "batches" in res:
        lines += _train_tables(res)
    if "jit" in res:
        cold, warm = res["jit"]["cold"], res["jit"]["warm"]
        if "warm_up_s" in cold and "warm_up_s" in warm:
            lines += [
                "",
                f"JIT start-up (`model.warm_up()`, 784-128-10 float32): cold cache "
                f"**{cold['warm_up_s']:.2f} s**, warm cache **{warm['warm_up_s']:.3f} s** "
                f"(import + build {cold['import_s']:.2f} s / {warm['import_s']:.2f} s; "
                f"a 64-sample fit right after warm_up: {cold['first_fit_s'] * 1e3:.0f} ms / "
                f"{warm['first_fit_s'] * 1e3:.0f} ms, the same fit again "
                f"{warm['second_fit_s'] * 1e3:.1f} ms).",
            ]
        else:
            lines += ["", f"JIT start-up: {cold.get('error')} / {warm.get('error')}"]
    if "memory" in res:
        mem = res["memory"]
        lines += [
            "",
            f"Memory: `{mem.get('command')}` peak RSS **{mem.get('peak_rss_mb', 0):.0f} MB** "
            f"(getrusage RUSAGE_CHILDREN ru_maxrss), {mem.get('seconds', 0):.1f} s, "
            f"exit {mem.get('rc')}.",
        ]
        if mem.get("skip") or mem.get("rc"):
            lines.append(f"  {mem.get('skip') or ' / '.join(mem.get('tail', []))}")
    if "startup" in res:
        s = res["startup"]
        numba = "imports numba" if s["help_imports_numba"] else "does not import numba"
        lines += ["", f"Start-up: `python cli.py --help` median **{s['help_s']:.3f} s** ({numba})."]
        for name in ("digits", "mnist"):
            if name in s:
                lines.append(
                    f"Warm-cache `{s[name]['command']}`: first batch starts at "
                    f"**{s[name]['train_begin_s']:.2f} s** after launch, first progress update "
                    f"(first chunk of batches done) at {s[name]['first_update_s']:.2f} s "
                    "(median; wall clock from Popen to the callback hooks)."
                )
    return "\n".join(lines) + "\n"


def _train_tables(res: dict) -> list[str]:
    batches, gemm = res["batches"], res.get("gemm", {})
    best = max(
        (rate for lib in gemm.values() for rate in lib.get("rates", {}).values()), default=0.0
    )
    floor = best * 1e9 / FLOPS_PER_SAMPLE if best else 0.0
    systems = [s for s in res["args"]["systems"] if s not in VARIANTS]
    others = [s for s in systems if s != "nnlite"]
    head = ["batch", *[f"{s} samples/s" for s in systems], *[f"nnlite ÷ {s}" for s in others]]
    head += ["nnlite / GEMM floor", "paired†"]
    lines = ["", "| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for batch, r in batches.items():
        nn = r.get("nnlite")
        row = [str(batch), *[_rate(r.get(s)) for s in systems]]
        row += [_ratio(nn, r.get(s)) for s in others]
        row.append(f"{nn['median'] / floor:.0%}" if floor and nn and "median" in nn else "—")
        row.append(_paired(nn))
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"Median of {res['args']['repeats']} timed passes after one warm-up pass; ratio > 1 means "
        f"nnlite is faster. GEMM floor = best float32 GEMM {best:.1f} GFLOP/s ÷ "
        f"(6 × {N_WEIGHTS:,} weights = {FLOPS_PER_SAMPLE:,} FLOP per sample) = {floor:,.0f} "
        "samples/s. † The same fraction pass by pass, the floor taken instead from the "
        "rate of the step's two products (NumPy, the same OpenBLAS) timed just before and "
        "just after that pass: how close nnlite runs to the machine's GEMM rate of the moment "
        "on a shared machine whose speed drifts (median over passes; not the goal's "
        "definition). * = ran fewer samples per pass than asked (a pass is capped at "
        f"{res['args']['pass_budget']:g} s; see samples/pass below).",
        "",
        "| system | batch | samples/pass | median | min | max | loss on 10k train rows after |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for batch, r in batches.items():
        for s in res["args"]["systems"]:
            x = r.get(s, {})
            if "median" in x:
                loss = f"{x['loss']:.4f}" if isinstance(x.get("loss"), float) else "—"
                lines.append(
                    f"| {s} | {batch} | {x['samples']:,} | {x['median']:,.0f} | {x['min']:,.0f} "
                    f"| {x['max']:,.0f} | {loss} |"
                )
            else:
                lines.append(f"| {s} | {batch} | — | {x.get('skip') or x.get('error', '—')} |||")
    lines += [
        "",
        "| GEMM (float32, same threads; best of before and after) | " + " | ".join(gemm) + " |",
    ]
    lines.append("|---|" + "---:|" * len(gemm))
    labels = next((list(g["rates"]) for g in gemm.values() if "rates" in g), [])
    for label in labels:
        cells = [f"{g['rates'][label]:.1f}" if "rates" in g else "—" for g in gemm.values()]
        lines.append(f"| {label} GFLOP/s | " + " | ".join(cells) + " |")
    for lib, g in gemm.items():
        if "rates" not in g:
            lines.append(f"| {lib}: {g.get('skip') or g.get('error')} |")
    lines += ["", "Goals of issue 3:"]
    for (system, batch), goal in GOALS.items():
        r = batches.get(batch, {})
        if system in systems and "nnlite" in r:
            got = _ratio(r.get("nnlite"), r.get(system))
            ok = got != "—" and float(got[:-1]) >= goal
            lines.append(
                f"- nnlite ÷ {system} at batch {batch}: {got} (goal ≥ {goal}×) {_ok(ok)}"
                f"{_paired_ratio(r.get('nnlite'), r.get(system))}"
            )
    fb, fgoal = FLOOR_GOAL
    nn = batches.get(fb, {}).get("nnlite")
    if floor and nn and "median" in nn:
        frac = nn["median"] / floor
        lines.append(
            f"- GEMM floor at batch {fb}: {frac:.0%} (goal ≥ {fgoal:.0%}) {_ok(frac >= fgoal)}"
            f"; paired† {_paired(nn)}"
        )
    if VARIANTS & set(res["args"]["systems"]):
        lines += _variant_table(res)
    return lines


def _variant_table(res: dict) -> list[str]:
    """Issue 18's rows: Adam against SGD and against PyTorch's Adam, dropout against none."""
    head = [
        "batch", "nnlite SGD samples/s", "nnlite Adam samples/s", "torch Adam samples/s",
        "nnlite Adam ÷ torch Adam", "Adam step ÷ SGD step", "nnlite SGD+dropout samples/s",
        "dropout step ÷ plain step",
    ]  # fmt: skip
    lines = ["", "Adam and dropout (issue 18; α = 10⁻³ for Adam, dropout 0.2 after the hidden "
             "layer with SGD α = 0.1; same interleaved passes):", ""]  # fmt: skip
    lines += ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for batch, r in res["batches"].items():
        nn, adam, tadam, drop = (r.get(s) for s in ("nnlite", "nnlite+adam", "torch+adam",
                                                     "nnlite+dropout"))  # fmt: skip
        row = [str(batch), _rate(nn), _rate(adam), _rate(tadam), _ratio(adam, tadam)]
        row += [_ratio(nn, adam), _rate(drop), _ratio(nn, drop)]
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        "A step's cost is the ratio of rates (nnlite SGD ÷ the variant): 1.10× means a 10 % "
        "longer step. Goals of issue 18:",
    ]
    systems = res["args"]["systems"]
    for a, b, batch, kind, goal in GOALS_18:
        r = res["batches"].get(batch, {})
        if a not in systems or b not in systems or batch not in res["batches"]:
            continue
        got = _ratio(r.get(a), r.get(b))
        if got == "—":
            ok = False
        else:
            ok = float(got[:-1]) >= goal if kind == "ahead" else float(got[:-1]) <= goal
        what = f"{a} ÷ {b}" if kind == "ahead" else f"{b} step ÷ {a} step"
        bound = "≥" if kind == "ahead" else "≤"
        lines.append(
            f"- {what} at batch {batch}: {got} (goal {bound} {goal}×) {_ok(ok)}"
            f"{_paired_ratio(r.get(a), r.get(b))}{_paired_ratio(r.get(a), r.get(b), 'cpu')}"
        )
    return lines


def _paired(r: dict | None) -> str:
    """Median of the per-pass fractions of the floor at the GEMM rate around each pass."""
    fracs = (r or {}).get("paired_floor")
    return f"{statistics.median(fracs):.0%}" if fracs else "—"


def _paired_ratio(a: dict | None, b: dict | None, clock: str = "wall") -> str:
    """nnlite's rate ÷ the other system's, pass by pass within each repeat: median [min–max].

    A repeat runs every system once, back to back, so the two passes of a pair
    are seconds apart: on a machine whose speed drifts by the minute this ratio
    moves less than the ratio of the two medians (which is the goal's definition).
    ``clock`` "cpu": the same from each worker's CPU time (its threads' time on a
    CPU), which other processes' time slices do not inflate; with more than one
    thread it also counts BLAS threads spinning while they wait.
    """
    key = "rep_cpu_rates" if clock == "cpu" else "rep_rates"
    ra, rb = (a or {}).get(key, {}), (b or {}).get(key, {})
    ratios = [ra[k] / rb[k] for k in ra if k in rb]
    if not ratios:
        return ""
    label = "in CPU time" if clock == "cpu" else "pass by pass"
    return (
        f"; {label} {statistics.median(ratios):.2f}× "
        f"[{min(ratios):.2f}–{max(ratios):.2f}×, {len(ratios)} pairs]"
    )


def _ok(ok: bool) -> str:
    return "✅" if ok else "❌"


def _positive_int(text: str) -> int:
    """argparse type: an integer ≥ 1 (a mistake is a one-line usage error, not a traceback)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _batch_sizes(text: str) -> list[int]:
    """argparse type: batch sizes separated by commas, e.g. ``1,32,128,1024``."""
    try:
        return [_positive_int(b) for b in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(
            f"expected positive integers separated by commas, got {text!r}"
        ) from None


def _systems(text: str) -> list[str]:
    """argparse type: some of SYSTEMS separated by commas."""
    names = [s for s in text.split(",") if s]
    unknown = [s for s in names if s not in SYSTEMS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"expected some of {','.join(SYSTEMS)} separated by commas, got {text!r}"
        )
    return names


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="few samples and repeats: a smoke run")
    p.add_argument("--threads", type=_positive_int, default=2)
    p.add_argument(
        "--repeats", type=_positive_int, default=None, help="timed passes (default 5, quick 3)"
    )
    p.add_argument("--samples", type=int, default=0, help="samples per pass, every batch size")
    p.add_argument("--batches", type=_batch_sizes, default="1,32,128,1024")
    p.add_argument("--systems", type=_systems, default=",".join(SYSTEMS))
    p.add_argument("--settle", type=float, default=None, help="idle seconds between passes")
    p.add_argument(
        "--pass-budget", type=float, default=None,
        help="seconds per timed pass (default 10, quick 3): slower systems run fewer samples",
    )  # fmt: skip
    p.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    p.add_argument(
        "--baseline", type=Path, default=None,
        help=f"another checkout of nnlite (e.g. a git worktree of an older commit), trained "
        f"side by side as the system {BASELINE}",
    )  # fmt: skip
    p.add_argument(
        "--torch-python", type=Path, default=os.environ.get("NNLITE_BENCH_TORCH_PYTHON"),
        help="interpreter for the PyTorch workers (default: NNLITE_BENCH_TORCH_PYTHON, else this one)",
    )  # fmt: skip
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    p.add_argument("--memory", action="store_true", help="peak RSS of a full MNIST train")
    p.add_argument("--startup", action="store_true", help="--help and time-to-first-batch")
    p.add_argument("--no-train", action="store_true", help="skip the throughput benchmark")
    # worker mode (internal)
    p.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    p.add_argument("--system", default="", help=argparse.SUPPRESS)
    p.add_argument("--batch", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--tmp", type=Path, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    args.data_dir = args.data_dir.resolve()
    args.torch_python = Path(args.torch_python or sys.executable)
    if not os.access(args.torch_python, os.X_OK) or args.torch_python.is_dir():
        p.error(f"--torch-python {args.torch_python} is not an executable file")
    if args.worker:
        WORKERS[args.worker](args)
        return

    args.repeats = args.repeats or (3 if args.quick else 5)
    args.settle = args.settle if args.settle is not None else (0.2 if args.quick else 0.5)
    args.pass_budget = args.pass_budget or (3.0 if args.quick else 10.0)
    if args.baseline is not None:
        args.baseline = args.baseline.resolve()
        if not (args.baseline / "nnlite" / "models.py").is_file():
            p.error(f"--baseline {args.baseline} is not a checkout of nnlite")
        where = args.systems.index("nnlite") + 1 if "nnlite" in args.systems else 0
        args.systems = [*args.systems[:where], BASELINE, *args.systems[where:]]
    batches = args.batches
    res = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "python bench/bench_train.py " + " ".join(sys.argv[1:]),
        "machine": machine_facts(),
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "args": {
            "threads": args.threads,
            "repeats": args.repeats,
            "quick": args.quick,
            "systems": args.systems,
            "batches": batches,
            "pass_budget": args.pass_budget,
            "torch_python": str(args.torch_python),
        },
    }
    start_wall, (start_busy, start_mine) = time.perf_counter(), cpu_seconds()
    with tempfile.TemporaryDirectory(prefix="nnlite-bench-") as tmp:
        args.tmp = Path(tmp)
        need = max([samples_for(args, b) for b in batches] + [60_000 if args.memory else 0])
        log("preparing data")
        res["data"] = once(args, "prepare", samples=need)
        args.real_data = bool(res["data"].get("real"))
        log(res["data"].get("note", res["data"].get("error", "?")))
        if not args.no_train:
            res["gemm_before"] = bench_gemm(args, "before")
            res["jit"] = bench_jit(args)
            res["batches"] = {b: bench_batch(args, b) for b in batches}
            res["gemm_after"] = bench_gemm(args, "after")
            res["gemm"] = best_gemm(res["gemm_before"], res["gemm_after"])
        if args.memory:
            log("memory: full MNIST nnlite train")
            if args.real_data:
                res["memory"] = once(args, "memory")
            else:
                res["memory"] = {"skip": "MNIST not found: the CLI run needs the real files"}
        if args.startup:
            res["startup"] = bench_startup(args)
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    busy, mine = cpu_seconds()
    wall = time.perf_counter() - start_wall
    res["wall_s"] = wall
    # CPU time that other processes took from this machine while the benchmark ran.
    res["others_cpus"] = max(0.0, (busy - start_busy) - (mine - start_mine)) / wall
    _collect_versions(res)
    text = report(res)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1, default=str) + "\n")
        log(f"wrote {args.json}")


def _collect_versions(res: dict) -> None:
    """Library versions and thread pools, as each worker reported them."""
    info, pools = {}, {}
    for batch in res.get("batches", {}).values():
        for system, r in batch.items():
            for key, value in r.get("info", {}).items():
                if key == "pools":
                    pools.setdefault(system, value)
                else:
                    info.setdefault(key, value)
    keys = ("numpy", "numba", "torch", "sklearn", "torch_blas", "torch_mkl")
    res["versions"] = ", ".join(f"{k} {info[k]}" for k in keys if k in info)
    res["pools"] = pools


if __name__ == "__main__":
    main()
