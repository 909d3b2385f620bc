"""``keras.callbacks`` on nnlite: Keras's callback protocol over nnlite's fit.

Owns: ``Callback`` (Keras's methods: ``on_train_begin(logs)``, ``on_epoch_begin(epoch,
logs)``, ``on_epoch_end(epoch, logs)``, ``on_train_batch_end(batch, logs)``,
``on_train_end(logs)``; ``self.model`` is the Keras model, ``self.params`` its fit's
epochs and steps), ``EarlyStopping`` and ``ModelCheckpoint`` (nnlite's
``nnlite.callbacks`` ones with Keras's arguments, ``verbose`` included), ``LambdaCallback``,
``History`` (what ``fit`` returns: ``history.history["val_accuracy"]``), and ``Bridge``:
the one nnlite callback a Keras ``fit`` hands to nnlite's, which passes each event on to
the Keras callbacks (epochs numbered within the fit, logs with the names ``compile``'s
metrics gave) and to nnlite's (as they are).

nnlite reports between compiled chunks of batches (8192 samples), not after every
batch: ``on_train_batch_end`` is called there, with the batches done so far, and
``on_train_batch_begin`` never. Imports ``nnlite.callbacks`` and ``nnlite.models``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from nnlite import callbacks as _nn
from nnlite.display import Displayable
from nnlite.errors import ConfigError
from nnlite.keras._cover import not_covered
from nnlite.models import Callback as _CoreCallback

__all__ = ["Callback", "EarlyStopping", "History", "LambdaCallback", "ModelCheckpoint"]


class Callback:
    """Keras's callback base class: override the events you need (all do nothing here)."""

    model: Any = None
    params: dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        self.model = model

    def set_params(self, params: dict[str, Any]) -> None:
        self.params = params

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        pass

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_train_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_train_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pass

    def on_batch_end(self, batch: int, logs: dict[str, float] | None = None) -> None:
        pass


class History(Displayable, Callback):
    """What ``fit`` returns: ``history`` maps each figure to its list per epoch, ``epoch``
    lists the epochs (from 0), ``params`` the fit's verbose, epochs and steps. In a
    notebook it shows its curves and a table, one row per epoch."""

    view_kind = "history"

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []

    def on_train_begin(self, logs: dict[str, float] | None = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: dict[str, float] | None = None) -> None:
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)

    def __repr__(self) -> str:
        return f"<History epochs={len(self.epoch)} keys={list(self.history)}>"


class EarlyStopping(_nn.EarlyStopping):
    """nnlite's ``EarlyStopping`` (which see) with Keras's arguments in Keras's order.

    ``verbose=1`` says when it stopped and which epoch's weights it restored.
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:  # fmt: skip
        super().__init__(
            monitor=monitor, patience=patience, min_delta=min_delta, mode=mode,
            restore_best_weights=restore_best_weights, baseline=baseline,
            start_from_epoch=start_from_epoch,
        )  # fmt: skip
        self.verbose = verbose

    def messages(self, first_epoch: int) -> list[str]:
        """Keras's lines for ``verbose``, epochs counted from 1 within the fit."""
        if not self.verbose or not self.stopped_epoch:
            return []
        lines = [f"Epoch {self.stopped_epoch - first_epoch + 1}: early stopping"]
        if self.restore_best_weights and self.best_weights is not None:
            lines.append(
                "Restoring model weights from the end of the best epoch: "
                f"{self.best_epoch - first_epoch + 1}."
            )
        return lines


