"""PNG figures of a training run and of a classifier's mistakes, drawn with matplotlib.

Owns: ``training_curves`` (loss and accuracy per epoch, training and validation) and
``confusion_png`` (the confusion matrix as a heat map, optionally beside the curves).
Also the decision regions of 2-D data: ``training_png`` (the curves with the regions panel
beside them) and ``regions_gif`` (the regions over training, from a
``nnlite.regions.Recorder``: ``nnlite train --plot run.gif``; Pillow, which comes with
matplotlib, writes the GIF). Each writes a PNG (or GIF) atomically
(``nnlite.files.atomic_write``: a failed write leaves an existing
file untouched) and returns the path it wrote.

matplotlib is an optional extra (``pip install matplotlib``, or ``pip install '.[plot]'`` in a
clone). It is imported inside
the functions, never at module level, and only its object-oriented API with the Agg canvas
is used: no pyplot, no global backend switch, no window. Without matplotlib every
function raises ``ConfigError`` with a one-line message that says how to install it.

Imports: numpy, the standard library, ``nnlite.errors`` and ``nnlite.files``. Never typer or
rich; never prints.

Omits: interactive display, other file formats, styling options.
"""

from __future__ import annotations

import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from nnlite import files
from nnlite.errors import ConfigError

__all__ = [
    "available",
    "check_gif_target",
    "check_target",
    "confusion_png",
    "regions_gif",
    "require",
    "training_curves",
    "training_png",
]

# Hints name matplotlib or the clone, never the registry name nnlite (an unrelated package).
INSTALL_HINT = "pip install matplotlib (or, in a clone of nnlite, pip install '.[plot]')"


def available() -> bool:
    """True when matplotlib can be imported (checked without importing it)."""
    # Looked up through the module at call time so tests can simulate its absence.
    return importlib.util.find_spec("matplotlib") is not None


def require(what: str = "plotting") -> None:
    """Raise ``ConfigError`` "{what} needs matplotlib: pip install matplotlib …" without it."""
    if not available():
        raise ConfigError(f"{what} needs matplotlib: {INSTALL_HINT}")


def _png_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"{str(path)!r}: plots are written as PNG; give a path ending in .png")
    return path


def check_target(
    path: str | os.PathLike, what: str = "plotting", *, overwrite: bool = True
) -> Path:
    """Everything that can be checked before the work a plot shows: call it first.

    Raises ``ConfigError`` when matplotlib is missing ("{what} needs matplotlib: ..."),
    ``path`` does not end in ``.png``, or cannot be written (``files.check_target``: its
    directory is missing or read-only, it is a directory, ...), and ``files.TargetExists``
    when it exists and ``overwrite`` is false, so a command can refuse before a long run
    rather than after it. Returns ``path`` as a ``Path``.
    """
    require(what)
    return files.check_target(_png_path(path), overwrite=overwrite)


def _series(history: Any, name: str) -> list[float]:
    values = history.get(name) if isinstance(history, Mapping) else getattr(history, name, None)
    return [float(v) for v in (values or [])]


def _figure(ncols: int, width: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, 4.0), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, ncols, squeeze=False)[0]
    return fig, list(axes)


def _has_values(values: Sequence[float]) -> bool:
    return any(math.isfinite(v) for v in values)


def _curve_panels(history: Any) -> list[tuple[str, list[float], list[float]]]:
    """(title, training values, validation values) for each panel worth drawing."""
    panels = [("loss", _series(history, "loss"), _series(history, "val_loss"))]
    acc, val_acc = _series(history, "accuracy"), _series(history, "val_accuracy")
    if _has_values(acc) or _has_values(val_acc):  # all NaN for regression: no panel
        panels.append(("accuracy", acc, val_acc))
    return panels


def _draw_curves(axes: Sequence[Any], panels: list) -> None:
    from matplotlib.ticker import MaxNLocator

    for ax, (title, train, val) in zip(axes, panels):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        # solid dots and dashed crosses: the two stay apart in grey print too
        ax.plot(np.arange(1, len(train) + 1), train, marker=".", linestyle="-", label="training")
        if _has_values(val):
            ax.plot(np.arange(1, len(val) + 1), val, marker="x", linestyle="--", label="validation")
        ax.set_title(f"{title} per epoch")
        ax.set_xlabel("epoch")
        ax.set_ylabel(title)
        ax.grid(True, alpha=0.3)
        ax.legend()


