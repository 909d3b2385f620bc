"""The ``nnlite`` command line: thin typer commands over the library.

Each command parses its options, calls nnlite (a run's settings, data and
resuming: ``nnlite.runs``), and renders with the ``nnlite.ui`` package. Heavy
imports (numpy, numba, rich) happen inside the commands, so ``nnlite --help``
stays fast. One handler turns every ``NnliteError`` or ``OSError`` into one red
line on stderr and exit code 1, with the parameters the library's message names
spelled as this command's flags (``lr=0.5`` → ``--lr 0.5``); the top-level group
(``_OneLineErrors``) does the same for typer's usage errors (bad choices, ranges,
unknown options), with exit code 2.
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
                from nnlite.ui import terminal

                terminal.error(_usage_message(exc))
            raise SystemExit(exc.exit_code) from None
        except typer.Abort:
            from nnlite.ui import terminal

            terminal.error("aborted")
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


# The choices of --activation, --output and --loss come from the concept tables: a row
# added there is a choice here (importing the tables costs NumPy's import, ~0.05 s).
from nnlite.activations import ACTIVATIONS  # noqa: E402
from nnlite.losses import LOSSES  # noqa: E402

Activation = Enum(
    "Activation", {n: n for n, row in ACTIVATIONS.items() if row.elementwise}, type=str
)
Output = Enum("Output", {"auto": "auto", **{n: n for n, r in ACTIVATIONS.items() if r.output}}, type=str)
Loss = Enum("Loss", {"auto": "auto", **{n: n for n in LOSSES}}, type=str)


class DType(str, Enum):
    float32 = "float32"
    float64 = "float64"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"
    auto = "auto"


class Show(str, Enum):
    regions = "regions"
    neurons = "neurons"
    none = "none"


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
            from nnlite.errors import spell_params
            from nnlite.ui import terminal

            _show_warnings(caught)
            message = str(exc)
            if isinstance(exc, NnliteError) and exc.params:  # the library's names, as typed here
                message = spell_params(message, exc.params, _flags(command).get)
            if isinstance(exc, OSError) and exc.filename and exc.strerror:
                message = f"{exc.strerror}: {exc.filename}"
            elif isinstance(exc, MemoryError):  # what the size checks could not foresee
                message = f"not enough memory ({exc or 'MemoryError'}); try smaller data or a smaller network"
            terminal.error(message)
            raise typer.Exit(1) from None

    return wrapper


# Library parameters that a command's option names otherwise (gradcheck's --outputs is
# lessons.gradient_check's n_outputs): library name → the command's parameter.
_OPTION_OF = {"n_inputs": "inputs", "n_outputs": "outputs", "n_samples": "samples"}


@functools.cache
def _flags(command: Callable[..., Any]) -> dict[str, str]:
    """How a command's user types each of its parameters: the long flag, or the metavar.

    Read from the command's typer options (``lr`` → ``--lr``, ``val_split`` →
    ``--val-split``, ``images`` → ``--images``, the argument ``model_path`` → ``MODEL``),
    plus the library's names for them where they differ (``_OPTION_OF``).
    """
    import inspect

    flags = {}
    for name, parameter in inspect.signature(command).parameters.items():
        info = parameter.default
        if isinstance(info, typer.models.ArgumentInfo):
            flags[name] = info.metavar or name.upper()
        elif isinstance(info, typer.models.OptionInfo):
            long = [d.split("/")[0] for d in info.param_decls if d.startswith("--")]
            flags[name] = long[0] if long else "--" + name.replace("_", "-")
    for library_name, option in _OPTION_OF.items():
        if option in flags:
            flags.setdefault(library_name, flags[option])
    return flags


def _show_warnings(caught: list) -> None:
    if caught:
        from nnlite.ui import terminal

        for w in caught:
            terminal.warn(str(w.message))


OPTIMIZER_HELP = (
    "sgd (with --momentum, --nesterov), adagrad, rmsprop, adam or adamw, each as PyTorch's "
    "torch.optim defines it; settings after a colon, e.g. adam:beta2=0.99, "
    "adamw:weight_decay=0.05, rmsprop:rho=0.9."
)
SCHEDULE_HELP = (
    "How α changes: constant, step:gamma=0.5,step_size=10 (α·γ^⌊t/s⌋), exponential:gamma=0.95 "
    "(α·γ^t), inverse-time:decay=0.01 (α/(1 + k·t)) or cosine:period=20,min_lr=0; t counts "
    "epochs, or updates with per=step."
)
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
    optimizer: str = typer.Option("sgd", "--optimizer", "-o", metavar="NAME[:k=v,...]", help=OPTIMIZER_HELP),
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate α in W ← W − α·dW (default: the optimizer's: sgd 0.1, adagrad and rmsprop 0.01, adam and adamw 0.001)."),
    momentum: float = typer.Option(0.0, "--momentum", "-m", help="Momentum μ: V ← μ·V − α·dW, W ← W + V (0: plain SGD; 0.9 is usual). Also rmsprop's."),
    nesterov: bool = typer.Option(False, "--nesterov", help="Nesterov's momentum: W ← W + μ·V − α·dW (needs --momentum)."),
    lr_schedule: str = typer.Option("constant", "--lr-schedule", metavar="NAME[:k=v,...]", help=SCHEDULE_HELP),
    l1: float = typer.Option(0.0, "--l1", min=0.0, help="L1 penalty λ₁·Σ|W| on every layer's weights (added to the loss and to dW)."),
    l2: float = typer.Option(0.0, "--l2", min=0.0, help="L2 penalty λ₂·ΣW² on every layer's weights (Keras's kernel_regularizer l2)."),
    dropout: float = typer.Option(0.0, "--dropout", help="Dropout rate p after each hidden layer while training (inverted dropout; 0.2 is usual)."),
    early_stopping: int = typer.Option(0, "--early-stopping", min=0, metavar="N", help="Stop when the validation loss has not improved for N epochs, and keep the best epoch's weights."),
    seed: int = typer.Option(0, min=0, help="Seed for the weights, the split, the batch order and dropout."),
    val_split: Optional[float] = typer.Option(None, help="Fraction held out for validation (default 0.2; MNIST and Fashion-MNIST use their test set)."),
    dtype: DType = typer.Option(DType.float32, help="Floating-point type of the computation.", case_sensitive=False),
    device: Device = typer.Option(Device.cpu, "--device", help=DEVICE_HELP, case_sensitive=False),
    save: Optional[Path] = typer.Option(None, "--save", "-s", help="Write the trained model to this .npz file (and checkpoints, and the state at Ctrl-C). An existing file is refused before training unless --overwrite."),
    checkpoint_every: int = typer.Option(0, "--checkpoint-every", min=0, metavar="N", help="Also save a resumable checkpoint to --save every N epochs."),
    resume: Optional[Path] = typer.Option(None, "--resume", metavar="CHECKPOINT", help="Continue an interrupted run: data set, network and settings come from the checkpoint (giving them other values is refused); it is saved back there unless --save says otherwise."),
    plot: Optional[Path] = typer.Option(None, "--plot", metavar="PATH.png|PATH.gif", help="Write the loss and accuracy curves to a PNG (with the decision regions on 2-D data), or the decision regions over training to a GIF (needs matplotlib)."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --save or --plot file (default: refuse it before training)."),
    show: Optional[Show] = typer.Option(None, "--show", help="Live picture below the progress bars: regions (the plane coloured by the predicted class, with the data), neurons (also each hidden unit's map; at most 8 units a hidden layer), none. Default in a terminal: regions on 2-input classification data, the fitted curve on 1-input regression data, else none; outside one (a log), the final picture is printed when --show asks for it.", case_sensitive=False),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output; only the summary."),
    stats: bool = typer.Option(False, "--stats", help="Show each layer's health live below the bars (‖W‖, ‖ΔW‖/‖W‖ per epoch, dead ReLUs or saturated units, ‖∂L/∂W‖, with sparklines); outside a terminal, the final table after training. Always recorded in the history and the model file."),
) -> None:
    """Train a multilayer perceptron with mini-batch gradient descent and show how it learned.

    Ctrl-C stops after the running chunk of batches, prints the summary so far
    and, with --save, writes a checkpoint that --resume continues. Where the
    results go (--save, --plot) is checked before training; two runs cannot
    write the same --save file at once.
    """
    from nnlite import files, io, runs
    from nnlite.errors import ConfigError
    from nnlite.layers import Dropout
    from nnlite.schedules import Schedule

    if checkpoint_every and save is None and resume is None:
        raise ConfigError("--checkpoint-every needs --save PATH (where the checkpoints go)")
    if resume is None:  # refuse bad settings before compiling anything for them
        opt = runs.parse_optimizer(optimizer, lr=lr, momentum=momentum, nesterov=nesterov)
        schedule = Schedule.parse(lr_schedule)
        Dropout(dropout).validate()
    if save is not None:
        save = io.model_path(save)
    own = False  # the --save file is this run's own checkpoint (--resume): replace it freely
    if resume is not None:
        given = {p: _typed(v) for p, v in ctx.params.items() if _given(ctx, p)}
        model, run = runs.resume(resume, given, epochs=epochs, data_dir=data_dir)
        save = save or io.model_path(resume)
        own = runs.same_file(save, resume)
    # Everything about where the results go, before any work: a typo costs nothing.
    if save is not None:
        _check_output(save, "--save", overwrite or own)
    if plot is not None:
        _check_output(plot, "--plot", overwrite, _train_plot_check)
    with files.claim(save) if save is not None else contextlib.nullcontext():
        if resume is None:
            run = runs.new_run(
                dataset=dataset, val_split=val_split, seed=seed, epochs=epochs,
                batch_size=batch_size, lr=opt.lr, momentum=momentum, nesterov=nesterov,
                data_dir=data_dir, optimizer=opt, lr_schedule=schedule, l1=l1, l2=l2,
                dropout=dropout, early_stopping=early_stopping,
            )  # fmt: skip
            model = None
        else:
            model.use_device(device.value)
        data = runs.run_data(run)
        if model is None:
            model = runs.new_model(
                data, run, layers=layers, activation=activation.value, output=output.value,
                loss=loss.value, dtype=dtype.value, device=device.value,
            )  # fmt: skip
        view = _regions_view(show, model, data, plot, quiet)  # refuses before any training
        _train(model, run, data, save=save, save_overwrite=overwrite or own, plot=plot,
               plot_overwrite=overwrite, checkpoint_every=checkpoint_every, quiet=quiet,
               resume=resume, stats=stats, view=view)  # fmt: skip


def _given(ctx: Any, name: str) -> bool:
    """Was option ``name`` typed on the command line (or set in the environment)?"""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


def _typed(value: Any) -> Any:
    """An option's value as the library takes it: an Enum choice as its string."""
    return value.value if isinstance(value, Enum) else value


