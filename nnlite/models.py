"""Models: the multilayer perceptron (``Sequential``) and Rosenblatt's ``Perceptron``.

Owns: building a network (weight initialisation), the training loop's
driver (shuffling, mini-batches, validation, history, progress events,
divergence diagnosis), prediction and evaluation. All arithmetic happens in
the kernels (``nnlite.kernels``); models never print — they report progress
through a ``Callback``. Imports numpy, the kernels and nnlite's tables.
"""

from __future__ import annotations

import hashlib
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nnlite import activations, diagnose, health, losses
from nnlite.config import (
    CLIP_EPS,
    DEFAULT_DTYPE,
    SAMPLES_PER_CHUNK,
    check_network_size,
    check_seed,
)
from nnlite.display import Displayable
from nnlite.errors import ConfigError, DataError, DivergenceError, LearnerWarning
from nnlite.kernels import codes, get_backend, memory_for
from nnlite.layers import Dense, Dropout
from nnlite.optim import SGD, Optimizer
from nnlite.schedules import Schedule

EVAL_ROWS = 1024  # rows per compiled call when predicting or evaluating


class Callback:
    """Receives training progress. Subclass and override what you need.

    Set the callback's ``stop_training`` to True (from a signal handler, say)
    and ``fit`` stops after the compiled chunk of batches that is running,
    leaving a resumable ``model.resume_state`` (an interruption). Set
    ``self.model.stop_training`` to True (Keras's way; early stopping) and the
    fit ends normally after the current epoch. ``self.model`` is the model
    being trained (``set_model``); its ``theta`` is current on the host in
    ``on_epoch_end``.
    """

    stop_training: bool = False
    model: Any = None

    def set_model(self, model: Sequential) -> None:
        self.model = model

    def on_train_begin(self, info: dict[str, Any]) -> None:
        """``info``: epochs (this call), batches_per_epoch, samples, batch_size, first_epoch."""

    def on_epoch_begin(self, epoch: int) -> None:
        """Called before each epoch (``epoch`` counts from 0 over the model's whole history)."""

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        """Called between compiled chunks of an epoch with the running loss/accuracy."""

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        """Called after each epoch with loss, accuracy, (val_loss, val_accuracy) and lr (α)."""

    def on_train_end(self, logs: dict[str, float]) -> None:
        """Called when a fit ends normally, with the final θ on the host (not when interrupted)."""

    def close(self) -> None:
        """Called when ``fit`` returns or raises: release what the callback holds (a live display)."""

    def on_checkpoint(self, model: Sequential, interrupted: bool) -> None:
        """Called every ``checkpoint_every`` epochs and when stopped early.

        ``model.theta`` and ``model.resume_state`` are up to date on the host,
        so ``nnlite.io.save(model, path)`` writes a resumable checkpoint.
        """


@dataclass(repr=False)
class History(Displayable):
    """Per-epoch figures of a ``fit``: lists indexed by epoch (from 0).

    In a notebook it shows its curves and a table, one row per epoch
    (``nnlite.ui.notebook.HistoryView``).

    ``health``: each layer's health at each epoch's end (``nnlite.health``), one float64
    array of shape (layers, ``len(health.FIGURES)``) per epoch, its columns the figures
    ‖W‖, ‖ΔW‖/‖W‖, saturated share, dead-ReLU share and ‖∂L/∂W‖ (NaN where a figure does
    not apply, or for epochs trained before nnlite recorded health).
    ``nnlite.health.figure(history, "dead")`` gives one figure as an (epochs, layers) array.
    """

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    seconds: float = 0.0
    samples: int = 0
    start_loss: float = math.nan  # loss of the very first batch, before any update
    interrupted: bool = False  # the last fit stopped early (see Sequential.resume_state)
    # What went wrong in the last fit, one line each (``nnlite.diagnose``; also warned).
    diagnosis: list[str] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)  # α of each epoch's last step
    health: list[np.ndarray] = field(default_factory=list)  # (layers, figures) per epoch

    view_kind = "history"

    def __repr__(self) -> str:  # one line: the lists and health arrays can be long
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        return f"History(epochs={len(self.loss)}{last})"

    @property
    def history(self) -> dict[str, list[float]]:
        """The per-epoch figures as Keras's ``History.history`` holds them (only what was measured)."""
        out = {"loss": self.loss}
        if any(not math.isnan(a) for a in self.accuracy):
            out["accuracy"] = self.accuracy
        if self.val_loss:
            out["val_loss"] = self.val_loss
            if any(not math.isnan(a) for a in self.val_accuracy):
                out["val_accuracy"] = self.val_accuracy
        out["lr"] = self.lr
        return out

    def last_logs(self) -> dict[str, float]:
        """The last epoch's figures (what ``on_train_end`` receives)."""
        return {key: values[-1] for key, values in self.history.items() if values}

    def overshoot(self) -> bool:
        """True when the last epoch's loss is above the loss before training: α is too large."""
        return bool(self.loss) and self.loss[-1] > self.start_loss

    def as_dict(self) -> dict[str, Any]:
        return {
            "loss": self.loss,
            "accuracy": self.accuracy,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "seconds": self.seconds,
            "samples": self.samples,
            "start_loss": self.start_loss,
        }