def _draw_confusion(fig: Any, ax: Any, cm: np.ndarray, labels: Sequence[str]) -> None:
    k = cm.shape[0]
    image = ax.imshow(cm, cmap="Blues")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(k), labels=list(labels), rotation=45 if k > 10 else 0)
    ax.set_yticks(range(k), labels=list(labels))
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(f"confusion matrix ({int(np.trace(cm)):,} of {int(cm.sum()):,} right)")
    if k <= 20:  # numbers in the cells while they stay readable
        threshold = cm.max() / 2 if cm.size else 0
        for t in range(k):
            for p in range(k):
                if cm[t, p]:
                    colour = "white" if cm[t, p] > threshold else "black"
                    ax.text(p, t, str(int(cm[t, p])), ha="center", va="center",
                            fontsize=8, color=colour)  # fmt: skip


def _save(fig: Any, path: Path, overwrite: bool) -> Path:
    with files.atomic_write(path, "wb", overwrite=overwrite) as handle:
        fig.savefig(handle, format="png")
    return path


def training_curves(history: Any, path: str | os.PathLike, *, overwrite: bool = True) -> Path:
    """Write the loss and accuracy per epoch of a training run to a PNG file.

    Parameters
    ----------
    history : nnlite.models.History or mapping
        What ``Sequential.fit`` returns (also ``model.history`` of a loaded model, or
        ``History.as_dict()``): per-epoch lists ``loss`` and ``accuracy``, and
        ``val_loss`` / ``val_accuracy`` (empty without validation data). Only ``loss``
        must be non-empty. A validation line is drawn when its list has finite values;
        the accuracy panel is left out when accuracy is NaN throughout (regression).
    path : str or PathLike
        Where to write; must end in ``.png``; its directory must exist. An existing file
        is replaced only once the new image is complete (written to a temporary file
        beside it, then renamed); if anything fails, the old file is untouched.
    overwrite : bool
        False: an existing file is never replaced (``files.TargetExists``).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        matplotlib is not installed (message: "plotting training curves needs
        matplotlib: pip install matplotlib …"), ``path`` does not end in ``.png``, or the history has
        no epochs.
    OSError
        The directory does not exist or cannot be written (``FileNotFoundError``,
        ``IsADirectoryError`` when ``path`` is a directory, ...).
    """
    require("plotting training curves")
    path = _png_path(path)
    panels = _curve_panels(history)
    if not panels[0][1]:
        raise ConfigError("the training history has no epochs to plot")
    fig, axes = _figure(len(panels), 5.0 * len(panels))
    _draw_curves(axes, panels)
    return _save(fig, path, overwrite)


def confusion_png(
    cm: Any,
    labels: Sequence[str] | None,
    path: str | os.PathLike,
    *,
    history: Any = None,
    overwrite: bool = True,
) -> Path:
    """Write a confusion matrix as a heat map to a PNG file, optionally beside the curves.

    Parameters
    ----------
    cm : array_like of int, shape (k, k)
        Rows true class, columns predicted class (``nnlite.metrics.confusion_matrix``).
    labels : sequence of str, length k, or None
        Tick labels (class names); None numbers the classes 0..k-1.
    path : str or PathLike
        As in ``training_curves``: ``.png``, written atomically (``overwrite`` likewise).
    history : History or mapping, optional
        When given and non-empty, its loss (and accuracy) curves are drawn to the left of
        the matrix in the same image.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    ConfigError
        matplotlib is not installed, ``path`` does not end in ``.png``, ``cm`` is not
        square or ``labels`` has the wrong length.
    OSError
        As in ``training_curves``.
    """
    require("plotting a confusion matrix")
    path = _png_path(path)
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ConfigError(f"a confusion matrix must be square, got shape {cm.shape}")
    labels = [str(j) for j in range(cm.shape[0])] if labels is None else list(labels)
    if len(labels) != cm.shape[0]:
        raise ConfigError(f"{len(labels)} labels for a {cm.shape[0]}-class confusion matrix")
    panels = _curve_panels(history) if history is not None else []
    if panels and not panels[0][1]:
        panels = []
    fig, axes = _figure(len(panels) + 1, 5.0 * len(panels) + 6.0)
    _draw_curves(axes[:-1], panels)
    _draw_confusion(fig, axes[-1], cm, labels)
    return _save(fig, path, overwrite)


# -- decision regions (2-D data): the PNG panel and the GIF ---------------------------


def check_gif_target(
    path: str | os.PathLike, what: str = "plotting", *, overwrite: bool = True
) -> Path:
    """``check_target`` for a GIF: matplotlib present, ``path`` ending in ``.gif``, writable."""
    require(what)
    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ConfigError(
            f"{str(path)!r}: animations are written as GIF; give a path ending in .gif"
        )
    return files.check_target(path, overwrite=overwrite)