def _plot_check(path: Path, overwrite: bool) -> None:
    from nnlite.ui import plot as plotting

    plotting.check_target(path, "--plot", overwrite=overwrite)


def _train_plot_check(path: Path, overwrite: bool) -> None:
    """train's --plot: a PNG (curves, and regions on 2-D data) or a GIF (regions over training)."""
    from nnlite.errors import ConfigError
    from nnlite.ui import plot as plotting

    suffix = path.suffix.lower()
    if suffix == ".gif":
        plotting.check_gif_target(path, "--plot", overwrite=overwrite)
    elif suffix == ".png":
        plotting.check_target(path, "--plot", overwrite=overwrite)
    else:
        raise ConfigError(
            f"{str(path)!r}: give a path ending in .png (the curves) or .gif (the decision "
            "regions over training)"
        )


def _regions_view(
    show: Optional[Show], model: Any, data: tuple, plot: Optional[Path], quiet: bool
) -> Any:
    """train's --show: the live regions view (or None), checked against the data and network.

    Also refuses ``--plot x.gif`` on data without 2 inputs, before any training.
    """
    from nnlite.errors import ConfigError
    from nnlite.ui import terminal

    ds, X, y, val, _, _ = data
    inputs, classes = X.shape[1], ds.n_classes
    fits = (inputs == 2 and classes is not None) or (inputs == 1 and classes is None)
    if plot is not None and plot.suffix.lower() == ".gif" and (inputs != 2 or classes is None):
        what = f"{inputs} inputs" if classes is not None or inputs != 2 else "regression targets"
        raise ConfigError(
            f"--plot {plot.name}: the GIF shows decision regions, which need classification "
            f"data with 2 inputs; {ds.name!r} has {what} (write a .png instead)"
        )
    live = terminal.console.is_terminal and not quiet
    if show is None:
        # By default only drawn live: a log (outside a terminal) gets the final picture
        # only when --show asks for it, so its text stays as it was.
        show = Show.regions if fits and live else Show.none
    if show is Show.none:
        return None
    if not fits:
        kind = "classification" if classes is not None else "regression"
        raise ConfigError(
            f"--show {show.value}: decision regions need 2-input classification data (or a "
            f"1-input regression: its fitted curve); {ds.name!r} is {kind} with {inputs} inputs"
        )
    if show is Show.neurons:
        if inputs != 2:
            raise ConfigError("--show neurons: neuron maps need data with 2 inputs")
        from nnlite.ui.regions import check_neuron_maps

        check_neuron_maps(model)
    from nnlite.ui.regions import RegionsView

    names = _class_names(ds, classes) if classes is not None else None
    view = RegionsView(X, y, val, classes, neurons=show is Show.neurons, console=terminal.console,
                       names=names)  # fmt: skip
    view.live = live
    return view


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


