"""Rendering of ``nnlite compare`` with rich.

Owns: turning the plain data of ``nnlite.compare.run`` into terminal tables —
agreement and timing per kernel, the size sweeps with their crossover, and
the two loss curves side by side. Imports rich; the library never imports
this module (``cli.py`` does).
"""

from __future__ import annotations

import math
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from nnlite.ui.format import seconds


def _ms(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if x >= 100:
        return f"{x:,.0f}"
    if x >= 1:
        return f"{x:.2f}"
    return f"{x * 1e3:.0f} µs" if x > 0 else "0"


def _x(x: float) -> str:
    if x is None or math.isnan(x):
        return "—"
    style = "green" if x > 1 else "red"
    return f"[{style}]{x:.2f}×[/{style}]"


def _e(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def agreement_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(
        title="agreement: CUDA vs CPU on the same float32 inputs (and each vs a float64 CPU run)",
        title_justify="left",
    )
    for col in ("kernel", "shape", "max abs err", "max rel err", "max ULP", "GPU vs f64",
                "CPU vs f64"):  # fmt: skip
        table.add_column(col, justify="left" if col == "kernel" else "right")
    for r in rows:
        table.add_row(
            r["kernel"], r["shape"], _e(r["max_abs"]), _e(r["max_rel"]), str(r["max_ulp"]),
            _e(r["gpu_vs_f64"]), _e(r["cpu_vs_f64"]),
            style=None if r["all_written"] else "red",
        )  # fmt: skip
    table.caption = (
        "relative errors are relative to the largest value; max ULP: float32 steps between the "
        "two answers, over the values at least 1/1000 of the largest (near zero a tiny "
        "difference spans millions of steps). Different summation orders make float32 sums "
        "differ by a few ULP; the vs-f64 columns show which answer is closer to the truth."
    )
    table.caption_justify = "left"
    return table


def timing_table(rows: list[dict[str, Any]], simulated: bool) -> Table:
    unit = "simulator ms" if simulated else "ms"
    table = Table(title=f"time per call ({unit}, median)", title_justify="left")
    for col in ("kernel", "shape", "CPU", "GPU compile", "copies H↔D", "kernel", "launch+sync",
                "speedup", "with copies"):  # fmt: skip
        table.add_column(col, justify="left" if col == "kernel" else "right")
    for r in rows:
        table.add_row(
            r["kernel"], r["shape"], _ms(r["cpu_ms"]), _ms(r["gpu_compile_ms"]),
            _ms(r["gpu_copy_ms"]), _ms(r["gpu_kernel_ms"]), _ms(r["gpu_launch_sync_ms"]),
            _x(r["speedup"]), _x(r["speedup_with_copies"]),
        )  # fmt: skip
    table.caption = (
        "compile: the first call's extra time (JIT or cache load); copies: inputs to the GPU and "
        "outputs back; launch+sync: the host's cost of starting the kernels and waiting for them. "
        "speedup: data already on the GPU, as in training; with copies: each call pays them."
    )
    table.caption_justify = "left"
    return table


def sweep_table(points: list[dict[str, Any]], key: str, title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for col in (key, "CPU ms", "GPU ms", "CPU GFLOP/s", "GPU GFLOP/s", "speedup"):
        table.add_column(col, justify="right")
    for p in points:
        table.add_row(
            f"{p['batch'] if key == 'batch' else p['inputs']:,}", _ms(p["cpu_ms"]),
            _ms(p["gpu_ms"]), f"{p['cpu_gflops']:.1f}", f"{p['gpu_gflops']:.1f}", _x(p["speedup"]),
        )  # fmt: skip
    return table


def training_table(t: dict[str, Any]) -> Table:
    table = Table(
        title=f"training: {t['network']} on {t['data']}, batch {t['batch_size']}, α = {t['lr']:g}",
        title_justify="left",
    )
    for col in ("epoch", "CPU loss", "CUDA loss", "|difference|", "CPU acc", "CUDA acc"):
        table.add_column(col, justify="right")
    cpu, gpu = t["cpu"], t["cuda"]
    for e, (a, b) in enumerate(zip(cpu["loss"], gpu["loss"])):
        table.add_row(
            str(e + 1), f"{a:.6f}", f"{b:.6f}", _e(abs(a - b)),
            f"{100 * cpu['accuracy'][e]:.2f}%", f"{100 * gpu['accuracy'][e]:.2f}%",
        )  # fmt: skip
    table.caption = (
        f"largest difference {_e(t['max_loss_difference'])}; training time CPU "
        f"{seconds(cpu['seconds'])}, CUDA {seconds(gpu['seconds'])} (kernel start-up "
        f"{seconds(cpu['warm_up_seconds'])} / {seconds(gpu['warm_up_seconds'])})"
    )
    table.caption_justify = "left"
    return table


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
