"""Terminal rendering with rich: progress bars, tables and plots.

Owns: everything nnlite shows in a terminal — the training progress (a
rich ``Progress`` in a terminal, one plain line per epoch elsewhere), the
summary table, the loss curve drawn with text, the perceptron's truth
table, the data set list and the one-line error. The library core never
imports this module; ``cli.py`` does.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from nnlite.models import Callback

console = Console()
err_console = Console(stderr=True)


def error(message: str) -> None:
    """The one red line a user mistake gets, on stderr."""
    err_console.print(Text(f"error: {message}", style="bold red"), soft_wrap=True)


def warn(message: str) -> None:
    err_console.print(Text(f"warning: {message}", style="yellow"), soft_wrap=True)


def _pct(x: float) -> str:
    return "—" if x is None or math.isnan(x) else f"{100 * x:.2f}%"


def _num(x: float) -> str:
    return "—" if x is None or math.isnan(x) else f"{x:.4f}"


def _seconds(s: float) -> str:
    """A duration for the summary: milliseconds under a second (the digits train in a few)."""
    return f"{1e3 * s:.1f} ms" if s < 1 else f"{s:.2f} s"


class TrainingProgress(Callback):
    """Progress of ``Sequential.fit``: a live rich bar in a terminal, plain lines otherwise.

    In a terminal: an epoch bar and a transient batch bar, with the running
    loss and accuracy as fields. Outside a terminal (a log file, CI): one
    line per epoch. ``quiet`` shows nothing.
    """

    def __init__(
        self,
        quiet: bool = False,
        out: Console | None = None,
        save: Callable[[Any, bool], None] | None = None,
    ) -> None:
        self.quiet = quiet
        self.console = out or console
        self.live = self.console.is_terminal and not quiet
        self.progress: Progress | None = None
        self.save = save  # called with (model, interrupted) at each checkpoint

    def __enter__(self) -> TrainingProgress:
        if self.live:
            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("loss {task.fields[loss]}  acc {task.fields[acc]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_train_begin(self, info: dict[str, Any]) -> None:
        first = info.get("first_epoch", 0)  # a resumed run counts on from where it stopped
        self.epochs = first + info["epochs"]
        self.batches = info["batches_per_epoch"]
        if self.progress is not None:
            self.epoch_task = self.progress.add_task(
                "epochs", total=self.epochs, completed=first, loss="—", acc="—"
            )
            self.batch_task = self.progress.add_task(
                "batches", total=self.batches, loss="—", acc="—"
            )

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        if self.progress is not None:
            self.progress.update(
                self.batch_task,
                completed=batches_done,
                description=f"epoch {epoch + 1}",
                loss=_num(logs["loss"]),
                acc=_pct(logs["accuracy"]),
            )

    def on_checkpoint(self, model: Any, interrupted: bool) -> None:
        if self.save is not None:
            self.save(model, interrupted)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.quiet:
            return
        if self.progress is not None:
            self.progress.update(
                self.epoch_task,
                advance=1,
                loss=_num(logs.get("val_loss", logs["loss"])),
                acc=_pct(logs.get("val_accuracy", logs["accuracy"])),
            )
            self.progress.reset(self.batch_task, total=self.batches, loss="—", acc="—")
            return
        line = f"epoch {epoch + 1}/{self.epochs}  loss {_num(logs['loss'])}"
        line += f"  acc {_pct(logs['accuracy'])}"
        if "val_loss" in logs:
            line += f"  val_loss {_num(logs['val_loss'])}  val_acc {_pct(logs['val_accuracy'])}"
        self.console.print(line, highlight=False, soft_wrap=True)


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
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("what", style="bold", no_wrap=True)
    table.add_column("value", justify="right", overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    return table


def curve(values: Sequence[float], *, title: str, height: int = 8, width: int = 60) -> str:
    """A line chart of ``values`` drawn with text, one column per epoch (resampled to ``width``)."""
    finite = [v for v in values if v is not None and math.isfinite(v)]
    if len(finite) < 2:
        return ""
    n = len(values)
    cols = min(width, n)
    sampled = [values[round(c * (n - 1) / max(cols - 1, 1))] for c in range(cols)]
    lo, hi = min(finite), max(finite)
    span = hi - lo or 1.0
    grid = [[" "] * cols for _ in range(height)]
    for c, v in enumerate(sampled):
        if v is None or not math.isfinite(v):
            continue
        r = round((hi - v) / span * (height - 1))
        grid[r][c] = "•"
    label_w = max(len(f"{hi:.4g}"), len(f"{lo:.4g}"))
    lines = [title]
    for r, row in enumerate(grid):
        label = f"{hi:.4g}" if r == 0 else (f"{lo:.4g}" if r == height - 1 else "")
        lines.append(f"{label:>{label_w}} │{''.join(row)}")
    lines.append(f"{'':>{label_w}} └{'─' * cols}")
    right = f"epoch {n}"
    lines.append(f"{'':>{label_w}}  1{' ' * max(cols - 1 - len(right), 1)}{right}")
    return "\n".join(lines)


def datasets_table(rows: Sequence[dict[str, Any]]) -> Table:
    table = Table(title="data sets", title_justify="left")
    table.add_column("name", no_wrap=True)
    table.add_column("samples × features", justify="right", no_wrap=True)
    table.add_column("classes", justify="right", no_wrap=True)
    table.add_column("here?", justify="center", no_wrap=True)
    table.add_column("what it is", overflow="fold", ratio=1)
    for row in rows:
        samples = "—" if row.get("samples") is None else f"{row['samples']:,}"
        features = "—" if row.get("features") is None else str(row["features"])
        table.add_row(
            row["name"],
            f"{samples} × {features}",
            "—" if row.get("classes") is None else str(row["classes"]),
            "yes" if row.get("available") else "[red]no[/red]",
            f"{row['kind']}: {row.get('description', '')}",
        )
    return table


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


# ------------------------------------------------------------------ data download and listing


class DownloadProgress:
    """Renders ``nnlite.download.DownloadEvent``s: a rich bar per file, or plain lines.

    In a terminal: one bar per file with bytes, speed, time left and the mirror's host.
    Outside a terminal: one line per file when it is done or skipped. Notes (a mirror that
    failed, a restart) are one yellow line either way; ``quiet`` shows nothing.
    """

    def __init__(self, quiet: bool = False, out: Console | None = None) -> None:
        self.quiet = quiet
        self.console = out or console
        self.live = self.console.is_terminal and not quiet
        self.progress: Progress | None = None
        self.tasks: dict[str, Any] = {}

    def __enter__(self) -> DownloadProgress:
        if self.live:
            from rich.progress import DownloadColumn, TransferSpeedColumn

            self.progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[host]}"),
                console=self.console,
            )
            self.progress.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.progress is not None:
            self.progress.stop()

    def __call__(self, event: Any) -> None:
        if self.quiet:
            return
        host = event.mirror.split("//", 1)[-1].split("/", 1)[0]
        if event.kind == "skip":
            self._line(Text(f"{event.file}: {event.message}"))
        elif event.kind == "retry":
            where = f" ({host})" if host else ""
            self._line(Text(f"{event.file}{where}: {event.message}", style="yellow"))
        elif event.kind in ("start", "progress", "done") and self.progress is not None:
            task = self.tasks.get(event.file)
            if task is None:
                task = self.progress.add_task(event.file, total=event.total, host=host)
                self.tasks[event.file] = task
            self.progress.update(task, completed=event.done, total=event.total, host=host)
        elif event.kind == "done":
            self._line(Text(f"{event.file}: {event.total:,} bytes from {host}, verified"))

    def _line(self, text: Text) -> None:
        # Progress.console prints above the live bars instead of through them.
        out = self.progress.console if self.progress is not None else self.console
        out.print(text, soft_wrap=True)


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

    ``files`` are ``nnlite.download.FileStatus`` records; ``command`` is the download command.
    The folder and the command are printed unwrapped, so they can be copied whole.
    """
    console.print(Text(f"{name}: {folder}", style="bold"), soft_wrap=True)
    table = Table()
    table.add_column("file", no_wrap=True)
    table.add_column("state", overflow="fold", ratio=1)
    for f in files:
        detail = f": {f.detail}" if f.detail else ""
        table.add_row(f.name, Text(f"{f.state}{detail}", style=_DATA_STATES.get(f.state, "")))
    console.print(table)
    states = {f.state for f in files}
    if states == {"verified"}:
        console.print("complete and verified", soft_wrap=True)
    elif states <= {"verified", "unverified", "differs"}:
        console.print(
            "complete; training uses the files that are not the published ones with a warning",
            soft_wrap=True,
        )
    elif states <= {"verified", "unverified", "differs", "missing", "partial"}:
        console.print(Text(f"to get the missing files: {command}"), soft_wrap=True)
    else:
        console.print(
            Text(f"training refuses this set; to get the published files: {command}"),
            soft_wrap=True,
        )
