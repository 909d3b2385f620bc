"""Data sets for the lessons: gates, 2-D toy sets, shipped digits, (Fashion-)MNIST, user files.

A package with one module per source of data; this file only gathers their public names, so
``from nnlite import datasets; datasets.load("xor")`` reads as it always has.

    base      the ``Dataset`` record, the size limits, checks every source shares
    toy       logic gates and the generators (moons, circles, spirals, blobs)
    shipped   the 8x8 digits shipped in the repository's ``data/`` (``nnlite.data``)
    idx       the IDX reader, MNIST and Fashion-MNIST, and the rule ``idx_status``
    download  fetching MNIST and Fashion-MNIST: mirrors, pinned checksums, ``.part`` files
    csv       numeric CSV files
    npz       ``.npz`` archives (through ``nnlite.npzfile``, the strict reader)
    targets   what a target column means: labels 0..k-1, one-hot rows, or regression
    catalog   ``load`` and ``list_datasets``: every data set by name, the single entry point
    prepare   ``train_test_split`` and ``one_hot``

Contract: every loader returns ``X`` as C-contiguous float32 ``(n, d)`` with finite values;
class labels are int64 ``0..n_classes-1`` (never remapped: a file with other labels is an
error); regression targets are float32. Every problem with a file or its contents raises
``errors.DataError`` with a one-line message that names the file; a bad option raises
``errors.ConfigError`` that lists the valid choices. The readers treat every file as hostile:
whatever its bytes, they return a valid result or raise ``DataError``, and the memory they use
follows what the file really holds, never what a header claims.

Imports: numpy and the standard library, ``nnlite.errors``, ``nnlite.config`` (the only reader
of environment variables), ``nnlite.files`` (``open_regular``) and ``nnlite.npzfile`` (the
strict ``.npz`` reader, which stays in ``nnlite/`` because model files, ``nnlite.io``, use it
too). Never numba, typer or rich; never prints (a usable file that is not the published one is
reported with ``warnings.warn``). ``download`` alone needs no numpy, but importing it through
this package imports the package, and so numpy.

Omits: augmentation, and feature scaling of user files: CSV and ``.npz`` features are returned
as stored.
"""

from __future__ import annotations

# Names in ``__all__`` are imported plainly; the other public names (limits, tables and
# ``idx_status``, public before the split but never in ``__all__``) as ``name as name``.
from nnlite.datasets.base import MAX_ARRAY_BYTES as MAX_ARRAY_BYTES
from nnlite.datasets.base import MAX_GENERATED as MAX_GENERATED
from nnlite.datasets.base import Dataset
from nnlite.datasets.catalog import NAMES, list_datasets, load
from nnlite.datasets.csv import CSV_MAX_LINE as CSV_MAX_LINE
from nnlite.datasets.csv import load_csv
from nnlite.datasets.idx import FASHION_MNIST_CLASSES as FASHION_MNIST_CLASSES
from nnlite.datasets.idx import MNIST_FILES as MNIST_FILES
from nnlite.datasets.idx import idx_status as idx_status
from nnlite.datasets.idx import load_fashion_mnist, load_mnist, read_idx
from nnlite.datasets.npz import NPZ_NAMES as NPZ_NAMES
from nnlite.datasets.npz import load_npz
from nnlite.datasets.prepare import one_hot, train_test_split
from nnlite.datasets.shipped import DIGITS_FILE as DIGITS_FILE
from nnlite.datasets.shipped import load_digits
from nnlite.datasets.targets import TASKS as TASKS
from nnlite.datasets.toy import GATES as GATES
from nnlite.datasets.toy import GENERATORS as GENERATORS
from nnlite.datasets.toy import gate, make_blobs, make_circles, make_moons, make_spirals

__all__ = [
    "NAMES",
    "Dataset",
    "gate",
    "list_datasets",
    "load",
    "load_csv",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_npz",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "one_hot",
    "read_idx",
    "train_test_split",
]