def _region_image(P: np.ndarray) -> np.ndarray:
    """RGB (rows, cols, 3) in 0..1: each pixel its class's colour, paler where less certain."""
    from nnlite.regions import PALETTE

    k = P.shape[2]
    cls = P.argmax(axis=2)
    t = np.clip((P.max(axis=2) - 1.0 / k) / (1.0 - 1.0 / k), 0.0, 1.0)[..., None]
    colours = np.array([PALETTE[j % len(PALETTE)] for j in range(k)], np.float64) / 255.0
    return 1.0 + (colours[cls] - 1.0) * (0.15 + 0.65 * t)  # white (unsure) → the class colour


def _draw_points(ax: Any, X: Any, y: Any, held_out: bool) -> None:
    from nnlite.regions import PALETTE

    X, y = np.asarray(X, np.float64), np.asarray(y).astype(np.int64)
    colours = np.array([PALETTE[j % len(PALETTE)] for j in y], np.float64).reshape(-1, 3) / 255
    if held_out:  # hollow: the points the boundary is checked on
        ax.scatter(X[:, 0], X[:, 1], s=18, facecolors="none", edgecolors=colours, linewidths=1.2)
    else:
        ax.scatter(X[:, 0], X[:, 1], s=16, c=colours, edgecolors="black", linewidths=0.4)


def _draw_regions(ax: Any, P: np.ndarray, extent: Any, data: tuple, title: str) -> Any:
    """The regions image with the training points (filled) and held-out points (hollow)."""
    X, y, val = data
    image = ax.imshow(_region_image(P), extent=extent, origin="upper", aspect="auto",
                      interpolation="nearest")  # fmt: skip
    _draw_points(ax, X, y, held_out=False)
    if val is not None:
        _draw_points(ax, val[0], val[1], held_out=True)
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    ax.set_title(title)
    return image


def _all_points(data: tuple) -> np.ndarray:
    X, _, val = data
    return np.concatenate([np.asarray(X)] + ([np.asarray(val[0])] if val is not None else []))


def training_png(
    history: Any, path: str | os.PathLike, *, model: Any, data: tuple, overwrite: bool = True
) -> Path:
    """``training_curves`` with the decision regions of a 2-input classifier beside them.

    ``data``: (X (n, 2), y, (X_val, y_val) or None): drawn over the regions, training points
    filled and held-out points hollow. The regions come from ``nnlite.regions.region_grid``
    (the model's own forward kernels) on a 200 × 200 grid. Written as ``training_curves``.
    """
    from nnlite.regions import region_grid

    require("plotting training curves")
    path = _png_path(path)
    panels = _curve_panels(history)
    if not panels[0][1]:
        raise ConfigError("the training history has no epochs to plot")
    grid = region_grid(model, _all_points(data), 200, 200)
    fig, axes = _figure(len(panels) + 1, 5.0 * len(panels) + 4.5)
    _draw_curves(axes[:-1], panels)
    _draw_regions(axes[-1], grid.probabilities, grid.extent, data, "decision regions")
    return _save(fig, path, overwrite)


def regions_gif(
    recorder: Any, X: Any, y: Any, val: Any, path: str | os.PathLike, *, overwrite: bool = True,
    ms_per_frame: int = 120,
) -> Path:  # fmt: skip
    """Write the decision regions over training (a ``nnlite.regions.Recorder``'s frames) as a GIF.

    One image per recorded frame, titled with its epoch; the last frame is held three
    times as long. Written atomically (``files.atomic_write``), like the PNGs: a failure
    leaves no partial file and an existing one untouched.
    """
    require("writing a GIF")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from PIL import Image

    path = Path(path)
    if path.suffix.lower() != ".gif":
        raise ConfigError(
            f"{str(path)!r}: animations are written as GIF; give a path ending in .gif"
        )
    if not recorder.frames:
        raise ConfigError("no frames were recorded: the run trained no epoch")
    fig = Figure(figsize=(4.2, 4.2), dpi=80, layout="constrained")
    canvas = FigureCanvasAgg(fig)
    ax = fig.subplots()
    first_epoch, first = recorder.frames[0]
    image = _draw_regions(ax, first, recorder.extent, (X, y, val), "")
    pictures = []
    for epoch, P in recorder.frames:
        image.set_data(_region_image(P))
        ax.set_title(f"decision regions · epoch {epoch}")
        canvas.draw()
        rgb = np.asarray(canvas.buffer_rgba())[..., :3]
        pictures.append(Image.fromarray(rgb).quantize(colors=128))
    durations = [ms_per_frame] * (len(pictures) - 1) + [ms_per_frame * 3]
    with files.atomic_write(path, "wb", overwrite=overwrite) as handle:
        pictures[0].save(handle, format="GIF", save_all=True, append_images=pictures[1:],
                         duration=durations, loop=0)  # fmt: skip
    return path
