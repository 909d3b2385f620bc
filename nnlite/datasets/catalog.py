"""Every built-in data set by name: ``load`` (the single entry point) and ``list_datasets``.

Owns: ``NAMES`` (gates, generators, digits, the IDX sets, in listing order), the listing
catalogue (kind, size, one-line description), and the dispatch from a name or a file path to
its source module, refusing options that do not apply to it.

Imports: ``nnlite.errors`` and this package's source modules (``toy``, ``shipped``, ``idx``,
``csv``, ``npz``). No numpy of its own.

Omits: reading anything itself.
"""

from __future__ import annotations

from pathlib import Path

from nnlite import errors
from nnlite.datasets.base import Dataset
from nnlite.datasets.csv import load_csv
from nnlite.datasets.idx import IDX_SETS, idx_available, load_idx_set
from nnlite.datasets.npz import load_npz
from nnlite.datasets.shipped import digits_available, load_digits
from nnlite.datasets.toy import GATE_NOTES, GATES, GENERATORS, gate

NAMES = (*GATES, *GENERATORS, "digits", *IDX_SETS)

# name: (kind, samples, features, classes, description) for list_datasets; samples are
# the generators' defaults and MNIST's training split.
_CATALOG = {
    **{g: ("gate", 4, 2, 2, f"{g.upper()} gate truth table, {GATE_NOTES[g]}") for g in GATES},
    "moons": ("generated", 200, 2, 2, "two interleaving half circles"),
    "circles": ("generated", 200, 2, 2, "a small circle inside a large one"),
    "spirals": ("generated", 300, 2, 3, "three interleaved spiral arms (CS231n)"),
    "blobs": ("generated", 300, 2, 3, "three Gaussian clusters"),
    "digits": ("shipped", 1797, 64, 10, "UCI optical handwritten digits, 8x8 pixels"),
    "mnist": (
        "external",
        60000,
        784,
        10,
        "MNIST handwritten digits, 28x28 pixels, plus 10,000 test images",
    ),
    "fashion-mnist": (
        "external",
        60000,
        784,
        10,
        "Fashion-MNIST clothing images, 28x28 pixels, plus 10,000 test images",
    ),
}


def load(
    name: str,
    *,
    data_dir: str | Path | None = None,
    n_samples: int | None = None,
    noise: float | None = None,
    seed: int = 0,
    target: str | int | None = None,
) -> Dataset:
    """Any data set by name or file path: the single entry point.

    Parameters
    ----------
    name : str
        A built-in name (see ``NAMES``: and, or, nand, xor, moons, circles, spirals, blobs,
        digits, mnist, fashion-mnist; case-insensitive), or a path to a ``.csv`` or ``.npz``
        file.
    data_dir : str or Path, optional
        Where MNIST or Fashion-MNIST lives (see ``load_mnist``); ignored by the others.
    n_samples, noise : optional
        Generator settings; None keeps the generator's default. Giving either for a data
        set that is not generated raises ``ConfigError`` rather than being ignored.
    seed : int
        Seed of the generators; the other data sets are fixed and ignore it.
    target : str or int, optional
        Target column of a ``.csv`` file (see ``load_csv``); an error for anything else.

    Raises
    ------
    errors.ConfigError
        Unknown name (the message lists the valid ones) or an option that does not apply.
    errors.DataError
        From the loader.
    """
    key = name.strip().lower()
    if key in GENERATORS:
        if target is not None:
            raise errors.ConfigError(f"target applies only to .csv files, not to {key!r}")
        kwargs = {"seed": seed}
        if n_samples is not None:
            kwargs["n_samples"] = n_samples
        if noise is not None:
            if key == "blobs":
                kwargs["std"] = noise  # a blob's spread is its noise
            else:
                kwargs["noise"] = noise
        return GENERATORS[key](**kwargs)
    if n_samples is not None or noise is not None:
        raise errors.ConfigError(
            f"n_samples and noise apply only to the generated data sets "
            f"({', '.join(GENERATORS)}), not to {name!r}"
        )
    if target is not None and not key.endswith(".csv"):
        raise errors.ConfigError(f"target applies only to .csv files, not to {name!r}")
    if key in GATES:
        return gate(key)
    if key == "digits":
        return load_digits()
    if key in IDX_SETS:
        return load_idx_set(key, data_dir)
    if key.endswith(".csv"):
        return load_csv(name, target=-1 if target is None else target)
    if key.endswith(".npz"):
        return load_npz(name)
    if Path(name).is_file():
        raise errors.ConfigError(f"{name}: unsupported file type; nnlite reads .csv and .npz files")
    raise errors.ConfigError(
        f"unknown data set {name!r}; valid names: {', '.join(NAMES)}, "
        "or a path to a .csv or .npz file"
    )


def list_datasets(data_dir: str | Path | None = None) -> list[dict]:
    """One dict per built-in data set, without loading any of them.

    Parameters
    ----------
    data_dir : str or Path, optional
        Where to look for MNIST and Fashion-MNIST (default: the data home, ``$NNLITE_DATA``
        or the per-user cache). Their ``available`` is decided by ``idx_status``, the rule
        ``load`` applies: true exactly when ``load`` would load them (the published files
        are only checksummed; other files are read through, without keeping their data).

    Returns
    -------
    list of dict
        Keys ``name``, ``kind`` ("gate", "generated", "shipped" or "external": files you
        download or provide), ``samples`` (training examples; the default for generators),
        ``features``, ``classes``,
        ``description`` and ``available`` (bool), in the order of ``NAMES``.
    """
    out = []
    for name in NAMES:
        kind, samples, features, classes, text = _CATALOG[name]
        if name == "digits":
            available = digits_available()
        elif name in IDX_SETS:
            available = idx_available(name, data_dir)
        else:
            available = True
        out.append(
            {
                "name": name,
                "kind": kind,
                "samples": samples,
                "features": features,
                "classes": classes,
                "description": text,
                "available": available,
            }
        )
    return out
