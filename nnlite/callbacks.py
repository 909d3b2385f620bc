"""Callbacks for ``Sequential.fit``: early stopping, checkpoints, small lambdas.

Owns: ``EarlyStopping`` (stop when a monitored figure stops improving, and optionally
go back to the best epoch's θ), ``ModelCheckpoint`` (write the model after an epoch,
every time or only when it improved), ``LambdaCallback`` (callables as callbacks),
``CallbackList`` (many callbacks as one, for ``fit(callback=...)``) and ``save_model``
(what ``ModelCheckpoint`` and ``nnlite.keras`` write: θ and the architecture, without a
resume state). Each is a ``nnlite.models.Callback``: they hear the fit's events
(``set_model``, ``on_train_begin``, ``on_epoch_begin``, ``on_batch_end``,
``on_epoch_end``, ``on_train_end``) and stop it with ``stop_training``.

Early stopping follows Keras's ``EarlyStopping`` (monitor, min_delta, patience, mode,
baseline, restore_best_weights, start_from_epoch; Keras 3: the best weights come back
at the end of training whether it stopped early or not). One difference, on purpose:
a monitored figure the logs do not hold is an error (``ConfigError``, one line that
names the figures there are, or ``validation_split``/``validation_data`` when a
``val_`` figure is asked for without validation data), where Keras warns and carries
on training to the last epoch without ever stopping.

Imports numpy, ``nnlite.models`` (the ``Callback`` protocol), ``nnlite.errors`` and,
when a checkpoint is written, ``nnlite.io``. Never prints: the progress a user sees is
``nnlite.ui.fit_progress``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from nnlite.errors import ConfigError
from nnlite.models import Callback

__all__ = ["CallbackList", "EarlyStopping", "LambdaCallback", "ModelCheckpoint", "save_model"]

# The figures of an epoch's logs (``ModelCheckpoint`` file names may hold them).
_FIGURES = ("loss", "accuracy", "val_loss", "val_accuracy", "lr")


def _mode_op(monitor: str, mode: str, who: str) -> str:
    """``"min"`` or ``"max"``: the direction in which ``monitor`` improves."""
    if mode not in ("auto", "min", "max"):
        raise ConfigError(f"{who} mode must be 'auto', 'min' or 'max', got {mode!r}", param="mode")
    if mode != "auto":
        return mode
    name = monitor.removeprefix("val_")
    if name == "loss":
        return "min"
    if "acc" in name:
        return "max"
    raise ConfigError(
        f"{who} cannot tell whether {monitor!r} should rise or fall: give mode='min' or mode='max'",
        param="mode",
    )


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{what} must be a number, got {value!r}", param=what)
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"{what} must be finite, got {value}", param=what)
    return value


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ConfigError(f"{what} must be a non-negative integer, got {value!r}", param=what)
    return int(value)


def _monitored(logs: dict[str, float], monitor: str, who: str, validation: bool | None) -> float:
    """``logs[monitor]``, or ``ConfigError`` saying why the fit does not report it."""
    value = logs.get(monitor)
    if value is not None and not math.isnan(value):
        return float(value)
    if monitor.startswith("val_") and (validation is False or "val_loss" not in logs):
        raise ConfigError(
            f"{who} monitors {monitor!r}, but the fit has no validation data: give "
            "validation_split= or validation_data= to fit, or monitor 'loss'",
            param="monitor",
        )
    if value is not None:  # NaN: accuracy of regression targets
        raise ConfigError(
            f"{who} monitors {monitor!r}, which is not defined for these targets "
            f"(accuracy needs classes); monitor {'val_loss' if 'val_loss' in logs else 'loss'!r}",
            param="monitor",
        )
    there = ", ".join(repr(k) for k in logs)
    raise ConfigError(f"{who} monitors {monitor!r}; the fit reports {there}", param="monitor")


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs.

    Keras's rule, epoch by epoch (epochs counted within this fit, from 0):

    - before ``start_from_epoch`` nothing is watched;
    - an epoch improves when its value beats the best so far by more than ``min_delta``
      (falls below ``best − min_delta`` for a loss, rises above ``best + min_delta`` for
      an accuracy; ``mode`` says which, ``auto`` reads it from the name);
    - an improvement resets the count of epochs without one, unless it does not also beat
      ``baseline``;
    - training stops after the epoch that makes that count reach ``patience`` (never
      after the first epoch of the fit).

    With ``restore_best_weights``, a copy of θ is kept at each best epoch (the first
    watched epoch counts as best until one beats it) and put back when training ends,
    stopped early or not (Keras 3).

    Parameters
    ----------
    monitor : str
        A key of the fit's epoch logs: ``loss``, ``accuracy``, ``val_loss``, ``val_accuracy``.
    patience : int
        Epochs without improvement to wait before stopping.
    min_delta : float
        The least change that counts as an improvement (its sign is ignored).
    mode : str
        ``auto``, ``min`` or ``max``.
    restore_best_weights : bool
        Put back the best epoch's θ at the end of training.
    baseline : float, optional
        A value the monitored figure must beat for the patience count to restart.
    start_from_epoch : int
        Epochs of warm-up before watching starts.

    Attributes
    ----------
    best : float
        The best value seen (±inf before the first watched epoch).
    best_epoch : int
        The epoch (as the fit numbers it: the index in ``model.history``) of ``best``.
    stopped_epoch : int
        The epoch after which training was stopped; 0 when it was not.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
        restore_best_weights: bool = False,
        baseline: float | None = None,
        start_from_epoch: int = 0,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise ConfigError(f"EarlyStopping monitor must be a name, got {monitor!r}")
        self.monitor = monitor
        self.patience = _count(patience, "patience")
        self.min_delta = abs(_number(min_delta, "min_delta"))
        self.mode = _mode_op(monitor, mode, "EarlyStopping")
        self.restore_best_weights = bool(restore_best_weights)
        self.baseline = None if baseline is None else _number(baseline, "baseline")
        self.start_from_epoch = _count(start_from_epoch, "start_from_epoch")
        self._reset(first_epoch=0, validation=None)

    def _reset(self, first_epoch: int, validation: bool | None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = math.inf if self.mode == "min" else -math.inf
        self.best_epoch = 0
        self.best_weights: np.ndarray | None = None
        self.stop_training = False
        self._first = first_epoch
        self._validation = validation

    def _improves(self, value: float, reference: float | None) -> bool:
        if reference is None:
            return True
        if self.mode == "min":
            return value + self.min_delta < reference
        return value - self.min_delta > reference

    def on_train_begin(self, info: dict[str, Any]) -> None:
        validation = info.get("validation")
        self._reset(int(info.get("first_epoch", 0)), validation)
        if self.monitor.startswith("val_") and validation is False:
            _monitored({}, self.monitor, "EarlyStopping", False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        value = _monitored(logs, self.monitor, "EarlyStopping", self._validation)
        within = epoch - self._first  # Keras counts epochs within the fit
        if within < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self._theta()  # the first watched epoch is the best so far
            self.best_epoch = epoch
        self.wait += 1
        if self._improves(value, self.best):
            self.best, self.best_epoch = value, epoch
            if self.restore_best_weights:
                self.best_weights = self._theta()
            if self.baseline is None or self._improves(value, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and within > 0:
            self.stopped_epoch = epoch
            if self.model is not None:
                self.model.stop_training = True  # the fit ends normally after this epoch
            else:  # no model to tell: stop as an interruption
                self.stop_training = True

    def _theta(self) -> np.ndarray:
        if self.model is None:
            raise ConfigError(
                "EarlyStopping(restore_best_weights=True) needs the model: the fit calls "
                "set_model(model) before training (or call it yourself)"
            )
        return np.array(self.model.theta, copy=True)

    def on_train_end(self, logs: dict[str, float]) -> None:
        if self.restore_best_weights and self.best_weights is not None:
            self.model.set_parameters(self.best_weights)


def save_model(model: Any, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write ``model``'s θ and architecture with ``nnlite.io.save``; returns the path written.

    The model's ``extra`` record (what ``nnlite.keras`` adds, or what a loaded model
    carried) goes with it. A resume state is not written: a file saved in the middle of
    a fit is a model, not a checkpoint to continue (``checkpoint_every`` makes those), and
    a state left by an earlier interrupted fit would not match it. ``overwrite=False``:
    never replace an existing file (``nnlite.files.TargetExists``).
    """
    from nnlite import io

    held = getattr(model, "resume_state", None)
    model.resume_state = None
    try:
        return io.save(model, path, extra=getattr(model, "extra", None), overwrite=overwrite)
    finally:
        model.resume_state = held


