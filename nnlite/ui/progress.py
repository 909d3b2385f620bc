"""Progress bars: training (``TrainingProgress``) and downloads (``DownloadProgress``).

Owns: the two live views. In a terminal each is a rich ``Progress``; outside one (a log
file, CI) each writes one plain line per epoch or per file; ``quiet`` shows nothing.
Imports rich, ``nnlite.models.Callback`` (the events training reports) and the shared
formatting; reads ``nnlite.datasets.download`` events as plain records.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table
from rich.text import Text

from nnlite.models import Callback
from nnlite.ui import terminal
from nnlite.ui.format import num, pct


class _Figures(ProgressColumn):
    """A bar's loss and accuracy, labelled: ``val loss 0.1234  val acc 97.12%``.

    The task's fields: ``kind`` (``"train"`` for the running figures of the batches,
    ``"val"`` for the validation figures an epoch ends on), ``loss``, ``acc`` and ``lr``
    (``"  α 0.001"`` once a schedule has changed α, else empty). ``compact``: the
    narrow form ``val: loss 0.1234 acc 97.12%``, the label said once. One line, never
    wrapped: what does not fit is cut with an ellipsis.
    """

    def __init__(self, compact: bool = False) -> None:
        self.compact = compact
        # the one column the table may narrow (the others are no_wrap); the text is cut
        super().__init__(table_column=Column(overflow="ellipsis"))

    def render(self, task: Task) -> Text:
        f = task.fields
        kind = f.get("kind", "train")
        rate = f.get("lr", "")
        if self.compact:
            shown = f"{kind}: loss {f['loss']} acc {f['acc']}{rate.replace('  ', ' ')}"
        else:
            shown = f"{kind} loss {f['loss']}  {kind} acc {f['acc']}{rate}"
        return Text(shown, no_wrap=True, overflow="ellipsis")


# The bars' columns by terminal width: each layout's line fits its narrowest width
# (epoch numbers up to three digits, batch counts up to five, α with four digits).
# Narrower terminals drop the elapsed time, then the bar and the time left; the
# figures always stay (the last part cut with "…" only below about 60 columns).
_WIDE, _MEDIUM = 120, 80


def _columns(width: int) -> list[ProgressColumn]:
    head = TextColumn("[bold]{task.description}", table_column=Column(no_wrap=True))
    count = MofNCompleteColumn(table_column=Column(no_wrap=True))
    if width >= _WIDE:
        return [head, BarColumn(), count, _Figures(), TimeElapsedColumn(), TimeRemainingColumn()]
    if width >= _MEDIUM:
        bar = BarColumn(bar_width=min(40, width - 72))  # 8 cells at 80 columns
        return [head, bar, count, _Figures(), TimeRemainingColumn()]
    return [head, count, _Figures(compact=True)]


class _Board(Progress):
    """A rich ``Progress`` that also draws ``views`` below its bars, refreshed with them.

    A view is any object with ``__rich__()`` returning a renderable, or None while it has
    nothing to show (see ``TrainingProgress``'s ``views``). The bars' columns follow the
    terminal's width as it is at each refresh (``_columns``): one line per bar, never
    wrapped.
    """

    def __init__(self, *columns: Any, views: Sequence[Any] = (), **kwargs: Any) -> None:
        self.views = list(views)  # before Progress's own __init__, which renders once
        self._width = -1
        self._out = kwargs.get("console") or terminal.console
        super().__init__(*columns, **kwargs)

    def refresh(self) -> None:
        # rich's Progress.reset redraws at once, from the training thread, at every epoch's
        # end: on small data that costs more than the epoch (and the views' pictures more
        # still). The refresh thread redraws ~10×/s anyway, and stop() draws the last frame.
        if not self.live.auto_refresh:
            super().refresh()

    def make_tasks_table(self, tasks: Iterable[Task]) -> Table:
        width = self._out.width
        if width != self._width:  # the terminal was resized (or this is the first frame)
            self.columns, self._width = tuple(_columns(width)), width
        return super().make_tasks_table(tasks)

    def get_renderables(self) -> Iterable[RenderableType]:
        yield from super().get_renderables()
        for view in self.views:
            shown = view.__rich__()
            if shown is not None:
                yield shown


class TrainingProgress(Callback):
    """Progress of ``Sequential.fit``: a live rich bar in a terminal, plain lines otherwise.

    In a terminal: an epoch bar and a transient batch bar. The batch bar shows the
    running training figures (``train loss … train acc …``), the epoch bar the last
    epoch's validation figures (``val loss … val acc …``) when the run holds data out,
    else its training figures; each bar stays one line at any width (``_columns``). Outside a terminal (a log file, CI): one
    line per epoch. ``quiet`` shows nothing.

    ``views``: live pictures drawn below the bars in a terminal (the decision regions,
    the layer health table): each has ``__rich__()`` (a renderable, or None) and is
    given to ``fit`` as a callback of its own, so it sees the training events; the
    bars' refresh thread redraws it, so ``__rich__`` must only return what the
    training thread already built.
    """

    def __init__(
        self,
        quiet: bool = False,
        out: Console | None = None,
        save: Callable[[Any, bool], None] | None = None,
        views: Sequence[Any] = (),
    ) -> None:
        self.quiet = quiet
        self.console = out or terminal.console
        self.live = self.console.is_terminal and not quiet
        self.progress: Progress | None = None
        self.save = save  # called with (model, interrupted) at each checkpoint
        self.first_lr: float | None = None
        self.views = list(views)

    def __enter__(self) -> TrainingProgress:
        if self.live:
            self.progress = _Board(
                *_columns(self.console.width),
                console=self.console,
                views=self.views,
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
            # the epoch bar shows validation figures when there are any (set at epoch end)
            self.epoch_task = self.progress.add_task(
                "epochs", total=self.epochs, completed=first, loss="—", acc="—", lr="",
                kind="train",
            )  # fmt: skip
            self.batch_task = self.progress.add_task(
                "batches", total=self.batches, loss="—", acc="—", lr="", kind="train"
            )
        self.first_lr: float | None = None

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        if self.progress is not None:
            self.progress.update(
                self.batch_task,
                completed=batches_done,
                description=f"epoch {epoch + 1}",
                loss=num(logs["loss"]),
                acc=pct(logs["accuracy"]),
            )

    def on_checkpoint(self, model: Any, interrupted: bool) -> None:
        if self.save is not None:
            self.save(model, interrupted)

    def _rate(self, logs: dict[str, float]) -> str:
        """"  α 0.0123" once a schedule has changed α (the α of the epoch's last step)."""
        lr = logs.get("lr")
        if lr is None:
            return ""
        if self.first_lr is None:
            self.first_lr = lr
        return f"  α {lr:.4g}" if lr != self.first_lr else ""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.quiet:
            return
        rate = self._rate(logs)
        if self.progress is not None:
            val = "val_loss" in logs
            self.progress.update(
                self.epoch_task,
                advance=1,
                loss=num(logs["val_loss"] if val else logs["loss"]),
                acc=pct(logs["val_accuracy"] if val else logs["accuracy"]),
                lr=rate,
                kind="val" if val else "train",
            )
            if epoch + 1 < self.epochs:
                self.progress.reset(
                    self.batch_task, total=self.batches, loss="—", acc="—", lr="", kind="train"
                )
            else:  # the last frame stays on screen: the epochs bar, not an empty batch bar
                self.progress.remove_task(self.batch_task)
            return
        line = f"epoch {epoch + 1}/{self.epochs}  loss {num(logs['loss'])}"
        line += f"  acc {pct(logs['accuracy'])}"
        if "val_loss" in logs:
            line += f"  val_loss {num(logs['val_loss'])}  val_acc {pct(logs['val_accuracy'])}"
        self.console.print(line + rate, highlight=False, soft_wrap=True)


class DownloadProgress:
    """Renders ``nnlite.datasets.download.DownloadEvent``s: a rich bar per file, or plain lines.

    In a terminal: one bar per file with bytes, speed, time left and the mirror's host.
    Outside a terminal: one line per file when it is done or skipped. Notes (a mirror that
    failed, a restart) are one yellow line either way; ``quiet`` shows nothing.
    """

    def __init__(self, quiet: bool = False, out: Console | None = None) -> None:
        self.quiet = quiet
        self.console = out or terminal.console
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