class ModelCheckpoint(_nn.ModelCheckpoint):
    """nnlite's ``ModelCheckpoint`` (which see) with Keras's arguments.

    The file is nnlite's model format (θ and the architecture in an ``.npz``, with this
    model's Keras layers and compile settings), read back by ``keras.models.load_model``;
    ``.npz`` is added to other names (``best.keras`` → ``best.keras.npz``).
    ``save_freq`` other than ``"epoch"`` is not in nnlite.
    """

    def __init__(self, filepath: Any, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False,
                 mode: str = "auto", save_freq: Any = "epoch",
                 initial_value_threshold: float | None = None) -> None:  # fmt: skip
        if save_freq != "epoch":
            raise ConfigError(
                f"ModelCheckpoint(save_freq={save_freq!r}) is not in nnlite: it saves after "
                "epochs (save_freq='epoch')",
                param="save_freq",
            )
        super().__init__(
            filepath, monitor=monitor, save_best_only=save_best_only, mode=mode,
            save_weights_only=save_weights_only,
        )  # fmt: skip
        self.verbose = verbose
        if initial_value_threshold is not None:
            self.best = _nn._number(initial_value_threshold, "initial_value_threshold")


class LambdaCallback(Callback):
    """Keras's ``LambdaCallback``: functions for ``on_epoch_begin(epoch, logs)``,
    ``on_epoch_end(epoch, logs)``, ``on_train_batch_end(batch, logs)`` (also as
    ``on_batch_end``), ``on_train_begin(logs)`` and ``on_train_end(logs)``."""

    def __init__(self, on_epoch_begin: Callable | None = None, on_epoch_end: Callable | None = None,
                 on_train_begin: Callable | None = None, on_train_end: Callable | None = None,
                 on_train_batch_begin: Callable | None = None,
                 on_train_batch_end: Callable | None = None, on_batch_end: Callable | None = None,
                 **unsupported: Any) -> None:  # fmt: skip
        if unsupported:
            key = next(iter(unsupported))
            raise ConfigError(f"LambdaCallback argument {key!r} is not in nnlite", param=key)
        given = {
            "on_epoch_begin": on_epoch_begin, "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin, "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end or on_batch_end,
        }  # fmt: skip
        for name, fn in given.items():
            if fn is not None:
                if not callable(fn):
                    raise ConfigError(f"LambdaCallback {name} must be callable, got {fn!r}")
                setattr(self, name, fn)


