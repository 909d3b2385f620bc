"""What ``fit(verbose=1|2)`` shows: Keras's progress lines, drawn with rich.

Owns: ``progress_callback(verbose, console)``, the callback ``Sequential.fit`` (and
``nnlite.keras``) adds for ``verbose`` 1 or 2, and ``epoch_line``, the line each epoch
leaves behind:

    Epoch 3/5 - 1875/1875 - 2.1 s - loss: 0.0712 - accuracy: 0.9781 - val_loss: ...

``verbose=1`` in a terminal: while an epoch runs, a live bar with the epoch, the batches
done, the time taken and left, and the running loss and accuracy; when it ends the bar
gives way to the epoch's line. ``verbose=1`` in a notebook (Jupyter; rich's live bar needs
ipywidgets there): ``NotebookProgress``, one HTML display per epoch updated in place, which
becomes the epoch's line when the epoch ends. ``verbose=2``, or ``verbose=1`` outside a
terminal (a log file, CI): only the epoch's line, no cursor movement. The
learning rate is shown when the fit uses a schedule (``info["schedule"]``), or once it
has changed between epochs. Losses as ``nnlite.ui.format.num``, accuracies as fractions
with the same four decimals, as Keras shows them.

Imports rich, ``nnlite.models.Callback`` and the shared formatting and console
(``nnlite.ui.format``, ``nnlite.ui.terminal``); IPython only inside Jupyter, when the first
notebook display is made.
"""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console
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
from rich.table import Column
from rich.text import Text

from nnlite.errors import ConfigError
from nnlite.models import Callback
from nnlite.ui import terminal
from nnlite.ui.format import num, seconds


def figures(logs: dict[str, float], with_lr: bool) -> str:
    """``loss: 0.1234 - accuracy: 0.9650 - val_loss: … - lr: 0.001`` for what ``logs`` holds.

    The loss first, then the other training figures, then the validation ones in the
    same order; the learning rate last, and only ``with_lr``.
    """
    train = sorted((k for k in logs if not k.startswith("val_") and k != "lr"),
                   key=lambda k: (k != "loss", k))  # fmt: skip
    keys = train + [f"val_{k}" for k in train if f"val_{k}" in logs]
    keys += [k for k in logs if k.startswith("val_") and k not in keys]
    parts = [f"{key}: {num(logs[key])}" for key in keys]
    if with_lr and "lr" in logs:
        parts.append(f"lr: {logs['lr']:.4g}")
    return " - ".join(parts)


def step_line(steps: int, took: float, logs: dict[str, float] | None = None) -> str:
    """What ``evaluate`` and ``predict`` leave: ``313/313 - 0.2 s - loss: …``."""
    line = f"{steps}/{steps} - {seconds(took)}"
    shown = figures(logs or {}, with_lr=False)
    return f"{line} - {shown}" if shown else line


def epoch_line(
    epoch: int, epochs: int, batches: int, took: float, logs: dict[str, float], with_lr: bool
) -> str:
    """The line an epoch leaves: ``Epoch 3/5 - 1875/1875 - 2.1 s - loss: …``."""
    head = f"Epoch {epoch}/{epochs} - {batches}/{batches} - {seconds(took)}"
    shown = figures(logs, with_lr)
    return f"{head} - {shown}" if shown else head


class _Shown(ProgressColumn):
    """The running figures, on one line: what does not fit is cut with "…"."""

    def render(self, task: Task) -> Text:
        return Text(task.fields["shown"], no_wrap=True, overflow="ellipsis")


def _columns(head: str, width: int) -> list[Any]:
    """The live bar's columns for a terminal ``width`` columns wide: one line, never wrapped.

    The running figures (training figures: Keras's ``loss: … - accuracy: …``) are the
    one column that narrows, cut with "…"; below 100 columns the elapsed time goes, below
    70 the bar too.
    """
    fixed = Column(no_wrap=True)
    shown = _Shown(table_column=Column(overflow="ellipsis"))
    count = MofNCompleteColumn(table_column=fixed)
    if width >= 100:
        return [TextColumn(head, table_column=fixed), BarColumn(bar_width=min(30, width - 90)),
                count, TimeElapsedColumn(), TimeRemainingColumn(), shown]  # fmt: skip
    if width >= 70:
        return [TextColumn(head, table_column=fixed), BarColumn(bar_width=10), count,
                TimeRemainingColumn(), shown]  # fmt: skip
    return [TextColumn(head, table_column=fixed), count, shown]


