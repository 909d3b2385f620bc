"""The ``nnlite`` command line: thin typer commands over the library.

Each command parses its options, calls nnlite, and renders with
``nnlite.ui``. Heavy imports (numpy, numba, rich) happen inside the
commands, so ``nnlite --help`` stays fast. One handler turns every
``NnliteError`` or ``OSError`` into one red line on stderr and exit code 1;
the top-level group (``_OneLineErrors``) does the same for typer's usage
errors (bad choices, ranges, unknown options), with exit code 2.
"""

from __future__ import annotations

import contextlib
import functools
import warnings
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any, Optional

import typer
from typer.core import TyperGroup

# typer raises click's exceptions: real click's in older typer releases, its
# vendored copy's (``typer._click``) in newer ones. Find the base class through
# a public name, whichever it is (both tried: typer 0.20.0 and 0.29.2).
_ClickException = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(TyperGroup):
    """nnlite's command groups: each command listed in their help with its whole first sentence."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The commands, each with its whole first sentence (click cuts it at the line's end)."""
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=200)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _OneLineErrors(_Group):
    """The top-level command group: a usage mistake gets one red line, like every other error.

    typer would print the usage, a hint and the message in a box (five lines or
    more). Here the message and the hint share one line on stderr, with click's
    exit code (2 for usage errors). Everything else, ``--help`` and a missing
    command's help included, is as typer and click make it.
    """

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
        except _ClickException as exc:
            if type(exc).__name__ == "NoArgsIsHelpError":  # `nnlite`, `nnlite data`: the help
                exc.show()
            else:
                from nnlite import ui

                ui.error(_usage_message(exc))
            raise SystemExit(exc.exit_code) from None
        except typer.Abort:
            from nnlite import ui

            ui.error("aborted")
            raise SystemExit(1) from None
        # Without standalone mode, click returns the exit code of a ``typer.Exit``.
        raise SystemExit(result if isinstance(result, int) else 0)


def _usage_message(exc: Exception) -> str:
    """click's message (pydantic's ``Value error,`` dropped) and where to find help."""
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} --help')"
    return message


