"""Tables and text charts of the main commands: the network, the summary, the data sets.

Owns: ``model_table`` (layers and parameter counts), ``summary_table`` (what a run or an
evaluation measured), ``curve`` (a line chart drawn with text), ``datasets_table``,
``truth_table`` (the perceptron's), ``data_status`` (one downloadable set, file by file),
and the rows ``train``, ``evaluate`` and ``predict`` show (``training_rows``,
``evaluation_rows``, ``predictions_table``). Imports rich and the shared formatting;
computes no score (the numbers come from ``nnlite.metrics`` and the model's history).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

from nnlite.ui import terminal
from nnlite.ui.fit import FirstThatFits
from nnlite.ui.format import num, pct, seconds


def model_table(model: Any, title: str = "network") -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("layer")
    table.add_column("W shape", justify="right")
    table.add_column("parameters", justify="right")
    for name, shape, count in model.summary():
        table.add_row(name, shape, f"{count:,}")
    table.add_row("total", "", f"{model.theta.size:,}", style="bold")
    return table


def summary_table(rows: Sequence[tuple[str, str]], title: str = "summary") -> Table:
    """Two columns, the measure and its value. The measure is never broken (the longest,
    30 characters, leaves a 50-column console 13 for the value); a value wraps inside its
    cell (at its spaces or, a path, anywhere), never across the border."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", justify="right", overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


TRAIN_MARK, VAL_MARK, BOTH_MARK = "•", "○", "◉"  # a cell both series pass through: ◉


def _resample(values: Sequence[float | None], cols: int) -> list[float | None]:
    n = len(values)
    return [values[round(c * (n - 1) / max(cols - 1, 1))] for c in range(cols)]


def curve(
    values: Sequence[float],
    *,
    title: str,
    height: int = 8,
    width: int = 60,
    val: Sequence[float] | None = None,
    fmt: str = ".4g",
) -> str:
    """A line chart drawn with text, one column per epoch (resampled when there are more).

    ``values``: the training figures per epoch, drawn ``•``; ``val``: the validation
    figures of the same epochs, drawn ``○`` on the same scale (a cell both pass through:
    ``◉``), so a validation curve that rises above a falling training curve — overfitting
    — shows; a legend line names the marks. ``width``: the whole chart's width in
    characters, labels included (the terminal's width): no line is longer. Empty when
    fewer than two finite figures. Plain characters: it reads the same without colour.
    """
    series = [(TRAIN_MARK, list(values))]
    if val is not None and any(v is not None and math.isfinite(v) for v in val):
        series.append((VAL_MARK, list(val)))
    finite = [v for _, vs in series for v in vs if v is not None and math.isfinite(v)]
    if len(finite) < 2:
        return ""
    n = max(len(vs) for _, vs in series)
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    label_w = max(len(f"{hi:{fmt}}"), len(f"{lo:{fmt}}"))
    cols = max(1, min(width - label_w - 2, n))
    grid = [[" "] * cols for _ in range(height)]
    for mark, vs in series:
        vs = vs + [None] * (n - len(vs))
        for c, v in enumerate(_resample(vs, cols)):
            if v is None or not math.isfinite(v):
                continue
            r = round((hi - v) / span * (height - 1))
            grid[r][c] = BOTH_MARK if grid[r][c] not in (" ", mark) else mark
    lines = [title]
    if len(series) > 1:
        lines.append(f"{TRAIN_MARK} training  {VAL_MARK} validation  {BOTH_MARK} both")
    for r, row in enumerate(grid):
        label = f"{hi:{fmt}}" if r == 0 else (f"{lo:{fmt}}" if r == height - 1 else "")
        lines.append(f"{label:>{label_w}} │{''.join(row)}")
    lines.append(f"{'':>{label_w}} └{'─' * cols}")
    right = f"epoch {n}"
    axis = f"1{' ' * max(cols - 1 - len(right), 1)}{right}"
    lines.append(f"{'':>{label_w}}  {axis}"[: max(width, 1)])
    return "\n".join(line if len(line) <= width else _wrap(line, width) for line in lines)


CHART_WIDTH = 80  # a long run's chart: one column per epoch up to this width, then resampled


def training_charts(history: Any, width: int = 80) -> list[str]:
    """The charts ``nnlite train`` leaves: loss per epoch, then accuracy per epoch (in %)
    where it was measured, each with the validation figures beside the training ones
    when the run held data out. ``width``: the terminal's; the charts take at most
    ``CHART_WIDTH`` of it."""
    width = min(width, CHART_WIDTH)

    def measured(values: Sequence[float]) -> bool:
        return any(v is not None and math.isfinite(v) for v in values)

    val = history.val_loss if measured(history.val_loss) else None
    both = " (training and validation)" if val is not None else ""
    charts = [curve(history.loss, val=val, width=width,
                    title=f"{'loss' if val is not None else 'training loss'} per epoch{both}")]  # fmt: skip
    if measured(history.accuracy):
        val_acc = [100 * a for a in history.val_accuracy] if val is not None else None
        charts.append(curve([100 * a for a in history.accuracy], val=val_acc, width=width,
                            title=f"accuracy per epoch, %{both}"))  # fmt: skip
    return [chart for chart in charts if chart]