class ModelCheckpoint(Callback):
    """Write the model (``nnlite.io``'s own ``.npz`` + JSON format, no pickle) after epochs.

    ``filepath`` may hold the epoch's figures as ``str.format`` fields, as Keras's does:
    ``"model-{epoch:02d}-{val_loss:.2f}.npz"`` (``epoch`` counts from 1). ``nnlite.io``
    adds ``.npz`` to a name with another ending (``best.keras`` is written as
    ``best.keras.npz``: the file is nnlite's format, not Keras's). With
    ``save_best_only`` the file is written only when ``monitor`` improved (``mode`` as in
    ``EarlyStopping``). ``save_weights_only`` is accepted for Keras's sake: an nnlite
    model file holds θ and the architecture and never the optimiser, so both write the
    same file.
    """

    def __init__(
        self,
        filepath: str | os.PathLike,
        monitor: str = "val_loss",
        save_best_only: bool = False,
        mode: str = "auto",
        save_weights_only: bool = False,
    ) -> None:
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.mode = _mode_op(monitor, mode, "ModelCheckpoint") if save_best_only else mode
        self.best: float | None = None
        self.saved: list[Path] = []  # every file written, in order
        self._validation: bool | None = None
        self._path({"epoch": 1, **dict.fromkeys(_FIGURES, 0.0)})  # refuse a bad name now

    def _path(self, figures: dict[str, Any]) -> str:
        try:
            return self.filepath.format(**figures)
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(
                f"ModelCheckpoint filepath {self.filepath!r} has a field this fit does not "
                f"report: {exc} (fields: epoch, {', '.join(k for k in figures if k != 'epoch')})",
                param="filepath",
            ) from None

    def on_train_begin(self, info: dict[str, Any]) -> None:
        self._validation = info.get("validation")
        if self.save_best_only and self.monitor.startswith("val_") and self._validation is False:
            _monitored({}, self.monitor, "ModelCheckpoint", False)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        if self.save_best_only:
            value = _monitored(logs, self.monitor, "ModelCheckpoint", self._validation)
            if self.best is not None and not (
                value < self.best if self.mode == "min" else value > self.best
            ):
                return
            self.best = value
        path = self._path({"epoch": epoch + 1, **logs})
        self.saved.append(save_model(self.model, path))


