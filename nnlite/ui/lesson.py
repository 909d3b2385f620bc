"""Terminal rendering of ``nnlite lesson`` and ``nnlite gradcheck`` with rich.

Owns: the short explanation of each lesson in the lesson's own terms, its text plots
(loss curves, activation curves, the loss landscape with where each start ended) and its
tables, which put the scipy reference beside nnlite's result. Reads the plain results of
``nnlite/lessons.py``; computes nothing the tests do not check. Imports rich and numpy.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from nnlite import lessons

MARKS = "•ox+*#"
SHADES = " .:-=+*%#@"


def _e(x: float) -> str:
    return "—" if x is None or not math.isfinite(x) else f"{x:.3g}"


def _vec(v: Any, digits: int = 4) -> str:
    # round first, then add 0.0: −1e−15 shows as 0.000, not −0.000
    return "(" + ", ".join(f"{round(float(x), digits) + 0.0:.{digits}f}" for x in np.ravel(v)) + ")"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        table.add_column(col, justify="left" if i == 0 else "right")
    return table


def _para(text: str) -> Text:
    return Text(" ".join(text.split()), style="default")


class Plot:
    """A text drawing that draws itself narrower in a narrower console, instead of wrapping.

    ``draw(width)`` returns the drawing's lines for a frame ``width`` cells wide. The first
    ``head`` and the last ``tail`` lines are words (a title, a legend): they may wrap at
    spaces like any text. The lines between are the frame: never wrapped. When they are
    wider than the console, the drawing is redrawn with ``width`` smaller by the excess
    (down to ``min_width``; what still does not fit is cropped, never folded). In a console
    as wide as the drawing or wider, it is drawn at ``width``, exactly as before.
    """

    def __init__(
        self, draw: Callable[[int], list[str]], width: int, head: int = 1, tail: int = 0,
        min_width: int = 10,
    ) -> None:  # fmt: skip
        self.draw, self.width, self.head, self.tail = draw, width, head, tail
        self.min_width = min(min_width, width)

    def lines(self, max_width: int) -> tuple[list[str], list[str], list[str]]:
        """(head, frame, tail) lines drawn to fit ``max_width`` cells."""
        width = self.width
        for _ in range(4):  # the labels' widths can change with the width: converge
            lines = self.draw(width)
            frame = lines[self.head : len(lines) - self.tail]
            over = max((cell_len(line) for line in frame), default=0) - max_width
            if over <= 0 or width == self.min_width:
                break
            width = max(self.min_width, width - over)
        return lines[: self.head], frame, lines[len(lines) - self.tail :]

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        head, frame, tail = self.lines(options.max_width)
        for line in head:
            yield Text(line)
        for line in frame:
            yield Text(line, no_wrap=True, overflow="crop")
        for line in tail:
            yield Text(line)


class Choice:
    """The first of several renderables whose natural width fits the console; else the last.

    For a table that a narrow console would squeeze to "0…": the same figures as lines of
    text instead."""

    def __init__(self, *options: RenderableType, uncropped: bool = False) -> None:
        # uncropped: take a table as long as rich need not crop a cell to "…" (it wraps them
        # at spaces: nothing lost); else only where it fits unwrapped
        self.options, self.uncropped = options, uncropped

    def fits(self, choice: RenderableType, console: Console, options: ConsoleOptions) -> bool:
        if self.uncropped and isinstance(choice, Table):
            given = str(choice.title or "").count("…") + sum(
                str(cell).count("…") for col in choice.columns for cell in [col.header, *col.cells]
            )  # fmt: skip
            lines = console.render_lines(choice, options, pad=False)
            return sum(seg.text.count("…") for line in lines for seg in line) <= given
        unbounded = options.update_width(10_000)  # Measurement.get clamps to the width
        return Measurement.get(console, unbounded, choice).maximum <= options.max_width

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for choice in self.options[:-1]:
            if self.fits(choice, console, options):
                yield choice
                return
        yield self.options[-1]


def chart_plot(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]], *, title: str,
    width: int = 60, **kw: Any,
) -> Plot | Text:  # fmt: skip
    """``chart`` as a ``Plot``: its frame narrows to fit the console."""
    if not chart(series, title=title, width=width, **kw):
        return Text("")
    return Plot(lambda w: chart(series, title=title, width=w, **kw).splitlines(), width,
                head=1, tail=1)  # fmt: skip


def chart(
    series: Sequence[tuple[str, Sequence[float], Sequence[float]]],
    *,
    title: str,
    xlabel: str = "",
    ylabel: str = "",
    width: int = 60,
    height: int = 12,
) -> str:
    """Several (label, xs, ys) series in one text chart, one mark per series, with a legend.

    Non-finite points are skipped; points outside the frame of the finite ones cannot occur.
    """
    pts = [
        (x, y)
        for _, xs, ys in series
        for x, y in zip(xs, ys)
        if math.isfinite(x) and math.isfinite(y)
    ]
    if len(pts) < 2:
        return ""
    x_lo, x_hi = min(p[0] for p in pts), max(p[0] for p in pts)
    y_lo, y_hi = min(p[1] for p in pts), max(p[1] for p in pts)
    x_span, y_span = (x_hi - x_lo) or 1.0, (y_hi - y_lo) or 1.0
    grid = [[" "] * width for _ in range(height)]
    for k, (_, xs, ys) in enumerate(series):
        for x, y in zip(xs, ys):
            if math.isfinite(x) and math.isfinite(y):
                c = round((x - x_lo) / x_span * (width - 1))
                r = round((y_hi - y) / y_span * (height - 1))
                grid[r][c] = MARKS[k % len(MARKS)]
    label_w = max(len(f"{y_hi:.3g}"), len(f"{y_lo:.3g}"), len(ylabel))
    lines = [title]
    if ylabel:
        lines.append(f"{ylabel:>{label_w}}")
    for r, row in enumerate(grid):
        label = f"{y_hi:.3g}" if r == 0 else (f"{y_lo:.3g}" if r == height - 1 else "")
        lines.append(f"{label:>{label_w}} │{''.join(row)}")
    lines.append(f"{'':>{label_w}} └{'─' * width}")
    left, right = f"{x_lo:.3g}", f"{x_hi:.3g}"
    middle = xlabel.center(max(width - len(left) - len(right), 0))
    lines.append(f"{'':>{label_w}}  {left}{middle}{right}")
    legend = "   ".join(
        f"{MARKS[k % len(MARKS)]} {label}" for k, (label, _, _) in enumerate(series)
    )
    lines.append(f"{'':>{label_w}}  {legend}")
    return "\n".join(lines)


def topics_table(topics: dict[str, str]) -> Table:
    table = Table(title="lessons (run: nnlite lesson NAME)", title_justify="left")
    table.add_column("name", no_wrap=True, style="bold")
    table.add_column("what it shows, with scipy's reference beside nnlite's result", ratio=1)
    for name, text in topics.items():
        table.add_row(name, text)
    return table


def _cell(cell: RenderableType) -> Text:
    return cell.copy() if isinstance(cell, Text) else Text.from_markup(str(cell))


def records(table: Table) -> Group:
    """A table as text, for a console too narrow for its columns: the title, then one
    paragraph per row, "first cell — header: value; header: value; …"."""
    headers = [str(column.header) for column in table.columns]
    rows = list(zip(*(column.cells for column in table.columns)))
    parts: list[RenderableType] = [Text(str(table.title))] if table.title else []
    for row in rows:
        line = _cell(row[0])
        line.stylize("bold")
        for k, (header, cell) in enumerate(zip(headers[1:], row[1:])):
            line.append(" — " if k == 0 else "; ")
            if header:
                line.append(f"{header}: ")
            line.append_text(_cell(cell))
        parts.append(line)
    return Group(*parts)


def fit_table(table: Table) -> Choice:
    """The table where its columns fit the console without cropping a cell; else ``records``."""
    return Choice(table, records(table), uncropped=True)


def render(topic: str, result: Any) -> list[RenderableType]:
    """The renderables of one lesson's result, top to bottom; each table as ``fit_table``."""
    parts = {
        "perceptron": _perceptron,
        "activations": _activations,
        "xor": _xor,
        "learning-rate": _learning_rate,
        "sgd": _sgd,
        "local-minima": _local_minima,
        "optimum": _optimum,
        "optimizers": _optimizers,
        "overfitting": _overfitting,
        "vanishing-gradients": _vanishing,
    }[topic](result)
    return [fit_table(part) if isinstance(part, Table) else part for part in parts]


