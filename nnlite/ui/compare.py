"""Rendering of ``nnlite compare`` with rich.

Owns: turning the plain data of ``nnlite.compare.run`` into terminal tables —
agreement and timing per kernel, the size sweeps with their crossover, and
the two loss curves side by side. Imports rich; the library never imports
this module (``cli.py`` does).

Every table fits the console it is drawn on: a kernel's name may break at its space
(``activation_forward`` / ``(leaky_relu)``) but is never cut, each time column has one
unit (ms or µs, named in its header), and a table too wide for the terminal is split
into several, each repeating the kernel and shape columns (``_fit``). Ratios of speed are
written as a word: ``3.2× faster`` or ``22,000× slower``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nnlite.ui.fit import fits
from nnlite.ui.format import seconds


def _missing(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _unit(values: Sequence[float]) -> tuple[str, float]:
    """One unit for a column of times in ms: µs when every time is under a millisecond."""
    known = [v for v in values if not _missing(v) and v > 0]
    return ("µs", 1e3) if known and max(known) < 1 else ("ms", 1.0)


def _time(x: float, scale: float) -> str:
    """A time in the column's unit with three significant digits (``0.0523`` ms → ``52.3``)."""
    if _missing(x):
        return "—"
    v = x * scale
    if v == 0:
        return "0"
    return f"{v:,.0f}" if v >= 100 else f"{v:.3g}"


def _x(x: float) -> str:
    """How many times faster the GPU was (``3.2× faster``), or slower (``22,000× slower``)."""
    if _missing(x) or x <= 0 or math.isinf(x):
        return "—"

    def times(r: float) -> str:
        return f"{r:,.0f}" if r >= 100 else f"{r:.3g}"

    if x >= 1:
        return f"[green]{times(x)}× faster[/green]"
    return f"[red]{times(1 / x)}× slower[/red]"


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


class _Fitted:
    """Columns and rows drawn as one table, or as several when the console is too narrow.

    ``key``: how many leading columns name a row (kernel, shape): every part repeats them.
    Each column is ``(header, justify)``; the first one may break at spaces, the others
    never do. The split is chosen at render time from the console's width.
    """

    def __init__(self, title: str, columns: list[tuple[str, str]], rows: list[list[Any]],
                 key: int, caption: str | None = None, styles: list[str | None] | None = None):  # fmt: skip
        self.title, self.columns, self.rows, self.key = title, columns, rows, key
        self.caption = caption
        self.styles = styles or [None] * len(rows)

    def table(self, values: Sequence[int], part: int, parts: int, narrow: bool = False) -> Table:
        title = self.title if part == 0 else f"{self.title} (continued)"
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False,
                      collapse_padding=True)  # fmt: skip
        if part == parts - 1 and self.caption:
            table.caption, table.caption_justify = self.caption, "left"
        longest = max((len(w) for r in self.rows for w in str(r[0]).split()), default=1)
        for c in [*range(self.key), *values]:
            header, justify = self.columns[c]
            if c == 0:  # the name: breaks at its space (``narrow``: always), never cut
                table.add_column(header, justify=justify, min_width=longest, overflow="fold",
                                 max_width=longest if narrow else None)  # fmt: skip
            else:
                table.add_column(header, justify=justify, no_wrap=c < self.key)
        for row, style in zip(self.rows, self.styles):
            table.add_row(*(row[c] for c in [*range(self.key), *values]), style=style)
        return table

    def parts(self, width: int) -> list[Table]:
        values = list(range(self.key, len(self.columns)))
        for size in range(len(values), 0, -1):
            groups = [values[i : i + size] for i in range(0, len(values), size)]
            for narrow in (False, True):
                tables = [self.table(g, i, len(groups), narrow) for i, g in enumerate(groups)]
                if all(fits(t, width) for t in tables):
                    return tables
        return [self.table([v], i, len(values), True) for i, v in enumerate(values)]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from self.parts(options.max_width)


def agreement_table(rows: list[dict[str, Any]]) -> _Fitted:
    columns = [("kernel", "left"), ("shape", "right"), ("max abs err", "right"),
               ("max rel err", "right"), ("max ULP", "right"), ("GPU vs f64", "right"),
               ("CPU vs f64", "right")]  # fmt: skip
    cells = [
        [r["kernel"], r["shape"], _e(r["max_abs"]), _e(r["max_rel"]), str(r["max_ulp"]),
         _e(r["gpu_vs_f64"]), _e(r["cpu_vs_f64"])]
        for r in rows
    ]  # fmt: skip
    caption = (
        "relative errors are relative to the largest value; max ULP: float32 steps between the "
        "two answers, over the values at least 1/1000 of the largest (near zero a tiny "
        "difference spans millions of steps). Different summation orders make float32 sums "
        "differ by a few ULP; the vs-f64 columns show which answer is closer to the truth."
    )
    return _Fitted(
        "agreement: CUDA vs CPU on the same float32 inputs (and each vs a float64 CPU run)",
        columns, cells, key=2, caption=caption,
        styles=[None if r["all_written"] else "red" for r in rows],
    )  # fmt: skip