def _train(
    model: Any, run: dict[str, Any], data: tuple, *, save: Optional[Path], save_overwrite: bool,
    plot: Optional[Path], plot_overwrite: bool, checkpoint_every: int, quiet: bool,
    resume: Optional[Path], stats: bool = False, view: Any = None,
) -> None:  # fmt: skip
    """``train`` once its outputs are checked and its model exists: fit, report, save."""
    from nnlite import Sequential, io, runs
    from nnlite.errors import ConfigError, LearnerWarning
    from nnlite.ui import progress, tables, terminal

    ds, X, y, val, val_desc, note = data
    epochs, done = int(run["epochs"]), len(model.history.loss)
    patience = int(run.get("early_stopping", 0))
    if patience and val is None:
        raise ConfigError(
            "early stopping watches the validation loss, and this run holds out none: "
            "give --val-split (e.g. 0.2)", param=("early_stopping", "val_split")
        )
    if note:
        terminal.warn(note)
    if not quiet:
        terminal.console.print(
            f"[bold]{ds.name}[/bold]: {len(y):,} training samples × {X.shape[1]} features; "
            f"validation: {val_desc}"
        )
        if resume is not None:
            terminal.console.print(f"resuming {str(resume)!r} after {done} of {epochs} epochs")
        terminal.console.print(tables.model_table(model, title=f"network (loss: {model.loss})"))
    opt, schedule = runs.run_optimizer(run), runs.run_schedule(run)
    batch_size = int(run["batch_size"])
    with terminal.console.status("compiling kernels (first run only; cached afterwards)…"):
        compile_s = model.warm_up(opt)
    callbacks = []
    if patience:
        from nnlite.callbacks import EarlyStopping

        callbacks.append(EarlyStopping("val_loss", patience=patience, restore_best_weights=True))
    views = [view] if view is not None and view.live else []
    gif = None
    if plot is not None and plot.suffix.lower() == ".gif":
        import numpy as np

        from nnlite.regions import Recorder

        gif = Recorder(np.concatenate([X] + ([val[0]] if val is not None else [])), epochs - done)
    saved: list[Path] = []

    def save_checkpoint(model: Sequential, interrupted: bool) -> None:
        nonlocal save_overwrite
        if save is None:
            return
        written, problem = io.save_or_rescue(model, save, run, overwrite=save_overwrite)
        if problem is None:
            save_overwrite = True  # this run's own file from now on
        else:
            terminal.warn(f"checkpoint: could not write {str(save)!r} ({_why(problem)}); kept in {str(written)!r}")
        saved.append(written)

    with warnings.catch_warnings():
        # fit's learner warnings are shown after the summary, from history.diagnosis
        warnings.simplefilter("ignore", LearnerWarning)
        health = _health_views(stats)
        views += health
        bars = progress.TrainingProgress(quiet=quiet, save=save_checkpoint, views=views)
        with bars, _stop_on_ctrl_c(bars):
            history = model.fit(
                X, y, epochs=epochs - done, batch_size=batch_size, seed=int(run["seed"]),
                validation_data=val, callback=bars, optimizer=opt, schedule=schedule,
                callbacks=callbacks + views + ([gif] if gif else []),
                checkpoint_every=checkpoint_every, resume=resume is not None,
            )  # fmt: skip
    if view is not None and not view.live and not quiet:  # outside a terminal: the last picture
        view.set_model(model)
        view.epoch = view.epochs = len(history.loss)
        view.redraw()
        terminal.console.print(view.frame)
    rows = tables.training_rows(
        history, model.resume_state, epochs=epochs, samples=len(y), batch_size=batch_size,
        optimizer=opt, schedule=schedule, compile_s=compile_s, device=_describe_device(model),
        validation=val is not None, stopped_early=callbacks[0] if callbacks else None,
    )  # fmt: skip
    failed = None
    if save is not None and not history.interrupted:
        written, failed = io.save_or_rescue(model, save, run, overwrite=save_overwrite)
        rows.append(("saved to", str(written)))
    elif saved:
        rows.append(("checkpoint", f"{saved[-1]} (continue: nnlite train --resume {saved[-1]})"))
    if plot is not None and history.loss and failed is None:
        from nnlite.ui import plot as plotting

        if gif is not None:
            written = plotting.regions_gif(gif, X, y, val, plot, overwrite=plot_overwrite)
        elif X.shape[1] == 2 and ds.n_classes is not None:
            written = plotting.training_png(history, plot, model=model, data=(X, y, val),
                                            overwrite=plot_overwrite)  # fmt: skip
        else:
            written = plotting.training_curves(history, plot, overwrite=plot_overwrite)
        rows.append(("plot", str(written)))
    terminal.console.print(tables.summary_table(rows))
    if health and not bars.live and health[0].table() is not None:  # --stats, no live display
        terminal.console.print(health[0].table())
    if failed is not None:
        raise ConfigError(
            f"could not write {str(save)!r} ({_why(failed)}); the trained model is safe in "
            f"{str(written)!r}"
        )
    if history.interrupted:
        if save is None:
            terminal.warn("stopped by Ctrl-C; no --save given, so the trained weights are not kept")
        raise typer.Exit(130)
    for line in history.diagnosis:  # chance level, dead ReLUs, overshoot: nnlite.diagnose
        terminal.warn(line)
    if not quiet:
        for chart in tables.training_charts(history, width=terminal.console.width):
            terminal.console.print(chart, highlight=False, soft_wrap=True)


