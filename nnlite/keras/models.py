"""``keras.Sequential`` and ``keras.models.load_model`` on nnlite.

Owns: ``Sequential`` — Keras's model API (``add``, ``compile``, ``fit``, ``evaluate``,
``predict``, ``summary``, ``get_weights``/``set_weights``, ``save``) over one nnlite
network (``nnlite.models.Sequential``, the attribute ``network``), which does all the
training — and ``load_model``. What each Keras call becomes:

- the layers: Dense → nnlite's Dense (``identity`` for Keras's linear), Dropout → nnlite's
  Dropout before the next Dense, Activation/Softmax/ReLU → the activation of the linear
  Dense before them, Flatten and Input → the shape of a sample: a batch of (28, 28)
  images is reshaped to rows of 784 before it reaches the network;
- ``compile``: the optimizer → a row of nnlite's optimizer table (``keras.optimizers``),
  the loss → nnlite's (``keras.losses``; ``from_logits=True`` trains softmax/sigmoid +
  cross-entropy on the linear output, the same function, and ``predict`` still returns
  logits), ``metrics=["accuracy"]`` → nnlite's accuracy (the only metric it has);
- ``fit``: Keras's defaults (batch_size 32, epochs 1, shuffle, ``verbose="auto"`` = 1);
  ``validation_split`` takes the LAST fraction of the samples, before shuffling, as Keras
  does; inputs of any numeric dtype (uint8 images) become float32, labels int; returns a
  Keras ``History``; ``EarlyStopping``/``ModelCheckpoint`` and Keras callbacks heard through
  ``keras.callbacks.Bridge``;
- ``save``/``load_model``: nnlite's own model file — an ``.npz`` with θ and a JSON record
  (no pickle, read back as hostile input by ``nnlite.io``), ``.npz`` added to any other
  name: ``model.save("mnist.keras")`` writes ``mnist.keras.npz``, which is not a Keras
  file. The record holds the Keras layers and the compile settings, not the optimizer's
  state.

Everything is seeded: initial weights, batch order and dropout masks come from
``keras.utils.set_random_seed`` (0 until set). Printing (``summary``, ``verbose``) goes
through nnlite's UI (``nnlite.ui.fit_progress``, ``nnlite.ui.model_summary``), imported
when something is shown. Imports numpy, ``nnlite.models``, ``nnlite.layers``,
``nnlite.io``, ``nnlite.callbacks`` and this package's modules.

Omits: the functional API (``keras.Model``), subclassed models, nested models, sample and
class weights, ``initial_epoch``, ``steps_per_epoch``, data generators and ``tf.data``.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from nnlite import layers as core_layers
from nnlite import models as core_models
from nnlite.activations import canonical as activations_canonical
from nnlite.callbacks import save_model
from nnlite.errors import ConfigError, DataError, ModelFileError, NnliteError
from nnlite.keras import callbacks as kcallbacks
from nnlite.keras import layers as klayers
from nnlite.keras import losses as klosses
from nnlite.keras import optimizers as koptimizers
from nnlite.keras import utils as kutils
from nnlite.keras._cover import not_covered

__all__ = ["Sequential", "load_model"]

RECORD_VERSION = 1
_ACCURACY = ("accuracy", "acc", "sparse_categorical_accuracy", "categorical_accuracy",
             "binary_accuracy")  # fmt: skip
_BATCH = 32  # Keras's default batch size
_LAYER_CLASSES = {cls.__name__: cls for cls in (
    klayers.Dense, klayers.Flatten, klayers.Dropout, klayers.Activation, klayers.Softmax,
    klayers.ReLU,
)}  # fmt: skip


def _ui():
    """The views (imported when something is shown, so the library runs without them)."""
    import nnlite.ui.fit_progress as fit_progress
    import nnlite.ui.model_summary as model_summary

    return fit_progress, model_summary


def _say(line: str) -> None:
    """A verbose callback's line (EarlyStopping's, ModelCheckpoint's), on nnlite's console."""
    _ui()[1].say(line)


def _verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool):
        return int(verbose)
    if isinstance(verbose, (int, np.integer)) and verbose in (0, 1, 2):
        return int(verbose)
    raise ConfigError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}", param="verbose")


def _neutral(call: str, **given: Any) -> None:
    """Refuse Keras arguments nnlite does not have when they are not at their default."""
    for key, (value, default) in given.items():
        if value is not default and value != default:
            raise ConfigError(f"{call}({key}=...) is not in nnlite", param=key)


class Sequential:
    """A stack of layers, as ``keras.Sequential``: ``Sequential([layers.Dense(10)])``.

    The first entry may be ``keras.Input(shape=...)``; otherwise the first layer's
    ``input_shape``, or the data at the first ``fit``, gives the shape of a sample.
    """

    def __init__(self, layers: list[Any] | None = None, name: str | None = None,
                 trainable: bool = True) -> None:  # fmt: skip
        if trainable is not True:
            raise ConfigError("Sequential(trainable=False) is not in nnlite")
        self.name = name or klayers._auto_name("sequential")
        self.layers: list[klayers.Layer] = []
        self.input_layer: klayers.InputLayer | None = None
        self.network: core_models.Sequential | None = None  # the nnlite network, once built
        self.stop_training = False
        self.history: kcallbacks.History | None = None
        self._sample: tuple[int, ...] | None = None  # the shape of one sample, once known
        self._compiled: dict[str, Any] | None = None
        self._logits: core_models.Sequential | None = None
        self._seed = kutils.seed()  # of the initial weights: the seed when the model is made
        for layer in layers or ():
            self.add(layer)

    # -- construction ------------------------------------------------------------------

    def add(self, layer: Any) -> None:
        """Append ``layer`` (before the model is built)."""
        if isinstance(layer, Sequential):
            raise ConfigError("a Sequential model inside another is not in nnlite: add its layers")
        if not isinstance(layer, klayers.Layer):
            raise ConfigError(
                f"Sequential takes nnlite.keras layers (Dense, Flatten, Dropout, Input), "
                f"got {layer!r}"
            )
        if self.network is not None:
            raise ConfigError("add every layer before the model is built (its first fit or build)")
        if isinstance(layer, klayers.InputLayer):
            if self.layers or self.input_layer is not None:
                raise ConfigError("an Input belongs first in a Sequential model, once")
            self.input_layer = layer
            return
        previous = self.layers[-1] if self.layers else None
        denses = [x for x in self.layers if isinstance(x, klayers.Dense)]
        if isinstance(layer, klayers.Flatten) and denses:
            raise ConfigError(
                "Flatten must come before the first Dense layer: nnlite's Dense layers take "
                "flat rows"
            )
        if isinstance(layer, klayers.Activation) and not (
            isinstance(previous, klayers.Dense) and previous.activation == "identity"
        ):
            raise ConfigError(
                f"{type(layer).__name__} must follow a Dense layer without an activation "
                "(nnlite applies it as that layer's activation)"
            )
        if isinstance(layer, klayers.Dropout) and isinstance(previous, klayers.Dropout):
            raise ConfigError("two Dropout layers in a row: use one")
        if layer.input_shape is not None:
            if self.layers or self.input_layer is not None:
                raise ConfigError(
                    f"input_shape belongs on the first layer only (given on {layer.name!r})"
                )
        if any(x is layer for x in self.layers):
            raise ConfigError(f"layer {layer.name!r} is in this model already")
        self.layers.append(layer)
        self._logits = None

    @property
    def declared_shape(self) -> tuple[int, ...] | None:
        """The shape of one sample the layers declare (Input or ``input_shape``), if any."""
        if self.input_layer is not None:
            return self.input_layer.shape
        if self.layers and self.layers[0].input_shape is not None:
            return self.layers[0].input_shape
        return None

    def _plan(self) -> list[list[Any]]:
        """[facade Dense, the activation nnlite computes after it] for every Dense layer."""
        plan: list[list[Any]] = []
        for layer in self.layers:
            if isinstance(layer, klayers.Dense):
                plan.append([layer, layer.activation])
            elif isinstance(layer, klayers.Activation):
                plan[-1][1] = layer.activation
        if not plan:
            raise ConfigError("a Sequential model needs at least one Dense layer")
        if isinstance(self.layers[-1], klayers.Dropout):
            raise ConfigError(
                "Dropout must come before a Dense layer: nnlite drops a Dense layer's inputs"
            )
        return plan

    def _core_layers(self, output: str | None = None) -> list[Any]:
        """nnlite's layers, in order; ``output``: the output layer's activation instead."""
        plan = {id(dense): act for dense, act in self._plan()}
        last = self._plan()[-1][0]
        out: list[Any] = []
        for layer in self.layers:
            if isinstance(layer, klayers.Dropout):
                out.append(core_layers.Dropout(layer.rate))
            elif isinstance(layer, klayers.Dense):
                act = output if layer is last and output is not None else plan[id(layer)]
                out.append(core_layers.Dense(layer.units, act, l1=layer.l1, l2=layer.l2))
        return out

    def _output(self) -> tuple[str | None, str | None]:
        """(output activation nnlite trains with, nnlite loss) for the compiled loss."""
        if self._compiled is None:
            return None, None
        spec: klosses.LossSpec = self._compiled["spec"]
        act = self._plan()[-1][1]
        if spec.from_logits:
            if act != "identity":
                raise ConfigError(
                    f"{spec.name}(from_logits=True) expects a linear output layer (logits), "
                    f"but it is {klayers.keras_activation(act)}: drop from_logits or the "
                    f"{klayers.keras_activation(act)}",
                    param="loss",
                )
            return spec.output, spec.loss
        if spec.loss in ("cce", "bce") and act not in ("softmax", "sigmoid"):
            want = "softmax" if spec.loss == "cce" else "sigmoid"
            raise ConfigError(
                f"{spec.name} needs probabilities from the output layer: give it "
                f"activation='{want}', or keep it linear and use the loss with "
                "from_logits=True",
                param="loss",
            )
        return None, spec.loss

    def build(self, input_shape: Any = None) -> None:
        """Create the weights for samples of ``input_shape`` (Keras's: with the batch axis
        first, ``(None, 784)``; or the declared Input shape)."""
        if input_shape is not None:
            dims = tuple(input_shape)
            if dims and dims[0] is None:
                dims = dims[1:]
            self._build(klayers.sample_shape(dims, "input_shape"))
        elif self.declared_shape is not None:
            self._build(self.declared_shape)
        else:
            raise ConfigError("build needs the input shape: build((None, 784)), or a keras.Input")

    def _build(self, sample: tuple[int, ...]) -> core_models.Sequential:
        """The nnlite network for samples of shape ``sample`` (built once)."""
        if self.network is not None:
            if sample != self._sample:
                raise DataError(
                    f"x has samples of shape {sample}, but the model's input shape is "
                    f"{self._sample}"
                )
            return self.network
        declared = self.declared_shape
        if declared is not None and sample != declared:
            raise DataError(
                f"x has samples of shape {sample}, but the model's input shape is {declared}"
            )
        flatten = any(isinstance(x, klayers.Flatten) for x in self.layers)
        if len(sample) > 1 and not flatten:
            raise DataError(
                f"samples of shape {sample} need layers.Flatten() before the first Dense "
                "layer: nnlite's Dense layers take flat rows"
            )
        self._sample = sample
        self.network = self._make_network(theta=None)
        return self.network

    def _make_network(self, theta: np.ndarray | None) -> core_models.Sequential:
        output, loss = self._output()
        network = core_models.Sequential(
            self._core_layers(output), loss=loss, n_inputs=math.prod(self._sample),
            seed=self._seed,
        )  # fmt: skip
        if theta is not None:
            network.set_parameters(theta)
        denses = [x for x in network.layers if isinstance(x, core_layers.Dense)]
        for (dense, _), core in zip(self._plan(), denses):
            dense.core = core
        network.extra = {"keras": self._record()}
        self._logits = None
        return network

    @property
    def built(self) -> bool:
        return self.network is not None

    def _built_network(self) -> core_models.Sequential:
        if self.network is None and self.declared_shape is not None:
            self._build(self.declared_shape)
        if self.network is None:
            raise ConfigError(
                "this model has not been built yet: give keras.Input(shape=...) or "
                "input_shape=, call build(), or fit it first"
            )
        return self.network

    @property
    def input_shape(self) -> tuple[Any, ...]:
        sample = self._sample or self.declared_shape
        if sample is None:
            raise ConfigError("this model has no input shape yet")
        return (None, *sample)

    @property
    def output_shape(self) -> tuple[Any, ...]:
        return (None, self._plan()[-1][0].units)

    # -- compile -----------------------------------------------------------------------

    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None,
                loss_weights: Any = None, weighted_metrics: Any = None,
                run_eagerly: Any = False, steps_per_execution: Any = 1,
                jit_compile: Any = "auto", auto_scale_loss: Any = True) -> None:  # fmt: skip
        """Choose the optimizer (a name or ``keras.optimizers`` object), the loss (a name,
        ``keras.losses`` object or function) and the metrics (``["accuracy"]`` or none)."""
        _neutral("compile", loss_weights=(loss_weights, None),
                 weighted_metrics=(weighted_metrics, None),
                 steps_per_execution=(steps_per_execution, 1))  # fmt: skip
        if loss is None:
            raise ConfigError("compile needs a loss, e.g. loss='sparse_categorical_crossentropy'")
        opt = koptimizers.get(optimizer)
        opt.to_nnlite()  # checked now, with nnlite's rules
        spec = klosses.spec(loss)
        names = {"loss": "loss"}
        for metric in metrics or ():
            if not isinstance(metric, str) or metric not in _ACCURACY:
                raise ConfigError(
                    f"metric {metric!r} is not in nnlite: it reports the loss and "
                    "metrics=['accuracy']",
                    param="metrics",
                )
            names["accuracy"] = metric
        held = self._compiled
        self._compiled = {"optimizer": opt, "spec": spec, "names": names, "given": True}
        try:
            self._output()  # the output layer suits the loss
            if self.network is not None:
                theta, history = self.network.theta, self.network.history
                self.network = self._make_network(theta)
                self.network.history = history
        except NnliteError:
            self._compiled = held
            raise

    @property
    def optimizer(self) -> koptimizers.Optimizer | None:
        return None if self._compiled is None else self._compiled["optimizer"]

    @property
    def metrics_names(self) -> list[str]:
        if self._compiled is None or not self._compiled["given"]:
            return []
        return list(self._compiled["names"].values())

    def _require_compiled(self) -> dict[str, Any]:
        if self._compiled is None or not self._compiled["given"]:
            raise ConfigError(
                "compile the model before training or evaluating it: "
                "model.compile(optimizer='adam', loss=..., metrics=['accuracy'])"
            )
        return self._compiled

    # -- data --------------------------------------------------------------------------

    def _features(self, x: Any, what: str = "x") -> np.ndarray:
        """``x`` as rows for the network (built now if it was not), samples flattened."""
        if x is None:
            raise DataError(f"{what} is missing")
        try:
            x = np.asarray(x)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{what} is not a numeric array: {exc}") from None
        if x.ndim == 0:
            raise DataError(f"{what} must hold samples, got a single number")
        if x.ndim == 1:
            x = x.reshape(-1, 1)
        self._build(tuple(int(d) for d in x.shape[1:]))
        return x.reshape(x.shape[0], -1) if x.ndim > 2 else x

    def _targets(self, y: Any, what: str = "y") -> np.ndarray:
        if y is None:
            raise DataError(f"{what} is missing: fit and evaluate need targets")
        y = np.asarray(y)
        spec: klosses.LossSpec = self._require_compiled()["spec"]
        if spec.labels:
            if y.ndim == 2 and y.shape[1] == 1:
                y = y[:, 0]
            if y.ndim != 1:
                raise DataError(
                    f"{spec.name} takes one class number per sample, but {what} has shape "
                    f"{y.shape}; one-hot rows go with categorical_crossentropy"
                )
        elif spec.loss == "cce" and y.ndim == 1:
            raise DataError(
                f"categorical_crossentropy takes one-hot rows, but {what} holds one class "
                "number per sample: use sparse_categorical_crossentropy, or "
                "keras.utils.to_categorical(y)"
            )
        return y

    @staticmethod
    def _rows(a: np.ndarray, b: np.ndarray, what: str) -> None:
        if len(a) != len(b):
            raise DataError(f"{what}: x has {len(a)} samples but y has {len(b)}")

    # -- training ----------------------------------------------------------------------

    def fit(self, x: Any = None, y: Any = None, batch_size: int | None = None, epochs: int = 1,
            verbose: Any = "auto", callbacks: list[Any] | None = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: Any = True,
            class_weight: Any = None, sample_weight: Any = None, initial_epoch: int = 0,
            steps_per_epoch: Any = None, validation_steps: Any = None,
            validation_batch_size: Any = None, validation_freq: int = 1) -> kcallbacks.History:  # fmt: skip
        """Train for ``epochs`` epochs of mini-batches of ``batch_size`` (default 32).

        ``validation_split`` f: the last f of the samples (taken before shuffling) are
        held out and evaluated after each epoch, as ``validation_data`` would be.
        Returns a ``History``: ``history.history["loss"]``, ``["val_accuracy"]``, …
        """
        _neutral(
            "fit", class_weight=(class_weight, None), sample_weight=(sample_weight, None),
            initial_epoch=(initial_epoch, 0), steps_per_epoch=(steps_per_epoch, None),
            validation_steps=(validation_steps, None),
            validation_batch_size=(validation_batch_size, None),
            validation_freq=(validation_freq, 1),
        )  # fmt: skip
        compiled = self._require_compiled()
        verbose = _verbose(verbose)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise ConfigError(f"shuffle must be True or False, got {shuffle!r}", param="shuffle")
        X = self._features(x)
        Y = self._targets(y)
        self._rows(X, Y, "fit")
        val = None
        if validation_data is not None:
            val = self._validation(validation_data)
        elif validation_split:
            X, Y, val = self._split(X, Y, validation_split)
        network = self.network
        opt, schedule = compiled["optimizer"].to_nnlite()
        listeners = list(callbacks or ())
        for cb in listeners:
            if not isinstance(cb, (kcallbacks.Callback, core_models.Callback)):
                raise ConfigError(f"callbacks must be keras.callbacks objects, got {cb!r}")
        if verbose:
            listeners.append(_ui()[0].progress_callback(verbose, per_fit=True))
        bridge = kcallbacks.Bridge(
            self, listeners, compiled["names"], val is not None,
            {"verbose": verbose, "epochs": epochs}, _say,
            schedule=None if schedule is None else schedule.name,
        )  # fmt: skip
        bridge.set_model(network)
        caught: list[warnings.WarningMessage] = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                network.fit(
                    X, Y, epochs=epochs,
                    batch_size=_BATCH if batch_size is None else batch_size,
                    shuffle=bool(shuffle), validation_data=val, optimizer=opt,
                    schedule=schedule, callback=bridge,
                    seed=kutils.seed() + len(network.history.loss),
                )  # fmt: skip
        except BaseException:
            bridge.abort()
            raise
        finally:
            _warn_again(caught)
        bridge.finish()
        self.history = bridge.history
        self.history.set_model(self)
        return self.history

    def _validation(self, data: Any) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            raise ConfigError(
                "validation_data must be a tuple (x_val, y_val)", param="validation_data"
            )
        if len(data) == 3 and data[2] is not None:
            raise ConfigError("sample weights in validation_data are not in nnlite")
        Xv = self._features(data[0], "validation x")
        Yv = self._targets(data[1], "validation y")
        self._rows(Xv, Yv, "validation_data")
        return Xv, Yv

    @staticmethod
    def _split(X: np.ndarray, Y: np.ndarray, fraction: Any) -> tuple[Any, Any, Any]:
        """Keras's ``validation_split``: the last ``fraction`` of the rows, before shuffling."""
        if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
            raise ConfigError(f"validation_split must be a number, got {fraction!r}")
        if not 0 <= fraction < 1:
            raise ConfigError(f"validation_split must be in [0, 1), got {fraction}")
        n = X.shape[0]
        split_at = int(math.floor(n * (1.0 - fraction)))
        if split_at in (0, n):
            raise DataError(
                f"validation_split={fraction} leaves {'no training' if split_at == 0 else 'no validation'} "
                f"samples out of {n}"
            )
        return X[:split_at], Y[:split_at], (X[split_at:], Y[split_at:])

    # -- inference ---------------------------------------------------------------------

    def evaluate(self, x: Any = None, y: Any = None, batch_size: int | None = None,
                 verbose: Any = "auto", sample_weight: Any = None, steps: Any = None,
                 callbacks: Any = None, return_dict: bool = False) -> Any:  # fmt: skip
        """The loss, or ``[loss, accuracy]`` with ``metrics=["accuracy"]`` (``return_dict``:
        ``{"loss": …, "accuracy": …}``), on x, y with the model as it is (no dropout)."""
        _neutral("evaluate", sample_weight=(sample_weight, None), steps=(steps, None),
                 callbacks=(callbacks, None))  # fmt: skip
        compiled = self._require_compiled()
        verbose = _verbose(verbose)
        X = self._features(x)
        Y = self._targets(y)
        self._rows(X, Y, "evaluate")
        start = time.perf_counter()
        loss, accuracy = self.network.evaluate(X, Y)
        figures = {"loss": float(loss)}
        if "accuracy" in compiled["names"]:
            figures[compiled["names"]["accuracy"]] = float(accuracy)
        if verbose:
            fit_progress, summary = _ui()
            steps_done = -(-X.shape[0] // (batch_size or _BATCH))
            summary.say(fit_progress.step_line(steps_done, time.perf_counter() - start, figures))
        if return_dict:
            return figures
        return list(figures.values()) if len(figures) > 1 else figures["loss"]

    def predict(self, x: Any, batch_size: int | None = None, verbose: Any = "auto",
                steps: Any = None, callbacks: Any = None) -> np.ndarray:  # fmt: skip
        """The output layer's values for each sample, float32 (n, units).

        A model compiled with ``from_logits=True`` returns its logits (the linear output
        layer's Z), as Keras's does.
        """
        _neutral("predict", steps=(steps, None), callbacks=(callbacks, None))
        verbose = _verbose(verbose)
        start = time.perf_counter()
        out = self._forward(x)
        if verbose:
            fit_progress, summary = _ui()
            steps_done = -(-out.shape[0] // (batch_size or _BATCH))
            summary.say(fit_progress.step_line(steps_done, time.perf_counter() - start))
        return out

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """``model(x)``: ``predict`` without a progress line (an array, not a tensor)."""
        if training:
            raise ConfigError("model(x, training=True) is not in nnlite: fit trains the model")
        return self._forward(x)

    def _forward(self, x: Any) -> np.ndarray:
        X = self._features(x)
        network = self.network
        output, _ = self._output()
        if output is None:  # the output layer is what the network computes
            return network.predict(X)
        if self._logits is None:  # the same layers with a linear output: the logits
            self._logits = core_models.Sequential(
                self._core_layers("identity"), loss="mse", n_inputs=network.n_inputs,
                dtype=network.dtype,
            )  # fmt: skip
        self._logits.set_parameters(network.theta)
        return self._logits.predict(X)

    # -- weights -----------------------------------------------------------------------

    def get_weights(self) -> list[np.ndarray]:
        """``[W1, b1, W2, b2, …]`` (copies), as Keras orders them; [] before it is built."""
        if self.network is None and self.declared_shape is None:
            return []
        self._built_network()
        return [w for dense, _ in self._plan() for w in dense.get_weights()]

    def set_weights(self, weights: list[Any]) -> None:
        """Set every W and b from a list laid out as ``get_weights`` returns it."""
        self._built_network()
        weights = list(weights)
        plan = self._plan()
        if len(weights) != 2 * len(plan):
            raise ConfigError(
                f"set_weights needs {2 * len(plan)} arrays (W and b of each Dense layer), "
                f"got {len(weights)}"
            )
        for index, (dense, _) in enumerate(plan):
            dense.set_weights(weights[2 * index : 2 * index + 2])

    def count_params(self) -> int:
        return int(self._built_network().theta.size)

    # -- description -------------------------------------------------------------------

    def summary(self, line_length: Any = None, positions: Any = None, print_fn: Any = None,
                expand_nested: bool = False, show_trainable: bool = False,
                layer_range: Any = None) -> None:  # fmt: skip
        """Print Keras's table of the layers: name (type), output shape, parameters."""
        _neutral("summary", positions=(positions, None), layer_range=(layer_range, None))
        sample = self._sample or self.declared_shape
        if sample is not None:
            self._built_network()
        rows = []
        shape = sample
        for layer in self.layers:
            if shape is not None:
                shape = layer.output_shape_for(shape)
                shown = f"({', '.join(['None', *map(str, shape)])})"
                params = f"{layer.count_params():,}"
            else:
                shown, params = "?", "0 (unbuilt)"
            rows.append((f"{layer.name} ({type(layer).__name__})", shown, params))
        total = 0 if self.network is None else int(self.network.theta.size)
        itemsize = 4 if self.network is None else self.network.theta.itemsize
        _, summary = _ui()
        summary.print_summary(self.name, rows, total, itemsize, print_fn=print_fn)

    def get_config(self) -> dict[str, Any]:
        return self._record()

    def _record(self) -> dict[str, Any]:
        """The Keras record a saved model carries (JSON-able; checked again by ``load_model``)."""
        compiled = None
        if self._compiled is not None:
            names = self._compiled["names"]
            compiled = {
                "optimizer": self._compiled["optimizer"].get_config(),
                "loss": self._compiled["spec"].as_dict(),
                "metrics": [names["accuracy"]] if "accuracy" in names else [],
            }
        return {
            "version": RECORD_VERSION,
            "name": self.name,
            "input_shape": None if self._sample is None else list(self._sample),
            "input_layer": None if self.input_layer is None else self.input_layer.name,
            "layers": [{"class": type(x).__name__, "config": x.get_config()} for x in self.layers],
            "compile": compiled,
        }

    # -- files -------------------------------------------------------------------------

    def save(self, filepath: str | os.PathLike, overwrite: bool = True, **kwargs: Any) -> Path:
        """Write the model to ``filepath`` in nnlite's format (not Keras's); returns the path.

        An ``.npz`` holding θ and a JSON record (the network, its Keras layers and compile
        settings; not the optimizer's state); no pickle. ``.npz`` is added to any other
        name: ``save("mnist.keras")`` writes ``mnist.keras.npz``, and
        ``keras.models.load_model("mnist.keras")`` reads it back. ``overwrite=False``
        refuses to replace a file.
        """
        for key in kwargs:
            if key not in ("save_format", "zipped", "include_optimizer"):
                raise ConfigError(f"save has no argument {key!r} in nnlite", param=key)
        network = self._built_network()
        network.extra = {"keras": self._record()}
        return save_model(network, filepath, overwrite=overwrite)

    def save_weights(self, filepath: str | os.PathLike, overwrite: bool = True) -> Path:
        """The same file as ``save`` (an nnlite model file always holds the architecture)."""
        return self.save(filepath, overwrite=overwrite)

    def load_weights(self, filepath: str | os.PathLike) -> None:
        """Take θ from a model file written by ``save``/``save_weights`` (same layer sizes)."""
        from nnlite import io

        network = self._built_network()
        path = _model_file(filepath)
        record, theta = io.read_record(path)
        if theta.shape != network.theta.shape:
            raise ModelFileError(
                f"{str(path)!r} holds {theta.size:,} parameters; this model has "
                f"{network.theta.size:,}"
            )
        network.set_parameters(theta)

    def __repr__(self) -> str:
        return f"<Sequential name={self.name}, layers={[x.name for x in self.layers]}>"


def _warn_again(caught: list[warnings.WarningMessage]) -> None:
    """Warnings nnlite's fit gave, warned again at the line of the user's ``fit`` call."""
    for w in caught:
        warnings.warn(w.message, w.category, stacklevel=3)


def _model_file(filepath: str | os.PathLike) -> Path:
    """The file ``save(filepath)`` wrote: ``filepath`` itself, else with ``.npz`` added."""
    from nnlite import io

    path = Path(filepath)
    return path if path.exists() else io.model_path(path)


def load_model(filepath: str | os.PathLike, custom_objects: Any = None, compile: bool = True,
               safe_mode: bool = True) -> Sequential:  # fmt: skip
    """Read a model written by ``Sequential.save`` (or any nnlite model file).

    The file is nnlite's format, read as hostile input: anything wrong with it is one
    ``ModelFileError`` line naming the file. ``compile``: compile the model as it was when
    saved (with a fresh optimizer state). A model file written by nnlite itself (no Keras
    record) comes back as Dense layers on flat rows, not compiled.
    """
    if custom_objects:
        raise ConfigError("custom_objects are not in nnlite: it has no custom layers")
    from nnlite import io

    path = _model_file(filepath)
    network = io.load(path)
    extra = getattr(network, "extra", None) or {}
    record = extra.get("keras") if isinstance(extra, dict) else None
    try:
        if record is None:
            return _from_network(network)
        return _from_record(network, record, compile)
    except NnliteError as exc:
        raise ModelFileError(f"{str(path)!r} has a damaged Keras record: {exc}") from None


def _from_network(network: core_models.Sequential) -> Sequential:
    """A Keras model over a plain nnlite network: its Dense layers, flat rows."""
    layers: list[klayers.Layer] = [klayers.Input(shape=(network.n_inputs,))]
    for layer in network.stack:
        if isinstance(layer, core_layers.Dense):
            act = klayers.keras_activation(layer.activation)
            layers.append(klayers.Dense(layer.units, activation=act))
        else:
            layers.append(klayers.Dropout(layer.rate))
    model = Sequential(layers)
    model._sample = (network.n_inputs,)
    model.network = network
    denses = [x for x in network.layers if isinstance(x, core_layers.Dense)]
    for (dense, _), core in zip(model._plan(), denses):
        dense.core = core
    return model


def _from_record(network: core_models.Sequential, record: Any, compile: bool) -> Sequential:
    """The Keras model a record describes, over the network read with it, cross-checked."""
    if not isinstance(record, dict) or record.get("version") != RECORD_VERSION:
        raise ConfigError(f"not a version {RECORD_VERSION} Keras record")
    entries = record.get("layers")
    if not isinstance(entries, list) or not 1 <= len(entries) <= 1024:
        raise ConfigError("its layers are not a list of layers")
    layers: list[klayers.Layer] = []
    if record.get("input_layer") is not None:
        layers.append(klayers.Input(shape=record.get("input_shape"), name=record["input_layer"]))
    for entry in entries:
        if not isinstance(entry, dict) or not _named(entry.get("class"), _LAYER_CLASSES):
            raise ConfigError(f"layer {str(entry)[:60]} is not one nnlite covers")
        config = entry.get("config")
        if not isinstance(config, dict):
            raise ConfigError(f"layer {entry['class']} has no config")
        config = dict(config)
        if entry["class"] == "Dense":
            l1, l2 = config.pop("l1", 0.0), config.pop("l2", 0.0)
            if l1 or l2:
                config["kernel_regularizer"] = klayers.regularizers.L1L2(l1=l1, l2=l2)
        if entry["class"] in ("Softmax", "ReLU"):
            config.pop("activation", None)
        try:
            layers.append(_LAYER_CLASSES[entry["class"]](**config))
        except TypeError:
            raise ConfigError(f"layer {entry['class']} has a config nnlite does not know") from None
    name = record.get("name")
    model = Sequential(layers, name=name if isinstance(name, str) else None)
    shape = record.get("input_shape")
    sample = klayers.sample_shape(shape, "input_shape")
    if math.prod(sample) != network.n_inputs:
        raise ConfigError(
            f"input shape {shape} does not match the network's {network.n_inputs} inputs"
        )
    if record.get("compile") is not None:
        # Read even when compile=False: a from_logits loss decides the network's output.
        c = record["compile"]
        if not isinstance(c, dict) or not isinstance(c.get("loss"), dict):
            raise ConfigError("its compile settings are not a record")
        loss_name = c["loss"].get("name")
        if not _named(loss_name, klosses._CLASSES):
            raise ConfigError(f"loss {str(loss_name)[:40]!r} is not one nnlite covers")
        loss = klosses._CLASSES[loss_name](from_logits=c["loss"].get("from_logits", False))
        optimizer = koptimizers.from_config(c.get("optimizer"))
        metrics = c.get("metrics")
        if not isinstance(metrics, list) or len(metrics) > 1:
            raise ConfigError("its metrics are not a list of at most one metric")
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        model._compiled["given"] = bool(compile)
    model._sample = sample
    output, _ = model._output()
    expected = _effective(model._core_layers(output))
    got = _effective(network.stack)
    same = len(expected) == len(got) and all(
        a[:-1] == b[:-1] and math.isclose(a[-1], b[-1], rel_tol=1e-12, abs_tol=1e-15)
        for a, b in zip(expected, got)
    )
    if not same:
        raise ConfigError("its layers do not match the network stored beside them")
    model.network = network
    denses = [x for x in network.layers if isinstance(x, core_layers.Dense)]
    for (dense, _), core in zip(model._plan(), denses):
        dense.core = core
    network.extra = {"keras": model._record()}
    return model


def _named(value: Any, table: dict[str, Any]) -> bool:
    """``value`` is a string naming a row of ``table`` (a record's value may be anything)."""
    return isinstance(value, str) and value in table


def _effective(stack: list[Any]) -> list[tuple[Any, ...]]:
    """Each Dense layer of an nnlite stack as (units, activation, λ₁, λ₂, input dropout)."""
    out, keep = [], 1.0
    for layer in stack:
        if isinstance(layer, core_layers.Dropout):
            keep *= 1.0 - float(layer.rate)
        else:
            act = activations_canonical(layer.activation)
            out.append((int(layer.units), act, float(layer.l1), float(layer.l2), 1.0 - keep))
            keep = 1.0
    return out


def __getattr__(name: str) -> Any:
    raise not_covered("models", name)