_TIMES = (("cpu_ms", "CPU"), ("gpu_compile_ms", "GPU compile"), ("gpu_copy_ms", "copies H↔D"),
          ("gpu_kernel_ms", "GPU kernel"), ("gpu_launch_sync_ms", "launch+sync"))  # fmt: skip


def timing_table(rows: list[dict[str, Any]], simulated: bool) -> _Fitted:
    units = {key: _unit([r[key] for r in rows]) for key, _ in _TIMES}
    columns = [("kernel", "left"), ("shape", "right")]
    columns += [(f"{name} {units[key][0]}", "right") for key, name in _TIMES]
    columns += [("GPU vs CPU", "right"), ("with copies", "right")]
    cells = [
        [r["kernel"], r["shape"], *(_time(r[key], units[key][1]) for key, _ in _TIMES),
         _x(r["speedup"]), _x(r["speedup_with_copies"])]
        for r in rows
    ]  # fmt: skip
    what = "simulator time" if simulated else "time"
    caption = (
        "compile: the first call's extra time (JIT or cache load); copies: inputs to the GPU and "
        "outputs back; launch+sync: the host's cost of starting the kernels and waiting for them. "
        "GPU vs CPU: data already on the GPU, as in training; with copies: each call pays them."
    )
    return _Fitted(f"{what} per call (median)", columns, cells, key=2, caption=caption)


def sweep_table(points: list[dict[str, Any]], key: str, title: str) -> _Fitted:
    cpu_unit, gpu_unit = _unit([p["cpu_ms"] for p in points]), _unit([p["gpu_ms"] for p in points])
    columns = [(key, "right"), (f"CPU {cpu_unit[0]}", "right"), (f"GPU {gpu_unit[0]}", "right"),
               ("CPU GFLOP/s", "right"), ("GPU GFLOP/s", "right"), ("GPU vs CPU", "right")]  # fmt: skip
    cells = [
        [f"{p['batch'] if key == 'batch' else p['inputs']:,}", _time(p["cpu_ms"], cpu_unit[1]),
         _time(p["gpu_ms"], gpu_unit[1]), f"{p['cpu_gflops']:.3g}", f"{p['gpu_gflops']:.3g}",
         _x(p["speedup"])]
        for p in points
    ]  # fmt: skip
    return _Fitted(title, columns, cells, key=1)


def training_table(t: dict[str, Any]) -> _Fitted:
    columns = [("epoch", "right"), ("CPU loss", "right"), ("CUDA loss", "right"),
               ("|difference|", "right"), ("CPU acc", "right"), ("CUDA acc", "right")]  # fmt: skip
    cpu, gpu = t["cpu"], t["cuda"]
    cells = [
        [str(e + 1), f"{a:.6f}", f"{b:.6f}", _e(abs(a - b)),
         f"{100 * cpu['accuracy'][e]:.2f}%", f"{100 * gpu['accuracy'][e]:.2f}%"]
        for e, (a, b) in enumerate(zip(cpu["loss"], gpu["loss"]))
    ]  # fmt: skip
    caption = (
        f"largest difference {_e(t['max_loss_difference'])}; training time CPU "
        f"{seconds(cpu['seconds'])}, CUDA {seconds(gpu['seconds'])} (kernel start-up "
        f"{seconds(cpu['warm_up_seconds'])} / {seconds(gpu['warm_up_seconds'])})"
    )
    title = f"training: {t['network']} on {t['data']}, batch {t['batch_size']}, α = {t['lr']:g}"
    return _Fitted(title, columns, cells, key=1, caption=caption)


def render(result: dict[str, Any]) -> Group:
    """Everything ``nnlite compare`` shows, as one rich renderable."""
    parts: list[Any] = []
    dev = result["device"]
    head = Text.assemble(
        ("CPU ", "bold"), f"{dev['cpu']}   ", ("GPU ", "bold"), dev["gpu"],
        f"   (numba {result['versions'].get('numba')}, numba-cuda "
        f"{result['versions'].get('numba-cuda')}; median of {result['repeats']})",
    )  # fmt: skip
    parts.append(head)
    for note in result.get("notes", []):
        parts.append(Panel(Text(note, style="bold yellow"), title="note", title_align="left"))
    simulated = dev["simulator"]
    if "kernels" in result:
        parts.append(agreement_table(result["kernels"]))
        parts.append(timing_table(result["kernels"], simulated))
    if "sweep" in result:
        s = result["sweep"]
        cb, cw = s["crossover_batch"], s["crossover_width"]
        parts.append(
            sweep_table(s["by_batch"], "batch", f"size sweep: {s['what']}, layer {s['layer']}")
        )
        parts.append(Text(f"the GPU wins from batch {cb:,}" if cb else "the GPU never won here"))
        parts.append(
            sweep_table(
                s["by_width"], "width", f"size sweep: width w→w at batch {s['width_batch']}"
            )
        )
        parts.append(Text(f"the GPU wins from width {cw:,}" if cw else "the GPU never won here"))
    if "training" in result:
        parts.append(training_table(result["training"]))
    return Group(*parts)
