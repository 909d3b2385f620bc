"""A training run's settings, its data, and resuming it from a checkpoint.

Owns: the run record ``nnlite train`` saves beside the weights (``new_run``: data set,
split, seed, epochs, batch size and the optimizer's settings), the data a run or an
evaluation reads (``load_data`` scales raw 0–255 pixels to 0..1 with a note saying so;
``load_split`` holds out the validation; ``eval_data`` picks what a saved model is
evaluated on), the network the settings describe (``hidden_layers`` reads a layer spec
such as ``"64,32"``; ``new_model`` builds it), and resuming (``resume`` reads a
checkpoint back and refuses given settings that differ from what it fixes,
``FIXED_BY_CHECKPOINT``).

Imports: numpy and the library (``io``, ``datasets``, ``diagnose``, ``models``); never
typer or rich, never prints. Errors name the parameters as this module's functions
spell them (``lr=0.5``, ``'layers'``); the CLI spells them as its flags (``--lr 0.5``).

Omits: rendering, the Ctrl-C handling and where the results are written (``cli.py``).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nnlite.errors import ConfigError

# The settings a checkpoint fixes: given with another value, ``resume`` refuses them.
FIXED_BY_CHECKPOINT = (
    "dataset", "layers", "activation", "output", "loss", "batch_size", "lr", "momentum",
    "nesterov", "seed", "val_split", "dtype", "optimizer", "lr_schedule", "l1", "l2", "dropout",
    "early_stopping",
)  # fmt: skip


def parse_optimizer(
    spec: str, lr: float | None = None, momentum: float | None = None, nesterov: bool = False
) -> Any:
    """The optimiser a spec names, validated: ``"adam"``, ``"adamw:weight_decay=0.05"``, ….

    ``lr``, ``momentum`` and ``nesterov`` (the CLI's own flags) join the spec's values
    when given (``momentum`` 0 and ``nesterov`` False count as not given); a value the
    optimiser does not have raises ``ConfigError`` naming it.
    """
    from nnlite.config import parse_spec
    from nnlite.optim import Optimizer

    name, text = parse_spec(spec, "optimizer settings", "adam:beta2=0.99")
    # true/false for a flag (sgd:nesterov=true); numbers stay text for the table's checks
    words = {"true": True, "false": False, "yes": True, "no": False}
    values: dict[str, Any] = {key: words.get(v.lower(), v) for key, v in text.items()}
    given = {"lr": lr, "momentum": momentum or None, "nesterov": nesterov or None}
    for key, value in given.items():
        if value is not None:
            if key in values:
                raise ConfigError(f"{key} is given twice", param=(key, "optimizer"))
            values[key] = value
    opt = Optimizer(name.strip().lower(), **values)
    try:
        opt.validate()
    except ConfigError as exc:
        text = str(exc)
        if "has no hyper-parameter" in text and any(k in text for k in given if given[k]):
            raise ConfigError(text, param=tuple(k for k in given if given[k])) from None
        raise
    return opt


def run_optimizer(run: Mapping[str, Any]) -> Any:
    """The optimiser of a run record (records from before ``optimizer``: SGD from lr/momentum)."""
    from nnlite.optim import SGD, Optimizer

    if "optimizer" in run:
        return Optimizer.from_dict(run["optimizer"])
    return SGD(run["lr"], run.get("momentum", 0.0), run.get("nesterov", False)).validate()


def run_schedule(run: Mapping[str, Any]) -> Any:
    """The learning-rate schedule of a run record (constant when the record has none)."""
    from nnlite.schedules import Schedule

    return Schedule.from_dict(run["lr_schedule"]) if "lr_schedule" in run else Schedule()


def hidden_layers(spec: str | Sequence[int]) -> list[int]:
    """Hidden layer sizes from a spec: ``"64,32"`` or ``"64x32"`` → ``[64, 32]``; ``"none"`` → ``[]``.

    Raises ``ConfigError`` about ``layers`` for an empty part, a size below 1 or above
    ``config.MAX_UNITS``. A sequence of sizes is checked the same way.
    """
    from nnlite.config import MAX_UNITS

    if isinstance(spec, str):
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
    else:
        sizes = [int(s) for s in spec]
    if any(s < 1 for s in sizes):
        raise ConfigError(
            f"bad layer spec {spec!r}: every layer needs at least one unit "
            "(layers='none' for no hidden layer)",
            param="layers",
        )
    if max(sizes, default=0) > MAX_UNITS:
        raise ConfigError(f"bad layer spec {spec!r}: a layer has at most {MAX_UNITS:,} units")
    return sizes


def load_data(name: str, data_dir: str | os.PathLike | None, seed: int) -> tuple[Any, str | None]:
    """A data set by name or file, with raw 0–255 pixels scaled to 0..1 (and a note saying so).

    The same rule for every command, so ``evaluate`` and ``predict`` see the data as
    ``train`` did. Returns (dataset, note or None).
    """
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


def load_split(
    name: str, data_dir: str | os.PathLike | None, val_split: float | None, seed: int
) -> tuple[Any, Any, Any, tuple[Any, Any] | None, str, str | None]:
    """(dataset, X_train, y_train, validation or None, description of the validation, note).

    ``val_split`` None: the published test set where there is one, else 0.2 (0 under 20
    samples).
    """
    from nnlite import datasets

    ds, note = load_data(name, data_dir, seed)
    if ds.X_test is not None and val_split is None:
        desc = f"published test set ({len(ds.y_test):,})"
        return ds, ds.X, ds.y, (ds.X_test, ds.y_test), desc, note
    if val_split is None:
        val_split = 0.2 if len(ds.y) >= 20 else 0.0
    if not 0 <= val_split < 1:
        raise ConfigError(f"'val_split' must be in [0, 1), got {val_split}", param="val_split")
    if val_split == 0:
        return ds, ds.X, ds.y, None, "none", note
    stratify = ds.n_classes is not None
    X_tr, X_va, y_tr, y_va = datasets.train_test_split(
        ds.X, ds.y, test_fraction=val_split, seed=seed, stratify=stratify
    )
    return ds, X_tr, y_tr, (X_va, y_va), f"{val_split:.0%} held out ({len(y_va):,})", note


def new_run(
    *, dataset: str, val_split: float | None, seed: int, epochs: int | None, batch_size: int,
    lr: float, momentum: float, nesterov: bool, data_dir: str | os.PathLike | None,
    optimizer: Any = None, lr_schedule: Any = None, l1: float = 0.0, l2: float = 0.0,
    dropout: float = 0.0, early_stopping: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """The run record of a new run (saved in its model file; ``epochs`` None means 100).

    ``optimizer`` (an ``Optimizer``; default SGD from lr/momentum/nesterov) and
    ``lr_schedule`` (a ``Schedule``) are recorded only when they are not plain SGD and a
    constant α, and the penalties, dropout and early stopping only when not 0: a plain
    run's record is what it was before they existed.
    """
    run = {
        "dataset": dataset, "val_split": val_split, "seed": seed, "epochs": epochs or 100,
        "batch_size": batch_size, "lr": lr, "momentum": momentum, "nesterov": nesterov,
        "data_dir": str(data_dir) if data_dir is not None else None,
    }  # fmt: skip
    if optimizer is not None and optimizer.name != "sgd":
        run["optimizer"] = optimizer.as_dict()
        run["momentum"], run["nesterov"] = optimizer.values.get("momentum", 0.0), False
    if lr_schedule is not None and lr_schedule.name != "constant":
        run["lr_schedule"] = lr_schedule.as_dict()
    for key, value in (("l1", l1), ("l2", l2), ("dropout", dropout),
                       ("early_stopping", early_stopping)):  # fmt: skip
        if value:
            run[key] = value
    return run


def run_data(run: Mapping[str, Any]) -> tuple:
    """``load_split`` for a run record."""
    data_dir = Path(run["data_dir"]) if run.get("data_dir") else None
    return load_split(run["dataset"], data_dir, run.get("val_split"), int(run["seed"]))


def output_layer(ds: Any, output: str) -> tuple[int, str]:
    """Units and activation of the output layer a learner would choose for this data.

    ``output`` "auto": identity for regression, sigmoid for two classes, softmax for more.
    """
    if ds.n_classes is None:
        units = 1 if ds.y.ndim == 1 else ds.y.shape[1]
        act = "identity" if output == "auto" else output
        return units, act
    if ds.n_classes <= 2:
        act = "sigmoid" if output == "auto" else output
        return (1 if act != "softmax" else 2), act
    act = "softmax" if output == "auto" else output
    return ds.n_classes, act


def new_model(
    data: tuple, run: Mapping[str, Any], *, layers: str | Sequence[int], activation: str,
    output: str, loss: str, dtype: str, device: str,
) -> Any:  # fmt: skip
    """The network the settings describe, built for the run's data (its weights seeded).

    ``data`` is what ``run_data`` returns; ``loss`` "auto" lets the model choose.
    """
    import numpy as np

    from nnlite import Dense, Sequential

    ds, X = data[:2]
    units, out_act = output_layer(ds, output)
    from nnlite.layers import Dropout

    l1, l2, rate = run.get("l1", 0.0), run.get("l2", 0.0), run.get("dropout", 0.0)
    sizes = hidden_layers(layers)
    if rate and not sizes:
        raise ConfigError(
            "dropout acts after hidden layers, and this network has none", param="dropout"
        )
    stack: list[Any] = []
    for u in sizes:  # each hidden layer, then its dropout (Keras's Dense, Dropout pattern)
        stack.append(Dense(u, activation, l1=l1, l2=l2))
        if rate:
            stack.append(Dropout(rate))
    model = Sequential(
        stack + [Dense(units, out_act, l1=l1, l2=l2)],
        loss=None if loss == "auto" else loss,
        dtype=np.dtype(dtype),
        device=device,
    )
    return model.build(X.shape[1], seed=int(run["seed"]))


def resume(
    path: str | os.PathLike, given: Mapping[str, Any], *, epochs: int | None = None,
    data_dir: str | os.PathLike | None = None,
) -> tuple[Any, dict[str, Any]]:  # fmt: skip
    """The model and run record of a checkpoint, to continue the interrupted run.

    ``given`` holds the settings the user gave (names of ``FIXED_BY_CHECKPOINT``; others
    are ignored; "auto" agrees with anything); one that differs from what the checkpoint
    fixes raises ``ConfigError`` naming it. ``epochs`` (the run's new total) and
    ``data_dir`` (where the data now are) replace the record's when given; an ``epochs``
    the run has already done raises.
    """
    from nnlite import io

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
        "optimizer": run_optimizer(run).as_dict(), "lr_schedule": run_schedule(run).as_dict(),
        "l1": run.get("l1", 0.0), "l2": run.get("l2", 0.0), "dropout": run.get("dropout", 0.0),
        "early_stopping": run.get("early_stopping", 0),
    }  # fmt: skip
    for name in FIXED_BY_CHECKPOINT:
        if name not in given:
            continue
        typed = given[name]
        value = hidden_layers(typed) if name == "layers" else typed
        if name == "optimizer":
            value = parse_optimizer(typed, lr=run["lr"]).as_dict()
        elif name == "lr_schedule":
            from nnlite.schedules import Schedule

            value = Schedule.parse(typed).as_dict()
        if value == "auto" or _agrees(name, value, fixed[name]):
            continue
        shown = fixed[name]
        if name == "activation":
            shown = ", ".join(sorted(shown)) or "none (no hidden layer)"
        elif name == "layers":
            shown = ",".join(map(str, shown)) or "none"
        raise ConfigError(
            f"{name}={typed!r}: "
            f"the checkpoint fixes it ({shown}); leave {name!r} out to resume, or start a new run",
            param=name,
        )
    run["epochs"] = epochs or int(run["epochs"])
    if data_dir is not None:
        run["data_dir"] = str(data_dir)
    done = len(model.history.loss)
    if run["epochs"] <= done:
        raise ConfigError(
            f"epochs={run['epochs']}: the run has already done {done} epochs", param="epochs"
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


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Do ``a`` and ``b`` name one file (a resumed run saving back to its checkpoint)?"""
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def eval_data(
    model_path: str | os.PathLike, dataset: str | None, data_dir: str | os.PathLike | None
) -> tuple[Any, Any, Any, Any, str, str | None]:
    """A saved model and the data to evaluate it on: (model, dataset, X, y, description, note).

    ``dataset`` None: the model's own held-out split (as ``train`` made it: same data
    folder, split and seed); else the named set's test split if it has one, else all of it.
    Data are prepared as ``train`` prepared them (raw pixels scaled; ``note`` says so).
    """
    from nnlite import io

    model = io.load(model_path)
    extra = getattr(model, "extra", {})
    if dataset is None:
        dataset = extra.get("dataset")
        if dataset is None:
            raise ConfigError(
                "this model does not record its data set: pass 'dataset'", param="dataset"
            )
        if data_dir is None and extra.get("data_dir"):  # where train found the data
            data_dir = Path(extra["data_dir"])
        ds, _, _, val, desc, note = load_split(
            dataset, data_dir, extra.get("val_split"), int(extra.get("seed", 0))
        )
        if val is None:
            return model, ds, ds.X, ds.y, "all samples (no held-out split)", note
        return model, ds, val[0], val[1], desc, note
    ds, note = load_data(dataset, data_dir, 0)
    if ds.X_test is not None:
        return model, ds, ds.X_test, ds.y_test, f"test set ({len(ds.y_test):,})", note
    return model, ds, ds.X, ds.y, f"all {len(ds.y):,} samples", note