# The progress views' clock; a module name, so a test can set the time.
_clock = time.perf_counter


class _EpochCount(Callback):
    """What every progress view of a fit counts: the epochs (``head``), the batches, each
    epoch's time, and whether α is shown; ``finish_epoch`` gives the line an epoch leaves.

    ``per_fit``: number the epochs within this fit (Keras's way: every fit starts at
    ``Epoch 1``), not from the model's first (nnlite's: a resumed run counts on).
    """

    def __init__(self, per_fit: bool = False) -> None:
        self.per_fit = per_fit
        self.offset = 0
        self.epochs = self.batches = 0
        self.with_lr = False
        self._lr: float | None = None
        self._epoch: int | None = None  # the epoch running, when it has begun
        self._started = 0.0

    def set_model(self, model: Any) -> None:
        self.model = model

    def on_train_begin(self, info: dict[str, Any]) -> None:
        first = int(info.get("first_epoch", 0))
        self.offset = first if self.per_fit else 0
        self.epochs = first - self.offset + int(info["epochs"])
        self.batches = int(info["batches_per_epoch"])
        self.with_lr = info.get("schedule") not in (None, "constant")
        self._lr = None
        self._epoch = None
        self._started = _clock()  # a fit without on_epoch_begin: from here

    def head(self, epoch: int) -> str:
        return f"Epoch {epoch - self.offset + 1}/{self.epochs}"

    def begin_epoch(self, epoch: int, now: bool) -> None:
        self._epoch = epoch
        if now:
            self._started = _clock()

    def finish_epoch(self, epoch: int, logs: dict[str, float]) -> str:
        """The epoch's line (``epoch_line``); α joins the figures once it has changed."""
        now = _clock()
        took, self._started = now - self._started, now
        lr = logs.get("lr")
        if lr is not None:
            self.with_lr = self.with_lr or (self._lr is not None and lr != self._lr)
            self._lr = lr
        self._epoch = None
        return epoch_line(
            epoch - self.offset + 1, self.epochs, self.batches, took, logs, self.with_lr
        )

    def on_train_end(self, logs: dict[str, float]) -> None:
        self._stop()

    def on_checkpoint(self, model: Any, interrupted: bool) -> None:
        if interrupted:  # the fit ends here, without on_train_end
            self._stop()

    def close(self) -> None:  # the fit returned or raised (a divergence, Ctrl-C)
        self._stop()

    def _stop(self) -> None:
        pass


class FitProgress(_EpochCount):
    """Keras-like progress of a fit (see the module docstring); ``live``: draw the bar."""

    def __init__(self, live: bool, console: Console, per_fit: bool = False) -> None:
        super().__init__(per_fit)
        self.live = live
        self.console = console
        self.progress: Progress | None = None

    def on_epoch_begin(self, epoch: int, _now: bool = True) -> None:
        self.begin_epoch(epoch, _now)
        if not self.live:
            return
        self._stop()
        self.progress = Progress(
            *_columns(f"[bold]{self.head(epoch)}", self.console.width),
            console=self.console,
            transient=True,  # the epoch's line replaces it
        )
        self.task = self.progress.add_task("epoch", total=self.batches, shown="")
        self.progress.start()

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        if self._epoch != epoch:  # a fit that does not call on_epoch_begin
            self.on_epoch_begin(epoch, _now=False)
        if self.progress is not None:
            self.progress.update(
                self.task, completed=batches_done, shown=figures(logs, self.with_lr)
            )

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._epoch != epoch:
            self.on_epoch_begin(epoch, _now=False)
        self._stop()
        line = self.finish_epoch(epoch, logs)
        self.console.print(line, highlight=False, soft_wrap=True)

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


UPDATES_PER_SECOND = 4  # at most this many in-place updates of an epoch's display


def ipython_display() -> Callable[..., Any]:
    """IPython's ``display`` (imported here: only a notebook's fit needs it)."""
    from IPython.display import display

    return display


class _Frame:
    """One state of an epoch's display: its HTML and, for text/plain, the same line as text."""

    def __init__(self, html_text: str, text: str) -> None:
        self.html_text = html_text
        self.text = text

    def _repr_html_(self) -> str:
        return self.html_text

    def __repr__(self) -> str:
        return self.text

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self.text)


