"""Golden outputs: what nnlite computes and prints, bit for bit, before and after a redesign.

    python tests/golden/golden.py record [FILE]   # write the digests (default: golden.json here)
    python tests/golden/golden.py check [FILE]    # recompute and list every difference

Recorded: θ and the loss history after ``fit`` over a grid (seeds, hidden activations,
output/loss pairs, batch sizes, plain SGD / momentum / Nesterov, float32 / float64), a
stopped-and-resumed fit, ``predict``; the JSON trace of the default, ``--example mazur``,
``--unfused``, batch and perceptron traces; and the text of the main CLI commands with
fixed seeds (timings masked). Each is stored as a SHA-256 digest, so the file stays small.

Bits depend on the BLAS and on its thread count: the script pins one thread for OpenBLAS
and Numba before NumPy loads, and the file records the machine it was made on. A check on
another CPU kind may differ in the last bits for that reason alone. Not a pytest module:
it is run by hand around a change that must not change behaviour (issue 17).
"""

from __future__ import annotations

import os
import sys

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ.pop("NUMBA_ENABLE_CUDASIM", None)
os.environ["NO_COLOR"] = "1"
os.environ["COLUMNS"] = "120"

import hashlib  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from nnlite import Dense, Sequential, datasets, trace  # noqa: E402
from nnlite.errors import DivergenceError  # noqa: E402
from nnlite.models import Callback  # noqa: E402

HERE = Path(__file__).resolve().parent

SEEDS = (0, 3)
HIDDEN = ("identity", "sigmoid", "tanh", "relu")
HEADS = (("softmax", "cce"), ("sigmoid", "bce"), ("identity", "mse"), ("softmax", "mse"),
         ("sigmoid", "mse"))  # fmt: skip
BATCHES = (1, 7, 32, None)  # None: the whole set (full-batch gradient descent)
OPTIMIZERS = ((0.0, False), (0.9, False), (0.9, True))  # (momentum, nesterov)
DTYPES = (np.float32, np.float64)


def digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(f"{part.dtype.str}{part.shape}".encode())
            h.update(np.ascontiguousarray(part).tobytes())
        else:
            h.update(repr(part).encode())
    return h.hexdigest()[:24]


def _data(head: tuple[str, str]):
    """Inputs and targets for an output head: 3 classes, 2 classes or a regression target."""
    out, loss = head
    if out == "softmax":
        ds = datasets.make_blobs(45, centers=3, n_features=4, seed=1)
        return ds.X, ds.y, 3
    if out == "sigmoid":
        ds = datasets.make_moons(40, seed=2)
        return ds.X, ds.y, 1
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    return X, X @ np.array([[0.5], [-1.0], [2.0]], np.float32), 1


def fit_grid() -> dict[str, str]:
    out = {}
    for seed, hidden, head, batch, (mu, nesterov), dtype in itertools.product(
        SEEDS, HIDDEN, HEADS, BATCHES, OPTIMIZERS, DTYPES
    ):
        X, y, units = _data(head)
        model = Sequential(
            [Dense(5, hidden), Dense(4, hidden), Dense(units, head[0])], loss=head[1],
            dtype=dtype, n_inputs=X.shape[1], seed=seed,
        )  # fmt: skip
        key = f"fit/{seed}/{hidden}/{head[0]}-{head[1]}/{batch}/{mu}{'n' if nesterov else ''}/{np.dtype(dtype).name}"
        try:
            history = model.fit(
                X, y, epochs=3, batch_size=batch or len(X), lr=0.05, seed=seed, momentum=mu,
                nesterov=nesterov, validation_data=(X[:9], y[:9]),
            )  # fmt: skip
        except DivergenceError as exc:  # an outcome like any other: where and how it diverged
            out[key] = digest(str(exc), model.theta)
            continue
        out[key] = digest(model.theta, history.loss, history.accuracy, history.val_loss,
                          model.predict(X))  # fmt: skip
    return out


class _StopAt(Callback):
    def __init__(self, batches: int) -> None:
        self.batches = batches

    def on_batch_end(self, epoch, done, logs):
        if epoch == 1 and done >= self.batches:
            self.stop_training = True