class LambdaCallback(Callback):
    """A callback made of plain functions, each optional, with the protocol's arguments:

    ``on_train_begin(info)``, ``on_epoch_begin(epoch)``, ``on_batch_end(epoch,
    batches_done, logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``.
    """

    def __init__(
        self,
        on_train_begin: Callable[..., Any] | None = None,
        on_epoch_begin: Callable[..., Any] | None = None,
        on_batch_end: Callable[..., Any] | None = None,
        on_epoch_end: Callable[..., Any] | None = None,
        on_train_end: Callable[..., Any] | None = None,
    ) -> None:
        given = {
            "on_train_begin": on_train_begin, "on_epoch_begin": on_epoch_begin,
            "on_batch_end": on_batch_end, "on_epoch_end": on_epoch_end,
            "on_train_end": on_train_end,
        }  # fmt: skip
        for name, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise ConfigError(f"LambdaCallback {name} must be callable, got {fn!r}")
                setattr(self, name, fn)  # an instance attribute: called without self


class CallbackList(Callback):
    """Many callbacks heard as one (for ``fit(callback=...)``), in order.

    ``stop_training`` is true when any of them (or the model) asks to stop; setting it
    sets it on every one.
    """

    def __init__(self, callbacks: Iterable[Callback] = ()) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(
                    f"callbacks must be nnlite.models.Callback objects, got {cb!r}",
                    param="callbacks",
                )

    @property
    def stop_training(self) -> bool:  # type: ignore[override]
        model = self.model
        return any(cb.stop_training for cb in self.callbacks) or bool(
            getattr(model, "stop_training", False)
        )

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        for cb in self.callbacks:
            cb.stop_training = value

    def _each(self, event: str, *args: Any) -> None:
        for cb in self.callbacks:
            method = getattr(cb, event, None)
            if method is not None:
                method(*args)

    def set_model(self, model: Any) -> None:
        self.model = model
        self._each("set_model", model)

    def on_train_begin(self, info: dict[str, Any]) -> None:
        self._each("on_train_begin", info)

    def on_epoch_begin(self, epoch: int) -> None:
        self._each("on_epoch_begin", epoch)

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        self._each("on_batch_end", epoch, batches_done, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self._each("on_epoch_end", epoch, logs)

    def on_train_end(self, logs: dict[str, float]) -> None:
        self._each("on_train_end", logs)

    def on_checkpoint(self, model: Any, interrupted: bool) -> None:
        self._each("on_checkpoint", model, interrupted)
