"""Trace views with rich: a training step at a time, in the formulas of the lesson.

Owns: rendering the events of ``nnlite.trace`` — a legend of the lesson's
formulas, then per step panels for forward propagation, the loss, backward
propagation and the update (matrices with their shapes, large ones elided to
a few entries, colour for sign, a chosen precision), the loss after the step;
beyond plain SGD, each step's α and t, dropout's masks, the penalty in the
loss and in ∂L/∂W, and the optimiser's formula (its table row) and state;
the perceptron's learning rule as one table per epoch; the interactive pause
between steps; and the JSON stream (one event per line).

Imports: rich, ``nnlite.trace`` (events) and ``nnlite.ui.terminal`` (the consoles).
Computes no number of the lesson: every value shown comes from an event.
The only arithmetic here is presentation — a transpose to show aᵀ, the
column α·∂L/∂W beside before and after, the change of the loss and the
bias corrections 1 − βᵗ printed beside Adam's M̂ and V̂.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.panel import Panel
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from nnlite import trace as tr
from nnlite.activations import ACTIVATIONS
from nnlite.losses import LOSSES
from nnlite.optim import OPTIMIZERS
from nnlite.schedules import Schedule
from nnlite.ui import terminal
from nnlite.ui.fit import FirstThatFits

MAX_ROWS = 5  # a matrix with more rows or columns is elided to its corners
MAX_COLS = 5

# The formulas the views print, from the concept tables (a new row shows with no edit here).
SIGMA = {name: row.formula for name, row in ACTIVATIONS.items()}
SIGMA_GRAD = {name: row.derivative for name, row in ACTIVATIONS.items()}
LOSS = {name: (row.heading, row.formula) for name, row in LOSSES.items()}
LOSS_GRAD = {name: row.gradient for name, row in LOSSES.items()}
FUSED_GRAD = {row.fused_with: row.fused_gradient for row in LOSSES.values() if row.fused_with}
UNFUSED_CHAIN = {row.fused_with: row.unfused_chain for row in LOSSES.values() if row.fused_with}
# The letters of the optimisers' state slots, as their table rows' formulas write them.
SLOT = {"velocity": "V", "sum": "S", "square_avg": "V", "buffer": "B", "m": "M", "v": "V"}
PENALTY = "λ₁·Σ|W| + λ₂·ΣW²"
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def sup(n: int) -> str:
    """The layer index as a superscript: 2 → ²."""
    return str(n).translate(_SUP)


# ---------------------------------------------------------------------------
# Numbers and matrices.
# ---------------------------------------------------------------------------


def fmt(v: float, precision: int) -> str:
    """``precision`` digits after the point; a non-zero value too small for that in e-notation."""
    v = float(v)
    if not math.isfinite(v):
        return str(v)
    if v == 0:
        v = 0.0  # no "-0.0000"
    if v != 0 and abs(v) < 0.5 * 10.0**-precision:
        return f"{v:.{max(precision - 1, 1)}e}"  # never show a non-zero gradient as 0.0000
    return f"{v:.{precision}f}"


def _style(v: float) -> str:
    if not math.isfinite(v):
        return "bold magenta"
    return "green" if v > 0 else ("red" if v < 0 else "dim")


def number(v: float, precision: int) -> Text:
    """One value, coloured by sign (green positive, red negative, dim zero)."""
    return Text(fmt(v, precision), style=_style(float(v)))


def _keep(count: int, limit: int) -> list[int | None]:
    """Indices to show of ``count``: all, or the first few, None (elided), the last."""
    if count <= limit:
        return list(range(count))
    return list(range(limit - 2)) + [None, count - 1]


def shape(M: Any) -> str:
    a = np.asarray(M)
    return "×".join(str(d) for d in a.shape) if a.ndim else "scalar"


def matrix(M: Any, precision: int) -> Text:
    """A matrix as rows of aligned numbers in brackets; large ones elided to their corners."""
    a = np.asarray(M, dtype=np.float64)
    if a.ndim == 1:
        a = a.reshape(1, -1)
    rows, cols = _keep(a.shape[0], MAX_ROWS), _keep(a.shape[1], MAX_COLS)
    cells = [
        [None if r is None or c is None else fmt(a[r, c], precision) for c in cols] for r in rows
    ]
    widths = [max(len(row[j] or "…") for row in cells) for j in range(len(cols))]
    text = Text()
    for ri, (r, row) in enumerate(zip(rows, cells)):
        if ri:
            text.append("\n")
        text.append("[")
        for j, (c, cell) in enumerate(zip(cols, row)):
            if j:
                text.append("  ")
            if r is None:
                text.append(("⋮" if c is not None else "⋱").rjust(widths[j]), style="dim")
            elif cell is None:
                text.append("…".rjust(widths[j]), style="dim")
            else:
                text.append(cell.rjust(widths[j]), style=_style(a[r, c]))
        text.append("]")
    return text


def block(label: str, M: Any, precision: int) -> Text:
    """A matrix under its name and shape, e.g. ``W¹ 2×2``."""
    text = Text()
    text.append(label, style="bold")
    text.append(f" {shape(M)}\n", style="dim")
    text.append_text(matrix(M, precision))
    return text


class Equation:
    """Blocks and operators side by side — a⁰ · W¹ + b¹ = z¹ — with the operators level
    with the matrices' middle row; stacked one block per line when the width is too small.

    A part is a block (a label line over matrix rows, from ``block``), or a one-line
    operator or value (a ``str`` or a one-line ``Text``).
    """

    def __init__(self, *parts: Text | str) -> None:
        self.parts = [Text(p, style="bold") if isinstance(p, str) else p for p in parts]

    @staticmethod
    def _is_block(part: Text) -> bool:
        return "\n" in part.plain

    def wide(self) -> Table:
        height = max(len(p.plain.split("\n")) for p in self.parts)
        middle = 1 + (height - 2) // 2 if height > 1 else 0
        grid = Table.grid(padding=(0, 1))
        for _ in self.parts:
            grid.add_column(no_wrap=True)
        grid.add_row(*(p if self._is_block(p) else Text("\n" * middle) + p for p in self.parts))
        return grid

    def stacked(self) -> Table:
        grid = Table.grid(padding=(0, 1))
        grid.add_column(no_wrap=True, justify="right")
        grid.add_column(overflow="fold")
        prefix = Text()
        for p in self.parts:
            if self._is_block(p):
                grid.add_row(Text("\n") + prefix, p)
                prefix = Text()
            else:
                prefix = prefix + Text(" ") + p if prefix.plain else p
        if prefix.plain:
            grid.add_row(prefix, Text(""))
        return grid

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        wide = self.wide()
        # Measure without the width limit (Measurement.get clamps to it).
        natural = Measurement.get(console, options.update_width(10_000), wide).maximum
        if natural <= options.max_width:
            yield wide
        else:
            yield self.stacked()


def equation(*parts: Text | str) -> Equation:
    return Equation(*parts)


def _formula(text: str) -> Text:
    return Text(text, style="bold cyan")


# ---------------------------------------------------------------------------
# The network view.
# ---------------------------------------------------------------------------


def legend(h: tr.NetworkTrace) -> Table:
    """The lesson's formulas for this network, with σ and the loss named."""
    hidden = sorted(set(h.activations[:-1]), key=h.activations.index)
    out = h.activations[-1]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row("forward", _formula("z = a·W + b    a = σ(z)    (a⁰ = x, a row)"))
    if h.dropout:
        table.add_row("", Text.assemble(
            _formula("d = a ⊙ mask    mask = keep/(1 − p)"),
            f"    dropout p = {h.dropout:g} after each hidden layer: the next layer reads d "
            "(keep = [u ≥ p], u from the seed, t, layer and position)",
        ))  # fmt: skip
    for name in hidden + ([out] if out not in hidden else []):
        where = "output" if name == out and name not in hidden else "hidden"
        if name == out and name in hidden:
            where = "hidden and output"
        table.add_row("", f"σ = {SIGMA[name]}  ({where})")
    title, formula = LOSS[h.loss]
    table.add_row("loss", Text.assemble(_formula(formula), f"    {title}"))
    if h.l1 or h.l2:
        table.add_row("", Text.assemble(
            _formula(f"+ {PENALTY}"), f"    the penalty on every W: λ₁ = {h.l1:g}, λ₂ = {h.l2:g}",
        ))  # fmt: skip
    fused = (out, h.loss) in {("softmax", "cce"), ("sigmoid", "bce")}
    if fused:
        rule = f"{FUSED_GRAD[out]}  ({out} + {title}, differentiated together: p − y)"
    else:
        rule = f"{LOSS_GRAD[h.loss]} at the output"
    table.add_row("backward", _formula("∂L/∂z = ∂L/∂a ⊙ σ′(z)    ∂L/∂W = a_prevᵀ·∂L/∂z"))
    table.add_row("", _formula("∂L/∂b = Σₙ ∂L/∂z    ∂L/∂a_prev = ∂L/∂z·Wᵀ"))
    table.add_row("", rule)
    if h.l1 or h.l2:
        table.add_row("", _formula("∂L/∂W = a_prevᵀ·∂L/∂z + λ₁·sign(W) + 2λ₂·W    (the penalty)"))
    if h.dropout:
        table.add_row("", _formula("∂L/∂d = ∂L/∂z·Wᵀ    ∂L/∂a = ∂L/∂d ⊙ mask    (dropout)"))
    if h.optimizer is not None:
        for k, row in enumerate(optimizer_lines(h)):
            table.add_row("update" if k == 0 else "", row)
        return table
    update = "W ← W − α·∂L/∂W    b ← b − α·∂L/∂b"
    if h.hold_biases:
        update = "W ← W − α·∂L/∂W    (b held fixed)"
    table.add_row("update", Text.assemble(_formula(update), f"    α = {h.lr:g}"))
    return table