def _health_views(stats: bool) -> list[Any]:
    """``--stats``: the live layer-health table (``nnlite.ui.health``), else nothing."""
    if not stats:
        return []
    from nnlite.ui.health import HealthView

    return [HealthView()]


def _why(problem: Exception) -> str:
    if isinstance(problem, OSError) and problem.strerror:
        return problem.strerror
    return str(problem)


@contextlib.contextmanager
def _stop_on_ctrl_c(progress: Any):
    """First Ctrl-C: ask ``fit`` to stop at the next chunk boundary. Second: abort at once."""
    import signal

    def first(signum: int, frame: Any) -> None:
        from nnlite.ui import terminal

        progress.stop_training = True
        terminal.warn("Ctrl-C: stopping after the running batches (Ctrl-C again to abort)")
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
    from nnlite import Perceptron, datasets
    from nnlite.ui import tables, terminal

    ds = datasets.gate(gate.value)
    p = Perceptron(eta=eta, threshold=threshold, max_epochs=max_epochs).fit(ds.X, ds.y)
    terminal.console.print(
        f"[bold]{gate.value.upper()}[/bold]: weights w = {p.w.tolist()}, bias b = {p.b[0]:g}, "
        f"threshold θ = {threshold:g}"
    )
    terminal.console.print(tables.truth_table(ds.X, ds.y, p.weighted_sum(ds.X), p.predict(ds.X), threshold))
    if p.converged:
        terminal.console.print(
            f"[green]converged[/green] after {p.epochs} epochs and {p.n_updates} updates "
            "(the last epoch made no mistake)."
        )
    else:
        terminal.console.print(
            f"[red]did not converge[/red] in {p.epochs} epochs ({p.n_updates} updates)."
        )
        if gate == Gate.XOR:
            terminal.console.print(
                "XOR is not linearly separable: no line w₁x₁ + w₂x₂ + b = θ puts (0,1) and (1,0) "
                "on one side and (0,0) and (1,1) on the other, so a single perceptron cannot "
                "learn it. A hidden layer can: try `nnlite train --dataset xor --layers 4 "
                "--activation tanh --epochs 2000 --batch-size 4 --lr 0.5`."
            )


