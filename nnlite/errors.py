"""The one error family of nnlite.

Owns: ``NnliteError`` and its subclasses, and ``LearnerWarning``. Every user mistake the library can
detect (bad option, bad file, bad data, diverging training) raises one of
these with a one-line message; ``cli.py`` turns them into a red line on stderr
and a non-zero exit code. Imports nothing.
"""

from __future__ import annotations


class NnliteError(Exception):
    """Base class: a problem the user can fix, described in one line."""


class ConfigError(NnliteError, ValueError):
    """An option or hyper-parameter has an invalid value."""


class DataError(NnliteError, ValueError):
    """A data set or data file is missing, malformed or inconsistent."""


class ModelFileError(NnliteError, ValueError):
    """A saved model file is missing, truncated or not an nnlite model."""


class DivergenceError(NnliteError, ArithmeticError):
    """Training produced a non-finite loss (usually: learning rate too large)."""

    def __init__(self, message: str, *, epoch: int, batch: int, layer: int | None):
        super().__init__(message)
        self.epoch = epoch
        self.batch = batch
        self.layer = layer


class DeviceError(NnliteError, RuntimeError):
    """The requested compute device is not usable here."""


class LearnerWarning(UserWarning):
    """A run that will likely teach nothing, or did not: raw pixels, chance level, dead ReLUs.

    ``Sequential.fit`` warns with this category (the texts come from ``nnlite.diagnose``);
    ``warnings.simplefilter("ignore", LearnerWarning)`` silences them.
    """
