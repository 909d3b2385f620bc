"""Numeric CSV files: ``load_csv``.

Owns: the streaming CSV reader (a batch of rows at a time into preallocated float32
features, ``CSV_MAX_LINE`` per line), the header rule (a first row with any non-number is a
header), the target column (an index, a header name, or the text of an index) and the
messages that name the first bad line and column.

Imports: numpy, the standard library (``csv`` here is Python's: this module's own name
does not shadow it, imports being absolute), ``nnlite.errors``, ``nnlite.files``
(``open_regular``), ``base`` and ``targets``.

Omits: other separators or quoting dialects than the ``csv`` module's default, missing
values, feature scaling (features are returned as stored).
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np

from nnlite import errors
from nnlite.datasets.base import Dataset, cannot_open
from nnlite.datasets.targets import as_target, check_task, first_true
from nnlite.files import open_regular


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _target_column(target: str | int, header: list[str] | None, ncol: int, path: Path) -> int:
    if isinstance(target, str):
        if header is not None and target in header:
            return header.index(target)
        try:
            # The CLI passes every option as text: "-1" or "3" mean a column index.
            target = int(target)
        except ValueError:
            columns = f"columns: {', '.join(header)}" if header else "the file has no header row"
            raise errors.ConfigError(
                f"{path}: no target column named {target!r}; {columns}"
            ) from None
    if isinstance(target, bool) or not isinstance(target, (int, np.integer)):
        raise errors.ConfigError(f"target must be a column name or index, got {target!r}")
    if not -ncol <= target < ncol:
        raise errors.ConfigError(
            f"{path}: target column {target} out of range for {ncol} columns "
            f"(use 0..{ncol - 1} or -{ncol}..-1)"
        )
    return int(target) % ncol


# The longest line a CSV may have (a row of 1 million short fields); a longer one is refused
# rather than held whole, with one Python object per field.
CSV_MAX_LINE = 1 << 22
# Rows are converted to numbers in batches of about this many fields: the ``csv`` module's
# lists of strings cost ~70 bytes a field, so only one batch of them exists at a time.
_CSV_BATCH_FIELDS = 1 << 16


def _csv_lines(text, path: Path):
    """The lines of a text stream (universal newlines), each at most ``CSV_MAX_LINE`` long."""
    number = 0
    while True:
        line = text.readline(CSV_MAX_LINE + 1)
        if not line:
            return
        number += 1
        if len(line) > CSV_MAX_LINE:
            raise errors.DataError(
                f"{path}: line {number} is longer than {CSV_MAX_LINE:,} characters"
            )
        yield line


class _CsvTable:
    """Rows of numbers as they are parsed: float32 features and a float64 target column.

    The buffers are allocated once, for the most rows the file's size allows (each row
    needs at least ``2 * ncol - 1`` bytes); ``np.empty`` only reserves that memory, and the
    pages are taken as rows are written. ``finish`` gives the unused rows back. Row ``i``'s
    line number is kept only where it is not the line after row ``i - 1``'s.
    """

    def __init__(self, path: Path, ncol: int, tcol: int, size: int, column) -> None:
        self.path, self.tcol, self.column = path, tcol, column
        self.features = [j for j in range(ncol) if j != tcol]
        rows = max(1, size // (2 * ncol - 1) + 1)
        # Past 2 GiB, start smaller and grow (a copy) rather than reserve a huge range.
        self.capacity = min(rows, max(1, (1 << 31) // (4 * ncol)))
        try:
            self.X = np.empty((self.capacity, ncol - 1), np.float32)
            self.t = np.empty(self.capacity, np.float64)
        except MemoryError:
            raise errors.DataError(f"{path}: too large to load into memory") from None
        self.n = 0
        self.jumps: list[tuple[int, int]] = []  # (row, line) where lines are not consecutive
        self.last_line = 0

    def line(self, i: int) -> int:
        """The line number of data row ``i``."""
        row, line = 0, 1  # without jumps, row i is on line i + 1
        for r, ln in self.jumps:
            if r > i:
                break
            row, line = r, ln
        return line + (i - row)

    def add(self, lines: list[int], rows: list[list[str]]) -> None:
        try:
            A = np.array(rows, dtype=np.float64)
        except ValueError as exc:
            # Slow path only to name the culprit; numpy's message does not say where it is.
            for line, row in zip(lines, rows, strict=True):
                for j, field in enumerate(row):
                    if not _is_number(field):
                        raise errors.DataError(
                            f"{self.path}: line {line}, {self.column(j)}: {field!r} is not a number"
                        ) from None
            # Python's float() and numpy disagree on some spelling: still the file's problem.
            raise errors.DataError(f"{self.path}: not all fields are numbers ({exc})") from None
        b = len(rows)
        if self.n + b > self.capacity:
            self._grow(self.n + b)
        X = self.X[self.n : self.n + b]
        with np.errstate(over="ignore"):
            if self.tcol == len(self.features):
                X[...] = A[:, :-1]
            else:
                X[...] = A[:, self.features]
        # Checked after the cast so that 1e39 (finite in float64, inf in float32) is caught too.
        bad = ~np.isfinite(X)
        if bad.any():
            i, j = first_true(bad)
            raise errors.DataError(
                f"{self.path}: line {lines[i]}, {self.column(self.features[j])}: "
                f"{A[i, self.features[j]]} is not a finite float32 feature"
            )
        self.t[self.n : self.n + b] = A[:, self.tcol]
        for k, line in enumerate(lines):
            if line != self.last_line + 1:
                self.jumps.append((self.n + k, line))
            self.last_line = line
        self.n += b

    def _grow(self, need: int) -> None:
        capacity = max(need, 2 * self.capacity)
        try:
            X = np.empty((capacity, self.X.shape[1]), np.float32)
            t = np.empty(capacity, np.float64)
        except MemoryError:
            raise errors.DataError(f"{self.path}: too large to load into memory") from None
        X[: self.n] = self.X[: self.n]
        t[: self.n] = self.t[: self.n]
        self.X, self.t, self.capacity = X, t, capacity

    def finish(self) -> tuple[np.ndarray, np.ndarray]:
        """(X, target) of exactly the rows read; the unused reservation is released."""
        X, t = self.X, self.t
        self.X = self.t = None
        # In place (realloc): no copy, and no other reference to these buffers exists.
        X.resize((self.n, X.shape[1]), refcheck=False)
        t.resize((self.n,), refcheck=False)
        return X, t


def load_csv(path: str | Path, *, target: str | int = -1, task: str = "auto") -> Dataset:
    """A numeric CSV file: one example per row, one column of it the target.

    Parameters
    ----------
    path : str or Path
        Comma-separated numbers, UTF-8 (a BOM is allowed). The first row is a header when
        any of its fields is not a number. Blank lines are skipped. A line may be at most
        ``CSV_MAX_LINE`` characters long.
    target : str or int
        The target column: an index (negative counts from the end; default the last
        column), a header name, or the text of an index such as ``"-1"``.
    task : {"auto", "classification", "regression"}
        ``"auto"``: a target of integers 0..k-1 (each present) is a class label; a target
        of mostly non-integers is a regression target. Labels are never remapped.

    Returns
    -------
    Dataset
        ``X`` float32 (n, columns - 1) as stored (not rescaled); ``y`` int64 labels or
        float32 values; ``name`` is the file's stem.

    Raises
    ------
    errors.DataError
        Missing, empty or not a regular file (a FIFO or a device such as ``/dev/zero`` is
        refused at once), ragged rows, a non-number, NaN or inf in a feature (naming the
        first bad line and column), or labels that are not integers 0..k-1 (naming the line).
    errors.ConfigError
        Unknown target column or task.

    The file is parsed in a stream, a batch of rows at a time, into float32 features: the
    peak memory is about the result's size plus one batch (1.05–1.5× the result, measured
    on 100 MB files), never one Python object per field of the file.
    """
    path = Path(path)
    check_task(task)
    try:
        handle = open_regular(path)
    except OSError as exc:
        raise cannot_open(path, exc) from None
    with handle:
        try:
            size = os.fstat(handle.fileno()).st_size
            text = io.TextIOWrapper(handle, encoding="utf-8-sig")
            header, table = _read_csv(text, path, target, size)
        except UnicodeDecodeError:
            raise errors.DataError(f"{path}: not a text (UTF-8) CSV file") from None
        except OSError as exc:
            raise errors.DataError(f"{path}: cannot read ({exc.strerror})") from None
    X, t = table.finish()
    y, n_classes = as_target(t, path, lambda i: f"line {table.line(i)}", task)
    kind = f"{n_classes} classes" if n_classes is not None else "regression"
    text = f"{path.name}: {len(y)} rows, {X.shape[1]} features, {kind}"
    return Dataset(path.stem, X, y, n_classes, text)


def _read_csv(text, path: Path, target: str | int, size: int):
    """(header or None, the filled ``_CsvTable``) of a CSV text stream."""
    reader = csv.reader(_csv_lines(text, path))
    header: list[str] | None = None
    ncol = 0
    first_line = 0
    table: _CsvTable | None = None
    lines: list[int] = []
    rows: list[list[str]] = []
    fields = 0

    def column(j: int) -> str:
        return f"column {j + 1}" + (f" ({header[j]!r})" if header is not None else "")

    try:
        for row in reader:
            row = [field.strip() for field in row]
            if not any(row):
                continue
            line = reader.line_num
            if not ncol:
                ncol, first_line = len(row), line
                if not all(_is_number(field) for field in row):
                    header = row
                    continue
            if len(row) != ncol:
                raise errors.DataError(
                    f"{path}: line {line} has {len(row)} columns, expected {ncol} like line "
                    f"{first_line}"
                )
            if table is None:
                if ncol < 2:
                    raise errors.DataError(
                        f"{path}: needs at least one feature column and a target column"
                    )
                tcol = _target_column(target, header, ncol, path)
                table = _CsvTable(path, ncol, tcol, size, column)
            lines.append(line)
            rows.append(row)
            fields += ncol
            if fields >= _CSV_BATCH_FIELDS:
                table.add(lines, rows)
                lines, rows, fields = [], [], 0
    except csv.Error as exc:
        raise errors.DataError(f"{path}: line {reader.line_num}: bad CSV ({exc})") from None
    if table is None:
        if header is not None:
            raise errors.DataError(f"{path}: a header row but no data rows")
        raise errors.DataError(f"{path}: empty file, no rows")
    if rows:
        table.add(lines, rows)
    return header, table
