"""Peak memory of nnlite's readers on legitimate and hostile files (issue 16's memory goal).

Each case runs in its own process: the process imports nnlite and numpy, notes its peak
resident memory (VmHWM), reads one file, and reports how much the peak grew. The goal for
every case: the growth stays within 4× what the file legitimately holds (the result nnlite
builds from it, or nothing for a file that is refused) plus 300 MB.

    python bench/bench_readers.py [--csv-mb 100] [--tree DIR] [--json out.json]

``--tree DIR`` measures the nnlite of another checkout (a ``git worktree`` of an older
commit) with the same files, for a before/after table.

Prints a markdown table for bench/RESULTS.md. Uses ../shared/data/mnist when it is there
(the real MNIST load); the other files are made in a temporary folder and deleted.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT.parent / "shared" / "data" / "mnist"
MB = 1 << 20
GOAL_FACTOR, GOAL_SLACK = 4, 300 * MB

WORKER = """
import json, sys
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
import numpy as np
import nnlite
from nnlite import datasets, io
from nnlite.errors import NnliteError
before = hwm()
kind, path = sys.argv[1], sys.argv[2]
outcome, result = "loaded", 0
try:
    if kind == "mnist":
        d = datasets.load_mnist(path)
        result = d.X.nbytes + d.y.nbytes + d.X_test.nbytes + d.y_test.nbytes
    elif kind == "idx":
        d = datasets.load_mnist(path)
        result = d.X.nbytes + d.y.nbytes + d.X_test.nbytes + d.y_test.nbytes
    elif kind == "csv":
        d = datasets.load_csv(path)
        result = d.X.nbytes + d.y.nbytes
    elif kind == "npz":
        d = datasets.load_npz(path)
        result = d.X.nbytes + d.y.nbytes
    elif kind == "model":
        m = io.load(path)
        result = m.theta.nbytes
except NnliteError as exc:
    outcome = "refused: " + str(exc).split(": ", 1)[-1][:60]
print(json.dumps({"growth": hwm() - before, "result": result, "outcome": outcome}))
"""


def _idx(shape: tuple[int, ...], fill: int = 0) -> bytes:
    magic = (0x08 << 8) | len(shape)
    head = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in shape)
    return head + bytes([fill]) * int(np.prod(shape))


def _write_gz(path: Path, data: bytes) -> None:
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(data)


def make_cases(folder: Path, csv_mb: int) -> list[tuple[str, str, Path, str]]:
    """(name, reader kind, path, what the file is) for every case."""
    cases = []
    if (MNIST / "train-images-idx3-ubyte.gz").exists():
        cases.append(("real MNIST", "mnist", MNIST, "the four published files (65 MB unpacked)"))
    bomb = folder / "bomb"
    bomb.mkdir()
    # Images: a header claiming 1,369,000 images of 28x28 (1.07 GB, just under nnlite's 1 GiB
    # cap), all delivered as zeros (1 MB of gzip); labels: MNIST's real count, 60,000.
    n = (1 << 30) // 784 - 1
    _write_gz(bomb / "train-images-idx3-ubyte.gz", _idx((n, 28, 28)))
    _write_gz(bomb / "train-labels-idx1-ubyte.gz", _idx((60000,)))
    _write_gz(bomb / "t10k-images-idx3-ubyte.gz", _idx((10, 28, 28)))
    _write_gz(bomb / "t10k-labels-idx1-ubyte.gz", _idx((10,)))
    cases.append(("IDX gzip bomb, labels disagree", "idx", bomb, "1 MB gz claiming 1 GiB of images"))
    rng = np.random.default_rng(0)
    csv = folder / "big.csv"
    rows = max(1, csv_mb * MB // (785 * 2))  # one digit and a comma per field
    with open(csv, "w") as f:
        for start in range(0, rows, 4096):
            block = rng.integers(0, 10, size=(min(4096, rows - start), 785))
            f.write("\n".join(",".join(map(str, r)) for r in block) + "\n")
    cases.append((f"CSV, {csv.stat().st_size / MB:.0f} MB, 785 columns", "csv", csv, "digits"))
    npz = folder / "zeros.npz"
    with zipfile.ZipFile(npz, "w", zipfile.ZIP_DEFLATED) as z:
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.zeros((200_000, 256), np.float32))
        z.writestr("X.npy", buffer.getvalue())
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, np.arange(200_000) % 2)
        z.writestr("y.npy", buffer.getvalue())
    cases.append(("npz of zeros, valid", "npz", npz, f"{npz.stat().st_size / MB:.1f} MB deflated"))
    model = folder / "claims.npz"
    record = {"format": "nnlite-model", "version": 1, "history": {}, "extra": {},
              "architecture": {"n_inputs": 10_000_000, "layers": [{"units": 100,
              "activation": "relu"}, {"units": 10, "activation": "softmax"}],
              "loss": "cce", "dtype": "float32"}}  # fmt: skip
    meta = np.frombuffer(json.dumps(record).encode(), np.uint8)
    np.savez(model, meta=meta, theta=np.zeros(10, np.float32))
    cases.append(("model file claiming 10 M inputs", "model", model, "20 KB"))
    link = folder / "zero.csv"
    link.symlink_to("/dev/zero")
    cases.append(("CSV that is a link to /dev/zero", "csv", link, "a device"))
    return cases


def measure(kind: str, path: Path, tree: Path = ROOT, limit_gb: float = 12) -> dict:
    """One case in a fresh process, its address space capped (an unbounded reader fails fast)."""
    import resource

    env = dict(os.environ, PYTHONPATH=str(tree))
    env.pop("NUMBA_ENABLE_CUDASIM", None)
    cap = int(limit_gb * (1 << 30))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    out = subprocess.run([sys.executable, "-c", WORKER, kind, str(path)], env=env, cwd=tree,
                         capture_output=True, text=True, timeout=900, preexec_fn=limit)  # fmt: skip
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        return {"growth": -1, "result": 0, "outcome": f"traceback: {last[:70]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--csv-mb", type=int, default=100, help="size of the CSV case (MB)")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--limit-gb", type=float, default=12, help="address-space cap per case")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, kind, path, what in make_cases(Path(tmp), args.csv_mb):
            print(f"[bench] {name}", file=sys.stderr, flush=True)
            r = measure(kind, path, args.tree, args.limit_gb)
            goal = GOAL_FACTOR * r["result"] + GOAL_SLACK
            rows.append({"case": name, "file": what, **r, "goal": goal, "met": 0 <= r["growth"] <= goal})
    print("| case | file | outcome | result (MB) | peak RSS growth (MB) | growth ÷ result | goal ≤ 4× + 300 MB |")
    print("|---|---|---|---:|---:|---:|---|")
    for r in rows:
        ratio = f"{r['growth'] / r['result']:.2f}×" if r["result"] else "—"
        print(f"| {r['case']} | {r['file']} | {r['outcome']} | {r['result'] / MB:.0f} | "
              f"{r['growth'] / MB:.0f} | {ratio} | {'✅' if r['met'] else '❌'} |")  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