def _eval_data(model_path: Path, dataset: Optional[str], data_dir: Optional[Path]):
    """``runs.eval_data``, its note (raw pixels scaled) shown: (model, dataset, X, y, description)."""
    from nnlite import runs
    from nnlite.ui import terminal

    model, ds, X, y, desc, note = runs.eval_data(model_path, dataset, data_dir)
    if note:
        terminal.warn(note)
    return model, ds, X, y, desc


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
    from nnlite import metrics
    from nnlite.errors import ConfigError
    from nnlite.ui import digits, tables, terminal
    from nnlite.ui import plot as plotting

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
    rows = tables.evaluation_rows(model_path, f"{ds.name}: {desc}", model.loss, loss, acc)
    if ds.n_classes is None:
        terminal.console.print(tables.summary_table(rows, title="evaluation"))
        if plot is not None:
            plotting.training_curves(model.history, plot, overwrite=overwrite)
            terminal.console.print(f"wrote the training curves to {plot}")
        return
    probs = metrics.class_probabilities(model.predict(X))
    cm = metrics.confusion_matrix(y, probs.argmax(axis=1), n_classes=probs.shape[1])
    rows.append(("right", f"{int(cm.trace()):,} of {len(y):,}"))
    labels = _class_names(ds, cm.shape[0])
    terminal.console.print(tables.summary_table(rows, title="evaluation"))
    terminal.console.print(digits.confusion_table(cm, labels))
    terminal.console.print(digits.class_report_table(cm, labels))
    if k:
        wrong = metrics.most_confident_wrong(y, probs)
        title = f"most confidently wrong: {min(k, len(wrong))} of {len(wrong):,} mistakes"
        cards = digits.digit_cards(X, shape, probs, wrong[:k], y, labels)
        terminal.console.print(digits.gallery(cards, title) if cards else "no mistakes to show")
    if plot is not None:
        curves = bool(model.history.loss)  # a model file records how it was trained
        plotting.confusion_png(
            cm, labels, plot, history=model.history if curves else None, overwrite=overwrite
        )
        what = "the confusion matrix and training curves" if curves else "the confusion matrix"
        terminal.console.print(f"wrote {what} to {plot}")


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

    from nnlite import metrics
    from nnlite.errors import ConfigError
    from nnlite.ui import digits, tables, terminal

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
    plane = X if X.shape[1] == 2 else None  # 2-D data: each prediction's x₁, x₂
    terminal.console.print(tables.predictions_table(P, classes, y, rows, title, inputs=plane))
    if draw and len(rows):
        labels = _class_names(ds, probs.shape[1])
        terminal.console.print(digits.gallery(digits.digit_cards(X, shape, probs, rows, y, labels)))
    if classes is not None:
        terminal.console.print(f"accuracy on these {len(y):,} samples: {np.mean(classes == y):.2%}")
    if output is not None:
        metrics.write_predictions(output, P, classes, overwrite=overwrite, inputs=plane)
        terminal.console.print(f"wrote {len(P):,} predictions to {output}")


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
    from nnlite.ui import compare as compare_view
    from nnlite.ui import terminal

    terminal.console.print(compare_view.render(result))


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
    lr: Optional[float] = typer.Option(None, "--lr", help="Learning rate α (η for the perceptron); default 0.5 with SGD (perceptron 1), else the optimizer's own."),
    optimizer: Optional[str] = typer.Option(None, "--optimizer", "-o", metavar="NAME[:k=v,...]", help="sgd (default), adagrad, rmsprop, adam or adamw, as nnlite train takes it (e.g. adam:beta2=0.99, sgd:momentum=0.9): each update shows the optimizer's formula and its state before and after."),
    lr_schedule: Optional[str] = typer.Option(None, "--lr-schedule", metavar="NAME[:k=v,...]", help=SCHEDULE_HELP + " Each step shows its α."),
    l1: float = typer.Option(0.0, "--l1", min=0.0, help="L1 penalty λ₁·Σ|W| on every layer's weights, shown in the loss and in ∂L/∂W."),
    l2: float = typer.Option(0.0, "--l2", min=0.0, help="L2 penalty λ₂·ΣW² on every layer's weights, shown in the loss and in ∂L/∂W."),
    dropout: float = typer.Option(0.0, "--dropout", help="Dropout rate p after each hidden layer, as in nnlite train; the trace shows each mask (drawn from --seed)."),
    steps: Optional[int] = typer.Option(None, min=1, help="Training steps to trace (default 1)."),
    epochs: Optional[int] = typer.Option(None, "--epochs", "-e", min=1, help="Trace whole passes over the data instead (perceptron: give up after this many; default 20)."),
    sample: Optional[int] = typer.Option(None, min=0, help="The first sample (from 0); the trace walks the data in order from it."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", "-b", min=1, help="Samples per step (default 1)."),
    seed: int = typer.Option(0, min=0, help="Seed of the initial weights and of dropout's masks."),
    dtype: Optional[DType] = typer.Option(None, help="float32 (default, as in training) or float64 (default for --example).", case_sensitive=False),
    threshold: Optional[float] = typer.Option(None, help="Perceptron: the threshold θ (default 0)."),
    unfused: bool = typer.Option(False, "--unfused", help="Softmax + cross-entropy: also show the softmax Jacobian times ∂L/∂p beside the fused p − y."),
    precision: int = typer.Option(4, min=0, max=17, help="Digits after the decimal point."),
    output_format: TraceFormat = typer.Option(TraceFormat.text, "--format", help="text (panels) or json (one object per event and line, full arrays).", case_sensitive=False),
    interactive: bool = typer.Option(False, "--interactive", "-i", help="Wait for Enter before each step (q quits); never waits outside a terminal."),
    device: Device = typer.Option(Device.cpu, "--device", help=DEVICE_HELP, case_sensitive=False),
    neurons: bool = typer.Option(False, "--neurons", help="After each step, each hidden unit's map over the plane, before and after (2-input data; at most 8 units a hidden layer)."),
) -> None:
    """Trace training step by step with the real numbers: forward, loss, backward, update."""
    from nnlite import runs
    from nnlite import trace as tracing
    from nnlite.ui import trace as trace_view

    events = tracing.run(
        model=model, gate=gate, example=example, dataset=dataset,
        layers=None if layers is None else runs.hidden_layers(layers), activation=activation,
        output=output, loss=loss, lr=lr, steps=steps, epochs=epochs, sample=sample,
        batch_size=batch_size, seed=seed, dtype=dtype, threshold=threshold, unfused=unfused,
        device=device, optimizer=optimizer, lr_schedule=lr_schedule, l1=l1, l2=l2, dropout=dropout,
        neurons=neurons,
    )  # fmt: skip
    if output_format == TraceFormat.json:
        trace_view.write_json(events)
    else:
        trace_view.play(events, precision=precision, interactive=interactive)