# -- perceptron --------------------------------------------------------------------


def _perceptron(runs: list[lessons.PerceptronRun]) -> list[RenderableType]:
    intro = _para(
        """The perceptron outputs ŷ = 1 when the weighted sum Σ wᵢxᵢ + b reaches the threshold
        θ, else 0, and learns one sample at a time: w ← w + η(y − ŷ)x, b ← b + η(y − ŷ). If a
        line separates the two classes it stops making mistakes, after at most (R/γ)²
        updates (Novikoff): R is the length of the longest input (x, 1), γ the widest margin
        a separating line can leave. If no line separates them, as for XOR, it never stops.
        scipy decides separability on its own, with a linear program (linprog), and finds
        γ with a constrained minimisation."""
    )
    table = _table(
        "scipy's verdict beside nnlite's perceptron (η = 1, θ = 0, at most 1000 epochs)",
        "data", "linprog", "γ", "(R/γ)²", "nnlite converged", "updates",
    )  # fmt: skip
    table.columns[0].no_wrap = True
    for r in runs:
        table.add_row(
            r.name, "separable" if r.separable else "[red]not separable[/red]", _e(r.margin),
            _e(r.bound),
            f"yes, {r.epochs} epochs" if r.converged else f"[red]no[/red], {r.epochs} epochs",
            str(r.n_updates),
        )  # fmt: skip
    shown = [r for r in runs if r.name in ("AND", "XOR")]
    plot = chart_plot(
        [(f"{r.name} mistakes", range(1, 21), r.updates_per_epoch[:20]) for r in shown],
        title="mistakes (updates) per epoch, first 20 epochs",
        xlabel="epoch",
        height=6,
        width=40,
    )
    agree = all(r.converged == r.separable for r in runs) and all(
        r.n_updates <= r.bound for r in runs if r.separable
    )
    verdict = (
        "nnlite converged exactly where linprog found a separating line, and within Novikoff's bound."
        if agree
        else "[red]nnlite and scipy disagree: see the table.[/red]"
    )
    return [intro, table, plot, Text.from_markup(verdict)]


# -- activations ---------------------------------------------------------------------


def _activations(r: lessons.ActivationCurves) -> list[RenderableType]:
    intro = _para(
        """An activation σ bends the straight line z = x·w + b. The sigmoid 1/(1 + e⁻ᶻ) maps
        every z into (0, 1) and saturates: far from 0 its slope σ′ = σ(1 − σ) vanishes. tanh
        maps into (−1, 1) and is zero-centred (tanh(−z) = −tanh z). ReLU max(0, z) passes
        positives unchanged and zeroes the rest; leaky ReLU keeps a slope of 0.01 below 0 and
        softplus log(1 + eᶻ) is a smooth ReLU, so a unit never goes dead. Softmax turns a row of scores into a
        probability distribution over the classes. nnlite's kernels are compared with
        scipy.special (expit, softmax; tanh z = 2·expit(2z) − 1)."""
    )
    keep = np.abs(r.z) <= 4
    z = r.z[keep]
    plots = [
        chart_plot([(name, z, r.nnlite[name][keep]) for name in ("sigmoid", "tanh")],
              title="sigmoid and tanh (nnlite's kernels)", xlabel="z", height=9),
        chart_plot([(name, z, r.nnlite[name][keep]) for name in ("relu", "leaky_relu", "softplus")],
              title="ReLU, leaky ReLU and softplus", xlabel="z", height=7),
        chart_plot([(f"{name}′", z, r.grad_nnlite[name][keep]) for name in ("sigmoid", "tanh")],
              title="their slopes σ′(z): they vanish as σ saturates", xlabel="z", height=7),
    ]  # fmt: skip
    s, t, relu = r.nnlite["sigmoid"], r.nnlite["tanh"], r.nnlite["relu"]
    rs, rt = r.reference["sigmoid"], r.reference["tanh"]
    mid = int(np.argmin(np.abs(r.z)))
    table = _table("nnlite beside scipy", "claim", "nnlite", "scipy")
    table.add_row("sigmoid range on z ∈ [−6, 6]", f"({s.min():.4f}, {s.max():.4f})",
                  f"({rs.min():.4f}, {rs.max():.4f})")  # fmt: skip
    table.add_row("sigmoid′ at z = 0 (its largest)", _e(r.grad_nnlite["sigmoid"][mid]),
                  _e(r.grad_reference["sigmoid"][mid]))  # fmt: skip
    table.add_row("sigmoid′ at z = 6 (saturated)", _e(r.grad_nnlite["sigmoid"][-1]),
                  _e(r.grad_reference["sigmoid"][-1]))  # fmt: skip
    table.add_row("tanh range", f"({t.min():.4f}, {t.max():.4f})",
                  f"({rt.min():.4f}, {rt.max():.4f})")  # fmt: skip
    table.add_row("tanh mean over symmetric z (zero-centred)", _e(t.mean() + 0.0),
                  _e(rt.mean() + 0.0))  # fmt: skip
    rr = r.reference["relu"]
    table.add_row("ReLU(−2), ReLU(3)", f"{np.interp(-2, r.z, relu):g}, {np.interp(3, r.z, relu):g}",
                  f"{np.interp(-2, r.z, rr):g}, {np.interp(3, r.z, rr):g}")  # fmt: skip
    lk, sp = r.nnlite["leaky_relu"], r.nnlite["softplus"]
    table.add_row("leaky ReLU′(−2) (a slope where ReLU′ is 0)",
                  _e(np.interp(-2, r.z, r.grad_nnlite["leaky_relu"])),
                  _e(np.interp(-2, r.z, r.grad_reference["leaky_relu"])))  # fmt: skip
    table.add_row("leaky ReLU(−2), softplus(0) = ln 2",
                  f"{np.interp(-2, r.z, lk):g}, {sp[mid]:.4f}",
                  f"{np.interp(-2, r.z, r.reference['leaky_relu']):g}, "
                  f"{r.reference['softplus'][mid]:.4f}")  # fmt: skip
    for row, p_n, p_s in zip(r.logits, r.softmax_nnlite, r.softmax_reference):
        table.add_row(f"softmax{_vec(row, 1)}", _vec(p_n, 3), _vec(p_s, 3))
    worst = max(float(np.max(np.abs(r.nnlite[a] - r.reference[a]))) for a in r.nnlite)
    worst = max(worst, float(np.max(np.abs(r.softmax_nnlite - r.softmax_reference))))
    last = Text(f"largest |nnlite − scipy| over every value: {worst:.1e}")
    return [intro, *plots, table, last]