class NotebookProgress(_EpochCount):
    """``fit(verbose=1)`` in a notebook: one display per epoch, updated in place.

    At an epoch's first batch, ``display(frame, display_id=True)``; while the epoch runs,
    ``handle.update(frame)`` at most ``UPDATES_PER_SECOND`` times a second (and always at
    its last batch): the epoch's head, an HTML ``<progress>`` bar, the batches done, the
    time taken and left, and the running figures. At the epoch's end the same display
    becomes the epoch's line (``epoch_line``), so each epoch leaves one line, as Keras's
    do; nothing is shown per batch. ``display``: IPython's ``display`` or a stand-in with
    its signature (default: IPython's, looked up at the first display). ``per_fit``: see
    ``FitProgress``. A fit that stops inside an epoch (Ctrl-C, an error) leaves that
    epoch's display showing the batches done.
    """

    def __init__(self, display: Callable[..., Any] | None = None, per_fit: bool = False) -> None:
        super().__init__(per_fit)
        self.display = display
        self.handle: Any = None  # the running epoch's display, once shown
        self._shown_at = 0.0  # when the display was last drawn
        self._pending: _Frame | None = None  # a state not drawn yet (throttled)

    def on_epoch_begin(self, epoch: int, _now: bool = True) -> None:
        self._stop()
        self.begin_epoch(epoch, _now)

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        if self._epoch != epoch:  # a fit that does not call on_epoch_begin
            self.on_epoch_begin(epoch, _now=False)
        now = _clock()
        frame = self._running(epoch, batches_done, now - self._started, logs)
        if self.handle is None:
            self._show(frame, now)
        elif batches_done >= self.batches or now - self._shown_at >= 1 / UPDATES_PER_SECOND:
            self._update(frame, now)
        else:
            self._pending = frame

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self._epoch != epoch:
            self.on_epoch_begin(epoch, _now=False)
        line = self.finish_epoch(epoch, logs)
        now = _clock()
        done = _Frame(
            '<div class="nnlite-view nnlite-progress" data-kind="progress" data-done="1">'
            f"<pre>{html.escape(line)}</pre></div>",
            line,
        )
        if self.handle is None:  # an epoch without a batch report: its line alone
            self._show(done, now)
        else:
            self._update(done, now)
        self.handle = None
        self._pending = None

    def _stop(self) -> None:
        """Leave the running epoch's display showing what was done, and let it go."""
        if self.handle is not None and self._pending is not None:
            self._update(self._pending, _clock())
        self.handle = None
        self._pending = None

    def _running(self, epoch: int, done: int, took: float, logs: dict[str, float]) -> _Frame:
        head = self.head(epoch)
        count = f"{done}/{self.batches}"
        left = took * (self.batches - done) / done if done else 0.0
        times = f"{seconds(took)} (left {seconds(left)})"
        shown = figures(logs, self.with_lr)
        text = " - ".join(part for part in (head, count, times, shown) if part)
        return _Frame(
            '<div class="nnlite-view nnlite-progress" data-kind="progress">'
            f"<b>{html.escape(head)}</b> "
            f'<progress value="{done}" max="{self.batches}"></progress> '
            f"{html.escape(count)} - {html.escape(times)}"
            + (f" - {html.escape(shown)}" if shown else "")
            + "</div>",
            text,
        )

    def _show(self, frame: _Frame, now: float) -> None:
        show = self.display or ipython_display()
        self.handle = show(frame, display_id=True)
        self._shown_at = now
        self._pending = None

    def _update(self, frame: _Frame, now: float) -> None:
        self.handle.update(frame)
        self._shown_at = now
        self._pending = None


def progress_callback(
    verbose: Any, console: Console | None = None, per_fit: bool = False
) -> Callback:
    """The callback that shows a fit's progress for ``verbose`` (Keras's values).

    0 (or False): nothing. 1 (or True, or ``"auto"``): a live bar per epoch in a
    terminal, one display per epoch updated in place in a notebook (``NotebookProgress``),
    one line per epoch otherwise. 2: one line per epoch. ``console``: where to
    draw (default nnlite's console on stdout, looked up now). ``per_fit``: see
    ``FitProgress``.
    """
    if verbose == "auto":
        verbose = 1
    if isinstance(verbose, bool):
        verbose = int(verbose)
    if verbose not in (0, 1, 2) or isinstance(verbose, float):
        raise ConfigError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}", param="verbose")
    out = console or terminal.console
    if verbose == 0:
        return Callback()
    if verbose == 1 and out.is_jupyter:
        return NotebookProgress(per_fit=per_fit)
    live = verbose == 1 and out.is_terminal
    return FitProgress(live=live, console=out, per_fit=per_fit)