def optimizer_lines(h: tr.NetworkTrace) -> list[Text]:
    """The optimiser's title, its formula (its table row) with its values, and α's schedule."""
    row = OPTIMIZERS[h.optimizer["name"]]
    values = []
    for hyper in row.hyper:
        value = h.optimizer[hyper.name]
        if isinstance(value, bool):
            if value:
                values.append(hyper.name)  # nesterov
        elif hyper.name != "lr":
            values.append(f"{hyper.symbol} = {value:g}")
    lines = [Text.assemble((row.title, "bold"), f"    {', '.join(values)}" if values else "")]
    lines += [_formula(part.strip()) for part in row.formula.split(";  ")]
    schedule = Schedule.from_dict(h.schedule or {})
    if schedule.name == "constant":
        lines.append(Text(f"α = {h.lr:g}"))
    else:
        lines.append(Text(f"α at time t: {schedule.formula()}, starting from α = {h.lr:g}"))
    return lines


def header_panel(h: tr.NetworkTrace) -> Panel:
    dims = "-".join(str(d) for d in h.dims)
    acts = ", ".join(h.activations)
    what = "Mazur's worked example" if h.example == "mazur" else h.dataset
    lines: list[RenderableType] = [
        Text.assemble(
            ("network ", "bold"),
            f"{dims} ({acts})  ",
            ("loss ", "bold"),
            f"{h.loss}  ",
            ("data ", "bold"),
            f"{what}: {h.n_samples} sample{'s' * (h.n_samples != 1)}, "
            f"{h.batch_size} per step, in order from sample {h.first_sample}  ",
            ("steps ", "bold"),
            f"{h.steps}  ",
            ("α ", "bold"),
            f"{h.lr:g}  ",
            *((("optimizer ", "bold"), f"{h.optimizer['name']}  ") if h.optimizer else ()),
            ("dtype ", "bold"),
            f"{h.dtype}  ",
            ("device ", "bold"),
            h.device,
        ),  # fmt: skip
        Text(""),
        legend(h),
    ]
    if h.dropout_seed is not None:
        lines.append(Text(f"· dropout's masks are drawn from seed {h.dropout_seed} "
                          f"(from --seed {h.seed}, as training draws them)", style="dim"))  # fmt: skip
    for note in h.notes:
        lines.append(Text(f"· {note}", style="dim"))
    return Panel(Group(*lines), title="nnlite trace", title_align="left", border_style="blue")