def _wrap(line: str, width: int) -> str:
    """A title or legend longer than the chart: broken at spaces, never past ``width``."""
    import textwrap

    return "\n".join(textwrap.wrap(line, width, break_on_hyphens=False)) or line[:width]


def datasets_table(rows: Sequence[dict[str, Any]]) -> FirstThatFits:
    """The data sets, one row each; in a console too narrow for the five columns, two:
    the name, and its size, classes, whether it is here and what it is, on two lines."""
    table = Table(title="data sets", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("samples × features", justify="right", no_wrap=True)
    table.add_column("classes", justify="right", no_wrap=True)
    table.add_column("here?", justify="center", no_wrap=True)
    table.add_column("what it is", overflow="fold", ratio=1)
    narrow = Table(title="data sets", title_justify="left", show_lines=True)
    narrow.add_column("name", no_wrap=True)
    narrow.add_column("samples × features, classes; what it is", overflow="fold", ratio=1)
    for row in rows:
        samples = "—" if row.get("samples") is None else f"{row['samples']:,}"
        features = "—" if row.get("features") is None else str(row["features"])
        classes = "—" if row.get("classes") is None else str(row["classes"])
        here = "yes" if row.get("available") else "[red]no[/red]"
        what = f"{row['kind']}: {row.get('description', '')}"
        table.add_row(row["name"], f"{samples} × {features}", classes, here, what)
        where = "here" if row.get("available") else "[red]not here[/red]"
        narrow.add_row(row["name"], f"{samples} × {features}, {classes} classes; {where}\n{what}")
    return FirstThatFits(table, narrow)


def truth_table(X: Any, y: Any, weighted: Any, y_hat: Any, threshold: float) -> Table:
    table = Table(title="truth table", title_justify="left")
    for col in ("x₁", "x₂", "Σ wᵢxᵢ + b", f"≥ θ={threshold:g}?", "ŷ", "y", ""):
        table.add_column(col, justify="right")
    for row, target, s, out in zip(X, y, weighted, y_hat):
        ok = "[green]✓[/green]" if out == target else "[red]✗[/red]"
        table.add_row(
            *(f"{v:g}" for v in row), f"{s:+.3f}", "yes" if s >= threshold else "no",
            str(out), str(target), ok,
        )  # fmt: skip
    return table


_DATA_STATES = {
    "verified": "green",
    "unverified": "yellow",
    "differs": "yellow",
    "partial": "yellow",
    "other set": "red",
    "unusable": "red",
    "missing": "red",
}


def data_status(name: str, folder: Any, files: Sequence[Any], command: str) -> None:
    """Print one downloadable data set: its folder, each file's state, how to get the rest.

    ``files`` are ``nnlite.datasets.download.FileStatus`` records; ``command`` is the download command.
    The folder and the command are printed unwrapped, so they can be copied whole.
    """
    terminal.console.print(Text(f"{name}: {folder}", style="bold"), soft_wrap=True)
    table = Table()
    table.add_column("file", no_wrap=True)
    table.add_column("state", overflow="fold", ratio=1)
    for f in files:
        detail = f": {f.detail}" if f.detail else ""
        table.add_row(f.name, Text(f"{f.state}{detail}", style=_DATA_STATES.get(f.state, "")))
    terminal.console.print(table)
    states = {f.state for f in files}
    if states == {"verified"}:
        terminal.console.print("complete and verified", soft_wrap=True)
    elif states <= {"verified", "unverified", "differs"}:
        terminal.console.print(
            "complete; training uses the files that are not the published ones with a warning",
            soft_wrap=True,
        )
    elif states <= {"verified", "unverified", "differs", "missing", "partial"}:
        terminal.console.print(Text(f"to get the missing files: {command}"), soft_wrap=True)
    else:
        terminal.console.print(
            Text(f"training refuses this set; to get the published files: {command}"),
            soft_wrap=True,
        )


def training_rows(
    history: Any, state: dict[str, Any] | None, *, epochs: int, samples: int, batch_size: int,
    optimizer: Any, schedule: Any, compile_s: float, device: str, validation: bool,
    stopped_early: Any = None,
) -> list[tuple[str, str]]:  # fmt: skip
    """The summary of a training run, for ``summary_table``: where it stopped, what it reached.

    ``history`` is ``Sequential.fit``'s; ``state`` the model's ``resume_state`` (read when
    the run was interrupted); ``epochs`` the run's total; ``samples`` the training rows.
    """
    rows = []
    if history.interrupted:
        where = f"after {state['epochs_done']} of {epochs} epochs"
        if state["position"]:
            where += f" and {state['position']:,} samples of epoch {state['epochs_done'] + 1}"
        rows.append(("stopped (Ctrl-C)", where))
    if history.loss:
        rows += [
            ("train loss", num(history.loss[-1])),
            ("train accuracy", pct(history.accuracy[-1])),
        ]
    if validation and history.val_loss:
        rows += [
            ("validation loss", num(history.val_loss[-1])),
            ("validation accuracy", pct(history.val_accuracy[-1])),
        ]
    if stopped_early is not None and stopped_early.stopped_epoch:
        best = stopped_early.best_epoch + 1
        rows.append(("early stopping", f"after epoch {stopped_early.stopped_epoch + 1}; kept the "
                                       f"weights of epoch {best} (best validation loss)"))  # fmt: skip
    done = str(len(history.loss))
    if history.interrupted and state is not None and state["position"]:
        # the interrupted epoch counts: 0.68 epochs, not 0, after 40,960 of 60,000 samples
        done = f"{state['epochs_done'] + state['position'] / max(samples, 1):.2f}"
    rows += [
        ("epochs × batch size", f"{done} × {min(batch_size, samples)}"),
        *optimizer_rows(optimizer, schedule, history),
        ("kernel start-up (JIT or cache)", seconds(compile_s)),
        ("device", device),
        ("training time", seconds(history.seconds)),
        ("samples / second", f"{history.samples / max(history.seconds, 1e-9):,.0f}"),
    ]  # fmt: skip
    return rows


def optimizer_rows(optimizer: Any, schedule: Any, history: Any) -> list[tuple[str, str]]:
    """How the run stepped: α (and μ) for SGD as the lesson writes it; otherwise the optimiser
    with its settings; the schedule and the last α when α changed."""
    v = optimizer.values
    if optimizer.name == "sgd":
        rows = [("learning rate α", f"{v['lr']:g}" + (f", momentum μ {v['momentum']:g}"
                 if v["momentum"] else "") + (" (Nesterov)" if v["nesterov"] else ""))]  # fmt: skip
    else:
        hyper = {h.name: h.symbol for h in optimizer.rule.hyper}
        settings = ", ".join(f"{hyper[k]} {x:g}" for k, x in v.items() if not isinstance(x, bool))
        rows = [("optimizer", f"{optimizer.name} ({settings})")]
    if schedule is not None and schedule.name != "constant":
        symbols = {p.name: p.symbol for p in schedule.row.params}
        settings = ", ".join(f"{symbols[k]} {x:g}" for k, x in schedule.values.items())
        rows.append(("α schedule", f"{schedule.name} ({settings}; t in {schedule.per}s)"))
        if getattr(history, "lr", None):
            rows.append(("last α", f"{history.lr[-1]:.4g}"))
    return rows


def evaluation_rows(
    model_path: Any, data: str, loss_name: str, loss: float, accuracy: float
) -> list[tuple[str, str]]:
    """The summary of ``nnlite evaluate``, for ``summary_table``: the model, the data, the scores."""
    return [
        ("model", str(model_path)), ("data", data),
        (f"loss ({loss_name})", num(loss)), ("accuracy", pct(accuracy)),
    ]  # fmt: skip


def predictions_table(
    P: Any, classes: Any, y: Any, rows: Sequence[int], title: str, inputs: Any = None
) -> FirstThatFits:
    """Predictions beside their labels, one row per index in ``rows``.

    ``P`` (n, k): the model's outputs; ``classes`` (n,): the predicted classes, or None for
    regression (then the outputs are shown). A classifier's confidence is the probability of
    its class (a single sigmoid unit: p for class 1, 1 − p for class 0); a wrong class is
    marked ✗. ``inputs`` (n, 2), for 2-D data: x₁ and x₂ before the prediction. Where the
    terminal is too narrow for the full headers, a compact layout ("pred", "conf", no
    vertical rules) is drawn instead of cells cut to "…".
    """
    cells = []
    for i in rows:
        xs = [] if inputs is None else [_coordinate(inputs[i, 0]), _coordinate(inputs[i, 1])]
        if classes is None:
            cells.append((str(i), *xs, " ".join(f"{v:.4g}" for v in P[i]), "", str(y[i])))
            continue
        conf = P[i].max() if P.shape[1] > 1 else (P[i, 0] if classes[i] else 1 - P[i, 0])
        mark = "" if classes[i] == y[i] else " [red]✗[/red]"
        cells.append((str(i), *xs, f"{classes[i]}{mark}", f"{conf:.1%}", str(y[i])))
    layouts = []
    for names, compact in ((("prediction", "confidence"), False), (("pred", "conf"), True)):
        table = Table(title=title, title_justify="left",
                      box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD)  # fmt: skip
        heads = ["row"] + (["x₁", "x₂"] if inputs is not None else []) + [*names, "label"]
        for head in heads:
            table.add_column(head, justify="right")
        for row in cells:
            table.add_row(*row)
        layouts.append(table)
    return FirstThatFits(*layouts)


def _coordinate(x: float) -> str:
    """An input coordinate in at most about 7 characters: 3 decimals, or 3 significant digits."""
    return f"{x:.3f}" if abs(x) < 100 else f"{x:.3g}"
