"""What the live decision regions cost: `nnlite train --show regions` against `--show none`.

Runs the same training command in a pseudo-terminal (so the progress bars and the live view
are drawn, as a user sees them), alternating the two settings, ``--pairs`` times each. For
each run it records the command's wall time and the summary's "training time" (the fit
alone), and prints the medians and the median of the per-pair ratios (issue 19's goal: the
live view slows training by at most 10 %).

    python bench/bench_live_view.py [--pairs 5] [--columns 80] [-- extra train options]

Default command: ``cli.py train --dataset spirals`` (the default network and 100 epochs).
Prints a markdown table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import pty
import re
import select
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ANSI = re.compile(r"\x1b\[[0-9;?]*[a-zA-Z]")
UNITS = {"s": 1.0, "ms": 1e-3, "µs": 1e-6}


def run(args: list[str], columns: int) -> tuple[float, float, str]:
    """(wall seconds, training seconds from the summary, output) of one run in a pty."""
    import fcntl
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = dict(os.environ, COLUMNS=str(columns), LINES="50", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "cli.py"), "train", *args],
        stdin=follower, stdout=follower, stderr=follower, env=env, cwd=ROOT,
    )  # fmt: skip
    os.close(follower)
    out = bytearray()
    while True:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        elif proc.poll() is not None:
            break
    proc.wait()
    wall = time.perf_counter() - start
    os.close(leader)
    text = ANSI.sub("", out.decode("utf-8", "replace"))
    if proc.returncode:
        raise SystemExit(f"train {' '.join(args)} failed ({proc.returncode}):\n{text[-2000:]}")
    found = re.findall(r"training time\s+│\s+([\d.]+) (s|ms|µs)", text)
    if not found:
        raise SystemExit(f"no training time in the summary:\n{text[-2000:]}")
    value, unit = found[-1]
    return wall, float(value) * UNITS[unit], text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--columns", type=int, default=80)
    parser.add_argument("extra", nargs="*", help="more train options (after --)")
    opts = parser.parse_args()
    base = ["--dataset", "spirals", *opts.extra]
    run(base + ["--show", "none", "--epochs", "1"], opts.columns)  # compile and cache first
    rows = {"none": [], "regions": []}
    for _ in range(opts.pairs):
        for show in ("none", "regions"):
            wall, fit, text = run(base + ["--show", show], opts.columns)
            if show == "regions" and "decision regions" not in text:
                raise SystemExit("the live view was not drawn")
            rows[show].append((wall, fit))
    print(f"command: python cli.py train {' '.join(base)} --show none|regions  "
          f"(a {opts.columns}-column pseudo-terminal, {opts.pairs} interleaved pairs)\n")  # fmt: skip
    print("| --show | wall (median) | training time (median) |")
    print("|---|---|---|")
    for show, values in rows.items():
        wall = statistics.median(v[0] for v in values)
        fit = statistics.median(v[1] for v in values)
        print(f"| {show} | {wall:.2f} s | {fit * 1000:.0f} ms |")
    wall_ratio = statistics.median(r[0] / n[0] for n, r in zip(rows["none"], rows["regions"]))
    fit_ratio = statistics.median(r[1] / n[1] for n, r in zip(rows["none"], rows["regions"]))
    print(f"\nmedian ratio regions/none: wall {wall_ratio:.3f}×, training time {fit_ratio:.3f}×")


if __name__ == "__main__":
    main()