class _StepParts:
    def __init__(self, step: tr.Step) -> None:
        self.step = step
        self.forward: list[tr.Forward] = []
        self.activation: list[tr.Activation] = []
        self.loss: tr.Loss | None = None
        self.backward: list[tr.Backward] = []
        self.unfused: tr.Unfused | None = None
        self.update: list[tr.Update] = []
        self.after: tr.Loss | None = None


def _rows(rows: list[int]) -> str:
    if len(rows) == 1:
        return f"sample {rows[0]}"
    if rows == list(range(rows[0], rows[0] + len(rows))):
        return f"samples {rows[0]}–{rows[-1]}"
    return f"samples {', '.join(map(str, rows[:4]))}{', …' if len(rows) > 4 else ''}"


def forward_panel(parts: _StepParts, p: int) -> Panel:
    items: list[RenderableType] = []
    for f, a in zip(parts.forward, parts.activation):
        ell, prev = sup(f.layer), sup(f.layer - 1)
        x = "a"  # the layer's input: a, or d = a ⊙ mask with dropout
        if f.mask is not None:
            x = "d"
            items.append(
                Text.assemble(
                    (f"dropout on a{prev}  ", "bold"),
                    _formula(f"d{prev} = a{prev} ⊙ mask"),
                    f"    p = {f.p:g}: mask = keep/(1 − p), 0 or {1 / (1 - f.p):g}",
                )  # fmt: skip
            )
            items.append(
                equation(
                    block(f"a{prev}", f.A_prev, p),
                    "⊙",
                    block("mask", f.mask, p),
                    "=",
                    block(f"d{prev}", f.D, p),
                )  # fmt: skip
            )
        items.append(
            Text.assemble(
                (f"layer {f.layer}  ", "bold"),
                _formula(f"z{ell} = {x}{prev}·W{ell} + b{ell}"),
                "    the linear step",
            )  # fmt: skip
        )
        items.append(
            equation(
                block(f"{x}{prev}", f.A_prev if f.mask is None else f.D, p),
                "·",
                block(f"W{ell}", f.W, p),
                "+",
                block(f"b{ell}", f.b, p),
                "=",
                block(f"z{ell}", f.Z, p),
            )  # fmt: skip
        )
        items.append(
            Text.assemble(
                "          ", _formula(f"a{ell} = σ(z{ell})"), f"    σ = {SIGMA[a.activation]}"
            )
        )
        items.append(equation(f"a{ell} = {a.activation}(z{ell}) =", block(f"a{ell}", a.A, p)))
    return Panel(Group(*items), title="forward propagation, left to right", title_align="left")


