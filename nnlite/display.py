"""How nnlite's objects show themselves: in a notebook, in IPython, and with ``rich.print``.

Owns: ``Displayable``, the mixin the objects a learner holds inherit (a fit's
``History``, a ``Summary``, a ``Trace`` and its steps, trace events, lessons' results,
``nnlite.show``'s pictures). Each names its view in ``view_kind``; the view itself — the
HTML, the one line of text, the terminal renderables — is ``nnlite.ui.notebook``'s,
imported only when the object is shown, so the core imports neither rich nor IPython.

- Jupyter calls ``_repr_html_`` (IPython's display protocol);
- IPython's text/plain calls ``_repr_pretty_``: one line, not a dataclass's full repr;
- ``rich.print(obj)`` (and a rich console in a terminal) calls ``__rich_console__``.
"""

from __future__ import annotations

from typing import Any, ClassVar


class Displayable:
    """Mixin: show the object through its view in ``nnlite.ui.notebook.VIEWS``."""

    view_kind: ClassVar[str] = ""

    def _nnlite_view(self) -> Any:
        from nnlite.ui.notebook import view

        return view(self)

    def _repr_html_(self) -> str:
        return self._nnlite_view().html()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(self._nnlite_view().line())

    def __rich_console__(self, console: Any, options: Any) -> Any:
        yield from self._nnlite_view().terminal(options.max_width)