# -- xor -------------------------------------------------------------------------------


def _xor(r: lessons.XorResult) -> list[RenderableType]:
    intro = _para(
        f"""Stack layers without a non-linearity and each one is A·W + b fed into the next:
        the whole network is one linear map X·(W₁W₂⋯) + b. A straight line cannot put (0,1)
        and (1,0) on one side and (0,0) and (1,1) on the other, so a {r.depth}-layer linear
        network ends where the best linear fit ends: scipy.linalg.lstsq gives mean squared
        error {r.best_linear_loss:.4f}, predicting ½ everywhere. One hidden layer of tanh
        units bends the boundary and learns XOR."""
    )
    table = _table(
        "XOR after training", "x₁ x₂", "y", f"{r.depth} linear layers", "tanh hidden layer"
    )
    for x, y, p_lin, p_hid in zip(r.X, r.y, r.linear_predictions, r.hidden_predictions):
        table.add_row(f"{x[0]:g}  {x[1]:g}", str(y), f"{p_lin:.4f}", f"{p_hid:.4f}")
    summary = _table("nnlite beside scipy", "claim", "nnlite", "scipy")
    summary.add_row("deep linear network's MSE", f"{r.linear_losses[-1]:.6f}",
                    f"{r.best_linear_loss:.6f} (lstsq, best linear map)")  # fmt: skip
    summary.add_row("it is one linear map: W₁W₂W₃ vs lstsq of its outputs",
                    _vec(r.linear_product, 3), _vec(r.linear_lstsq, 3))  # fmt: skip
    summary.add_row("accuracy, linear / tanh hidden layer",
                    f"{r.linear_accuracy:.0%} / {r.hidden_accuracy:.0%}", "")  # fmt: skip
    plots = [
        chart_plot([("MSE", range(1, len(r.linear_losses) + 1), r.linear_losses)],
              title=f"{r.depth} linear layers: loss per epoch (stalls at the lstsq optimum)",
              xlabel="epoch", height=6),
        chart_plot([("BCE", range(1, len(r.hidden_losses) + 1), r.hidden_losses)],
              title="one tanh hidden layer: loss per epoch (falls to 0)", xlabel="epoch",
              height=6),
    ]  # fmt: skip
    return [intro, table, *plots, summary]


# -- learning rate -------------------------------------------------------------------


def _learning_rate(r: lessons.LearningRateResult) -> list[RenderableType]:
    mu, L = r.eigenvalues
    intro = _para(
        f"""Gradient descent W ← W − α·dW on a quadratic loss (linear regression, one
        feature: the loss is a bowl in (w, b)). Along the bowl's steepest direction each step
        multiplies the distance to the bottom by 1 − αL, where L is the largest curvature:
        scipy.linalg.eigvalsh of the Hessian gives L = {L:.4f} (and the flattest
        μ = {mu:.4f}). So α < 2/L = {2 / L:.4f} converges, α just below 2/L overshoots the
        bottom at every step (1 − αL near −1: it oscillates), α > 2/L diverges, and a tiny α
        converges but needs many more steps."""
    )
    series = []
    for run in r.runs:
        excess = np.array(run.losses[:60]) - r.loss_star
        ys = np.log10(np.maximum(excess, 1e-16))
        series.append((f"α = {run.fraction:g}·2/L", range(len(ys)), ys))
    plot = chart_plot(series, title="log₁₀(L(θ) − L*) for the first 60 steps", xlabel="step",
                 height=14)  # fmt: skip
    table = _table(
        "each α beside the theory from scipy's L",
        "α", "1 − αL (theory)", "measured", "what it did", "steps to converge",
    )  # fmt: skip
    for run in r.runs:
        ratio = run.ratio[np.abs(run.stiff[:-1]) > 1e-9]
        measured = _e(float(np.median(ratio))) if ratio.size else "—"
        colour = {"converges": "green", "oscillates": "yellow", "diverges": "red"}[run.verdict]
        steps = "never" if run.steps_to_converge is None else str(run.steps_to_converge)
        table.add_row(
            f"{run.fraction:g}·2/L = {run.lr:.3g}", _e(1 - run.lr * L), measured,
            f"[{colour}]{run.verdict}[/{colour}]", steps,
        )  # fmt: skip
    note = Text(
        f"steps to converge: until L(θ) − L* ≤ {r.tol:g}·(L(θ₀) − L*); the lstsq optimum "
        f"L* = {r.loss_star:.6f} at θ* = {_vec(r.theta_star)} (scipy)."
    )
    return [intro, plot, table, note]