def loss_panel(loss: tr.Loss, last: int, p: int) -> Panel:
    title, formula = LOSS[loss.loss]
    L = sup(last)
    body = Group(
        Text.assemble((f"{title}  ", "bold"), _formula(formula)),
        equation(
            block(f"prediction p = a{L}", loss.P, p),
            "vs",
            block("target y", loss.Y, p),
            "→",
            Text.assemble(("L = ", "bold"), number(loss.value, p)),
        ),  # fmt: skip
    )
    if loss.penalty is not None:
        body.renderables.append(
            Text.assemble(
                _formula(f"L = {title} + {PENALTY}"),
                " = ",
                number(loss.data_loss, p),
                " + ",
                number(loss.penalty, p),
                " = ",
                number(loss.value, p),
            )  # fmt: skip
        )
    return Panel(body, title="loss", title_align="left")


def backward_panel(parts: _StepParts, p: int) -> Panel:
    items: list[RenderableType] = []
    for b in parts.backward:
        ell, prev = sup(b.layer), sup(b.layer - 1)
        items.append(Text(f"layer {b.layer}", style="bold"))
        if b.output and b.fused:
            items.append(
                Text.assemble(
                    _formula(f"∂L/∂z{ell} = p − y"),
                    f" scaled: {FUSED_GRAD[b.activation]}   ({b.activation} + "
                    f"{LOSS[b.loss][0]}: the Jacobian and ∂L/∂p collapse to p − y)",
                )
            )
            items.append(equation(block(f"∂L/∂z{ell}", b.dZ, p)))
        else:
            if b.output:
                items.append(
                    Text.assemble(_formula(f"∂L/∂a{ell} = ∂L/∂p"), f"   {LOSS_GRAD[b.loss]}")
                )
            items.append(
                Text.assemble(
                    _formula(f"∂L/∂z{ell} = ∂L/∂a{ell} ⊙ σ′(z{ell})"),
                    f"   {b.activation}: {SIGMA_GRAD[b.activation]}",
                )
            )
            slope: list[Text | str] = ["⊙ σ′ ="]
            if b.sigma_prime is not None:
                slope = ["⊙", block(f"σ′(z{ell})", b.sigma_prime, p), "="]
            items.append(
                equation(block(f"∂L/∂a{ell}", b.dA, p), *slope, block(f"∂L/∂z{ell}", b.dZ, p))
            )
        if b.output and parts.unfused is not None:
            items.append(unfused_view(parts.unfused, p))
        x = "a" if b.mask is None else "d"  # the layer's input as the step used it
        pen = "" if b.dW_penalty is None else f" + λ₁·sign(W{ell}) + 2λ₂·W{ell}"
        items.append(
            _formula(f"∂L/∂W{ell} = {x}{prev}ᵀ·∂L/∂z{ell}{pen}    ∂L/∂b{ell} = Σₙ ∂L/∂z{ell}")
        )
        if b.dW_penalty is None:
            items.append(
                equation(
                    block(f"{x}{prev}ᵀ", np.asarray(b.A_prev).T, p),
                    "·",
                    block(f"∂L/∂z{ell}", b.dZ, p),
                    "=",
                    block(f"∂L/∂W{ell}", b.dW, p),
                    "  ",
                    block(f"∂L/∂b{ell}", b.db, p),
                )  # fmt: skip
            )
        else:
            items.append(
                equation(
                    block(f"{x}{prev}ᵀ", np.asarray(b.A_prev).T, p),
                    "·",
                    block(f"∂L/∂z{ell}", b.dZ, p),
                    "=",
                    block(f"{x}{prev}ᵀ·∂L/∂z{ell}", b.dW_data, p),
                )  # fmt: skip
            )
            items.append(
                equation(
                    block(f"{x}{prev}ᵀ·∂L/∂z{ell}", b.dW_data, p),
                    "+",
                    block("λ₁·sign(W) + 2λ₂·W", b.dW_penalty, p),
                    "=",
                    block(f"∂L/∂W{ell}", b.dW, p),
                    "  ",
                    block(f"∂L/∂b{ell}", b.db, p),
                )  # fmt: skip
            )
        if b.dA_prev is not None and b.mask is not None:
            items.append(
                _formula(f"∂L/∂d{prev} = ∂L/∂z{ell}·W{ell}ᵀ    ∂L/∂a{prev} = ∂L/∂d{prev} ⊙ mask")
            )
            items.append(
                equation(
                    block(f"∂L/∂z{ell}", b.dZ, p),
                    "·",
                    block(f"W{ell}ᵀ", np.asarray(b.W).T, p),
                    "=",
                    block(f"∂L/∂d{prev}", b.dD_prev, p),
                )  # fmt: skip
            )
            items.append(
                equation(
                    block(f"∂L/∂d{prev}", b.dD_prev, p),
                    "⊙",
                    block("mask", b.mask, p),
                    "=",
                    block(f"∂L/∂a{prev}", b.dA_prev, p),
                )  # fmt: skip
            )
        elif b.dA_prev is not None:
            items.append(_formula(f"∂L/∂a{prev} = ∂L/∂z{ell}·W{ell}ᵀ"))
            items.append(
                equation(
                    block(f"∂L/∂z{ell}", b.dZ, p),
                    "·",
                    block(f"W{ell}ᵀ", np.asarray(b.W).T, p),
                    "=",
                    block(f"∂L/∂a{prev}", b.dA_prev, p),
                )  # fmt: skip
            )
    return Panel(Group(*items), title="backward propagation, right to left", title_align="left")