def resumed() -> dict[str, str]:
    ds = datasets.load_digits()
    out = {}
    for mu in (0.0, 0.9):
        model = Sequential([Dense(16, "relu"), Dense(10, "softmax")], n_inputs=64, seed=5)
        model.fit(ds.X, ds.y, epochs=4, batch_size=8, lr=0.05, momentum=mu, seed=5,
                  callback=_StopAt(3))  # fmt: skip
        model.fit(ds.X, ds.y, epochs=3, batch_size=8, lr=0.05, momentum=mu, seed=5, resume=True)
        out[f"resume/{mu}"] = digest(model.theta, model.history.loss)
    return out


TRACES = {
    "default": {},
    "epochs2": {"epochs": 2},
    "mazur": {"example": "mazur"},
    "mazur-f32-steps3": {"example": "mazur", "dtype": "float32", "steps": 3},
    "unfused": {"output": "softmax", "unfused": True, "steps": 2},
    "relu-3-2-batch2": {"layers": [3, 2], "activation": "relu", "batch_size": 2, "steps": 3},
    "blobs-softmax": {"dataset": "blobs", "layers": [4], "activation": "tanh", "steps": 2},
    "perceptron-and": {"model": "perceptron"},
    "perceptron-xor": {"model": "perceptron", "gate": "xor", "epochs": 5},
}


def traces() -> dict[str, str]:
    return {
        f"trace/{name}": digest([event.to_line() for event in trace.run(**options)])
        for name, options in TRACES.items()
    }


CLI = {
    "train": ["train", "-e", "5"],
    "train-xor": ["train", "-d", "xor", "--layers", "4", "-a", "tanh", "-e", "300", "-b", "4",
                  "--lr", "0.5"],
    "train-momentum": ["train", "-e", "3", "--momentum", "0.9", "--nesterov", "-q"],
    "perceptron-xor": ["perceptron", "--gate", "xor"],
    "gradcheck": ["gradcheck", "--layers", "5,3", "-a", "relu"],
    "trace": ["trace"],
    "trace-mazur": ["trace", "--example", "mazur", "--precision", "9"],
    "datasets": ["datasets"],
}  # fmt: skip
_TIMING = re.compile(r"(kernel start-up \(JIT or cache\)|training time|samples / second)\s*│[^│]*│")


def _run_cli(args: list[str], cwd: Path) -> str:
    done = subprocess.run([sys.executable, str(ROOT / "cli.py"), *args], cwd=cwd,
                          capture_output=True, text=True, timeout=600, env=os.environ.copy())  # fmt: skip
    text = f"exit {done.returncode}\n{done.stdout}\n--- stderr\n{done.stderr}"
    text = _TIMING.sub(r"\1 │ (masked) │", text)
    # A timing's width sets its table column's width: compare the text with padding folded.
    return re.sub("─+", "─", re.sub(" +", " ", text))


def cli_text() -> dict[str, str]:
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, args in CLI.items():
            out[f"cli/{name}"] = digest(_run_cli(args, Path(tmp)))
        model = Path(tmp) / "m.npz"
        _run_cli(["train", "-e", "4", "-q", "--save", str(model)], Path(tmp))
        for name, args in (("evaluate", ["evaluate", str(model)]),
                           ("predict", ["predict", str(model), "--show", "3"])):  # fmt: skip
            out[f"cli/{name}"] = digest(_run_cli(args, Path(tmp)).replace(str(model), "MODEL"))
    return out


def record_all() -> dict[str, str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        results = {**fit_grid(), **resumed(), **traces()}
    results.update(cli_text())
    return results


def _meta() -> dict[str, str]:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()  # fmt: skip
    return {"commit": commit, "machine": platform.machine(), "processor": platform.processor(),
            "numpy": np.__version__, "threads": "1",
            "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "")}  # fmt: skip


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("record", "check"):
        print(__doc__)
        return 2
    path = Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "golden.json"
    results = record_all()
    if sys.argv[1] == "record":
        path.write_text(json.dumps({"meta": _meta(), "digests": results}, indent=1) + "\n")
        print(f"recorded {len(results)} digests in {path}")
        return 0
    stored = json.loads(path.read_text())
    expected = stored["digests"]
    differ = sorted(k for k in expected if results.get(k) != expected[k])
    new = sorted(set(results) - set(expected))
    for key in differ:
        print(f"DIFFERS  {key}")
    print(f"{len(expected) - len(differ)} of {len(expected)} digests identical to "
          f"{stored['meta']['commit']}'s; {len(differ)} differ; {len(new)} new (not checked)")  # fmt: skip
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
