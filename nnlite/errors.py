"""The one error family of nnlite.

Owns: ``NnliteError`` and its subclasses, and ``LearnerWarning``. Every user mistake the library can
detect (bad option, bad file, bad data, diverging training) raises one of
these with a one-line message; ``cli.py`` turns them into a red line on stderr
and a non-zero exit code.

A message about a parameter names it as the Python API does, quoted or with its value
(``'sample' must be 0..3``, ``loss='mse'``, ``lr=0.5``) and the error lists it in ``params``;
a front end whose user typed it otherwise (the CLI's ``--sample``, ``--loss mse``,
``--lr 0.5``) rewrites those names with ``spell_params``. Imports only the standard library.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable


class NnliteError(Exception):
    """Base class: a problem the user can fix, described in one line.

    ``param``: the parameter (or parameters) the message names, spelled as the Python API
    spells them; kept as the tuple ``params``.
    """

    def __init__(self, message: str = "", *, param: str | tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.params: tuple[str, ...] = (param,) if isinstance(param, str) else tuple(param)


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


# ``name='text'`` or ``name="text"`` (a str's repr), ``name=`` before any other value, or the
# quoted name ``'name'``; never inside a longer identifier, a flag or a dotted name.
_QUOTED = r"'(?:[^'\\]|\\.)*'" + "|" + r'"(?:[^"\\]|\\.)*"'


def spell_params(message: str, params: tuple[str, ...], spell: Callable[[str], str | None]) -> str:
    """``message`` with each parameter in ``params`` spelled as ``spell(name)`` says.

    ``name='text'`` becomes ``FLAG text`` (the repr's quotes and escapes undone, as the user
    typed it), ``name=value`` becomes ``FLAG value`` and the quoted name ``'name'`` becomes
    ``FLAG``; the bare word ``name`` is prose and stays. A name ``spell`` returns None for is
    left as it is.
    """
    for name in params:
        flag = spell(name)
        if flag is None:
            continue

        def spelled(match: re.Match, flag: str = flag) -> str:
            if match.group(1) is None:  # 'name'
                return flag
            value = match.group(1)
            if value[:1] in ("'", '"'):
                value = ast.literal_eval(value)
            return f"{flag} {value}"

        named = rf"(?<![\w.\-'\"]){re.escape(name)}=({_QUOTED}|)|'{re.escape(name)}'"
        message = re.sub(named, spelled, message)
    return message