def unfused_view(u: tr.Unfused, p: int) -> Panel:
    same = (
        "they agree"
        if u.max_diff <= 1e-5 * max(1.0, float(np.abs(u.dZ_fused).max()))
        else ("they differ: p was clipped before the log")
    )
    return Panel(
        Group(
            Text.assemble(
                _formula(LOSS_GRAD[u.loss]),
                f"  then back through the {u.activation}: ",
                _formula(UNFUSED_CHAIN[u.activation]),
            ),  # fmt: skip
            equation(
                block("∂L/∂p", u.dP, p),
                "→",
                block("∂L/∂z (long way)", u.dZ, p),
                "vs",
                block(f"fused {FUSED_GRAD[u.activation]}", u.dZ_fused, p),
            ),  # fmt: skip
            Text(f"max |long way − fused| = {u.max_diff:.3g}: {same}"),
        ),
        title="the long way round (--unfused)",
        title_align="left",
        border_style="dim",
    )


def update_panel(
    parts: _StepParts, p: int, hold_biases: bool, header: tr.NetworkTrace | None = None
) -> Panel:
    if header is not None and header.optimizer is not None:
        return optimizer_panel(parts, p, header)
    items: list[RenderableType] = [
        Text.assemble(
            _formula("W ← W − α·∂L/∂W" + ("" if hold_biases else "    b ← b − α·∂L/∂b")),
            f"    α = {parts.update[0].lr:g}" if parts.update else "",
        )
    ]
    for u in parts.update:
        name = f"{u.param}{sup(u.layer)}"
        step = u.lr * np.asarray(u.grad, dtype=np.float64)  # α·∂L/∂W, shown as the step
        items.append(
            equation(
                block(f"{name} before", u.before, p),
                "−",
                block(f"α·∂L/∂{name}", step, p),
                "=",
                block(f"{name} after", u.after, p),
            )  # fmt: skip
        )
    if hold_biases:
        items.append(Text("b held fixed, as in the article", style="dim"))
    return Panel(Group(*items), title="update (gradient descent)", title_align="left")


