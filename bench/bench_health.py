"""What recording layer health (``nnlite.health``, issue 19 part 3) costs a ``fit``.

Times the same fits with the health figures measured as ``fit`` measures them and with the
measurement replaced by a no-op (``Probe.measure`` returning NaN; the θ copy at each epoch's
start stays in both), alternating the two, and reports the best of each and the overhead:

1. XOR (4 rows; 2-64-2 ReLU/softmax, batch 32, 100 epochs): a tiny data set, where an
   epoch is itself ~50 µs of fixed cost — the health figures are measured every 16th epoch
   there (``health.MAX_EVERY``) and on the last;
2. the digits as ``nnlite train`` trains them by default (1,437 rows after the 20 % split;
   64-64-10, batch 32, 100 epochs): measured every 6th epoch;
3. ``--mnist DIR``: MNIST 784-128-10 (60,000 rows, batch 32, 2 epochs): every epoch.

4. the live view (``--stats``): the digits fit above inside ``TrainingProgress`` drawing to a
   forced terminal (a StringIO), with and without the ``HealthView`` below the bars.

One BLAS thread (set before NumPy loads), so the shared 2-core machine's other work
disturbs the figures less. Usage: ``python bench/bench_health.py [--mnist DIR] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from nnlite import Dense, Sequential, datasets, health  # noqa: E402


def _fit_seconds(X, y, layers, epochs: int, repeats: int) -> tuple[float, float, int]:
    """(best seconds with health, best without, epochs measured) over alternating repeats."""
    real = health.Probe.measure

    def skip(self, model):
        return np.full((len(model.layers), len(health.FIGURES)), np.nan)

    best = {True: np.inf, False: np.inf}
    measured = 0
    for _ in range(repeats):
        for on in (True, False):
            health.Probe.measure = real if on else skip
            model = Sequential(layers())
            start = time.perf_counter()
            history = model.fit(X, y, epochs=epochs, batch_size=32)
            best[on] = min(best[on], time.perf_counter() - start)
            if on:
                measured = int((~np.isnan(health.table(history)).all(axis=(1, 2))).sum())
    health.Probe.measure = real
    return best[True], best[False], measured


def _view_seconds(X, y, epochs: int, repeats: int) -> tuple[float, float]:
    """(best seconds of a fit under live bars with the health view, best without it)."""
    import io

    from rich.console import Console

    from nnlite.ui.health import HealthView
    from nnlite.ui.progress import TrainingProgress

    best = {True: np.inf, False: np.inf}
    for _ in range(repeats):
        for on in (True, False):
            views = [HealthView()] if on else []
            out = Console(file=io.StringIO(), force_terminal=True, width=100)
            model = Sequential([Dense(64, "relu"), Dense(10, "softmax")])
            start = time.perf_counter()
            with TrainingProgress(out=out, views=views) as bars:
                model.fit(X, y, epochs=epochs, batch_size=32, callback=bars, callbacks=views)
            best[on] = min(best[on], time.perf_counter() - start)
    return best[True], best[False]


def _idx(path: Path) -> np.ndarray:
    raw = gzip.open(path).read()
    return np.frombuffer(raw, np.uint8, offset=16 if raw[3] == 3 else 8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, help="folder with MNIST's IDX .gz files")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    cases = []
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    cases.append(("xor 2-64-2, 100 epochs", X, np.array([0, 1, 1, 0]),
                  lambda: [Dense(64, "relu"), Dense(2, "softmax")], 100, args.repeats))  # fmt: skip
    ds = datasets.load_digits()
    n = int(len(ds.X) * 0.8)
    cases.append(("digits 64-64-10, 100 epochs", ds.X[:n], ds.y[:n],
                  lambda: [Dense(64, "relu"), Dense(10, "softmax")], 100, args.repeats))  # fmt: skip
    if args.mnist:
        Xm = _idx(args.mnist / "train-images-idx3-ubyte.gz").reshape(-1, 784) / np.float32(255)
        ym = _idx(args.mnist / "train-labels-idx1-ubyte.gz").astype(np.int64)
        cases.append(("MNIST 784-128-10, 2 epochs", Xm, ym,
                      lambda: [Dense(128, "relu"), Dense(10, "softmax")], 2, 2))  # fmt: skip
    print(f"{'fit':30} {'with health':>12} {'without':>10} {'overhead':>9}  measured")
    for name, X, y, layers, epochs, repeats in cases:
        on, off, measured = _fit_seconds(X, y, layers, epochs, repeats)
        print(f"{name:30} {on * 1e3:10.1f}ms {off * 1e3:8.1f}ms {on / off - 1:9.1%}  "
              f"{measured} of {epochs} epochs")  # fmt: skip
    on, off = _view_seconds(ds.X[:n], ds.y[:n], 100, args.repeats)
    print(f"{'digits, live bars + view':30} {on * 1e3:10.1f}ms {off * 1e3:8.1f}ms {on / off - 1:9.1%}  "
          "(the view drawn ~10×/s)")  # fmt: skip


if __name__ == "__main__":
    main()