class Bridge(_CoreCallback):
    """nnlite's side of a Keras ``fit``: one nnlite callback that passes each event on.

    ``model``: the Keras model (``keras_model.stop_training = True``, Keras's way, ends the
    fit after the epoch: passed on as nnlite's ``model.stop_training``); ``callbacks``:
    Keras callbacks and nnlite callbacks, in order; ``names``: nnlite's figure → the name
    Keras's logs give it (``accuracy`` → ``acc``; a figure left out is dropped);
    ``validation``: whether the fit has validation data and ``schedule``: the name of its
    learning-rate schedule (both added to nnlite's ``info``); ``params``: Keras's ``fit``
    parameters for ``Callback.params``; ``say``: where the verbose callbacks' lines go.

    ``on_train_end`` is called once: by nnlite's fit when it ends normally, else by
    ``finish`` (an nnlite callback interrupted it); ``abort`` stops the progress bar
    when the fit raised.
    """

    def __init__(self, model: Any, callbacks: list[Any], names: dict[str, str],
                 validation: bool, params: dict[str, Any],
                 say: Callable[[str], None] | None = None,
                 schedule: str | None = None) -> None:  # fmt: skip
        self.keras_model = model
        self.schedule = schedule
        self.callbacks = list(callbacks)
        self.names = names
        self.validation = validation
        self.params = params
        self.say = say
        self.history = History()
        self.model = None
        self.first = 0
        self._epoch: int | None = None
        self._ended = False
        self.logs: dict[str, float] = {}

    @staticmethod
    def _is_keras(cb: Any) -> bool:
        return isinstance(cb, Callback)

    @property
    def stop_training(self) -> bool:  # type: ignore[override]
        """An nnlite callback's interruption (Keras's ``model.stop_training`` ends the fit
        normally instead: it is passed on to nnlite's model after each event)."""
        return any(cb.stop_training for cb in self.callbacks if not self._is_keras(cb))

    @stop_training.setter
    def stop_training(self, value: bool) -> None:
        for cb in self.callbacks:
            if not self._is_keras(cb):
                cb.stop_training = value

    def _pass_stop(self) -> None:
        if getattr(self.keras_model, "stop_training", False) and self.model is not None:
            self.model.stop_training = True

    def rename(self, logs: dict[str, float]) -> dict[str, float]:
        out = {}
        for key, value in logs.items():
            base = key.removeprefix("val_")
            if base in self.names:
                out[key.replace(base, self.names[base], 1)] = value
            elif base not in ("accuracy",):  # a figure compile did not ask for is dropped
                out[key] = value
        return out

    def set_model(self, model: Any) -> None:
        if self.model is model:
            return
        self.model = model
        for cb in self.callbacks:
            cb.set_model(self.keras_model if self._is_keras(cb) else model)

    def on_train_begin(self, info: dict[str, Any]) -> None:
        self.first = int(info.get("first_epoch", 0))
        self.keras_model.stop_training = False
        info = {**info, "validation": self.validation, "schedule": self.schedule}
        params = {**self.params, "steps": info["batches_per_epoch"]}
        self.history.set_params(params)
        self.history.on_train_begin({})
        for cb in self.callbacks:
            if self._is_keras(cb):
                cb.set_params(params)
                cb.on_train_begin({})
            else:
                cb.on_train_begin(info)

    def on_epoch_begin(self, epoch: int) -> None:
        if self._epoch == epoch:
            return
        self._epoch = epoch
        for cb in self.callbacks:
            if self._is_keras(cb):
                cb.on_epoch_begin(epoch - self.first, {})
            else:
                cb.on_epoch_begin(epoch)

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        self.on_epoch_begin(epoch)
        logs = self.rename(logs)
        for cb in self.callbacks:
            if self._is_keras(cb):
                cb.on_train_batch_end(batches_done - 1, dict(logs))
            else:
                cb.on_batch_end(epoch, batches_done, logs)
        self._pass_stop()

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        self.on_epoch_begin(epoch)
        logs = self.rename(logs)
        self.logs = logs
        keras_logs = {k: v for k, v in logs.items() if k != "lr"}
        self.history.on_epoch_end(epoch - self.first, keras_logs)
        for cb in self.callbacks:
            if self._is_keras(cb):
                cb.on_epoch_end(epoch - self.first, dict(keras_logs))
            else:
                saved = len(getattr(cb, "saved", ()))
                cb.on_epoch_end(epoch, logs)
                if getattr(cb, "verbose", 0) and len(getattr(cb, "saved", ())) > saved:
                    self._say(f"Epoch {epoch - self.first + 1}: saving model to {cb.saved[-1]}")
        self._epoch = None
        self._pass_stop()

    def on_train_end(self, logs: dict[str, float] | None = None) -> None:
        if self._ended:
            return
        self._ended = True
        logs = self.logs if logs is None else self.rename(logs)
        for cb in self.callbacks:
            if self._is_keras(cb):
                cb.on_train_end({k: v for k, v in logs.items() if k != "lr"})
            else:
                cb.on_train_end(logs)
            for line in getattr(cb, "messages", lambda first: [])(self.first):
                self._say(line)

    def on_checkpoint(self, model: Any, interrupted: bool) -> None:
        for cb in self.callbacks:
            if not self._is_keras(cb):
                cb.on_checkpoint(model, interrupted)

    def finish(self) -> None:
        """End the fit for the callbacks, unless nnlite's fit did (``on_train_end``)."""
        self.on_train_end(None)

    def abort(self) -> None:
        """The fit raised: stop what draws on the terminal, tell no one else."""
        for cb in self.callbacks:
            stop = getattr(cb, "_stop", None)
            if stop is not None:
                stop()

    def _say(self, line: str) -> None:
        if self.say is not None:
            self.say(line)


def __getattr__(name: str) -> Any:
    raise not_covered("callbacks", name)