def optimizer_panel(parts: _StepParts, p: int, h: tr.NetworkTrace) -> Panel:
    """The update of an optimiser other than plain SGD: its formula, its state, the step."""
    name = h.optimizer["name"]
    row = OPTIMIZERS[name]
    first = parts.update[0]
    items: list[RenderableType] = [_formula(part.strip()) for part in row.formula.split(";  ")]
    values = [f"α = {fmt_g(first.lr)} (this step)", f"t = {first.t}"]
    if name in ("adam", "adamw"):  # the bias corrections of this t
        b1, b2 = h.optimizer["beta1"], h.optimizer["beta2"]
        values += [f"1 − β₁ᵗ = {fmt_g(1 - b1**first.t)}", f"1 − β₂ᵗ = {fmt_g(1 - b2**first.t)}"]
    items.append(Text("    ".join(values)))
    if not (name == "sgd" and not first.state_before):
        items.append(Text(f"step = W after − W {'decayed' if first.decayed is not None else 'before'}",
                          style="dim"))  # fmt: skip
    for u in parts.update:
        label = f"{u.param}{sup(u.layer)}"
        items.append(Text(label, style="bold"))
        state: list[Text | str] = [block(f"g = ∂L/∂{label}", u.grad, p)]
        for slot, was in (u.state_before or {}).items():
            letter = f"{SLOT[slot]}{sup(u.layer)}"
            state += ["  ", block(f"{letter} before", was, p), "→",
                      block(f"{letter} after", u.state_after[slot], p)]  # fmt: skip
        items.append(equation(*state))
        if u.m_hat is not None:
            items.append(
                equation(
                    block("M̂ = M/(1 − β₁ᵗ)", u.m_hat, p),
                    "  ",
                    block("V̂ = V/(1 − β₂ᵗ)", u.v_hat, p),
                    "→",
                    block("step −α·M̂/(√V̂ + ε)", u.change, p),
                )  # fmt: skip
            )
        step_name = f"−α·∂L/∂{label}" if name == "sgd" and not u.state_before else "step"
        start: list[Text | str] = [block(f"{label} before", u.before, p)]
        if u.decayed is not None:  # AdamW's decoupled weight decay comes first
            start += ["·(1 − α·λ) =", block(f"{label} decayed", u.decayed, p)]
        items.append(
            equation(
                *start, "+", block(step_name, u.change, p), "=", block(f"{label} after", u.after, p)
            )  # fmt: skip
        )
    return Panel(Group(*items), title=f"update: {row.title}", title_align="left")


def fmt_g(v: float) -> str:
    """A setting (α, 1 − βᵗ) in its shortest exact-enough form: 0.001, 1e-08, 0.000999."""
    return f"{float(v):.4g}"


def result_line(before: tr.Loss, after: tr.Loss, p: int) -> Text:
    change = after.value - before.value
    if change < 0:
        verdict = ("▼ lower", "green")
    elif change > 0:
        verdict = ("▲ higher: α too large? (overshoot)", "red")
    else:
        verdict = ("= unchanged", "dim")
    return Text.assemble(
        ("loss after the step  ", "bold"), number(before.value, p), " → ",
        number(after.value, p), f"  (change {fmt(change, p)})  ", verdict,
    )  # fmt: skip


def neuron_maps_panel(e: tr.NeuronMaps, h: tr.NetworkTrace, width: int) -> Panel:
    """Each hidden unit's activation over the plane, before → after step ``e.step``.

    Shades run from class 0's colour (low) through dark to class 1's (high); without colour,
    the ramp `` .:-=+*#%@``. Fits ``width`` columns (the panel's border and padding included).
    """
    from nnlite.ui import regions as pictures

    tiles = pictures.before_after_maps(e.before, e.after, h.activations, max(20, width - 4))
    lo1, hi1 = float(e.x1[0]), float(e.x1[-1])
    lo2, hi2 = float(e.x2[-1]), float(e.x2[0])
    note = Text(
        f"x₁ {lo1:.3g} … {hi1:.3g} left to right, x₂ {lo2:.3g} … {hi2:.3g} bottom to top; "
        f"activation low → high: {pictures.RAMP.strip()} (or the colours)",
        style="dim",
    )
    return Panel(
        Group(*tiles, note),
        title=f"neuron maps: before → after step {e.step}",
        title_align="left",
        border_style="blue",
    )