@app.command()
@_handle_errors
def lesson(
    topic: Optional[str] = typer.Argument(None, metavar="TOPIC", help="perceptron, activations, xor, learning-rate, sgd, local-minima, optimum, optimizers, overfitting or vanishing-gradients; leave out to list them."),
) -> None:
    """Watch a claim of the lesson demonstrated, with scipy's reference beside nnlite's result."""
    from nnlite import lessons
    from nnlite.ui import lesson as lesson_view
    from nnlite.ui import terminal

    if topic is None:
        terminal.console.print(lesson_view.topics_table(lessons.TOPICS))
        return
    name = lessons.topic_name(topic)
    with terminal.console.status(f"running the {name} lesson…"):
        result = lessons.run(name)
    for part in lesson_view.render(name, result):
        terminal.console.print(part)
        terminal.console.print()


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
    from nnlite import lessons, runs
    from nnlite.ui import lesson as lesson_view
    from nnlite.ui import terminal

    result = lessons.gradient_check(
        hidden=runs.hidden_layers(layers), activation=activation.value, output=output.value,
        loss=loss.value, n_inputs=inputs, n_outputs=outputs, n_samples=samples, seed=seed,
    )  # fmt: skip
    terminal.console.print(lesson_view.gradcheck_table(result))
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
    from nnlite.datasets import download
    from nnlite.ui import progress as bars
    from nnlite.ui import terminal

    with bars.DownloadProgress(quiet=quiet) as progress:
        folder = download.download(
            name.value, data_dir, mirrors=mirror or None, force=force, progress=progress
        )
    train = f"nnlite train --dataset {name.value}"
    if data_dir is not None:
        train += f" --data-dir {data_dir}"
    terminal.console.print(f"{name.value}: 4 files verified in {folder}; try `{train}`", soft_wrap=True)


@data_app.command("list")
@_handle_errors
def data_list(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help=DATA_HOME_HELP),
) -> None:
    """Show which MNIST and Fashion-MNIST files are here and verified, and how to get the rest."""
    from nnlite.datasets import download
    from nnlite.ui import tables

    for name in download.SOURCES:
        folder, files = download.status(name, data_dir)
        tables.data_status(name, folder, files, download.command(name, data_dir))


DATA_HELP = "Download MNIST or Fashion-MNIST (checksums verified); list what is here."
app.add_typer(data_app, name="data", help=DATA_HELP)


@app.command("datasets")
@_handle_errors
def list_datasets(
    data_dir: Optional[Path] = typer.Option(None, help=DATA_DIR_HELP),
) -> None:
    """List the built-in data sets with their sizes and shapes."""
    from nnlite import datasets
    from nnlite.ui import tables, terminal

    terminal.console.print(tables.datasets_table(datasets.list_datasets(data_dir=data_dir)))


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