# -- sgd ---------------------------------------------------------------------------------


def _sgd(r: lessons.SgdResult) -> list[RenderableType]:
    n = len(r.X)
    intro = _para(
        f"""Stochastic mini-batch gradient descent takes a step after every batch of m rows
        instead of after all {n}: each batch's gradient is a noisy but unbiased estimate of the
        full gradient (its average over batches is exactly the full gradient), so SGD heads
        for the same optimum with many more, cheaper steps and ends jittering around it.
        The reference optimum is scipy.linalg.lstsq's."""
    )
    plot = chart_plot(
        [(f"m = {m}", range(1, len(c) + 1), c) for m, c in r.curves.items()],
        title=f"training loss per epoch (α = {r.lr:g}, same start)",
        xlabel="epoch",
        height=12,
    )
    table = _table("where each batch size ended (θ* from lstsq)", "batch size m",
                   "steps per epoch", "last epoch's loss", "‖θ − θ*‖")  # fmt: skip
    for m, theta in r.ends.items():
        table.add_row(str(m), str(-(-n // m)), _e(r.curves[m][-1]),
                      _e(float(np.linalg.norm(theta - r.theta_star))))  # fmt: skip
    spread = np.linalg.norm(r.seed_ends - r.theta_star, axis=1)
    small = np.linalg.norm(r.small_lr_ends - r.theta_star, axis=1)
    mean_gap = float(np.linalg.norm(r.seed_ends.mean(axis=0) - r.theta_star))
    seeds = _table(f"{len(r.seed_ends)} seeds, m = {r.seed_batch}, {r.epochs} epochs",
                   "α", "mean ‖θ − θ*‖", "‖mean θ − θ*‖")  # fmt: skip
    seeds.add_row(f"{r.lr:g}", _e(float(spread.mean())), _e(mean_gap))
    seeds.add_row(f"{r.lr / 4:g}", _e(float(small.mean())),
                  _e(float(np.linalg.norm(r.small_lr_ends.mean(axis=0) - r.theta_star))))  # fmt: skip
    grad = _table(f"the gradient at θ₀: full batch vs mini-batches of {r.seed_batch}",
                  "estimate", "∂L/∂θ")  # fmt: skip
    grad.add_row("all rows (full batch)", _vec(r.gradient))
    grad.add_row("mean over one epoch's batches", _vec(r.partition_mean))
    grad.add_row(f"mean of {r.draws} random batches", _vec(r.draw_mean))
    grad.add_row("± standard error", _vec(r.draw_stderr))
    return [intro, plot, table, seeds, grad]


# -- local minima ------------------------------------------------------------------------


def landscape(r: lessons.LandscapeResult, width: int | None = None) -> str:
    """The loss over (w, b) as shades, starts as letters, ends as digits, scipy's global as ★.

    ``width``: at most this many columns of the grid, evenly spaced (both edges kept).
    """
    grid = r.loss_grid
    lo, hi = float(grid.min()), float(np.quantile(grid, 0.9))
    if width is not None and width < grid.shape[1]:
        grid = grid[:, np.round(np.linspace(0, grid.shape[1] - 1, max(width, 2))).astype(int)]
    rows = []
    for row in grid[::-1]:  # b grows upwards
        level = np.clip((row - lo) / (hi - lo or 1.0), 0, 1)
        rows.append([SHADES[int(v * (len(SHADES) - 1))] for v in level])
    nb, nw = grid.shape

    def put(theta: Any, mark: str) -> None:
        c = round((theta[0] - r.w_grid[0]) / (r.w_grid[-1] - r.w_grid[0]) * (nw - 1))
        q = round((theta[1] - r.b_grid[0]) / (r.b_grid[-1] - r.b_grid[0]) * (nb - 1))
        if 0 <= c < nw and 0 <= q < nb:
            rows[nb - 1 - q][c] = mark

    for i, m in enumerate(r.minima):
        put(m.theta, str(i))
    for s in r.starts:
        put(s.theta0, s.name)
    put(r.global_theta, "★")
    lines = ["loss over (w, b): light = low, dark = high; A–D starts, 0–9 where descent ended,"
             " ★ scipy's global minimum"]  # fmt: skip
    lines += [f"b={r.b_grid[-1]:+.0f} │{''.join(rows[0])}"]
    lines += [f"     │{''.join(row)}" for row in rows[1:-1]]
    lines += [f"b={r.b_grid[0]:+.0f} │{''.join(rows[-1])}", f"     └{'─' * nw}"]
    lines += [f"      w={r.w_grid[0]:+.0f}{'w'.center(nw - 10)}w={r.w_grid[-1]:+.0f}"]
    return "\n".join(lines)


def basin_map(r: lessons.LandscapeResult) -> str:
    """For a grid of starts θ₀ = (w, b): the number of the minimum gradient descent reached."""
    lines = ["where gradient descent ends, by start (w across, b up): 0 = global minimum"]
    for q in range(len(r.basin_b) - 1, -1, -1):
        cells = " ".join(str(v) for v in r.basin_grid[q])
        lines.append(f"b={r.basin_b[q]:+.2f}  {cells}")
    lines.append(f"        w from {r.basin_w[0]:+.1f} to {r.basin_w[-1]:+.1f}")
    return "\n".join(lines)


def _pattern(active: Sequence[bool]) -> str:
    """● where the neuron is on, ○ where it is off, one mark per point from left to right."""
    return "".join("●" if a else "○" for a in active)


def _local_minima(r: lessons.LandscapeResult, reference: bool = False) -> list[RenderableType]:
    intro = _para(
        """One ReLU neuron a = max(0, w·x + b) fits five points of a V (y = |x|) with mean
        squared error. Where the neuron is on it is a straight line, so every minimum is the
        least-squares line through the points it is on (scipy.linalg.lstsq checks each), and
        the points it is off for send no gradient back. Gradient descent (α = 1/L) from
        different starts ends in different minima; scipy's differential_evolution searches the
        whole square for the global one."""
    )
    minima = _table("the minima gradient descent found (● on, ○ off, points left to right)",
                    "#", "on", "θ = (w, b), nnlite", "lstsq on the ● (scipy)", "loss",
                    "starts", "global")  # fmt: skip
    for i, m in enumerate(r.minima):
        minima.add_row(
            str(i), _pattern(m.active), _vec(m.theta, 3),
            "—" if m.lstsq_theta is None or sum(m.active) < 2 else _vec(m.lstsq_theta, 3),
            f"{m.loss:.4f}", str(m.starts), "[green]yes[/green]" if r.reaches_global(m) else "no",
        )  # fmt: skip
    if reference:
        starts = _table("from each start: nnlite's gradient descent and scipy's L-BFGS-B",
                        "start θ₀", "nnlite's end", "L-BFGS-B's end", "‖Δθ‖", "loss", "global")  # fmt: skip
        for s in r.starts:
            starts.add_row(
                f"{s.name} {_vec(s.theta0, 1)}", _vec(s.theta, 2), _vec(s.theta_ref, 2),
                f"{np.linalg.norm(s.theta - s.theta_ref):.0e}", f"{s.loss:.4f}",
                "[green]yes[/green]" if r.reaches_global(s) else "no",
            )  # fmt: skip
    else:
        starts = _table("named starts", "start", "θ₀", "nnlite's end", "loss", "global")
        for s in r.starts:
            starts.add_row(
                s.name, _vec(s.theta0, 1), _vec(s.theta, 3), f"{s.loss:.4f}",
                "[green]yes[/green]" if r.reaches_global(s) else "no",
            )  # fmt: skip
    starts.columns[0].no_wrap = True
    foot = Text(
        f"scipy differential_evolution: global minimum θ = {_vec(r.global_theta)}, "
        f"loss {r.global_loss:.6f}."
    )
    land = Plot(lambda w: landscape(r, w).splitlines(), r.loss_grid.shape[1])
    basins = Plot(lambda w: basin_map(r).splitlines(), 0)
    return [intro, land, basins, minima, starts, foot]


# -- optimum -------------------------------------------------------------------------


def comparison_table(c: lessons.OptimumComparison, title: str) -> Table:
    table = _table(title, "", "nnlite", "scipy")
    table.add_row(
        "how",
        f"{c.steps} epochs, batch {c.batch_size}",
        c.reference.replace("scipy.optimize.minimize ", ""),
    )
    table.add_row("θ at the end", _vec(c.theta, 5), _vec(c.theta_ref, 5))
    table.add_row("loss at the end", f"{c.loss:.10f}", f"{c.loss_ref:.10f}")
    table.add_row("loss gap (nnlite − scipy)", _e(c.loss_gap), "")
    table.add_row("‖θ − θ_scipy‖", f"{c.distance:.2e}", "")
    table.add_row("‖θ − θ_scipy‖ / ‖θ_scipy‖", f"{c.relative_distance:.1e}", "")
    return table


def _optimum(r: lessons.OptimumLesson) -> list[RenderableType]:
    c = r.convex
    intro = _para(
        """Gradient descent is one way to minimise a loss; scipy.optimize has others. On a
        convex problem — logistic regression on two overlapping clouds — there is one
        minimum: nnlite's mini-batch SGD (α falling 1 → 0.1 → 0.01) and L-BFGS-B started
        from the same θ₀ end in the same place. On a non-convex loss each start has its own
        minimum: from each start below, nnlite and L-BFGS-B end in the same minimum, and
        different starts end in different minima."""
    )
    plot = chart_plot(
        [("nnlite SGD", range(1, len(c.losses) + 1), c.losses),
         ("scipy optimum", [1, len(c.losses)], [c.loss_ref, c.loss_ref])],
        title="logistic regression: SGD's loss per epoch and scipy's minimum", xlabel="epoch",
        height=8,
    )  # fmt: skip
    rest = _local_minima(r.nonconvex, reference=True)
    return [intro, plot, comparison_table(c, "convex: one minimum"), rest[4], rest[5]]


# -- optimizers --------------------------------------------------------------------------

PATH_MARKS = {"SGD": "S", "momentum": "M", "RMSProp": "R", "Adam": "A"}


def path_map(
    r: lessons.QuadraticRace, names: Sequence[str], steps: int = 400, width: int = 64,
    height: int = 15,
) -> str:  # fmt: skip
    """The quadratic's level sets as bands, each optimiser's first ``steps`` points as its
    letter, the start as o and scipy's optimum as ★ (drawn last, on top)."""
    runs = [run for run in r.runs if run.name in names]
    # A box around the start and the optimum: an overshoot leaves the frame, not the scale.
    corners = np.array([r.theta0, r.theta_ref])
    lo, hi = corners.min(axis=0), corners.max(axis=0)
    pad = 0.25 * (hi - lo) + 1e-9
    lo, hi = lo - pad, hi + pad
    xs = np.linspace(lo[0], hi[0], width)
    ys = np.linspace(hi[1], lo[1], height)  # top row first
    T = np.stack(np.meshgrid(xs, ys), axis=-1)
    d = T - r.theta_ref
    excess = 0.5 * np.einsum("hwi,ij,hwj->hw", d, r.A, d)  # f(θ) − f* = ½(θ − θ*)ᵀA(θ − θ*)
    band = np.floor(2 * np.log10(np.maximum(excess, 1e-12))).astype(int) % 2
    rows = [["·" if v else " " for v in row] for row in band]

    def put(theta: Any, mark: str) -> None:
        c = round((theta[0] - lo[0]) / (hi[0] - lo[0]) * (width - 1))
        q = round((hi[1] - theta[1]) / (hi[1] - lo[1]) * (height - 1))
        if 0 <= c < width and 0 <= q < height:
            rows[q][c] = mark

    for run in runs:
        for theta in run.path[: steps + 1]:
            put(theta, PATH_MARKS.get(run.name, "?"))
    put(r.theta0, "o")
    put(r.theta_ref, "★")
    legend = ", ".join(f"{PATH_MARKS.get(run.name, '?')} {run.name}" for run in runs)
    top, bottom = f"θ₂={hi[1]:+.1f}", f"θ₂={lo[1]:+.1f}"
    w = max(len(top), len(bottom))
    lines = [f"θ over the first {steps} steps: {legend}; o start, ★ scipy's optimum"]
    lines.append(f"{top:>{w}} │{''.join(rows[0])}")
    lines += [f"{'':>{w}} │{''.join(row)}" for row in rows[1:-1]]
    lines += [f"{bottom:>{w}} │{''.join(rows[-1])}", f"{'':>{w}} └{'─' * width}"]
    left, right = f"θ₁={lo[0]:+.1f}", f"θ₁={hi[0]:+.1f}"
    lines.append(f"{'':>{w}}  {left}{'θ₁'.center(width - len(left) - len(right))}{right}")
    return "\n".join(lines)


def _log_excess(values: Any, floor: float) -> np.ndarray:
    return np.log10(np.maximum(np.asarray(values, float) - floor, 1e-16))


def _optimizers(r: lessons.OptimizersLesson) -> list[RenderableType]:
    q = r.quadratic
    mu, L = q.eigenvalues
    intro = _para(
        f"""SGD steps against the gradient: θ ← θ − α·g. Momentum adds a velocity,
        V ← μ·V − α·g, θ ← θ + V, so steps that agree add up and steps that zig-zag cancel.
        RMSProp divides each coordinate's step by the root of its recent squared gradients,
        and Adam divides a running mean of g by that root, with both averages corrected for
        starting at 0. Every step below is nnlite's own update kernel
        (optimizer_update), on a quadratic valley f(θ) = ½θᵀAθ − bᵀθ whose curvatures
        (scipy.linalg.eigvalsh) are μ = {mu:.3g} and L = {L:.3g}: condition number
        κ = {q.kappa:.0f}, the valley turned 30° off the axes."""
    )
    four = [run for run in q.runs if run.name in PATH_MARKS]
    plots = [
        Plot(lambda w: path_map(q, ("SGD", "momentum"), steps=120, width=w).splitlines(), 64),
        Plot(lambda w: path_map(q, ("RMSProp", "Adam"), steps=600, width=w).splitlines(), 64),
        chart_plot([(run.name, range(0, 801, 4), _log_excess(run.losses[:801:4], q.loss_ref))
               for run in four],
              title="log₁₀(f(θ) − f*) per step: the quadratic", xlabel="step", height=10),
    ]  # fmt: skip
    race = _table(
        f"the quadratic (κ = {q.kappa:.0f}): scipy.optimize.minimize ends at "
        f"{_vec(q.theta_ref)}, scipy.linalg.solve gives {_vec(q.theta_solve)}",
        "optimiser", "setting", "steps to 10⁻⁶", f"‖θ − θ*‖ at step {q.runs[0].steps}",
    )  # fmt: skip
    race.columns[1].justify = "left"
    for run in q.runs:
        close = run.distance <= q.tol
        race.add_row(run.name, run.setting, "never" if run.steps_to_tol is None else
                     str(run.steps_to_tol),
                     f"[{'green' if close else 'red'}]{run.distance:.1e}[/]")  # fmt: skip
    lg = r.logistic
    logistic = _table(
        "logistic regression: Sequential([Dense(1, 'sigmoid')]).fit, full batch, "
        f"{lg.runs[0].steps} epochs, vs scipy minimize, trust-exact (loss {lg.loss_ref:.6f})",
        "optimiser", "setting", "loss − scipy's", "‖θ − θ_scipy‖",
    )  # fmt: skip
    logistic.columns[1].justify = "left"
    for run in lg.runs:
        logistic.add_row(run.name, run.setting, f"{run.losses[-1] - lg.loss_ref:.1e}",
                         f"{run.distance:.1e}")  # fmt: skip
    curve = chart_plot(
        [(run.name, range(1, 301, 3), _log_excess(run.losses[:300:3], lg.loss_ref))
         for run in lg.runs],
        title="log₁₀(loss − scipy's minimum) per epoch: logistic regression",
        xlabel="epoch", height=8,
    )  # fmt: skip
    fs = r.first
    first = _table(f"the first step θ₁ − θ₀ in units of α = {fs.alpha:g}",
                   "gᵢ", *fs.steps)  # fmt: skip
    for i, g in enumerate(fs.gradient):
        first.add_row(f"{g:g}", *(f"{step[i] / fs.alpha:+.4g}" for step in fs.steps.values()))
    adam = np.abs(fs.steps["Adam"]) / fs.alpha
    first_note = Text(
        f"Adam's first step moves every coordinate by {adam.min():.4f}α to {adam.max():.4f}α "
        "whatever the gradient's scale: m̂₁ = g and v̂₁ = g², so the step is α·g/(|g| + ε). "
        "RMSProp has no bias correction: its v₁ = (1 − ρ)g² makes the first step "
        "α/√(1 − ρ) = 10α."
    )
    speed = _table("momentum's advantage grows with the condition number "
                   "(‖θ − θ*‖ ≤ 10⁻⁶·‖θ₀ − θ*‖)",
                   "κ", "GD, α = 2/(L + μ)", "momentum, Polyak", "advantage", "√κ")  # fmt: skip
    for row in r.momentum:
        speed.add_row(f"{row.kappa:.0f}", str(row.gd_steps), str(row.momentum_steps),
                      f"{row.advantage:.1f}×", f"{math.sqrt(row.kappa):.1f}")  # fmt: skip
    speed_note = Text(
        "Gradient descent needs about κ/2·ln(10⁶) steps, momentum about √κ/2·ln(10⁶): "
        "the advantage grows like √κ."
    )
    return [intro, *plots, race, logistic, curve, first, first_note,
            speed, speed_note]  # fmt: skip


def _overfitting(r: lessons.OverfittingLesson) -> list[RenderableType]:
    plain = r.runs[0]
    intro = _para(
        f"""A network with {r.n_params:,} parameters learns from only {r.n_train} of the
        8×8 digits and is checked on {r.n_val} others. The training loss keeps falling
        toward 0 while the validation loss turns up: the network memorises its
        {r.n_train} images. L2 adds λ·ΣW² to the loss (2λW to dW) and keeps the weights
        small; dropout zeroes each hidden value with probability p at every step and
        divides the rest by 1 − p; early stopping keeps the weights of the epoch with the
        lowest validation loss. Curves: the cross-entropy after each epoch on all rows,
        without dropout or penalty."""
    )
    epochs = list(range(1, len(plain.train) + 1))
    start = min(24, len(epochs) - 2)
    plots = [
        chart_plot([("training", epochs, np.log10(plain.train)),
               ("validation", epochs, np.log10(plain.val))],
              title="plain network: log₁₀ cross-entropy per epoch", xlabel="epoch", height=8),
        chart_plot([(run.name, epochs[start:], run.val[start:]) for run in r.runs],
              title=f"validation cross-entropy per epoch, from epoch {start + 1}",
              xlabel="epoch", height=9),
    ]  # fmt: skip
    table = _table(
        f"after {r.epochs} epochs (Adam, α = 0.003, batches of 16)",
        "run", "lowest val (epoch)", "val at end", "train at end", "val acc.", "‖W‖",
    )  # fmt: skip
    for run in r.runs:
        table.add_row(run.name, f"{min(run.val):.3f} ({run.best_epoch + 1})",
                      f"{run.end_val:.3f}", f"{run.train[-1]:.4f}", f"{run.end_accuracy:.1%}",
                      f"{run.end_norm:.1f}")  # fmt: skip
    settings = Text("; ".join(f"{run.name}: {run.setting}" for run in r.runs) + ".")
    e = r.early
    stop = "—" if e.stopped_epoch is None else str(e.stopped_epoch + 1)
    early = Text(
        f"Early stopping (nnlite.callbacks.EarlyStopping on val_loss, patience {e.patience}, "
        f"restore_best_weights) on the plain network stopped after epoch "
        f"{stop} and returned the weights of epoch {e.best_epoch + 1}, its lowest validation "
        f"loss ({min(e.val_loss):.4f}); a fresh run of exactly {e.best_epoch + 1} epochs with "
        "the same seed ends at the same θ: "
        + ("bit for bit." if e.identical else "NOT the same θ."),
        style="default" if e.identical else "red",
    )
    sm = r.softmax
    ev = sm.hessian_eigenvalues
    unique = _table(
        f"L2 gives one optimum: softmax regression on all 64 pixels, λ = {sm.lam:g}",
        "", "nnlite", "scipy.optimize.minimize",
    )  # fmt: skip
    unique.add_row(
        "θ (biases centred)", f"‖θ − θ_scipy‖/‖θ_scipy‖ = {sm.relative_distance:.0e}", ""
    )
    unique.add_row("loss: cross-entropy + λΣW²", f"{sm.loss:.10f}", f"{sm.loss_ref:.10f}")
    hessian = Text(
        f"The Hessian at scipy's optimum (scipy.linalg.eigvalsh) has {sm.flat_directions} "
        f"eigenvalue(s) at 0 (the bias shift: one constant added to every bias changes no "
        f"probability) and the next is {ev[sm.flat_directions]:.1e}: every other direction "
        "curves upward, so the optimum is unique once the biases are centred."
    )
    sep = "a θ_sep that classifies" if sm.separable else "[red]no θ that classifies[/red]"
    loss_along = ", ".join(f"{v:.0e}" for v in sm.loss_along)
    none = Text.from_markup(
        f"Without L2 there is no optimum: scipy's linprog finds {sep} every training digit "
        f"with margin 1, and the cross-entropy at s·θ_sep for s = "
        f"{', '.join(f'{s:g}' for s in sm.scales)} is {loss_along}: it tends to 0 and "
        "never gets there. Gradient descent keeps going:"
    )
    path = _table("", "gradient-descent steps without L2", *(str(k) for k in sm.plain_steps))
    path.show_header = True
    path.add_row("cross-entropy", *(f"{v:.3f}" for v in sm.plain_loss))
    path.add_row("‖W‖", *(f"{v:.1f}" for v in sm.plain_norm))
    rd = r.ridge
    ridge = Text(
        f"A linear layer (identity, MSE) with L2 λ = {rd.lam:g} is ridge regression: nnlite's θ "
        f"is scipy.linalg.solve's (X̃ᵀX̃ + n·o·λ·D)⁻¹X̃ᵀY to ‖Δθ‖/‖θ‖ = "
        f"{rd.relative_distance:.0e}. Without L2, X̃ᵀX̃ has rank {rd.rank} of {rd.size} "
        f"({rd.blank} pixels are blank in every training image) and least squares alone has "
        "infinitely many solutions."
    )
    drop = _table(
        "dropout keeps each unit's expected value: its mean over many steps' masks",
        "p", "kept (1 − p)", "binomial p-value", "live units", "max |z|", "χ² p-value",
    )  # fmt: skip
    for d in r.dropout:
        drop.add_row(f"{d.p:g}", f"{d.kept / d.total:.4f} ({1 - d.p:g})", f"{d.keep_p_value:.2f}",
                     str(d.units), f"{np.abs(d.z).max():.1f}", f"{d.p_value:.2f}")  # fmt: skip
    drop_note = Text(
        f"z: each hidden unit's mean value after dropout over {r.dropout[0].steps} steps minus "
        "its mean without, over its standard error; the p-values (scipy.stats) are large "
        "when the masks keep the expectation."
    )
    return [intro, *plots, table, settings, early, unique, hessian, none, path,
            ridge, drop, drop_note]  # fmt: skip


# -- vanishing gradients ------------------------------------------------------------------


def gradient_bars(
    title: str, labels: Sequence[str], values: Sequence[float], lo: float, hi: float,
    width: int = 40,
) -> list[str]:  # fmt: skip
    """One bar per value on a log scale from 10^lo (no bar) to 10^hi (``width`` cells), the
    value written after it: the title, then a line per value."""
    label_w = max(len(x) for x in labels)
    lines = [title]
    for label, v in zip(labels, values):
        share = (math.log10(v) - lo) / (hi - lo) if v > 0 and math.isfinite(v) else 0.0
        eighths = round(min(max(share, 0.0), 1.0) * width * 8)
        bar = "█" * (eighths // 8) + ("", *"▏▎▍▌▋▊▉")[eighths % 8]
        lines.append(f"{label:>{label_w}} │{bar:<{width}} {v:.1e}")
    lines.append(f"{'':>{label_w}} └{'─' * width}")
    lines.append(f"{'':>{label_w}}  {f'10^{lo:g}':<{max(width - 6, 1)}}{f'10^{hi:g}':>6}")
    return lines


def _ratio(x: float) -> str:
    return f"{x:.2f}" if x >= 0.1 else f"{x:.3f}"


def _vanishing(r: lessons.VanishingLesson) -> list[RenderableType]:
    by = {(run.activation, run.init): run for run in r.runs}
    sg, sn, rh, rn = (by[c] for c in lessons.DEEP_CONFIGS)
    glorot = sg.interval()[0]
    first = float(np.median(sg.first_to_last))
    intro = _para(
        f"""Backpropagation carries the gradient down one layer at a time: dZ_ℓ = dA_ℓ ⊙ σ′(Z_ℓ),
        then dA_ℓ₋₁ = dZ_ℓ·W_ℓᵀ. So each layer multiplies the gradient's norm by at most
        max σ′ · ‖W_ℓ‖₂, the largest singular value of W_ℓ (scipy.linalg.svdvals), and on
        average by about √(fan_in · Var W · E[σ′²]). The sigmoid's slope σ′ = σ(1 − σ) is at
        most ¼ (at z = 0); Glorot's weights have fan_in · Var W = 1 here, so each sigmoid
        layer shrinks the gradient about {1 / glorot:.1f}×, and the first hidden layer's
        ‖∂L/∂W‖ is {first:.0e} of the last's: its weights barely move. ReLU's slope is 1
        where a unit is on and 0 where it is off, about half the units; He's
        Var W = 2/fan_in makes up for that half, so the gradient keeps its size from layer
        to layer. N(0, 1) weights are too large for {r.width} inputs a unit. Sigmoid units
        saturate: {np.mean(sn.saturated):.0%} of them are within {lessons.SATURATION:g} of
        0 or 1, where σ′ < 0.048 and they pass almost nothing back (the larger weights
        make the average factor {sn.interval()[0]:.2f} instead of {glorot:.2f}). With
        ReLU, dA grows √(fan_in/2) = {rn.theory:.0f}× a layer going down and the
        activations grow as much going up: every ‖∂L/∂W_ℓ‖ is about
        {np.median(rn.dW_norm):.0e} (He: {np.median(rh.dW_norm):.1f}). The gradients
        explode."""
    )
    setup = Text(
        f"{r.depth} hidden layers of {r.width} units, then 10 softmax units, on {r.n_rows} of "
        f"the 8×8 digits (cross-entropy); {r.seeds} random initialisations of each network. "
        "Every number is from nnlite's own forward and backward kernels (no training step)."
    )
    L = len(sg.shown.dW)

    def norms_table(short: bool) -> Table:
        titles = [run.title.replace("sigmoid", "σ").replace(", ", " ", 1) if short else run.title
                  for run in r.runs]  # fmt: skip
        table = _table("‖∂L/∂W_ℓ‖ layer by layer (seed 0)", "ℓ" if short else "layer ℓ",
                       *titles)  # fmt: skip
        if short:
            table.show_edge, table.padding = False, (0, 1)
        for k in range(L):
            name = str(k + 1) + (" out" if short else " (output)") * (k == L - 1)
            table.add_row(name, *(f"{run.dW_norm[0, k]:.1e}" for run in r.runs))
        return table

    table = Choice(norms_table(False), norms_table(True))
    norms = np.array([run.dW_norm[0] for run in r.runs])
    lo, hi = math.floor(np.log10(norms.min())), math.ceil(np.log10(norms.max()))
    labels = [str(k + 1) for k in range(L)]
    bars = [
        Plot(lambda w, run=run: gradient_bars(
            f"{run.title}: ‖∂L/∂W_ℓ‖ by layer ℓ (log scale, layer {L} the output)",
            labels, run.dW_norm[0], lo, hi, w), 40, head=1)
        for run in r.runs
    ]  # fmt: skip
    factors = _table(
        f"the factor one hidden layer applies, ‖dA_ℓ₋₁‖/‖dA_ℓ‖ (geometric mean over "
        f"{r.depth - 1} layers × {r.seeds} seeds)",
        "network", "factor", "99.9 % CI", "theory", "ℓ=1 ÷ ℓ=10", "saturated", "off",
    )  # fmt: skip
    factors.columns[0].no_wrap = True
    for run in r.runs:
        g, a, b = run.interval()
        theory = ("≤ " if run.activation == "sigmoid" else "") + _ratio(run.theory)
        sat = np.mean(run.saturated)
        factors.add_row(run.title, _ratio(g), f"{_ratio(a)}–{_ratio(b)}", theory,
                        f"{np.median(run.first_to_last):.0e}",
                        "—" if math.isnan(sat) else f"{sat:.0%}",
                        f"{np.mean(run.off):.0%}")  # fmt: skip
    lines = []
    for run in r.runs:
        g, a, b = run.interval()
        sat = np.mean(run.saturated)
        lines.append(
            f"{run.title}: factor {_ratio(g)} (99.9 % CI {_ratio(a)}–{_ratio(b)}, theory "
            + ("≤ " if run.activation == "sigmoid" else "") + f"{_ratio(run.theory)}); "
            f"ℓ=1 ÷ ℓ=10 {np.median(run.first_to_last):.0e}; "
            + ("" if math.isnan(sat) else f"saturated {sat:.0%}; ")
            + f"off {np.mean(run.off):.0%}"
        )  # fmt: skip
    narrow = Group(Text(factors.title or ""), *(Text(line) for line in lines))
    worst = max(float(run.tightness.max()) for run in r.runs)
    checks = sum(run.tightness.size for run in r.runs)
    note = Text(
        "factor: exp of the mean of ln(‖dA_ℓ₋₁‖/‖dA_ℓ‖) over hidden layers ℓ = 2 … "
        f"{r.depth} and seeds, its interval from Student's t (scipy.stats); theory: "
        "√(fan_in · Var W · E[σ′²]) with E[σ′²] ≤ 1/16 for sigmoid, ½ for ReLU; ℓ=1 ÷ ℓ=10: "
        "‖∂L/∂W₁‖/‖∂L/∂W₁₀‖, the median over seeds; saturated: σ within "
        f"{lessons.SATURATION:g} of 0 or 1; off: σ′(Z) = 0. Row by row, "
        "‖dA_ℓ₋₁‖ ≤ max σ′ · ‖W_ℓ‖₂ · ‖dA_ℓ‖ held in all "
        f"{checks:,} layers checked: the largest left side over right side was {worst:.2f}."
    )
    return [intro, setup, table, *bars, Choice(factors, narrow), note]


# -- gradcheck ---------------------------------------------------------------------------


def gradcheck_table(g: lessons.GradCheck) -> Group:
    table = _table(
        f"backprop vs central differences (h = {g.h:g}): {g.spec}, loss {g.loss}, "
        f"{g.n_samples} samples, float64",
        "layer", "", "shape", "max |∂L/∂θ|", "relative error", "",
    )  # fmt: skip
    for row in g.rows:
        ok = "[green]ok[/green]" if row.error <= g.tolerance else "[red]too large[/red]"
        table.add_row(f"{row.layer} {row.name}", row.param, "×".join(map(str, row.shape)),
                      _e(row.max_abs), f"{row.error:.2e}", ok)  # fmt: skip
    lines = [
        Text(
            "relative error = ‖analytic − numeric‖ / (‖analytic‖ + ‖numeric‖); central "
            f"differences are good to about h² ≈ {g.h**2:.0e}, so above {g.tolerance:g} "
            "backprop and the forward pass disagree."
        )
    ]
    if g.kinks:
        lines.append(
            Text(f"{g.kinks} ReLU input(s) lie within 10·h of 0, where ReLU has no derivative: "
                 "try another --seed.", style="yellow")
        )  # fmt: skip
    verdict = (
        Text(f"gradient check passed: largest relative error {g.max_error:.1e}", style="green")
        if g.passed
        else Text(f"gradient check failed: largest relative error {g.max_error:.1e}", style="red")
    )
    return Group(fit_table(table), *lines, verdict)