class TraceView:
    """Renders trace events as they arrive: one group of panels per step."""

    def __init__(self, console: Console | None = None, precision: int = 4) -> None:
        self.console = console or terminal.console
        self.p = precision
        self.header: tr.NetworkTrace | None = None
        self.parts: _StepParts | None = None
        self.epoch_rows: list[tr.PerceptronStep] = []
        self.perceptron: tr.PerceptronTrace | None = None

    def show(self, event: tr.Event) -> None:
        handler = getattr(self, "_" + event.kind.replace("-", "_"))
        handler(event)

    # -- network ---------------------------------------------------------

    def _trace(self, h: tr.NetworkTrace) -> None:
        self.header = h
        for w in h.warnings:
            self.console.print(Text(f"warning: {w}", style="yellow"), soft_wrap=True)
        self.console.print(header_panel(h))

    def _step(self, s: tr.Step) -> None:
        self.flush()
        self.parts = _StepParts(s)
        h = self.header
        clock = "" if s.t is None else f" · t = {s.t} · α = {fmt_g(s.lr)}"
        self.console.print(
            Rule(
                f"step {s.step} of {h.steps} · epoch {s.epoch} · {_rows(s.rows)}{clock}",
                align="left",
                style="blue",
            )
        )
        self.console.print(
            equation(block("input x = a⁰", s.X, self.p), "  ", block("target y", s.Y, self.p))
        )

    def _forward(self, e: tr.Forward) -> None:
        self.parts.forward.append(e)

    def _activation(self, e: tr.Activation) -> None:
        self.parts.activation.append(e)
        if len(self.parts.activation) == len(self.header.activations):
            self.console.print(forward_panel(self.parts, self.p))

    def _loss(self, e: tr.Loss) -> None:
        if e.when == "before":
            self.parts.loss = e
            self.console.print(loss_panel(e, len(self.header.activations), self.p))
            return
        self.parts.after = e
        self.flush()

    def _unfused(self, e: tr.Unfused) -> None:
        self.parts.unfused = e

    def _backward(self, e: tr.Backward) -> None:
        self.parts.backward.append(e)
        if e.layer == 1:
            self.console.print(backward_panel(self.parts, self.p))

    def _update(self, e: tr.Update) -> None:
        self.parts.update.append(e)

    def _neuron_maps(self, e: tr.NeuronMaps) -> None:
        self.flush()
        self.console.print(neuron_maps_panel(e, self.header, self.console.width))

    def flush(self) -> None:
        """Print what is left of the current step (the update and the loss after it)."""
        parts, self.parts = self.parts, None
        if parts is None or not parts.update:
            return
        self.console.print(update_panel(parts, self.p, self.header.hold_biases, self.header))
        if parts.loss is not None and parts.after is not None:
            self.console.print(result_line(parts.loss, parts.after, self.p))

    # -- perceptron ------------------------------------------------------

    def _perceptron_trace(self, h: tr.PerceptronTrace) -> None:
        self.perceptron = h
        rule = Table.grid(padding=(0, 2))
        rule.add_column(style="bold", no_wrap=True)
        rule.add_column()
        rule.add_row("output", _formula(f"ŷ = 1 if Σ wᵢxᵢ + b ≥ θ else 0    θ = {h.threshold:g}"))
        rule.add_row("rule", _formula(f"w ← w + η(y − ŷ)x    b ← b + η(y − ŷ)    η = {h.eta:g}"))
        rule.add_row("start", "w = 0, b = 0; one sample at a time, in order; an epoch is one pass")
        rule.add_row("stop", f"an epoch with no mistake (converged), or {h.max_epochs} epochs")
        self.console.print(
            Panel(
                Group(
                    Text.assemble(
                        ("Rosenblatt's perceptron learns ", "bold"),
                        (h.gate.upper(), "bold"),
                        f"   ({h.dtype}, {h.device})",
                    ),  # fmt: skip
                    rule,
                ),
                title="nnlite trace",
                title_align="left",
                border_style="blue",
            )
        )

    def _perceptron_step(self, e: tr.PerceptronStep) -> None:
        self.epoch_rows.append(e)

    def _perceptron_epoch(self, e: tr.PerceptronEpoch) -> None:
        h, p = self.perceptron, max(self.p, 1)

        def g(v: float) -> Text:  # the perceptron's numbers are short: no padding zeros
            return Text(f"{float(v) + 0.0:.{p}g}", style=_style(float(v)))

        def vec(v: Any) -> Text:
            out = Text("[")
            for j, x in enumerate(np.asarray(v).tolist()):
                out.append_text(Text(" ") + g(x) if j else g(x))
            return out + Text("]")

        title = f"epoch {e.epoch}: {e.updates} update{'s' * (e.updates != 1)}"
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in ("x", "y", "w", "b", "Σ wᵢxᵢ + b", f"≥ θ={h.threshold:g}?", "ŷ", "y − ŷ", "w after", "b after"):  # fmt: skip
            table.add_column(col, justify="right", no_wrap=True)
        # narrow consoles: ŷ says what "≥ θ?" says, w and b share a cell, columns sit closer
        compact = Table(title=f"{title} (ŷ = 1 where Σ ≥ θ = {h.threshold:g})",
                        title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0))  # fmt: skip
        for col in ("x", "y", "w; b", "Σ wᵢxᵢ+b", "ŷ", "y−ŷ", "w; b after"):
            compact.add_column(col, justify="right", no_wrap=True)
        for s in self.epoch_rows:
            err = Text(f"{s.error:+d}" if s.error else "0", style=_style(s.error))
            x = Text(" ".join(f"{x:g}" for x in np.asarray(s.x).tolist()))
            after = Text("same", style="dim")
            table.add_row(
                x, str(s.y), vec(s.w), g(s.b), g(s.weighted_sum), "yes" if s.y_hat else "no",
                str(s.y_hat), err, vec(s.w_after) if s.error else after,
                g(s.b_after) if s.error else after,
            )  # fmt: skip
            compact.add_row(
                x, str(s.y), vec(s.w) + "; " + g(s.b), g(s.weighted_sum), str(s.y_hat), err,
                vec(s.w_after) + "; " + g(s.b_after) if s.error else after,
            )  # fmt: skip
        table = FirstThatFits(table, compact)
        self.epoch_rows = []
        self.console.print(table)
        if e.outcome == "converged":
            self.console.print(
                Text.assemble(
                    ("converged", "bold green"),
                    f" in epoch {e.epoch}: a whole pass without a mistake; "
                    f"w = {np.asarray(e.w).tolist()}, b = {e.b:g}",
                )
            )
        elif e.outcome == "gave up":
            text = Text.assemble(
                ("gave up", "bold red"),
                f" after {e.epoch} epochs: still {e.updates} mistakes per pass.",
            )
            if h.gate == "xor":
                text.append(
                    " XOR is not linearly separable: no line w₁x₁ + w₂x₂ + b = θ puts (0,1) and "
                    "(1,0) on one side and (0,0) and (1,1) on the other. A hidden layer can: "
                    "`nnlite trace --epochs 1` traces a 2-2-1 network on XOR."
                )
            self.console.print(text)

    def finish(self) -> None:
        self.flush()