def _as_matrix(X: Any, dtype: np.dtype, what: str = "X") -> np.ndarray:
    """X as a C-contiguous 2-D float array of ``dtype``, finite (copies only if needed)."""
    try:
        X = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} is not a numeric array: {exc}") from None
    if X.dtype == object or not (np.issubdtype(X.dtype, np.number) or X.dtype == bool):
        raise DataError(f"{what} must be numeric, got dtype {X.dtype}")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise DataError(f"{what} must be 2-D (samples, features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise DataError(f"{what} has no samples")
    X = np.ascontiguousarray(X, dtype=dtype)
    # Finite row sums prove every entry finite (a NaN or ±∞ cannot add up to a finite
    # number), with no temporary the size of X. The row sums are one BLAS product, X·1,
    # which reads MNIST's 188 MB in 6–10 ms on two threads (X.sum(): 12–17 ms), once per
    # fit. Only when a row sum is not finite (maybe an overflow) is each entry checked.
    with np.errstate(over="ignore", invalid="ignore"):  # a sum may overflow: not an error
        row_sums = X @ np.ones(X.shape[1], X.dtype)
    if not np.isfinite(row_sums).all() and not np.isfinite(X).all():
        row = int(np.argwhere(~np.isfinite(X))[0, 0])
        raise DataError(f"{what} contains NaN or infinity (first in row {row})")
    return X


class Sequential:
    """A multilayer perceptron: layers applied left to right, A⁰ = X, Aˡ = σ(Aˡ⁻¹·Wˡ + bˡ).

    Parameters
    ----------
    layers : list of Dense and Dropout
        Hidden layers then the output layer, with ``Dropout(rate)`` wherever the
        values flowing into the next Dense layer (the inputs too) should be
        dropped while training. The input size is taken from the data at the
        first ``fit`` (or given by ``n_inputs``). ``model.layers`` lists the
        Dense layers; ``model.stack`` all of them, as given.
    loss : str
        ``mse``, ``bce`` or ``cce``; ``None`` picks the usual partner of the
        output activation (softmax → cce, sigmoid → bce, else mse).
    dtype : numpy float dtype
        float32 (default, fast) or float64 (reference checks).
    device : str
        Compute backend (``"cpu"``).
    n_inputs : int, optional
        Build immediately for this many input features.
    seed : int
        Seed of the weight initialisation when built from the constructor.

    Hyper-parameters are stored as given and validated when the model is built.
    """

    def __init__(
        self,
        layers: list[Dense],
        loss: str | None = None,
        dtype: Any = DEFAULT_DTYPE,
        device: str = "cpu",
        n_inputs: int | None = None,
        seed: int = 0,
    ) -> None:
        self.stack = list(layers)
        self.layers = [x for x in self.stack if isinstance(x, Dense)]
        self.loss = loss
        self.dtype = dtype
        self.device = device
        self.theta: np.ndarray | None = None
        self.history = History()
        # Where an interrupted or checkpointed fit stands (see ``fit(resume=True)``).
        self.resume_state: dict[str, Any] | None = None
        if n_inputs is not None:
            self.build(n_inputs, seed=seed)

    # -- construction ------------------------------------------------------

    @property
    def built(self) -> bool:
        return self.theta is not None

    @property
    def n_inputs(self) -> int:
        self._require_built()
        return int(self._dims[0])

    @property
    def n_outputs(self) -> int:
        return int(self.layers[-1].units)

    def _validate(self) -> None:
        for layer in self.stack:
            if not isinstance(layer, (Dense, Dropout)):
                raise ConfigError(f"Sequential takes Dense and Dropout layers, got {layer!r}")
            layer.validate()
        self.layers = [x for x in self.stack if isinstance(x, Dense)]
        if not self.layers:
            raise ConfigError("a Sequential model needs at least one Dense layer")
        if isinstance(self.stack[-1], Dropout):
            raise ConfigError(
                "Dropout after the output layer would drop the network's answers; "
                "put it before a Dense layer"
            )
        # Each Dense layer's input dropout; two Dropouts in a row keep (1 − p₁)(1 − p₂).
        self._drop_in, rates = [], []
        for layer in self.stack:
            if isinstance(layer, Dropout):
                rates.append(layer.rate)
            else:
                self._drop_in.append(rates[0] if len(rates) == 1 else 1.0 - math.prod(
                    1.0 - p for p in rates))  # fmt: skip
                rates = []
        for layer in self.layers[:-1]:
            if layer.activation == "softmax":
                raise ConfigError("softmax belongs on the output layer only")
        out = self.layers[-1].activation
        self.loss = losses.default_for(out) if self.loss is None else losses.canonical(self.loss)
        losses.check_pair(out, self.loss, self.n_outputs)
        dtype = np.dtype(self.dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ConfigError(f"dtype must be float32 or float64, got {dtype}")
        self.dtype = dtype
        self.kernels = get_backend(self.device)
        self.memory = memory_for(self.kernels)  # host arrays on the CPU, device arrays on CUDA
        if dtype not in self.memory.dtypes:
            raise ConfigError(
                f"the {self.memory.device} kernels compute in "
                f"{' or '.join(d.name for d in self.memory.dtypes)}, not {dtype}; "
                "use dtype float32 (or the cpu device for float64)"
            )

    def use_device(self, device: str) -> Sequential:
        """Run later ``fit``/``predict``/``evaluate`` calls on ``device`` (cpu, cuda, auto)."""
        self.device = device
        self._validate()
        return self

    def build(self, n_inputs: int, seed: int = 0) -> Sequential:
        """Validate, then allocate and initialise every W and b for ``n_inputs`` features.

        Weights: Glorot uniform U(±√(6/(i+o))) for sigmoid, tanh, softmax and
        identity layers; He normal N(0, 2/i) for ReLU layers. Biases: 0.
        """
        self._validate()
        integral = isinstance(n_inputs, (int, np.integer)) and not isinstance(n_inputs, bool)
        if not integral or n_inputs < 1:
            raise ConfigError(f"the network needs at least one input, got {n_inputs!r}")
        seed = check_seed(seed)
        self._set_dims(int(n_inputs))
        rng = np.random.default_rng(seed)
        self.theta = np.zeros(self._n_params, dtype=self.dtype)
        self._bind_layers()
        for layer in self.layers:
            i, o = layer.W.shape
            if activations.ACTIVATIONS[layer.activation].init == "he":
                layer.W[...] = rng.normal(0.0, math.sqrt(2.0 / i), size=(i, o))
            else:
                limit = math.sqrt(6.0 / (i + o))
                layer.W[...] = rng.uniform(-limit, limit, size=(i, o))
        return self

    def _set_dims(self, n_inputs: int) -> None:
        dims = [n_inputs] + [int(layer.units) for layer in self.layers]
        # Counted (and bounded) before anything is allocated.
        self._n_params = check_network_size(dims, np.dtype(self.dtype).itemsize)
        self._dims = np.array(dims, np.int64)
        self._acts = np.array([activations.code(layer.activation) for layer in self.layers])
        self._acts = self._acts.astype(np.int64)
        self._units = int(self._dims[1:].sum())

    def layer_hyper(self) -> np.ndarray:
        """Each Dense layer's (λ₁, λ₂, input dropout rate): the kernels' ``layer_hyper``."""
        rows = [(x.l1, x.l2, p) for x, p in zip(self.layers, self._drop_in)]
        return np.array(rows, np.float64).reshape(len(self.layers), 3)

    def penalty(self, theta: np.ndarray | None = None) -> float:
        """λ₁·Σ|W| + λ₂·ΣW² summed over the layers (0 without penalties), in float64."""
        theta = self.theta if theta is None else theta
        total = 0.0
        for layer, (W, _) in zip(self.layers, self.param_views(theta)):
            if layer.l1 or layer.l2:
                W = W.astype(np.float64)
                total += layer.l1 * float(np.abs(W).sum()) + layer.l2 * float((W * W).sum())
        return total

    def param_views(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W, b) of every layer as views into ``flat``, laid out like θ (θ itself, or ∂L/∂θ)."""
        dims = [int(d) for d in self._dims]
        views = []
        for layer, (i, o) in enumerate(zip(dims[:-1], dims[1:])):
            off = codes.param_offset(dims, layer)  # the layout, written once
            views.append((flat[off : off + i * o].reshape(i, o), flat[off + i * o : off + i * o + o]))
        return views

    def _bind_layers(self) -> None:
        """Point each layer's W and b at its slice of the flat parameter vector θ."""
        for layer, (W, b) in zip(self.layers, self.param_views(self.theta)):
            layer.W, layer.b = W, b

    def set_parameters(self, theta: np.ndarray) -> None:
        """Replace every W and b at once with a flat vector laid out like ``theta``."""
        self._require_built()
        theta = np.asarray(theta)
        if theta.shape != (self._n_params,):
            raise ConfigError(f"expected {self._n_params} parameters, got shape {theta.shape}")
        self.theta[...] = theta

    def _require_built(self) -> None:
        if self.theta is None:
            raise ConfigError("the model has not been built yet: call fit() or build() first")

    def buffers(self, rows: int) -> dict[str, np.ndarray]:
        """Scratch arrays for ``rows`` samples: Z, A, dZ, dA of every layer and ∂L/∂θ."""
        size = rows * self._units
        return {
            "Z": np.zeros(size, self.dtype),
            "A": np.zeros(size, self.dtype),
            "dZ": np.zeros(size, self.dtype),
            "dA": np.zeros(size, self.dtype),
            "grad": np.zeros(self._n_params, self.dtype),
        }

    def layer_view(self, buf: np.ndarray, layer: int, rows: int) -> np.ndarray:
        """Rows 0..rows−1 of ``layer``'s block in a buffer from ``buffers``."""
        off = codes.buffer_offset([int(d) for d in self._dims], layer, buf.size)
        o = int(self._dims[layer + 1])
        return buf[off : off + rows * o].reshape(rows, o)

    # -- data --------------------------------------------------------------

    def targets(self, y: Any) -> np.ndarray:
        """Targets as an (n, outputs) float matrix: class labels become one-hot rows.

        A 1-D integer y with several output units is a class label per sample;
        with one output unit it is the target value itself (0/1 for a binary
        problem).
        """
        y = np.asarray(y)
        o = self.n_outputs
        if y.ndim == 1 and o > 1:
            if not (np.issubdtype(y.dtype, np.integer) or _integral(y)):
                raise DataError(f"labels must be class numbers 0..{o - 1} for {o} output units")
            labels = y.astype(np.int64)
            bad = (labels < 0) | (labels >= o)
            if bad.any():
                raise DataError(
                    f"label {labels[bad][0]} is out of range for {o} output units "
                    f"(labels must be 0..{o - 1})"
                )
            Y = np.zeros((y.shape[0], o), self.dtype)
            Y[np.arange(y.shape[0]), labels] = 1
            return Y
        Y = _as_matrix(y, self.dtype, "y")
        if Y.shape[1] != o:
            raise DataError(f"y has {Y.shape[1]} columns but the network has {o} outputs")
        if self.loss in ("bce", "cce") and ((Y < 0) | (Y > 1)).any():
            raise DataError(f"{losses.LOSSES[self.loss].title} needs targets in [0, 1]")
        return Y

    def _inputs(self, X: Any) -> np.ndarray:
        X = _as_matrix(X, self.dtype, "X")
        if self.built and X.shape[1] != self.n_inputs:
            raise DataError(f"X has {X.shape[1]} features but the network expects {self.n_inputs}")
        return X

    # -- training ----------------------------------------------------------

    def fit(
        self,
        X: Any,
        y: Any,
        epochs: int = 10,
        batch_size: int = 32,
        lr: float | None = None,
        shuffle: bool = True,
        validation_data: tuple[Any, Any] | None = None,
        seed: int = 0,
        callback: Callback | None = None,
        momentum: float | None = None,
        nesterov: bool | None = None,
        checkpoint_every: int = 0,
        resume: bool = False,
        optimizer: Optimizer | str | None = None,
        schedule: Schedule | str | None = None,
        callbacks: list[Callback] | None = None,
        verbose: int = 0,
        validation_split: float = 0.0,
    ) -> History:
        """Train with stochastic mini-batch gradient descent, θ ← θ − α·∂L/∂θ per batch.

        ``batch_size`` = n is full-batch gradient descent; 1 is pure SGD. The
        same ``seed`` gives the same initial weights, the same batch order and
        so identical results. Returns (and appends to) ``self.history``.

        ``lr`` is α (default 0.1). ``momentum`` μ > 0 uses V ← μ·V − α·∂L/∂θ,
        θ ← θ + V (``nesterov``: θ ← θ + μ·V − α·∂L/∂θ); the velocity V starts at
        zero in each new fit. ``optimizer`` (an ``nnlite.optim.Optimizer``, or a
        name from ``nnlite.optim.OPTIMIZERS`` with its defaults: ``"adam"``)
        replaces those three; it holds its own hyper-parameters. ``schedule``
        (an ``nnlite.schedules.Schedule`` or a name) scales α epoch by epoch or
        step by step. The optimiser's state and its step count t start at zero
        in each new fit.

        ``validation_split`` f holds out the last f of the samples (before any
        shuffling, as Keras does) as ``validation_data``. ``callbacks``: a list
        of ``Callback`` objects (``nnlite.callbacks.EarlyStopping``, ...), with
        ``callback`` (one) for the older form. ``verbose`` 1: a progress bar per
        epoch; 2: one line per epoch (``nnlite.ui.fit_progress``); 0: silent.
        Reported losses include the layers' L1/L2 penalties, as Keras's do.

        ``checkpoint_every`` N > 0 calls ``callback.on_checkpoint`` after every
        N-th epoch; it is also called when ``callback.stop_training`` stops the
        fit early (``history.interrupted``). At those points ``resume_state``
        holds what continuing needs: the epoch's sample order and position, the
        shuffling generator's state, the velocity and the epoch's running sums.
        ``resume=True`` continues from it (the same data; ``epochs`` counts the
        unfinished epoch as one), and reaches bit for bit the θ that an
        uninterrupted fit with the same seed reaches.

        Raises ``DivergenceError`` when the loss stops being finite, naming
        the epoch, the batch and the first layer whose values overflowed (or the
        inputs, when their scale is the cause).

        Records each layer's health at the end of each epoch in ``history.health``
        (``nnlite.health``: ‖W‖, ‖ΔW‖/‖W‖, saturated and dead shares, ‖∂L/∂W‖ on
        ``SAMPLE_ROWS`` fixed training rows; every k-th epoch on data sets under
        ``health.EVERY_ROWS`` rows, and always the last), without changing θ.

        Warns (``LearnerWarning``, texts from ``nnlite.diagnose``) when X looks like
        raw 0–255 pixels, and at the end when the run ended at chance level or with
        most ReLUs of a layer dead, or barely learned with its gradients vanishing or
        layers saturated, naming the likely cause; ``history.diagnosis`` keeps the
        end-of-run lines.
        """
        self._validate()
        seed = check_seed(seed)
        if diagnose.pixel_scale(X):
            message = diagnose.raw_pixels_message(X) + "; scale them to 0..1 first: X / 255"
            warnings.warn(message, LearnerWarning, stacklevel=2)
        if not self.built:
            self.build(_as_matrix(X, self.dtype, "X").shape[1], seed=seed)
        state = self.resume_state if resume else None
        if resume and state is None:
            raise ConfigError(
                "nothing to resume: this model has no interrupted or checkpointed fit"
            )
        opt = _optimizer(optimizer, lr=lr, momentum=momentum, nesterov=nesterov)
        schedule = _schedule(schedule)
        epochs = _int_at_least(epochs, "epochs", 1)
        verbose = _verbosity(verbose)
        if validation_split:
            if validation_data is not None:
                raise ConfigError(
                    "give validation_data or validation_split, not both",
                    param=("validation_data", "validation_split"),
                )
            X, y, validation_data = _split(X, y, validation_split)
        batch_size = _int_at_least(batch_size, "batch size", 1)
        checkpoint_every = _int_at_least(checkpoint_every, "checkpoint_every", 0)
        X = self._inputs(X)
        Y = self.targets(y)
        if Y.shape[0] != X.shape[0]:
            raise DataError(f"X has {X.shape[0]} samples but y has {Y.shape[0]}")
        classify = _is_classification(Y, y)  # once per fit
        val = None
        if validation_data is not None:
            Xv = self._inputs(validation_data[0])
            Yv = self.targets(validation_data[1])
            if Yv.shape[0] != Xv.shape[0]:
                raise DataError(f"validation X has {Xv.shape[0]} samples but y has {Yv.shape[0]}")
            val = (Xv, Yv)

        mem = self.memory  # on the CPU put/get return their argument: no copies
        n = X.shape[0]
        batch_size = min(batch_size, n)
        digest = _Digest(X, Y)  # of the training data, computed only if a checkpoint needs it
        if state is not None:
            _check_resume(state, n, batch_size, opt, shuffle, digest, schedule)
        batches = -(-n // batch_size)
        # Progress is reported between compiled chunks of whole batches.
        chunk = max(1, SAMPLES_PER_CHUNK // batch_size) * batch_size
        trainer = Trainer(self, opt, batch_size, state, schedule=schedule, seed=seed)
        buf, theta = trainer.buf, trainer.theta  # θ stays on the device for the whole fit
        # The data set stays on the device when it fits; else each chunk is copied.
        resident = mem.fits(X.nbytes + Y.nbytes)
        Xd, Yd = (mem.put(X), mem.put(Y)) if resident else (X, Y)
        if val is not None and resident:
            val = (mem.put(val[0]), mem.put(val[1]))
        rng = np.random.default_rng(seed)
        if state is not None:
            rng.bit_generator.state = state["rng"]
        callback = _CallbackList(self, [callback] if callback else [], callbacks or [], verbose)
        # Layer health at each epoch's end, on a fixed sample (an older run's epochs: NaN).
        probe = health.Probe(self, X, Y)

        def nan_health() -> np.ndarray:  # an epoch not measured
            return np.full((len(self.layers), len(health.FIGURES)), np.nan)

        missing = len(self.history.loss) - len(self.history.health)
        self.history.health.extend(nan_health() for _ in range(missing))
        try:
            self.stop_training = False
            # the schedule's epoch where this fit starts (old checkpoints: no schedule, any will do)
            run_epoch0 = state.get("run_epoch", state["epochs_done"]) if state is not None else 0
            callback.on_train_begin(
                {"epochs": epochs, "batches_per_epoch": batches, "samples": n, "batch_size": batch_size,
                 "first_epoch": len(self.history.loss)}
            )  # fmt: skip
            self.history.interrupted = False
            start_time = time.perf_counter()

            def snapshot(epochs_done: int, position: int, order: Any, stats: Any) -> None:
                """θ and everything ``resume`` needs, on the host."""
                mem.get(theta, self.theta)
                self.resume_state = {
                    "epochs_done": epochs_done,
                    "position": position,  # next sample of ``order``; 0: draw a new order
                    "order": np.array(order, np.int64) if position else np.zeros(0, np.int64),
                    "stats": np.array(mem.read_stats(stats) if position else np.zeros(4), np.float64),
                    "rng": rng.bit_generator.state,
                    "optimizer": opt.as_dict(),
                    "state": trainer.state_slots(),
                    "schedule": schedule.as_dict(),
                    "step": int(trainer.clock[codes.CLOCK_STEP]),
                    "dropout_seed": int(trainer.clock[codes.CLOCK_SEED]),
                    "run_epoch": epochs_done - first + run_epoch0,
                    "n_samples": n,
                    "batch_size": batch_size,
                    "shuffle": bool(shuffle),
                    "data_sha256": digest.value,
                }

            def stop_early(epochs_done: int, position: int, order: Any, stats: Any) -> History:
                """Leave a resumable state, hand it to the callback, end the fit."""
                self.history.seconds += time.perf_counter() - start_time
                self.history.interrupted = True
                snapshot(epochs_done, position, order, stats)
                callback.on_checkpoint(self, True)
                return self.history

            order = np.arange(n, dtype=np.int64)
            first = len(self.history.loss)
            for epoch in range(first, first + epochs):
                trainer.clock[codes.CLOCK_EPOCH] = epoch - first + run_epoch0  # the schedule's epoch
                callback.on_epoch_begin(epoch)
                probe.begin(self)
                begin = 0
                if state is not None and epoch == first and state["position"]:
                    order, begin = state["order"], state["position"]
                    stats = mem.stats(state["stats"])
                else:
                    if shuffle:
                        order = rng.permutation(n).astype(np.int64)
                    stats = mem.stats()
                order_d = mem.put(order) if resident else None  # one copy per epoch
                for start in range(begin, n, chunk):
                    stop = min(n, start + chunk)
                    if resident:
                        Xc, Yc, order_c, lo, hi = Xd, Yd, order_d, start, stop
                    else:  # copy this chunk's rows, in the epoch's order
                        rows_c = order[start:stop]
                        Xc, Yc, lo, hi = mem.put(X[rows_c]), mem.put(Y[rows_c]), 0, stop - start
                        order_c = mem.put(np.arange(hi, dtype=np.int64))
                    bad = trainer.run(Xc, Yc, order_c, lo, hi, stats)
                    if bad >= 0:
                        self.history.seconds += time.perf_counter() - start_time
                        batch = start // batch_size + int(bad)
                        rows = min(batch_size, n - batch * batch_size)
                        mem.get(theta, self.theta)
                        host_buf = {name: mem.get(a) for name, a in buf.items()}
                        raise self._divergence(epoch, batch, host_buf, rows, opt.lr, X)
                    done = stop // batch_size + (stop % batch_size > 0)
                    callback.on_batch_end(epoch, done, _logs(mem.read_stats(stats)))
                    if callback.stop_training and stop < n:  # stopped inside the epoch
                        self._record_start(mem.read_stats(stats))
                        self.history.samples += stop - begin  # the partial epoch's samples count
                        return stop_early(epoch, stop, order, stats)
                stats = mem.read_stats(stats)
                self._record_start(stats)
                logs = _logs(stats)
                if theta is not self.theta:  # callbacks see θ on the host (CUDA: one copy an epoch)
                    mem.get(theta, self.theta)
                if val is not None:
                    logs["val_loss"], logs["val_accuracy"] = self._evaluate_matrix(*val, theta=theta)
                    logs["val_loss"] += self.penalty()  # as Keras reports it
                logs["lr"] = trainer.rate()
                self._record(logs, classify=classify)
                last = epoch == first + epochs - 1
                measured = probe.due(epoch, last)  # θ is on the host here, on every device
                self.history.health.append(probe.measure(self) if measured else nan_health())
                self.history.samples += n - begin  # a resumed epoch's first part counted before
                callback.on_epoch_end(epoch, logs)
                if self.stop_training:  # a callback ended the fit (early stopping): a normal end
                    break
                if callback.stop_training and not last:
                    return stop_early(epoch + 1, 0, order, stats)
                if checkpoint_every and (epoch + 1) % checkpoint_every == 0:
                    snapshot(epoch + 1, 0, order, stats)
                    callback.on_checkpoint(self, False)
            mem.get(theta, self.theta)  # θ comes back once, at the end
            if not measured:  # stopped early (a callback) on an epoch not measured: measure it
                self.history.health[-1] = probe.measure(self)
            self.history.seconds += time.perf_counter() - start_time
            self.resume_state = None  # finished: nothing left to resume
            self.history.diagnosis = diagnose.after_fit(self, X, Y, self.history, opt.lr)
            for line in self.history.diagnosis:
                warnings.warn(line, LearnerWarning, stacklevel=2)
            callback.on_train_end(self.history.last_logs())
            return self.history
        finally:  # a live progress display ends even when the fit raises
            callback.close()

    def _record_start(self, stats: np.ndarray) -> None:
        if math.isnan(self.history.start_loss) and stats[2] > 0:
            self.history.start_loss = float(stats[3])

    def _record(self, logs: dict[str, float], classify: bool) -> None:
        h = self.history
        h.loss.append(logs["loss"])
        h.accuracy.append(logs["accuracy"] if classify else math.nan)
        h.lr.append(logs.get("lr", math.nan))
        if "val_loss" in logs:
            h.val_loss.append(logs["val_loss"])
            h.val_accuracy.append(logs["val_accuracy"] if classify else math.nan)

    def _divergence(
        self, epoch: int, batch: int, buf: dict[str, np.ndarray], rows: int, lr: float,
        X: np.ndarray,
    ) -> DivergenceError:  # fmt: skip
        """Name the first layer whose weights or values stopped being finite, and the cause."""
        layer_at = None
        for index, layer in enumerate(self.layers):
            Z = self.layer_view(buf["Z"], index, rows)
            A = self.layer_view(buf["A"], index, rows)
            finite = all(np.isfinite(a).all() for a in (layer.W, layer.b, Z, A))
            # a saturated softmax/sigmoid output is finite but gives log(0):
            big = np.abs(Z).max() > 1e15 if Z.size else False
            if not finite or big:
                layer_at = index
                break
        where = ""
        if layer_at is not None:
            layer = self.layers[layer_at]
            where = f"; values first overflowed in layer {layer_at + 1} ({layer!r})"
        cause = diagnose.input_scale_cause(X)
        if cause is None:
            cause = f"the learning rate {lr:g} is probably too large: try a smaller one"
        msg = (
            f"training diverged at epoch {epoch + 1}, batch {batch + 1}: the loss is no longer "
            f"finite{where}. Likely cause: {cause}"
        )
        return DivergenceError(msg, epoch=epoch, batch=batch, layer=layer_at)

    def warm_up(self, optimizer: Optimizer | None = None) -> float:
        """Compile (or load from numba's cache) the kernels ``fit`` and ``evaluate`` use.

        Runs them once on one row of zeros with a copy of θ, so the model is
        unchanged; and the layer-health probe (``nnlite.health``) with θ, which
        it only reads. ``optimizer``: warm up the loop that ``fit`` runs with it
        (default plain SGD; the CPU compiles one loop per update code). Returns
        the seconds it took (the JIT cost a first run pays).
        """
        self._require_built()
        opt = (optimizer or SGD()).validate()
        start = time.perf_counter()
        put = self.memory.put
        trainer = Trainer(self, opt, 1, theta=self.theta.copy())
        trainer.hyper[codes.LR] = 0.0  # α = 0: the copy of θ does not move (nor turns NaN)
        X = put(np.zeros((1, self.n_inputs), self.dtype))
        Y = put(np.zeros((1, self.n_outputs), self.dtype))
        stats = self.memory.stats()
        trainer.run(X, Y, put(np.zeros(1, np.int64)), 0, 1, stats)
        self.kernels.evaluate_rows(
            X, Y, 0, 1, trainer.theta, self._dims, self._acts, trainer.loss_code, trainer.eps,
            trainer.buf["Z"], trainer.buf["A"], stats,
        )  # fmt: skip
        self.memory.synchronize()
        # The layer-health probe that fit runs at its measured epochs' ends (the CPU kernels,
        # on host arrays whatever the device; it writes only its own scratch, θ is read).
        host_X = np.zeros((1, self.n_inputs), self.dtype)
        host_Y = np.zeros((1, self.n_outputs), self.dtype)
        diagnose.backprop(self, host_X, host_Y, self.buffers(1))
        return time.perf_counter() - start

    # -- inference ---------------------------------------------------------

    def predict(self, X: Any) -> np.ndarray:
        """The network's output A of the last layer for each row of X, shape (n, outputs)."""
        self._require_built()
        X = self._inputs(X)
        k, mem = self.kernels, self.memory
        rows = min(EVAL_ROWS, X.shape[0])
        buf = self.buffers(rows)
        Zbuf, Abuf, theta, X = mem.put(buf["Z"]), mem.put(buf["A"]), mem.put(self.theta), mem.put(X)
        out = np.empty((X.shape[0], self.n_outputs), self.dtype)
        last = len(self.layers) - 1
        for start in range(0, X.shape[0], rows):
            Xm = X[start : start + rows]
            k.forward_pass(Xm, theta, self._dims, self._acts, Zbuf, Abuf)
            out[start : start + Xm.shape[0]] = mem.get(self.layer_view(Abuf, last, Xm.shape[0]))
        return out

    def predict_classes(self, X: Any) -> np.ndarray:
        """Predicted class per row: argmax of the outputs, or [p ≥ ½] for one output."""
        P = self.predict(X)
        if P.shape[1] == 1:
            return (P[:, 0] >= 0.5).astype(np.int64)
        return P.argmax(axis=1)

    def evaluate(self, X: Any, y: Any) -> tuple[float, float]:
        """(loss, accuracy) on X, y; accuracy is NaN for regression targets.

        The loss includes the layers' L1/L2 penalties; dropout is off.
        """
        self._require_built()
        X = self._inputs(X)
        Y = self.targets(y)
        if Y.shape[0] != X.shape[0]:
            raise DataError(f"X has {X.shape[0]} samples but y has {Y.shape[0]}")
        loss, acc = self._evaluate_matrix(X, Y)
        loss += self.penalty()  # the loss the model minimises, as Keras's evaluate reports it
        return loss, (acc if _is_classification(Y, y) else math.nan)

    def _evaluate_matrix(self, X: Any, Y: Any, theta: Any = None) -> tuple[float, float]:
        """(loss, accuracy) with θ (default: the model's; during ``fit``, the device copy)."""
        k, mem = self.kernels, self.memory
        rows = min(EVAL_ROWS, X.shape[0])
        buf = self.buffers(rows)
        Zbuf, Abuf, X, Y = mem.put(buf["Z"]), mem.put(buf["A"]), mem.put(X), mem.put(Y)
        theta = mem.put(self.theta) if theta is None else theta
        stats = mem.stats()
        eps = CLIP_EPS[self.dtype]
        loss_code = losses.code(self.loss)
        for start in range(0, X.shape[0], rows):
            stop = min(X.shape[0], start + rows)
            k.evaluate_rows(
                X, Y, start, stop, theta, self._dims, self._acts, loss_code, eps,
                Zbuf, Abuf, stats,
            )  # fmt: skip
        logs = _logs(mem.read_stats(stats))
        return logs["loss"], logs["accuracy"]

    def layer_outputs(self, X: np.ndarray, Y: np.ndarray) -> list[np.ndarray]:
        """Every layer's activations A for the rows of X (host arrays), via ``evaluate``'s kernels.

        X and Y as ``fit`` holds them (the dtype's C-contiguous matrices); for a few
        thousand rows at most (one batch).
        """
        k, mem = self.kernels, self.memory
        rows = X.shape[0]
        Zbuf = mem.put(np.zeros(rows * self._units, self.dtype))
        Abuf = mem.put(np.zeros(rows * self._units, self.dtype))
        X, Y = mem.put(np.ascontiguousarray(X)), mem.put(np.ascontiguousarray(Y))
        k.evaluate_rows(
            X, Y, 0, rows, mem.put(self.theta), self._dims, self._acts, losses.code(self.loss),
            CLIP_EPS[self.dtype], Zbuf, Abuf, mem.stats(),
        )  # fmt: skip
        A = mem.get(Abuf)
        return [self.layer_view(A, i, rows).copy() for i in range(len(self.layers))]

    # -- description -------------------------------------------------------

    def architecture(self) -> dict[str, Any]:
        """The JSON-able record of the network (what ``save`` stores beside θ)."""
        self._require_built()
        return {
            "n_inputs": self.n_inputs,
            "layers": [self._layer_record(x, p) for x, p in zip(self.layers, self._drop_in)],
            "loss": self.loss,
            "dtype": np.dtype(self.dtype).name,
        }

    @staticmethod
    def _layer_record(layer: Dense, dropout: float) -> dict[str, Any]:
        """A Dense layer as the model file holds it; penalties and dropout only when not 0."""
        record: dict[str, Any] = {"units": int(layer.units), "activation": layer.activation}
        for key, value in (("l1", layer.l1), ("l2", layer.l2), ("dropout", dropout)):
            if value:
                record[key] = float(value)
        return record

    def summary(self) -> Summary:
        """(layer, W shape, parameters) per layer, as a ``Summary`` (a list with ``.total``)."""
        self._require_built()
        return Summary(
            (repr(layer), f"{layer.W.shape[0]}×{layer.W.shape[1]}", layer.W.size + layer.b.size)
            for layer in self.layers
        )

    def __repr__(self) -> str:
        inner = ", ".join(repr(x) for x in self.stack)
        return f"Sequential([{inner}], loss={self.loss!r})"


class Summary(Displayable, list):
    """``Sequential.summary()``: a list of (layer, W shape, parameters) per layer.

    ``total``: the parameters of all layers. In a notebook (or ``rich.print``) it shows as
    a table of the layers with the total (``nnlite.ui.notebook.SummaryView``).
    """

    view_kind = "summary"

    @property
    def total(self) -> int:
        return int(sum(params for _, _, params in self))


def _logs(stats: np.ndarray) -> dict[str, float]:
    seen = stats[2]
    if seen == 0:
        return {"loss": math.nan, "accuracy": math.nan}
    return {"loss": float(stats[0] / seen), "accuracy": float(stats[1] / seen)}


def _integral(y: np.ndarray) -> bool:
    return np.issubdtype(y.dtype, np.floating) and bool(np.all(np.mod(y, 1) == 0))


def _is_classification(Y: np.ndarray, y: Any) -> bool:
    """Targets are classes when every row is one-hot, or 0/1 for a single output.

    ``y`` is what the user passed: labels (1-D, several outputs) became one-hot rows
    in ``targets``, so they are classes without the scan of Y (2.6 ms for MNIST).
    """
    if np.ndim(y) == 1 and Y.shape[1] > 1:
        return True
    if Y.shape[1] == 1:
        return bool(np.all((Y == 0) | (Y == 1)))
    return bool(np.all((Y == 0) | (Y == 1)) and np.all(Y.sum(axis=1) == 1))


def _int_at_least(value: Any, what: str, minimum: int) -> int:
    """``value`` as an int of at least ``minimum`` (0 or 1); ``what`` names it in the error."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = {0: "a non-negative integer", 1: "a positive integer"}[minimum]
        raise ConfigError(f"{what} must be {kind}, got {value!r}")
    return int(value)


class _Digest:
    """SHA-256 of the training data (X and the target matrix), computed once, when first asked."""

    def __init__(self, X: np.ndarray, Y: np.ndarray) -> None:
        self._arrays, self._value = (X, Y), None

    @property
    def value(self) -> str:
        if self._value is None:
            h = hashlib.sha256()
            for A in self._arrays:
                h.update(f"{A.dtype.str}{A.shape};".encode())
                h.update(memoryview(np.ascontiguousarray(A)).cast("B"))
            self._value = h.hexdigest()
        return self._value


class _CallbackList(Callback):
    """The fit's callbacks as one: each event goes to each, in order."""

    def __init__(self, model: Sequential, first: list, callbacks: Any, verbose: int) -> None:
        if isinstance(callbacks, Callback) or not isinstance(callbacks, (list, tuple)):
            raise ConfigError(
                f"'callbacks' must be a list of nnlite callbacks, got {callbacks!r}",
                param="callbacks",
            )
        for cb in callbacks:
            if not isinstance(cb, Callback):
                raise ConfigError(
                    f"'callbacks' must hold nnlite.models.Callback objects, got {cb!r}",
                    param="callbacks",
                )
        self.items = [*first, *callbacks]
        if verbose:
            from nnlite.ui.fit_progress import progress_callback  # rich: only when asked for

            self.items.append(progress_callback(verbose))
        for cb in self.items:
            cb.set_model(model)

    @property
    def stop_training(self) -> bool:  # type: ignore[override]
        return any(cb.stop_training for cb in self.items)

    def on_train_begin(self, info: dict[str, Any]) -> None:
        for cb in self.items:
            cb.on_train_begin(info)

    def on_epoch_begin(self, epoch: int) -> None:
        for cb in self.items:
            cb.on_epoch_begin(epoch)

    def on_batch_end(self, epoch: int, batches_done: int, logs: dict[str, float]) -> None:
        for cb in self.items:
            cb.on_batch_end(epoch, batches_done, logs)

    def on_epoch_end(self, epoch: int, logs: dict[str, float]) -> None:
        for cb in self.items:
            cb.on_epoch_end(epoch, logs)

    def on_train_end(self, logs: dict[str, float]) -> None:
        for cb in self.items:
            cb.on_train_end(logs)

    def on_checkpoint(self, model: Sequential, interrupted: bool) -> None:
        for cb in self.items:
            cb.on_checkpoint(model, interrupted)

    def close(self) -> None:
        for cb in self.items:
            cb.close()


def _schedule(schedule: Schedule | str | None) -> Schedule:
    if schedule is None:
        return Schedule()
    if isinstance(schedule, str):
        return Schedule(schedule)
    if not isinstance(schedule, Schedule):
        raise ConfigError(
            f"'schedule' must be an nnlite.schedules.Schedule or a name, got {schedule!r}"
        )
    return schedule


def _verbosity(verbose: Any) -> int:
    if isinstance(verbose, bool):
        return int(verbose)
    if verbose == "auto":
        return 1
    if not isinstance(verbose, (int, np.integer)) or verbose not in (0, 1, 2):
        raise ConfigError(f"verbose must be 0, 1 or 2, got {verbose!r}", param="verbose")
    return int(verbose)


def _split(X: Any, y: Any, fraction: Any) -> tuple[Any, Any, tuple[Any, Any]]:
    """(X, y) without their last ``fraction`` of rows, and those rows (Keras's validation_split)."""
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float, np.floating)):
        raise ConfigError(
            f"validation_split must be a number in [0, 1), got {fraction!r}", param="validation_split"
        )
    if not 0 <= fraction < 1:
        raise ConfigError(
            f"validation_split must be in [0, 1), got {fraction!r}", param="validation_split"
        )
    X, y = np.asarray(X), np.asarray(y)
    n = X.shape[0] if X.ndim else 0
    at = int(math.floor(n * (1.0 - fraction)))  # Keras's split point
    if at < 1 or at >= n:
        raise DataError(
            f"validation_split {fraction:g} of {n} samples leaves "
            f"{'no training' if at < 1 else 'no validation'} samples"
        )
    if y.shape[:1] != X.shape[:1]:
        raise DataError(f"X has {n} samples but y has {y.shape[0] if y.ndim else 0}")
    return X[:at], y[:at], (X[at:], y[at:])


def _optimizer(optimizer: Optimizer | str | None, **sgd: Any) -> Optimizer:
    """The fit's optimiser, validated: ``optimizer``, or SGD from ``lr``/``momentum``/``nesterov``."""
    given = sorted(name for name, value in sgd.items() if value is not None)
    if optimizer is None:
        defaults = {"lr": 0.1, "momentum": 0.0, "nesterov": False}
        return SGD(**{k: defaults[k] if v is None else v for k, v in sgd.items()}).validate()
    if given:
        names = ", ".join(f"{name!r}" for name in given)
        raise ConfigError(
            f"give {names} to the optimizer, not to fit, when 'optimizer' is given",
            param=(*given, "optimizer"),
        )
    if isinstance(optimizer, str):
        optimizer = Optimizer(optimizer)
    if not isinstance(optimizer, Optimizer):
        raise ConfigError(f"'optimizer' must be an nnlite.optim.Optimizer or a name, got {optimizer!r}")
    return optimizer.validate()


class Trainer:
    """The training step of a model, on its device: the arrays it needs and the driver.

    One step, for each batch: gather its rows, forward propagation, the loss,
    backward propagation with each layer's update by the optimiser as soon as
    its gradient is complete (``train_batches`` of the model's kernels, CPU or
    CUDA, which implement the same step). ``fit`` runs chunks of many batches
    through ``run``; ``nnlite.trace`` runs one batch at a time through
    ``step`` and watches it with an observer, so a trace and a fit are the same
    compiled calls on the same arrays.

    Attributes (device arrays, laid out as ``Sequential.buffers`` says):
    ``theta`` (the model's θ: itself on the CPU, a device copy on CUDA),
    ``buf`` (Z, A, dZ, dA, grad), ``Xb``/``Yb`` (the gathered batch),
    ``state`` (the optimiser's state rows), ``hyper`` (its hyper-parameters).
    """

    def __init__(
        self, model: Sequential, opt: Optimizer, batch_size: int,
        resume: dict[str, Any] | None = None, theta: np.ndarray | None = None,
        schedule: Schedule | None = None, seed: int = 0,
    ) -> None:  # fmt: skip
        """``resume``: a checkpoint's state to continue from; ``theta``: train this θ (a copy,
        say) instead of the model's; ``schedule``: α over time (default constant); ``seed``:
        the fit's seed, from which dropout's masks are drawn."""
        mem = model.memory
        self.model, self.opt, self.batch_size = model, opt, batch_size
        self.kernels, self.memory = model.kernels, mem
        self.buf = {name: mem.put(a) for name, a in model.buffers(batch_size).items()}
        self.Xb = mem.put(np.zeros((batch_size, model.n_inputs), model.dtype))
        self.Yb = mem.put(np.zeros((batch_size, model.n_outputs), model.dtype))
        self.theta = mem.put(model.theta if theta is None else theta)
        self.hyper = opt.hyper_vector()  # the kernels' hyper-parameters; hyper[0] = α
        self.state = mem.put(_optimizer_state(opt, model.theta.size, model.dtype, resume))
        self.eps = CLIP_EPS[model.dtype]
        self.loss_code = losses.code(model.loss)
        self.schedule = schedule or Schedule()
        self.schedule_vector = self.schedule.vector()
        self.layer_hyper = model.layer_hyper()
        # (t, epoch, dropout seed): t counts the updates taken (Adam's t; a per-step schedule's
        # time; a dropout mask's key); the dropout seed is drawn from the fit's seed.
        self.clock = np.zeros(3, np.int64)
        self.clock[codes.CLOCK_SEED] = int(np.random.SeedSequence(seed).generate_state(1)[0])
        if resume is not None:
            self.clock[codes.CLOCK_STEP] = resume.get("step", 0)
            self.clock[codes.CLOCK_SEED] = resume.get("dropout_seed", self.clock[codes.CLOCK_SEED])
        hidden_dropout = bool((self.layer_hyper[1:, codes.DROP] > 0).any())
        self.Dbuf = mem.put(np.zeros(self.buf["A"].size if hidden_dropout else 0, model.dtype))

    def rate(self) -> float:
        """α of the last step taken (of the next one before any), as the kernels computed it."""
        c = self.clock
        time = max(c[codes.CLOCK_STEP] - 1, 0) if self.schedule.per == "step" else c[codes.CLOCK_EPOCH]
        return self.schedule.rate(float(self.hyper[codes.LR]), float(time))

    def run(self, X: Any, Y: Any, order: Any, start: int, stop: int, stats: Any) -> int:
        """Train on ``order[start:stop]`` of X, Y (device arrays); returns −1 or the bad batch."""
        m = self.model
        return self.kernels.train_batches(
            X, Y, order, start, stop, self.batch_size, self.theta, m._dims, m._acts,
            self.loss_code, self.opt.code, self.hyper, self.state, self.eps, self.Xb, self.Yb,
            self.buf["Z"], self.buf["A"], self.buf["dZ"], self.buf["dA"], self.buf["grad"], stats,
            self.layer_hyper, self.schedule_vector, self.clock, self.Dbuf,
        )  # fmt: skip

    def step(self, X: Any, Y: Any, rows: Any, observer: Any = None) -> np.ndarray:
        """One step on the batch ``rows`` of X, Y (device arrays); returns its statistics.

        ``observer.before_step(trainer, rows)`` is called before it and
        ``observer.after_step(trainer, rows, stats)`` after it (``stats``: the
        batch's loss before the update, correct rows, rows, as ``fit`` sums them).
        """
        rows = np.asarray(rows, np.int64)
        if observer is not None:
            observer.before_step(self, rows)
        stats = self.memory.stats()
        bad = self.run(X, Y, self.memory.put(rows), 0, rows.size, stats)
        stats = np.array(self.memory.read_stats(stats), np.float64)
        if bad >= 0:  # the loss was not finite: the step stopped before its update
            stats[3] = math.nan
        if observer is not None:
            observer.after_step(self, rows, stats)
        return stats

    def state_slots(self) -> dict[str, np.ndarray]:
        """The optimiser's state as ``{slot: host copy of its row}`` (what a checkpoint stores)."""
        rows = self.memory.get(self.state)
        return {slot: np.array(row) for slot, row in zip(self.opt.slots, rows)}


def _optimizer_state(
    opt: Optimizer, size: int, dtype: np.dtype, state: dict[str, Any] | None
) -> np.ndarray:
    """The optimiser's state: one row per slot, laid out like θ (zeros, or a checkpoint's).

    An optimiser without state gets a (1, 1) placeholder the kernels never read
    (some device array libraries handle zero-size arrays badly).
    """
    slots = opt.slots
    rows = np.zeros((len(slots), size) if slots else (1, 1), dtype)
    if state is not None:
        for row, slot in zip(rows, slots):
            row[...] = state["state"][slot]
    return rows


def _check_resume(
    state: dict[str, Any], n: int, batch_size: int, opt: Optimizer, shuffle: bool,
    digest: _Digest, schedule: Schedule,
) -> None:  # fmt: skip
    """Refuse to resume with data or settings that would not continue the same run."""
    if state["n_samples"] != n:
        raise DataError(
            f"cannot resume: the interrupted run trained on {state['n_samples']:,} samples, "
            f"this data has {n:,}"
        )
    # A checkpoint from before the digest was kept has none: only the size is checked.
    if state.get("data_sha256") not in (None, digest.value):
        raise DataError(
            "cannot resume: the training data differ from the interrupted run's "
            "(same size, other values: their SHA-256 digests differ)"
        )
    given = {"batch_size": batch_size, "shuffle": bool(shuffle)}
    saved = {"batch_size": state["batch_size"], "shuffle": state["shuffle"]}
    if state["optimizer"]["name"] != opt.name:
        given["optimizer"], saved["optimizer"] = opt.name, state["optimizer"]["name"]
    else:
        given.update(opt.values)
        saved.update({k: state["optimizer"].get(k) for k in opt.values})
    saved_schedule = state.get("schedule", Schedule().as_dict())
    if saved_schedule != schedule.as_dict():
        given["schedule"], saved["schedule"] = repr(schedule), repr(Schedule.from_dict(saved_schedule))
    for key, value in given.items():
        if saved[key] != value:
            raise ConfigError(
                f"cannot resume: the interrupted run used {key} = {saved[key]}, not {value}"
            )


class Perceptron:
    """Rosenblatt's perceptron: ŷ = 1 if Σ wᵢxᵢ + b ≥ θ else 0.

    Learning rule, one sample at a time in order: w ← w + η(y − ŷ)x and
    b ← b + η(y − ŷ). ``fit`` repeats passes (epochs) until a pass makes no
    mistake (converged) or ``max_epochs`` is reached. A weighted sum exactly
    at the threshold fires (≥).

    Parameters
    ----------
    eta : float
        Learning rate η.
    threshold : float
        θ. The bias b learns to move the boundary, so θ = 0 loses nothing.
    max_epochs : int
        Give up after this many passes (a non-separable set such as XOR never converges).
    """

    def __init__(
        self, eta: float = 1.0, threshold: float = 0.0, max_epochs: int = 100, dtype: Any = None
    ) -> None:
        self.eta = eta
        self.threshold = threshold
        self.max_epochs = max_epochs
        self.dtype = DEFAULT_DTYPE if dtype is None else dtype
        self.w: np.ndarray | None = None
        self.b: np.ndarray | None = None
        self.updates_per_epoch: list[int] = []
        self.converged = False

    @property
    def n_updates(self) -> int:
        """Total number of learning-rule updates made (mistakes corrected)."""
        return int(sum(self.updates_per_epoch))

    @property
    def epochs(self) -> int:
        return len(self.updates_per_epoch)

    def _validate(self) -> None:
        for name in ("eta", "threshold"):
            value = getattr(self, name)
            if not isinstance(value, (int, float, np.number)) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if self.eta <= 0:
            raise ConfigError(f"eta must be positive, got {self.eta}")
        self.max_epochs = _int_at_least(self.max_epochs, "max_epochs", 1)

    def fit(self, X: Any, y: Any) -> Perceptron:
        """Start from w = 0, b = 0 and apply the learning rule until no mistakes."""
        self._validate()
        X = _as_matrix(X, self.dtype, "X")
        y = _binary_labels(y, X.shape[0])
        k = get_backend("cpu")
        self.w = np.zeros(X.shape[1], self.dtype)
        self.b = np.zeros(1, self.dtype)
        self.updates_per_epoch = []
        self.converged = False
        for _ in range(self.max_epochs):
            updates = k.perceptron_epoch(X, y, self.w, self.b, self.eta, self.threshold)
            self.updates_per_epoch.append(int(updates))
            if updates == 0:
                self.converged = True
                break
        return self

    def predict(self, X: Any) -> np.ndarray:
        """0/1 output per row."""
        if self.w is None:
            raise ConfigError("the perceptron has not been trained yet: call fit() first")
        X = _as_matrix(X, self.dtype, "X")
        if X.shape[1] != self.w.shape[0]:
            raise DataError(f"X has {X.shape[1]} features but the perceptron has {self.w.size}")
        out = np.empty(X.shape[0], np.int64)
        get_backend("cpu").perceptron_predict(X, self.w, self.b, self.threshold, out)
        return out

    def weighted_sum(self, X: Any) -> np.ndarray:
        """Σ wᵢxᵢ + b per row (what is compared with the threshold), in float64."""
        X = _as_matrix(X, np.float64, "X")
        return X @ self.w.astype(np.float64) + float(self.b[0])


def _binary_labels(y: Any, n: int) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise DataError(f"y must hold one 0/1 label per sample ({n}), got shape {y.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise DataError("the perceptron's labels must be 0 or 1")
    return y.astype(np.int64)