app = typer.Typer(
    name="nnlite",
    cls=_OneLineErrors,
    help="nnlite: learn neural networks by running them — perceptron, MLP, backprop, SGD.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # click's plain help: typer's rich help imports rich.markdown and markdown_it for a
    # markup nnlite does not use, which made `nnlite --help` twice as slow (median 0.27 s
    # against 0.14 s), and shows every flag as taking a "<bool>".
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class Activation(str, Enum):
    identity = "identity"
    sigmoid = "sigmoid"
    tanh = "tanh"
    relu = "relu"


class Output(str, Enum):
    auto = "auto"
    identity = "identity"
    sigmoid = "sigmoid"
    softmax = "softmax"


class Loss(str, Enum):
    auto = "auto"
    mse = "mse"
    bce = "bce"
    cce = "cce"


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


class Format(str, Enum):
    table = "table"
    json = "json"


DEVICE_HELP = "Where the kernels run: cpu, cuda (an NVIDIA GPU; float32), or auto (cuda when usable)."


class Gate(str, Enum):
    AND = "and"
    OR = "or"
    NAND = "nand"
    XOR = "xor"


def _handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a user mistake (NnliteError, OSError, MemoryError) into one red line and exit 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from nnlite.errors import NnliteError

        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                result = command(*args, **kwargs)
            _show_warnings(caught)
            return result
        except BrokenPipeError:  # `nnlite predict … | head`: the reader is gone, not an error
            import os
            import sys

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise typer.Exit(1) from None
        except (NnliteError, OSError, MemoryError) as exc:
            from nnlite import ui

            _show_warnings(caught)
            message = str(exc)
            if isinstance(exc, OSError) and exc.filename and exc.strerror:
                message = f"{exc.strerror}: {exc.filename}"
            elif isinstance(exc, MemoryError):  # what the size checks could not foresee
                message = f"not enough memory ({exc or 'MemoryError'}); try smaller data or a smaller network"
            ui.error(message)
            raise typer.Exit(1) from None

    return wrapper


def _show_warnings(caught: list) -> None:
    if caught:
        from nnlite import ui

        for w in caught:
            ui.warn(str(w.message))


def _hidden_layers(spec: str) -> list[int]:
    from nnlite.errors import ConfigError

    spec = spec.strip()
    if spec.lower() in ("", "none"):
        return []
    parts = spec.replace("x", ",").split(",")  # 64,32 or 64x32
    try:
        if not all(part.strip() for part in parts):  # "x", "64,", "64,,32": a slip, not "none"
            raise ValueError
        sizes = [int(part) for part in parts]
    except ValueError:
        raise ConfigError(
            f"bad layer spec {spec!r}: give hidden layer sizes separated by commas, e.g. 64,32"
        ) from None
    if any(s < 1 for s in sizes):
        raise ConfigError(
            f"bad layer spec {spec!r}: every layer needs at least one unit "
            "(--layers none for no hidden layer)"
        )
    from nnlite.config import MAX_UNITS

    if max(sizes, default=0) > MAX_UNITS:
        raise ConfigError(f"bad layer spec {spec!r}: a layer has at most {MAX_UNITS:,} units")
    return sizes


def _load_data(name: str, data_dir: Optional[Path], seed: int):
    """A data set by name or file, with raw 0–255 pixels scaled to 0..1 (and a note saying so).

    The same rule for every command, so ``evaluate`` and ``predict`` see the data as
    ``train`` did. Returns (dataset, note or None).
    """
    import dataclasses

    import numpy as np

    from nnlite import datasets, diagnose

    ds = datasets.load(name, data_dir=data_dir, seed=seed)
    scale = diagnose.pixel_scale(ds.X)
    if not scale:
        return ds, None
    note = (
        diagnose.raw_pixels_message(ds.X, what=ds.name)
        + f"; scaled to 0..1 (÷ {scale:g}) for this run, as nnlite does for MNIST"
    )
    scaled = {"X": ds.X / np.float32(scale)}
    if ds.X_test is not None:
        scaled["X_test"] = ds.X_test / np.float32(scale)
    return dataclasses.replace(ds, **scaled), note


def _load_split(name: str, data_dir: Optional[Path], val_split: Optional[float], seed: int):
    """(dataset, X_train, y_train, validation or None, description of the validation, note)."""
    from nnlite import datasets
    from nnlite.errors import ConfigError

    ds, note = _load_data(name, data_dir, seed)
    if ds.X_test is not None and val_split is None:
        desc = f"published test set ({len(ds.y_test):,})"
        return ds, ds.X, ds.y, (ds.X_test, ds.y_test), desc, note
    if val_split is None:
        val_split = 0.2 if len(ds.y) >= 20 else 0.0
    if not 0 <= val_split < 1:
        raise ConfigError(f"--val-split must be in [0, 1), got {val_split}")
    if val_split == 0:
        return ds, ds.X, ds.y, None, "none", note
    stratify = ds.n_classes is not None
    X_tr, X_va, y_tr, y_va = datasets.train_test_split(
        ds.X, ds.y, test_fraction=val_split, seed=seed, stratify=stratify
    )
    return ds, X_tr, y_tr, (X_va, y_va), f"{val_split:.0%} held out ({len(y_va):,})", note


def _output_layer(ds: Any, output: Output) -> tuple[int, str]:
    """Units and activation of the output layer a learner would choose for this data."""
    if ds.n_classes is None:
        units = 1 if ds.y.ndim == 1 else ds.y.shape[1]
        act = "identity" if output == Output.auto else output.value
        return units, act
    if ds.n_classes <= 2:
        act = "sigmoid" if output == Output.auto else output.value
        return (1 if act != "softmax" else 2), act
    act = "softmax" if output == Output.auto else output.value
    return ds.n_classes, act


DATA_DIR_HELP = (
    "Folder with the MNIST / Fashion-MNIST IDX files, directly or in DIR/mnist, DIR/fashion-mnist "
    "(default: $NNLITE_DATA, else ~/.cache/nnlite; get them with `nnlite data download`)."
)


@app.command()
@_handle_errors
def train(
    ctx: typer.Context,
    dataset: str = typer.Option(
        "digits", "--dataset", "-d", help="and, or, nand, xor, moons, circles, spirals, blobs, "
        "digits, mnist, fashion-mnist, or a .csv/.npz file (see `nnlite datasets`)."
    ),
    data_dir: Optional[Path] = typer.Option(None, help=DATA_DIR_HELP),
    layers: str = typer.Option("64", "--layers", "-l", help="Hidden layer sizes, e.g. 64,32 (none: no hidden layer)."),
    activation: Activation = typer.Option(Activation.relu, "--activation", "-a", help="σ of the hidden layers.", case_sensitive=False),
    output: Output = typer.Option(Output.auto, help="Output activation (auto: softmax for classes, sigmoid for two, identity for regression).", case_sensitive=False),
    loss: Loss = typer.Option(Loss.auto, help="Loss (auto: cce after softmax, bce after sigmoid, else mse).", case_sensitive=False),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", min=1, help="Passes over the training data (default 100; with --resume: the run's total)."),
    batch_size: int = typer.Option(32, "--batch-size", "-b", min=1, help="Samples per gradient step (1: pure SGD; n: full batch)."),
    lr: float = typer.Option(0.1, "--lr", help="Learning rate α in W ← W − α·dW."),
    momentum: float = typer.Option(0.0, "--momentum", "-m", help="Momentum μ: V ← μ·V − α·dW, W ← W + V (0: plain SGD; 0.9 is usual)."),
    nesterov: bool = typer.Option(False, "--nesterov", help="Nesterov's momentum: W ← W + μ·V − α·dW (needs --momentum)."),
    seed: int = typer.Option(0, min=0, help="Seed for the weights, the split and the batch order."),
    val_split: Optional[float] = typer.Option(None, help="Fraction held out for validation (default 0.2; MNIST and Fashion-MNIST use their test set)."),
    dtype: DType = typer.Option(DType.float32, help="Floating-point type of the computation.", case_sensitive=False),
    device: Device = typer.Option(Device.cpu, "--device", help=DEVICE_HELP, case_sensitive=False),
    save: Optional[Path] = typer.Option(None, "--save", "-s", help="Write the trained model to this .npz file (and checkpoints, and the state at Ctrl-C). An existing file is refused before training unless --overwrite."),
    checkpoint_every: int = typer.Option(0, "--checkpoint-every", min=0, metavar="N", help="Also save a resumable checkpoint to --save every N epochs."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="CHECKPOINT", help="Continue an interrupted run: data set, network and settings come from the checkpoint (giving them other values is refused); it is saved back there unless --save says otherwise."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="PATH.png", help="Write the loss and accuracy curves to a PNG (needs matplotlib)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --save or --plot file (default: refuse it before training)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; only the summary."),
) -> None:
    """Train a multilayer perceptron with mini-batch SGD and show how it learned.

    Ctrl-C stops after the running chunk of batches, prints the summary so far
    and, with --save, writes a checkpoint that --resume continues. Where the
    results go (--save, --plot) is checked before training; two runs cannot
    write the same --save file at once.
    """
    from nnlite import files, io
    from nnlite.errors import ConfigError
    from nnlite.optim import SGD

    if checkpoint_every and save is None and resume is None:
        raise ConfigError("--checkpoint-every needs --save PATH (where the checkpoints go)")
    if resume is None:  # refuse bad settings before compiling anything for them
        SGD(lr, momentum=momentum, nesterov=nesterov).validate()
    if save is not None:
        save = io.model_path(save)
    own = False  # the --save file is this run's own checkpoint (--resume): replace it freely
    if resume is not None:
        given = {p: v for p, v in ctx.params.items() if _given(ctx, p)}
        model, run = _checkpoint(resume, given)
        save = save or io.model_path(resume)
        own = _same_file(save, resume)
    # Everything about where the results go, before any work: a typo costs nothing.
    if save is not None:
        _check_output(save, "--save", overwrite or own)
    if plot is not None:
        _check_output(plot, "--plot", overwrite, _plot_check)
    with files.claim(save) if save is not None else contextlib.nullcontext():
        if resume is None:
            run = {
                "dataset": dataset, "val_split": val_split, "seed": seed, "epochs": epochs or 100,
                "batch_size": batch_size, "lr": lr, "momentum": momentum, "nesterov": nesterov,
                "data_dir": str(data_dir) if data_dir is not None else None,
            }  # fmt: skip
            model = None
        else:
            run["epochs"] = epochs or int(run["epochs"])
            if data_dir is not None:
                run["data_dir"] = str(data_dir)
            model.use_device(device.value)
        data = _run_data(run)
        if model is None:
            model = _new_model(data, run, layers, activation, output, loss, dtype, device)
        _train(model, run, data, save=save, save_overwrite=overwrite or own, plot=plot,
               plot_overwrite=overwrite, checkpoint_every=checkpoint_every, quiet=quiet,
               resume=resume)  # fmt: skip


# Options whose values a checkpoint fixes (given with another value, --resume refuses them).
_FIXED_BY_CHECKPOINT = (
    "dataset", "layers", "activation", "output", "loss", "batch_size", "lr", "momentum",
    "nesterov", "seed", "val_split", "dtype",
)  # fmt: skip


def _given(ctx: Any, name: str) -> bool:
    """Was option ``name`` typed on the command line (or set in the environment)?"""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _checkpoint(path: Path, given: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The model and run record of a checkpoint; options given that it fixes must agree."""
    from nnlite import io
    from nnlite.errors import ConfigError

    model = io.load(path)
    if model.resume_state is None:
        raise ConfigError(
            f"{str(path)!r} holds a finished model, not an interrupted run: nothing to resume"
        )
    run = dict(model.extra)
    needed = ("dataset", "seed", "batch_size", "lr", "epochs")
    if any(key not in run for key in needed):
        raise ConfigError(
            f"{str(path)!r} was not written by `nnlite train`: it does not say which data and "
            "settings to resume with (continue it in Python with fit(..., resume=True))"
        )
    fixed = {
        "dataset": run["dataset"], "seed": run["seed"], "val_split": run.get("val_split"),
        "batch_size": run["batch_size"], "lr": run["lr"],
        "momentum": run.get("momentum", 0.0), "nesterov": run.get("nesterov", False),
        "layers": [int(x.units) for x in model.layers[:-1]],
        "activation": {x.activation for x in model.layers[:-1]},
        "output": model.layers[-1].activation, "loss": model.loss, "dtype": model.dtype.name,
    }  # fmt: skip
    for name in _FIXED_BY_CHECKPOINT:
        if name not in given:
            continue
        typed = given[name].value if isinstance(given[name], Enum) else given[name]
        value = _hidden_layers(typed) if name == "layers" else typed
        if value == "auto" or _agrees(name, value, fixed[name]):
            continue
        flag = "--" + name.replace("_", "-")
        shown = fixed[name]
        if name == "activation":
            shown = ", ".join(sorted(shown)) or "none (no hidden layer)"
        elif name == "layers":
            shown = ",".join(map(str, shown)) or "none"
        raise ConfigError(
            f"{flag} {typed}: "
            f"the checkpoint fixes it ({shown}); leave {flag} out to resume, or start a new run"
        )
    return model, run


def _agrees(name: str, value: Any, fixed: Any) -> bool:
    if name == "activation":
        return not fixed or fixed == {value}
    if name == "dataset":
        return str(value).strip().lower() == str(fixed).strip().lower()
    if isinstance(fixed, float) or isinstance(value, float):
        return fixed is not None and value is not None and float(value) == float(fixed)
    return value == fixed


def _plot_check(path: Path, overwrite: bool) -> None:
    from nnlite import plot as plotting

    plotting.check_target(path, "--plot", overwrite=overwrite)


def _check_output(
    path: Path, flag: str, overwrite: bool, check: Optional[Callable[[Path, bool], Any]] = None
) -> None:
    """Refuse an output path before the work: missing directory, a directory, an existing file."""
    from nnlite import files
    from nnlite.errors import ConfigError

    try:
        (check or (lambda p, o: files.check_target(p, overwrite=o)))(path, overwrite)
    except files.TargetExists:
        raise ConfigError(
            f"{flag}: {str(path)!r} already exists; add --overwrite to replace it, "
            "or choose another name"
        ) from None
    except ConfigError as exc:
        if str(exc).startswith(flag):
            raise
        raise ConfigError(f"{flag}: {exc}") from None


def _run_data(run: dict[str, Any]):
    """``_load_split`` for a run record."""
    data_dir = Path(run["data_dir"]) if run.get("data_dir") else None
    return _load_split(run["dataset"], data_dir, run.get("val_split"), int(run["seed"]))


def _new_model(data, run, layers, activation, output, loss, dtype, device) -> Any:
    """The network the options describe, built for the run's data (its weights seeded)."""
    import numpy as np

    from nnlite import Dense, Sequential

    ds, X = data[:2]
    units, out_act = _output_layer(ds, output)
    hidden = [Dense(u, activation.value) for u in _hidden_layers(layers)]
    model = Sequential(
        hidden + [Dense(units, out_act)],
        loss=None if loss == Loss.auto else loss.value,
        dtype=np.dtype(dtype.value),
        device=device.value,
    )
    return model.build(X.shape[1], seed=int(run["seed"]))


def _train(
    model: Any, run: dict[str, Any], data: tuple, *, save: Optional[Path], save_overwrite: bool,
    plot: Optional[Path], plot_overwrite: bool, checkpoint_every: int, quiet: bool,
    resume: Optional[Path],
) -> None:  # fmt: skip
    """``train`` once its outputs are checked and its model exists: fit, report, save."""
    from nnlite import Sequential, io, ui
    from nnlite.errors import ConfigError, LearnerWarning

    ds, X, y, val, val_desc, note = data
    epochs, done = int(run["epochs"]), len(model.history.loss)
    if epochs <= done:
        raise ConfigError(f"--epochs {epochs}: the run has already done {done} epochs")
    if note:
        ui.warn(note)
    if not quiet:
        ui.console.print(
            f"[bold]{ds.name}[/bold]: {len(y):,} training samples × {X.shape[1]} features; "
            f"validation: {val_desc}"
        )
        if resume is not None:
            ui.console.print(f"resuming {str(resume)!r} after {done} of {epochs} epochs")
        ui.console.print(ui.model_table(model, title=f"network (loss: {model.loss})"))
    momentum, nesterov = float(run.get("momentum", 0.0)), bool(run.get("nesterov", False))
    lr, batch_size = float(run["lr"]), int(run["batch_size"])
    with ui.console.status("compiling kernels (first run only; cached afterwards)…"):
        compile_s = model.warm_up(momentum=momentum != 0)
    saved: list[Path] = []

    def save_checkpoint(model: Sequential, interrupted: bool) -> None:
        nonlocal save_overwrite
        if save is None:
            return
        written, problem = io.save_or_rescue(model, save, run, overwrite=save_overwrite)
        if problem is None:
            save_overwrite = True  # this run's own file from now on
        else:
            ui.warn(f"checkpoint: could not write {str(save)!r} ({_why(problem)}); kept in {str(written)!r}")
        saved.append(written)

    with warnings.catch_warnings():
        # fit's learner warnings are shown after the summary, from history.diagnosis
        warnings.simplefilter("ignore", LearnerWarning)
        with ui.TrainingProgress(quiet=quiet, save=save_checkpoint) as progress, _stop_on_ctrl_c(progress):
            history = model.fit(
                X, y, epochs=epochs - done, batch_size=batch_size, lr=lr, seed=int(run["seed"]),
                validation_data=val, callback=progress, momentum=momentum, nesterov=nesterov,
                checkpoint_every=checkpoint_every, resume=resume is not None,
            )  # fmt: skip
    rows = []
    if history.interrupted:
        state = model.resume_state
        where = f"after {state['epochs_done']} of {epochs} epochs"
        if state["position"]:
            where += f" and {state['position']:,} samples of epoch {state['epochs_done'] + 1}"
        rows.append(("stopped (Ctrl-C)", where))
    if history.loss:
        rows += [
            ("train loss", ui._num(history.loss[-1])),
            ("train accuracy", ui._pct(history.accuracy[-1])),
        ]
    if val is not None and history.val_loss:
        rows += [
            ("validation loss", ui._num(history.val_loss[-1])),
            ("validation accuracy", ui._pct(history.val_accuracy[-1])),
        ]
    rows += [
        ("epochs × batch size", f"{len(history.loss)} × {min(batch_size, len(y))}"),
        ("learning rate α", f"{lr:g}" + (f", momentum μ {momentum:g}" if momentum else "")
         + (" (Nesterov)" if nesterov else "")),
        ("kernel start-up (JIT or cache)", ui._seconds(compile_s)),
        ("device", _describe_device(model)),
        ("training time", ui._seconds(history.seconds)),
        ("samples / second", f"{history.samples / max(history.seconds, 1e-9):,.0f}"),
    ]  # fmt: skip
    failed = None
    if save is not None and not history.interrupted:
        written, failed = io.save_or_rescue(model, save, run, overwrite=save_overwrite)
        rows.append(("saved to", str(written)))
    elif saved:
        rows.append(("checkpoint", f"{saved[-1]} (continue: nnlite train --resume {saved[-1]})"))
    if plot is not None and history.loss and failed is None:
        from nnlite import plot as plotting

        rows.append(("plot", str(plotting.training_curves(history, plot, overwrite=plot_overwrite))))
    ui.console.print(ui.summary_table(rows))
    if failed is not None:
        raise ConfigError(
            f"could not write {str(save)!r} ({_why(failed)}); the trained model is safe in "
            f"{str(written)!r}"
        )
    if history.interrupted:
        if save is None:
            ui.warn("stopped by Ctrl-C; no --save given, so the trained weights are not kept")
        raise typer.Exit(130)
    for line in history.diagnosis:  # chance level, dead ReLUs, overshoot: nnlite.diagnose
        ui.warn(line)
    if not quiet:
        curve = ui.curve(history.loss, title="training loss per epoch")
        if curve:
            ui.console.print(curve, highlight=False)


def _why(problem: Exception) -> str:
    if isinstance(problem, OSError) and problem.strerror:
        return problem.strerror
    return str(problem)


@contextlib.contextmanager
def _stop_on_ctrl_c(progress: Any):
    """First Ctrl-C: ask ``fit`` to stop at the next chunk boundary. Second: abort at once."""
    import signal

    def first(signum: int, frame: Any) -> None:
        from nnlite import ui

        progress.stop_training = True
        ui.warn("Ctrl-C: stopping after the running batches (Ctrl-C again to abort)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    try:
        previous = signal.signal(signal.SIGINT, first)
    except ValueError:  # not the main thread: leave Ctrl-C alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@app.command()
@_handle_errors
def perceptron(
    gate: Gate = typer.Option(Gate.AND, "--gate", "-g", help="Logic gate to learn.", case_sensitive=False),
    eta: float = typer.Option(1.0, help="Learning rate η in w ← w + η(y − ŷ)x."),
    threshold: float = typer.Option(0.0, help="Threshold θ: the output is 1 when Σ wᵢxᵢ + b ≥ θ."),
    max_epochs: int = typer.Option(100, min=1, help="Give up after this many passes."),
) -> None:
    """Train Rosenblatt's perceptron on a logic gate and print its truth table."""
    from nnlite import Perceptron, datasets, ui

    ds = datasets.gate(gate.value)
    p = Perceptron(eta=eta, threshold=threshold, max_epochs=max_epochs).fit(ds.X, ds.y)
    ui.console.print(
        f"[bold]{gate.value.upper()}[/bold]: weights w = {p.w.tolist()}, bias b = {p.b[0]:g}, "
        f"threshold θ = {threshold:g}"
    )
    ui.console.print(ui.truth_table(ds.X, ds.y, p.weighted_sum(ds.X), p.predict(ds.X), threshold))
    if p.converged:
        ui.console.print(
            f"[green]converged[/green] after {p.epochs} epochs and {p.n_updates} updates "
            "(the last epoch made no mistake)."
        )
    else:
        ui.console.print(
            f"[red]did not converge[/red] in {p.epochs} epochs ({p.n_updates} updates)."
        )
        if gate == Gate.XOR:
            ui.console.print(
                "XOR is not linearly separable: no line w₁x₁ + w₂x₂ + b = θ puts (0,1) and (1,0) "
                "on one side and (0,0) and (1,1) on the other, so a single perceptron cannot "
                "learn it. A hidden layer can: try `nnlite train --dataset xor --layers 4 "
                "--activation tanh --epochs 2000 --batch-size 4 --lr 0.5`."
            )


def _eval_data(model_path: Path, dataset: Optional[str], data_dir: Optional[Path]):
    """The data to evaluate on: the named set (its test split if any), or the model's held-out split.

    Data are prepared as ``train`` prepared them (raw pixels scaled, with the same note).
    """
    from nnlite import io, ui
    from nnlite.errors import ConfigError

    model = io.load(model_path)
    extra = getattr(model, "extra", {})
    if dataset is None:
        dataset = extra.get("dataset")
        if dataset is None:
            raise ConfigError("this model does not record its data set: pass --dataset")
        if data_dir is None and extra.get("data_dir"):  # where train found the data
            data_dir = Path(extra["data_dir"])
        ds, _, _, val, desc, note = _load_split(
            dataset, data_dir, extra.get("val_split"), int(extra.get("seed", 0))
        )
        if note:
            ui.warn(note)
        if val is None:
            return model, ds, ds.X, ds.y, "all samples (no held-out split)"
        return model, ds, val[0], val[1], desc
    ds, note = _load_data(dataset, data_dir, 0)
    if note:
        ui.warn(note)
    if ds.X_test is not None:
        return model, ds, ds.X_test, ds.y_test, f"test set ({len(ds.y_test):,})"
    return model, ds, ds.X, ds.y, f"all {len(ds.y):,} samples"


def _class_names(ds: Any, k: int) -> Optional[list[str]]:
    """The data set's class names when it has one per class (e.g. fashion-mnist), else None."""
    names = getattr(ds, "class_names", None)
    return [str(n) for n in names] if names is not None and len(names) == k else None


def _image_shape(ds: Any, option: str) -> tuple[int, int]:
    from nnlite.errors import ConfigError

    shape = getattr(ds, "image_shape", None)
    if shape is None:
        raise ConfigError(
            f"{option}: the data set {ds.name!r} has no images to draw "
            "(image data sets: digits, mnist, or an .npz with X of shape (n, h, w))"
        )
    return shape


def _count(value: Optional[int], option: str, n: int, default: int) -> int:
    """A sample count from the command line: 0..n, or ``default`` (clipped to n) when absent."""
    from nnlite.errors import ConfigError

    if value is None:
        return min(default, n)
    if value < 0:
        raise ConfigError(f"{option} must be 0 or more, got {value}")
    if value > n:
        raise ConfigError(f"{option} {value}: the data has only {n:,} samples")
    return value


@app.command()
@_handle_errors
def evaluate(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="A model saved with train --save."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Data set or file (default: the model's own held-out split)."),
    data_dir: Optional[Path] = typer.Option(None, help=DATA_DIR_HELP),
    device: Device = typer.Option(Device.cpu, "--device", help=DEVICE_HELP, case_sensitive=False),
    show_wrong: Optional[int] = typer.Option(None, "--show-wrong", metavar="K", help="Draw the K most confidently wrong samples (default 4 on image data; 0 hides them)."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="PATH.png", help="Write the confusion matrix, beside the model's training curves, to a PNG (needs matplotlib, the optional 'plot' extra)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --plot file (default: refuse it before the work)."),
) -> None:
    """Loss and accuracy of a saved model on a data set; for classes, where it goes wrong.

    For a classifier also: the confusion matrix (worst mistakes highlighted), precision
    and recall per class, and on image data the samples it is most confidently wrong about.
    """
    from nnlite import metrics, ui, ui_digits
    from nnlite import plot as plotting
    from nnlite.errors import ConfigError

    if plot is not None:  # before the work, not after it
        _check_output(plot, "--plot", overwrite, _plot_check)
    model, ds, X, y, desc = _eval_data(model_path, dataset, data_dir)
    has_images = getattr(ds, "image_shape", None) is not None
    k = _count(show_wrong, "--show-wrong", len(y), 4 if has_images else 0)
    if k and ds.n_classes is None:
        raise ConfigError("--show-wrong: this is regression data; no prediction is right or wrong")
    shape = _image_shape(ds, "--show-wrong") if k else None
    model.use_device(device.value)
    loss, acc = model.evaluate(X, y)
    rows = [("model", str(model_path)), ("data", f"{ds.name}: {desc}"),
            (f"loss ({model.loss})", ui._num(loss)), ("accuracy", ui._pct(acc))]  # fmt: skip
    if ds.n_classes is None:
        ui.console.print(ui.summary_table(rows, title="evaluation"))
        if plot is not None:
            plotting.training_curves(model.history, plot, overwrite=overwrite)
            ui.console.print(f"wrote the training curves to {plot}")
        return
    probs = metrics.class_probabilities(model.predict(X))
    cm = metrics.confusion_matrix(y, probs.argmax(axis=1), n_classes=probs.shape[1])
    rows.append(("right", f"{int(cm.trace()):,} of {len(y):,}"))
    labels = _class_names(ds, cm.shape[0])
    ui.console.print(ui.summary_table(rows, title="evaluation"))
    ui.console.print(ui_digits.confusion_table(cm, labels))
    ui.console.print(ui_digits.class_report_table(cm, labels))
    if k:
        wrong = metrics.most_confident_wrong(y, probs)
        title = f"most confidently wrong: {min(k, len(wrong))} of {len(wrong):,} mistakes"
        cards = ui_digits.digit_cards(X, shape, probs, wrong[:k], y, labels)
        ui.console.print(ui_digits.gallery(cards, title) if cards else "no mistakes to show")
    if plot is not None:
        curves = bool(model.history.loss)  # a model file records how it was trained
        plotting.confusion_png(
            cm, labels, plot, history=model.history if curves else None, overwrite=overwrite
        )
        what = "the confusion matrix and training curves" if curves else "the confusion matrix"
        ui.console.print(f"wrote {what} to {plot}")


@app.command()
@_handle_errors
def predict(
    model_path: Path = typer.Argument(..., metavar="MODEL", help="A model saved with train --save."),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Data set or .csv/.npz file (default: the model's held-out split)."),
    data_dir: Optional[Path] = typer.Option(None, help=DATA_DIR_HELP),
    show: Optional[int] = typer.Option(None, "--show", metavar="K", help="Samples to show (default: 10 rows, no pictures). On image data the K samples are also drawn, with the top-3 probabilities."),
    wrong: bool = typer.Option(False, "--wrong", help="Show the most confidently wrong predictions instead of the first samples."),
    images: Optional[bool] = typer.Option(None, "--images/--no-images", help="Draw the samples shown (default: on image data when --show is given)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write every prediction to this CSV file (a FIFO or device such as /dev/stdout is written in place)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --output file (default: refuse it)."),
) -> None:
    """Predict with a saved model and show samples beside their labels (drawn, for images)."""
    import numpy as np
    from rich.table import Table

    from nnlite import metrics, ui, ui_digits
    from nnlite.errors import ConfigError
    from nnlite.files import atomic_write

    if output is not None:  # before the work, not after it
        _check_output(output, "--output", overwrite)
    model, ds, X, y, desc = _eval_data(model_path, dataset, data_dir)
    k = _count(show, "--show", len(X), 10)
    has_images = getattr(ds, "image_shape", None) is not None
    draw = images if images is not None else (show is not None and has_images)
    shape = _image_shape(ds, "--images") if draw else None
    if draw and ds.n_classes is None:
        raise ConfigError("--images: this is regression data; there are no classes to show")
    P = model.predict(X)
    classes = model.predict_classes(X) if ds.n_classes is not None else None
    probs = metrics.class_probabilities(P) if classes is not None else None
    if wrong:
        if classes is None:
            raise ConfigError("--wrong: this is regression data; no prediction is right or wrong")
        rows = metrics.most_confident_wrong(y, probs, k)
        title = f"most confidently wrong: {len(rows)} of {int(np.sum(classes != y)):,} mistakes"
    else:
        rows = np.arange(k)
        title = f"predictions: {ds.name}, {desc}"
    table = Table(title=title, title_justify="left")
    table.add_column("row", justify="right")
    table.add_column("prediction", justify="right")
    table.add_column("confidence", justify="right")
    table.add_column("label", justify="right")
    for i in rows:
        if classes is None:
            table.add_row(str(i), " ".join(f"{v:.4g}" for v in P[i]), "", str(y[i]))
            continue
        conf = P[i].max() if P.shape[1] > 1 else (P[i, 0] if classes[i] else 1 - P[i, 0])
        mark = "" if classes[i] == y[i] else " [red]✗[/red]"
        table.add_row(str(i), f"{classes[i]}{mark}", f"{conf:.1%}", str(y[i]))
    ui.console.print(table)
    if draw and len(rows):
        labels = _class_names(ds, probs.shape[1])
        ui.console.print(ui_digits.gallery(ui_digits.digit_cards(X, shape, probs, rows, y, labels)))
    if classes is not None:
        ui.console.print(f"accuracy on these {len(y):,} samples: {np.mean(classes == y):.2%}")
    if output is not None:
        with atomic_write(output, "w", overwrite=overwrite) as handle:
            cols = [f"p{j}" for j in range(P.shape[1])]
            handle.write(",".join((["class"] if classes is not None else []) + cols) + "\n")
            for i in range(len(P)):
                vals = [f"{v:.6g}" for v in P[i]]
                handle.write(",".join(([str(classes[i])] if classes is not None else []) + vals))
                handle.write("\n")
        ui.console.print(f"wrote {len(P):,} predictions to {output}")


def _describe_device(model: Any) -> str:
    from nnlite.kernels import describe_device

    return describe_device(model.kernels)


@app.command()
@_handle_errors
def compare(
    output_format: Format = typer.Option(Format.table, "--format", help="table (rich) or json.", case_sensitive=False),
    quick: Optional[bool] = typer.Option(None, "--quick/--full", help="Tiny shapes and one repeat (default in the simulator)."),
    repeats: Optional[int] = typer.Option(None, min=1, help="Timed repeats per measurement (median shown)."),
    epochs: int = typer.Option(3, min=1, help="Epochs of the side-by-side training run."),
    seed: int = typer.Option(0, min=0, help="Seed of the random inputs and of the network."),
) -> None:
    """Run every kernel on the CPU and on the GPU: how closely they agree, and how fast each is.

    Also sweeps the batch size and the layer width to find where the GPU
    starts to win, and trains the same seeded network on both devices. Needs
    an NVIDIA GPU, or NUMBA_ENABLE_CUDASIM=1 (Numba's simulator: the numbers
    agree, the timings measure the simulator).
    """
    import json

    from nnlite import compare as comparison

    result = comparison.run(quick=quick, repeats=repeats, epochs=epochs, seed=seed)
    if output_format == Format.json:
        typer.echo(json.dumps(result, indent=1))
        return
    from nnlite import ui, ui_compare

    ui.console.print(ui_compare.render(result))


class TraceModel(str, Enum):
    mlp = "mlp"
    perceptron = "perceptron"


class TraceFormat(str, Enum):
    text = "text"
    json = "json"


class Example(str, Enum):
    mazur = "mazur"


@app.command()
@_handle_errors
def trace(
    model: TraceModel = typer.Option(TraceModel.mlp, "--model", help="mlp (a network: backpropagation) or perceptron (Rosenblatt's learning rule).", case_sensitive=False),
    gate: Optional[Gate] = typer.Option(None, "--gate", "-g", help="Perceptron: the logic gate to learn (default and).", case_sensitive=False),
    example: Optional[Example] = typer.Option(None, "--example", help="mazur: Matt Mazur's 'A Step by Step Backpropagation Example' (his 2-2-2 network, weights, α = 0.5; biases held fixed).", case_sensitive=False),
    dataset: Optional[str] = typer.Option(None, "--dataset", "-d", help="Data set or .csv/.npz file (default xor)."),
    layers: Optional[str] = typer.Option(None, "--layers", "-l", help="Hidden layer sizes, e.g. 3,2 (default 2; none: no hidden layer)."),
    activation: Optional[Activation] = typer.Option(None, "--activation", "-a", help="σ of the hidden layers (default sigmoid).", case_sensitive=False),
    output: Optional[Output] = typer.Option(None, help="Output activation (auto: sigmoid for two classes, softmax for more, identity for regression).", case_sensitive=False),
    loss: Optional[Loss] = typer.Option(None, help="Loss (auto: cce after softmax, else mse).", case_sensitive=False),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate α (η for the perceptron); default 0.5 (perceptron 1)."),
    steps: Optional[int] = typer.Option(None, min=1, help="Training steps to trace (default 1)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", min=1, help="Trace whole passes over the data instead (perceptron: give up after this many; default 20)."),
    sample: Optional[int] = typer.Option(None, min=0, help="The first sample (from 0); the trace walks the data in order from it."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, help="Samples per step (default 1)."),
    seed: int = typer.Option(0, min=0, help="Seed of the initial weights."),
    dtype: Optional[DType] = typer.Option(None, help="float32 (default, as in training) or float64 (default for --example).", case_sensitive=False),
    threshold: Optional[float] = typer.Option(None, help="Perceptron: the threshold θ (default 0)."),
    unfused: bool = typer.Option(False, "--unfused", help="Softmax + cross-entropy: also show the softmax Jacobian times ∂L/∂p beside the fused p − y."),
    precision: int = typer.Option(4, min=0, max=17, help="Digits after the decimal point."),
    output_format: TraceFormat = typer.Option(TraceFormat.text, "--format", help="text (panels) or json (one object per event and line, full arrays).", case_sensitive=False),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Wait for Enter before each step (q quits); never waits outside a terminal."),
    device: Device = typer.Option(Device.cpu, "--device", help=DEVICE_HELP, case_sensitive=False),
) -> None:
    """Trace training step by step with the real numbers: forward, loss, backward, update."""
    from nnlite import trace as tracing
    from nnlite import ui_trace

    events = tracing.run(
        model=model, gate=gate, example=example, dataset=dataset,
        layers=None if layers is None else _hidden_layers(layers), activation=activation,
        output=output, loss=loss, lr=lr, steps=steps, epochs=epochs, sample=sample,
        batch_size=batch_size, seed=seed, dtype=dtype, threshold=threshold, unfused=unfused,
        device=device,
    )  # fmt: skip
    if output_format == TraceFormat.json:
        ui_trace.write_json(events)
    else:
        ui_trace.play(events, precision=precision, interactive=interactive)


@app.command()
@_handle_errors
def lesson(
    topic: Optional[str] = typer.Argument(None, metavar="TOPIC", help="perceptron, activations, xor, learning-rate, sgd, local-minima or optimum; leave out to list them."),
) -> None:
    """Watch a claim of the lesson demonstrated, with scipy's reference beside nnlite's result."""
    from nnlite import lessons, ui, ui_lesson

    if topic is None:
        ui.console.print(ui_lesson.topics_table(lessons.TOPICS))
        return
    name = lessons.topic_name(topic)
    with ui.console.status(f"running the {name} lesson…"):
        result = lessons.run(name)
    for part in ui_lesson.render(name, result):
        ui.console.print(part)
        ui.console.print()


@app.command()
@_handle_errors
def gradcheck(
    layers: str = typer.Option("4", "--layers", "-l", help="Hidden layer sizes, e.g. 5,3 (none: no hidden layer)."),
    activation: Activation = typer.Option(Activation.tanh, "--activation", "-a", help="σ of the hidden layers.", case_sensitive=False),
    output: Output = typer.Option(Output.auto, help="Output activation (auto: softmax for several outputs, sigmoid for one).", case_sensitive=False),
    loss: Loss = typer.Option(Loss.auto, help="Loss (auto: cce after softmax, bce after sigmoid, else mse).", case_sensitive=False),
    inputs: int = typer.Option(3, min=1, help="Input features."),
    outputs: int = typer.Option(2, min=1, help="Output units."),
    samples: int = typer.Option(5, min=1, help="Rows in the random batch (at most 10,000)."),
    seed: int = typer.Option(0, min=0, help="Seed of the weights and of the random batch."),
) -> None:
    """Check backpropagation yourself: analytic vs finite-difference gradients, layer by layer."""
    from nnlite import lessons, ui, ui_lesson

    result = lessons.gradient_check(
        hidden=_hidden_layers(layers), activation=activation.value, output=output.value,
        loss=loss.value, n_inputs=inputs, n_outputs=outputs, n_samples=samples, seed=seed,
    )  # fmt: skip
    ui.console.print(ui_lesson.gradcheck_table(result))
    if not result.passed:
        raise typer.Exit(1)


class DataName(str, Enum):
    mnist = "mnist"
    fashion_mnist = "fashion-mnist"


data_app = typer.Typer(cls=_Group, no_args_is_help=True, rich_markup_mode=None)
DATA_HOME_HELP = (
    "Data home: the files go to DIR/NAME/ (default: $NNLITE_DATA, else the per-user cache "
    "$XDG_CACHE_HOME/nnlite or ~/.cache/nnlite)."
)


@data_app.command("download")
@_handle_errors
def data_download(
    name: DataName = typer.Argument(..., metavar="NAME", help="mnist or fashion-mnist.", case_sensitive=False),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HOME_HELP),
    force: bool = typer.Option(False, "--force", help="Download again even files that are present and verified."),
    mirror: Optional[list[str]] = typer.Option(None, "--mirror", metavar="URL", help="Try this base URL (a folder holding the four .gz files) instead of the built-in mirrors; repeat for several. The pinned checksums are still checked."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; only the result."),
) -> None:
    """Download the four IDX files of MNIST or Fashion-MNIST and verify their SHA-256.

    Mirrors are tried in order; a file that fails its checksum is never kept.
    Each file is written as NAME.part and renamed only once verified.
    An interrupted download resumes where it stopped; verified files are skipped.
    """
    from nnlite import ui
    from nnlite.datasets import download

    with ui.DownloadProgress(quiet=quiet) as progress:
        folder = download.download(
            name.value, data_dir, mirrors=mirror or None, force=force, progress=progress
        )
    train = f"nnlite train --dataset {name.value}"
    if data_dir is not None:
        train += f" --data-dir {data_dir}"
    ui.console.print(f"{name.value}: 4 files verified in {folder}; try `{train}`", soft_wrap=True)


@data_app.command("list")
@_handle_errors
def data_list(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HOME_HELP),
) -> None:
    """Show which MNIST and Fashion-MNIST files are here and verified, and how to get the rest."""
    from nnlite import ui
    from nnlite.datasets import download

    for name in download.SOURCES:
        folder, files = download.status(name, data_dir)
        ui.data_status(name, folder, files, download.command(name, data_dir))


DATA_HELP = "Download MNIST or Fashion-MNIST (checksums verified); list what is here."
app.add_typer(data_app, name="data", help=DATA_HELP)


@app.command("datasets")
@_handle_errors
def list_datasets(
    data_dir: Optional[Path] = typer.Option(None, help=DATA_DIR_HELP),
) -> None:
    """List the built-in data sets with their sizes and shapes."""
    from nnlite import datasets, ui

    ui.console.print(ui.datasets_table(datasets.list_datasets(data_dir=data_dir)))


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from nnlite.config import __version__

        typer.echo(f"nnlite {__version__}")
        raise typer.Exit()


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