# ---------------------------------------------------------------------------
# Driving a trace.
# ---------------------------------------------------------------------------


def _waits(event: tr.Event) -> bool:
    return tr.starts_step(event)


def _pause(console: Console, event: tr.Event) -> bool:
    """Wait for Enter before a step; False when the learner quits (q or end of input)."""
    what = f"step {event.step}" if isinstance(event, tr.Step) else f"epoch {event.epoch}"
    try:
        answer = console.input(f"[dim]Enter: {what} · q: quit[/dim] ")
    except (EOFError, KeyboardInterrupt):
        return False
    return answer.strip().lower() not in ("q", "quit", "exit")


def play(
    events: Iterable[tr.Event],
    console: Console | None = None,
    precision: int = 4,
    interactive: bool = False,
) -> None:
    """Render a trace. ``interactive`` waits for Enter before each step (each
    perceptron epoch) — only when both the console and stdin are a terminal."""
    console = console or terminal.console
    view = TraceView(console, precision)
    waiting = interactive and console.is_terminal and sys.stdin.isatty()
    events = iter(events)
    for event in events:
        if waiting and _waits(event):
            view.flush()
            if not _pause(console, event):
                if isinstance(events, Iterator) and hasattr(events, "close"):
                    events.close()
                console.print(Text("stopped.", style="dim"))
                return
        view.show(event)
    view.finish()


def write_json(events: Iterable[tr.Event], out: Any = None) -> None:
    """One JSON object per event and line, on stdout; warnings also go to stderr."""
    out = out or sys.stdout
    try:
        for event in events:
            if isinstance(event, tr.NetworkTrace):
                for w in event.warnings:
                    terminal.warn(w)
            out.write(event.to_line() + "\n")
        out.flush()
    except BrokenPipeError:
        # The reader stopped early (``| head``): that is not an error. Point stdout at
        # /dev/null so that Python's own flush at exit does not complain either.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
