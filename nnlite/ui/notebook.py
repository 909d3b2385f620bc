"""What a learner sees in a notebook: nnlite's objects as HTML, drawn with the terminal's views.

Owns: one ``View`` per kind of object a learner holds — a fit's ``History``, a model's
``Summary``, a ``Trace`` whole or one ``TraceStep`` of it, a trace event, a lesson's
result, a confusion matrix, digit pictures and decision regions — in the table ``VIEWS``
(kind → view), and ``view(obj)``, which finds an object's view by its ``view_kind``.
Each view gives:

- ``html()``: what Jupyter shows (``_repr_html_``): the same rich renderables the
  terminal shows, exported to HTML, plus what a page can show better than a terminal
  (curves as inline SVG, digits and decision regions as PNG pictures, a confusion matrix
  as an HTML table). The root is ``<div class="nnlite-view nnlite-KIND" data-kind="KIND">``.
- ``line()``: one line of plain text (``text/plain``, IPython's ``_repr_pretty_``);
- ``renderables(width)``: what ``rich.print(obj)`` draws in a terminal.

The helpers beside them: ``html_of`` (rich renderables → HTML, in the notebook's own text
colour: rich's "default" colour is left out rather than written as black, which a dark
theme would hide), ``png`` (a picture as PNG bytes, zlib and struct only: no imaging
library), ``data_uri`` and ``curves_svg`` (per-epoch curves as inline SVG).

Imports rich and nnlite's terminal views (``nnlite.ui.*``); the objects themselves reach
this module through ``nnlite.display.Displayable``, lazily, so the core never imports rich.
Omits: widgets (the "next step" is ``t.step()`` run again), and the live progress of
``fit``, which is ``nnlite.ui.fit_progress``'s.
"""

from __future__ import annotations

import base64
import html as _html
import io
import math
import re
import struct
import zlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.terminal_theme import TerminalTheme
from rich.text import Text

WIDTH = 100  # columns of a notebook's output area: what the terminal views are drawn for

# rich's export writes the "default" colours as the theme's; these two stand-ins are
# removed from the HTML afterwards, so that unstyled text takes the notebook's own colours.
_FG, _BG = (1, 2, 3), (3, 2, 1)
_THEME = TerminalTheme(
    _BG,
    _FG,
    [(0, 0, 0), (194, 54, 33), (37, 188, 36), (173, 173, 39), (73, 46, 225), (211, 56, 211),
     (51, 187, 200), (129, 131, 131)],
    [(89, 89, 89), (252, 57, 31), (49, 231, 34), (234, 236, 35), (88, 51, 255), (249, 53, 248),
     (20, 240, 240), (233, 235, 235)],
)  # fmt: skip
_PRE = (
    '<pre class="nnlite-rich" style="white-space: pre; overflow-x: auto; line-height: normal; '
    "font-family: Menlo, 'DejaVu Sans Mono', Consolas, 'Courier New', monospace; "
    'font-size: 12px; margin: 0 0 0.5em 0; background: none">{code}</pre>'
)


# ---------------------------------------------------------------------------
# Helpers: rich → HTML, PNG, SVG.
# ---------------------------------------------------------------------------


def record(*renderables: RenderableType, width: int = WIDTH) -> Console:
    """A console that drew ``renderables`` ``width`` columns wide and kept what it drew."""
    console = Console(
        record=True,
        width=width,
        file=io.StringIO(),
        force_terminal=True,
        force_jupyter=False,  # draw here, never as a display of its own
        color_system="truecolor",
        legacy_windows=False,
    )
    for part in renderables:
        console.print(part)
    return console


def html_of(*renderables: RenderableType, width: int = WIDTH) -> str:
    """``renderables`` as one ``<pre>`` of HTML with inline styles, in the notebook's colours."""
    out = record(*renderables, width=width).export_html(
        theme=_THEME, code_format=_PRE, inline_styles=True
    )
    return re.sub(r'<span style="([^"]*)">', _own_colours, out)


def _own_colours(match: re.Match) -> str:
    """One span's style without the stand-ins: the default colours are the notebook's, and
    "dim" (rich blends the foreground halfway to the background) is half opacity."""
    default, dim = {_hex(_FG), _hex(_BG)}, _hex(tuple((a + b) // 2 for a, b in zip(_FG, _BG)))
    kept = []
    for rule in match.group(1).split("; "):
        _, _, value = rule.partition(": ")
        if value in default:
            continue
        if value == dim:
            if rule.startswith("color"):
                kept.append("opacity: 0.6")
            continue
        kept.append(rule)
    return f'<span style="{"; ".join(kept)}">' if kept else "<span>"


def text_of(*renderables: RenderableType, width: int = WIDTH) -> str:
    """``renderables`` as plain text, ``width`` columns wide."""
    return record(*renderables, width=width).export_text(styles=False)


def _chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def png(pixels: Any) -> bytes:
    """A picture as PNG bytes: ``pixels`` uint8 of shape (h, w) (grey) or (h, w, 3) (RGB)."""
    a = np.ascontiguousarray(pixels, dtype=np.uint8)
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] != 3) or 0 in a.shape:
        raise ValueError(f"a PNG needs (h, w) or (h, w, 3) pixels, got shape {a.shape}")
    h, w = a.shape[:2]
    colour_type = 0 if a.ndim == 2 else 2
    raw = b"".join(b"\x00" + a[r].tobytes() for r in range(h))  # filter 0 on every row
    header = struct.pack(">IIBBBBB", w, h, 8, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def data_uri(data: bytes, mime: str = "image/png") -> str:
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def grey_pixels(image: Any, scale: int = 4) -> np.ndarray:
    """A digit (h, w) of values in [0, 1] as dark ink on white, each pixel ``scale``² big."""
    v = np.clip(np.nan_to_num(np.asarray(image, np.float64)), 0.0, 1.0)
    grey = np.round(255 * (1.0 - v)).astype(np.uint8)
    return np.kron(grey, np.ones((scale, scale), np.uint8))


_CURVE_COLOURS = {"loss": "#1f77b4", "val_loss": "#ff7f0e", "accuracy": "#2ca02c",
                  "val_accuracy": "#d62728"}  # fmt: skip


def curves_svg(
    series: dict[str, Sequence[float]], title: str, width: int = 360, height: int = 170
) -> str:
    """Curves per epoch as an inline SVG: one ``<polyline data-name=NAME>`` per series.

    x: the epoch (1 … n); y: from the smallest to the largest finite value of all the
    series, both written on the axis. Non-finite values (a diverged loss, a figure not
    measured) are left out of the line.
    """
    left, right, top, bottom = 58, 10, 22, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    finite = [v for vs in series.values() for v in vs if v is not None and math.isfinite(v)]
    n = max((len(vs) for vs in series.values()), default=0)
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5, hi + 0.5

    def xy(i: int, v: float) -> str:
        x = left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)
        y = top + plot_h * (hi - v) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="nnlite-curves" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" '
        'style="font: 11px sans-serif; fill: currentColor">',
        f'<text x="{left}" y="14" style="font-weight: bold">{_html.escape(title)}</text>',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
        'stroke="#999" stroke-width="0.5"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end">{_g(hi)}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">{_g(lo)}</text>',
        f'<text x="{left}" y="{height - 8}">1</text>',
        f'<text x="{left + plot_w}" y="{height - 8}" text-anchor="end">epoch {n}</text>',
    ]
    for k, (name, values) in enumerate(series.items()):
        colour = _CURVE_COLOURS.get(name, "#555")
        points = [xy(i, v) for i, v in enumerate(values) if v is not None and math.isfinite(v)]
        dash = ' stroke-dasharray="4 2"' if name.startswith("val_") else ""
        parts.append(
            f'<polyline class="curve" data-name="{_html.escape(name)}" fill="none" '
            f'stroke="{colour}" stroke-width="1.5"{dash} points="{" ".join(points)}"/>'
        )
        if len(points) == 1:
            x, y = points[0].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="2.5" fill="{colour}"/>')
        lx = left + 8 + 90 * k
        parts.append(
            f'<text x="{lx}" y="{top + plot_h + 14}" fill="{colour}">— {_html.escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _g(v: float) -> str:
    return f"{v:.4g}"


def _attrs(attrs: dict[str, Any]) -> str:
    return "".join(f' data-{k}="{_html.escape(str(v), quote=True)}"' for k, v in attrs.items())


# ---------------------------------------------------------------------------
# Views: one per kind of object.
# ---------------------------------------------------------------------------


class View:
    """How one object shows itself; ``kind`` names it in ``VIEWS`` and in the HTML."""

    kind: ClassVar[str] = "view"
    RICH_IN_PAGE: ClassVar[bool] = True  # the page shows the rich renderables too

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        """What the terminal draws for the object (and the rich part of the HTML)."""
        return []

    def extra_html(self) -> str:
        """What only a page shows (pictures, curves), before the rich part."""
        return ""

    def attrs(self) -> dict[str, Any]:
        return {}

    def terminal(self, width: int = WIDTH) -> list[RenderableType]:
        """What ``rich.print(obj)`` draws: the renderables, unless a view has more to say."""
        return self.renderables(width)

    def line(self) -> str:
        return f"<{type(self.obj).__name__}>"

    def html(self) -> str:
        parts = self.renderables(WIDTH) if self.RICH_IN_PAGE else []
        body = self.extra_html() + (html_of(*parts, width=WIDTH) if parts else "")
        return (
            f'<div class="nnlite-view nnlite-{self.kind}" data-kind="{self.kind}"'
            f"{_attrs(self.attrs())}>{body}</div>"
        )


class HistoryView(View):
    """A fit's figures per epoch: curves (loss, accuracy) and a table, one row per epoch."""

    kind = "history"
    RICH_IN_PAGE = False  # the page has its own table
    HEAD, TAIL = 5, 20  # a long fit's table: its first and last epochs

    def series(self) -> dict[str, list[float]]:
        history = self.obj.history  # nnlite's History.history and Keras's: name → list
        out = {k: [float(v) for v in vs] for k, vs in history.items() if len(vs)}
        if len(set(out.get("lr", []))) == 1:  # a constant α says nothing per epoch
            del out["lr"]
        return out

    def _epochs(self) -> list[int]:
        n = max((len(v) for v in self.series().values()), default=0)
        epochs = getattr(self.obj, "epoch", None)  # Keras's History numbers them
        if isinstance(epochs, list) and len(epochs) == n:
            return [int(e) + 1 for e in epochs]
        return list(range(1, n + 1))

    def _shown(self) -> list[int | None]:
        n = len(self._epochs())
        if n <= self.HEAD + self.TAIL + 5:
            return list(range(n))
        return [*range(self.HEAD), None, *range(n - self.TAIL, n)]

    def line(self) -> str:
        series = self.series()
        n = len(self._epochs())
        last = " - ".join(f"{k}: {vs[-1]:.4g}" for k, vs in series.items() if k != "lr")
        return f"History: {n} epoch{'s' * (n != 1)}" + (f", last {last}" if last else "")

    def extra_html(self) -> str:
        series = self.series()
        loss = {k: v for k, v in series.items() if k in ("loss", "val_loss")}
        acc = {k: v for k, v in series.items() if k in ("accuracy", "val_accuracy")}
        svgs = [curves_svg(s, title) for s, title in ((loss, "loss per epoch"),
                                                       (acc, "accuracy per epoch")) if s]  # fmt: skip
        epochs = self._epochs()
        head = "".join(f"<th>{_html.escape(k)}</th>" for k in series)
        rows = []
        for i in self._shown():
            if i is None:
                rows.append(f'<tr class="gap"><td colspan="{len(series) + 1}">…</td></tr>')
                continue
            cells = "".join(
                f"<td>{_g(vs[i]) if i < len(vs) else ''}</td>" for vs in series.values()
            )
            rows.append(f'<tr data-epoch="{epochs[i]}"><td>{epochs[i]}</td>{cells}</tr>')
        table = (
            '<table class="nnlite-epochs" style="font-size: 12px">'
            f"<thead><tr><th>epoch</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        return f'<div style="display: flex; flex-wrap: wrap; gap: 1em">{"".join(svgs)}</div>{table}'

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        series = self.series()
        table = Table(title=self.line(), title_justify="left")
        table.add_column("epoch", justify="right")
        for key in series:
            table.add_column(key, justify="right")
        epochs = self._epochs()
        for i in self._shown():
            if i is None:
                table.add_row("…", *["" for _ in series])
            else:
                table.add_row(str(epochs[i]), *[_g(vs[i]) if i < len(vs) else "" for vs in series.values()])  # fmt: skip
        return [table]

    def attrs(self) -> dict[str, Any]:
        return {"epochs": len(self._epochs())}


class SummaryView(View):
    """A network's layers: layer, W's shape and the parameters of each, then the total."""

    kind = "summary"

    def line(self) -> str:
        n = len(self.obj)
        return f"Summary: {n} layer{'s' * (n != 1)}, {self.obj.total:,} parameters"

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        table = Table(title="layers", title_justify="left")
        table.add_column("layer")
        table.add_column("W (in × out)", justify="right")
        table.add_column("parameters (W and b)", justify="right")
        for layer, shape, params in self.obj:
            table.add_row(layer, shape, f"{params:,}")
        table.add_section()
        table.add_row(Text("total", style="bold"), "", Text(f"{self.obj.total:,}", style="bold"))
        return [table]

    def attrs(self) -> dict[str, Any]:
        return {"total": self.obj.total}


def _trace_parts(events: Sequence[Any], header: Any, width: int) -> list[Any]:
    """The trace's panels for ``events``, as ``nnlite trace`` prints them (``TraceView``)."""
    from nnlite import events as tr
    from nnlite.ui import trace as trace_view

    collected = _Collector(width)
    view = trace_view.TraceView(collected)  # type: ignore[arg-type]
    if header is not None and (not events or events[0] is not header):
        if isinstance(header, tr.PerceptronTrace):
            view.perceptron = header
        else:
            view.header = header
    for event in events:
        view.show(event)
    view.finish()
    return collected.parts


class _Collector:
    """Stands in for the console a ``TraceView`` prints to: keeps what it is given."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.parts: list[Any] = []

    def print(self, *objects: Any, **_: Any) -> None:
        self.parts.extend(objects)


class TraceStepView(View):
    """One step of a trace (the header with the first): the panels ``nnlite trace`` prints."""

    kind = "trace-step"

    def line(self) -> str:
        s = self.obj
        if s.number is None:
            return "the trace has ended"
        return f"TraceStep {s.number}: {len(s.events)} events"

    def attrs(self) -> dict[str, Any]:
        return {"step": "end" if self.obj.number is None else self.obj.number}

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        s = self.obj
        if s.number is None:
            return [
                Text(
                    f"The trace has ended ({s.taken} {s.unit}{'s' * (s.taken != 1)}).", style="dim"
                )
            ]
        return _trace_parts(s.events, s.header, width)


class TraceView(View):
    """A whole trace: every step's panels, from the header on (the trace is run to its end)."""

    kind = "trace"

    def line(self) -> str:
        t = self.obj
        return f"Trace: {len(t.seen)} events so far" + (", ended" if t.ended else "")

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        return _trace_parts(self.obj.all(), None, width)

    def attrs(self) -> dict[str, Any]:
        return {"events": len(self.obj.all())}


class EventView(View):
    """One trace event: its kind, its scalars on one line, each array as a labelled matrix."""

    kind = "event"

    def line(self) -> str:
        return repr(self.obj)

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        from dataclasses import fields

        from nnlite.ui import trace as trace_view

        blocks = [
            trace_view.block(f.name, getattr(self.obj, f.name), 4)
            for f in fields(self.obj)
            if isinstance(getattr(self.obj, f.name), np.ndarray)
        ]
        title = Text(self.line(), style="bold")
        return [title, trace_view.equation(*blocks)] if blocks else [title]


class LessonView(View):
    """A lesson's result: the panels ``nnlite lesson NAME`` prints."""

    kind = "lesson"

    def line(self) -> str:
        from nnlite import lessons

        topic = self.obj.topic
        return f"Lesson {topic}: {lessons.TOPICS.get(topic, '')}"

    def attrs(self) -> dict[str, Any]:
        return {"topic": self.obj.topic}

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        from nnlite.ui import lesson as lesson_view

        if self.obj.topic == "gradient-check":
            return [lesson_view.gradcheck_table(self.obj)]
        return lesson_view.render(self.obj.topic, self.obj)


class ConfusionView(View):
    """A confusion matrix: an HTML table (rows: true class; columns: predicted), then the
    per-class precision and recall as ``nnlite evaluate`` prints them."""

    kind = "confusion"

    def _name(self, c: int) -> str:
        labels = self.obj.labels
        return str(labels[c]) if labels is not None else str(c)

    def line(self) -> str:
        cm = self.obj.cm
        total = int(cm.sum())
        right = int(np.trace(cm))
        return f"Confusion: {cm.shape[0]} classes, {right}/{total} right"

    def attrs(self) -> dict[str, Any]:
        return {"classes": self.obj.cm.shape[0], "samples": int(self.obj.cm.sum())}

    def extra_html(self) -> str:
        cm = self.obj.cm
        k = cm.shape[0]
        top = max(int(cm.max()), 1)
        head = "".join(f"<th>{_html.escape(self._name(p))}</th>" for p in range(k))
        rows = []
        for t in range(k):
            cells = []
            for p in range(k):
                v = int(cm[t, p])
                shade = 0.08 + 0.6 * v / top if v else 0.0
                colour = "44, 160, 44" if t == p else "214, 39, 40"
                style = (f' style="padding: 1px 6px; background: rgba({colour}, {shade:.2f})"'
                         if v else ' style="padding: 1px 6px; opacity: 0.4"')  # fmt: skip
                cells.append(f'<td data-true="{t}" data-pred="{p}"{style}>{v}</td>')
            rows.append(f"<tr><th>{_html.escape(self._name(t))}</th>{''.join(cells)}</tr>")
        return (
            f"<div><b>{_html.escape(self.line())}</b> (rows: true class; columns: predicted)</div>"
            '<table class="nnlite-confusion" style="font-size: 12px; text-align: right">'
            f"<thead><tr><th>true \\ predicted</th>{head}</tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
        )

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        from nnlite.ui import digits as digit_view

        return [digit_view.class_report_table(self.obj.cm, self.obj.labels)]

    def terminal(self, width: int = WIDTH) -> list[RenderableType]:
        from nnlite.ui import digits as digit_view

        labels = self.obj.labels
        return [digit_view.confusion_table(self.obj.cm, labels), *self.renderables(width)]


class DigitsView(View):
    """Digit pictures with the label, the prediction and the three likeliest classes."""

    kind = "digits"
    RICH_IN_PAGE = False  # pictures only: the terminal's block characters add nothing
    SIDE = 84  # a picture's longer side in screen pixels, about (28 × 3 for MNIST)

    def scale(self) -> int:
        """Screen pixels per image pixel: whole, at least 2."""
        return max(2, self.SIDE // max(self.obj.shape))

    def line(self) -> str:
        d = self.obj
        wrong = sum(1 for i in d.indices if d.y is not None and int(d.y[i]) != int(d.predicted[i]))
        tail = f", {wrong} wrong" if d.y is not None else ""
        return f"Digits: {len(d.indices)} shown{tail}"

    def attrs(self) -> dict[str, Any]:
        return {"shown": len(self.obj.indices)}

    def extra_html(self) -> str:
        from nnlite import metrics

        d = self.obj
        cards = []
        for i in d.indices:
            image = np.asarray(d.X[i], np.float64).reshape(d.shape)
            uri = data_uri(png(grey_pixels(_unit(image), self.scale())))
            pred = int(d.predicted[i])
            classes, values = metrics.top_k(d.probs[i][None, :], min(3, d.probs.shape[1]))
            bars = "".join(
                f'<div style="white-space: nowrap">{_html.escape(d.name(int(c)))} '
                f'<span style="display: inline-block; width: {60 * float(v):.0f}px; height: 8px; '
                f'background: #1f77b4"></span> {float(v):.1%}</div>'
                for c, v in zip(classes[0], values[0])
            )
            label = "" if d.y is None else int(d.y[i])
            mark = ""
            if d.y is not None:
                right = label == pred
                mark = f' <span style="color: {"#2ca02c" if right else "#d62728"}">{"✓" if right else "✗"}</span>'  # fmt: skip
            head = f"#{i}" + ("" if d.y is None else f" label {_html.escape(d.name(label))}")
            cards.append(
                f'<div class="nnlite-card" style="font-size: 12px; width: {max(110, d.shape[1] * self.scale())}px">'
                f"<div>{head}</div>"
                f'<img class="nnlite-digit" data-index="{i}" data-label="{label}" '
                f'data-pred="{pred}" alt="sample {i}, predicted {_html.escape(d.name(pred))}" '
                f'src="{uri}" style="image-rendering: pixelated"/>'
                f"<div>predicted <b>{_html.escape(d.name(pred))}</b>{mark}</div>{bars}</div>"
            )
        title = f"<div><b>{_html.escape(d.title)}</b></div>" if d.title else ""
        return (
            f'{title}<div style="display: flex; flex-wrap: wrap; gap: 12px">{"".join(cards)}</div>'
        )

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        from nnlite.ui import digits as digit_view

        d = self.obj
        y = None if d.y is None else np.asarray(d.y)
        cards = digit_view.digit_cards(d.X, d.shape, d.probs, d.indices, y, d.labels)
        return [digit_view.gallery(cards, d.title)]


def _unit(image: np.ndarray) -> np.ndarray:
    """Pixel values scaled to [0, 1] for the picture (0–255 data, or standardised data)."""
    lo, hi = float(np.nanmin(image)), float(np.nanmax(image))
    if lo >= 0.0 and hi <= 1.0:
        return image
    return (image - lo) / (hi - lo) if hi > lo else np.zeros_like(image)


DOT = 5  # a data point's radius on the regions picture, in pixels


class RegionsView(View):
    """The plane of a 2-input network's data, coloured by the class it predicts there."""

    kind = "regions"
    RICH_IN_PAGE = False  # the picture, not the terminal's half-blocks
    PIXELS = 240  # the picture's side
    COLS = 64  # the terminal picture's columns

    def line(self) -> str:
        r = self.obj
        return f"Regions: {len(r.X)} points, {r.classes} classes"

    def attrs(self) -> dict[str, Any]:
        return {"classes": self.obj.classes, "points": len(self.obj.X)}

    def extra_html(self) -> str:
        from nnlite import regions
        from nnlite.ui import regions as region_view

        r = self.obj
        side = self.PIXELS
        grid = regions.region_grid(r.model, r.X, side, side)
        cls, _, t = region_view._region_colours(grid)
        k = grid.probabilities.shape[2]
        # On a page: the class colour over white, 10 % where the classes are equally
        # likely, 70 % where one is certain (the terminal mixes over a dark grey instead).
        colours = np.array([region_view._colour(j) for j in range(k)], np.float64)
        share = (0.1 + 0.6 * t)[..., None]
        rgb = np.round(255 + share * (colours[cls] - 255)).astype(np.uint8)  # (side, side, 3)
        c, rr = region_view._cell_of(np.asarray(r.X, np.float64), grid.extent, side, side)
        y = np.asarray(r.y).astype(np.int64)
        dots = np.array([region_view._colour(int(j) % 10) for j in y], np.uint8)
        for dx in range(-DOT, DOT + 1):  # each point a disc in its class's colour, dark rim
            for dy in range(-DOT, DOT + 1):
                d2 = dx * dx + dy * dy
                if d2 > DOT * DOT:
                    continue
                cc, rrr = np.clip(c + dx, 0, side - 1), np.clip(rr + dy, 0, side - 1)
                rgb[rrr, cc] = (30, 30, 30) if d2 > (DOT - 1.5) ** 2 else dots
        uri = data_uri(png(rgb))
        lo1, hi1, lo2, hi2 = grid.extent
        names = [r.name(j) for j in range(max(k, 2) if k > 1 else 2)]
        legend = " · ".join(
            f'<span style="color: {_hex(region_view._colour(j))}">■ {_html.escape(n)}</span>'
            for j, n in enumerate(names)
        )
        return (
            f'<div style="font-size: 12px"><b>decision regions</b>: the predicted class over '
            f"the plane (paler: less sure), the data on top</div>"
            f'<img class="nnlite-regions" width="{side}" height="{side}" '
            f'alt="decision regions over x1 {lo1:.3g}…{hi1:.3g}, x2 {lo2:.3g}…{hi2:.3g}" '
            f'src="{uri}"/><div style="font-size: 12px">{legend}; x₁ {lo1:.3g} … {hi1:.3g} '
            f"(left → right), x₂ {lo2:.3g} … {hi2:.3g} (bottom → top)</div>"
        )

    def renderables(self, width: int = WIDTH) -> list[RenderableType]:
        from nnlite import regions
        from nnlite.ui import regions as region_view

        r = self.obj
        cols = max(8, min(self.COLS, width - 2))
        grid = regions.region_grid(r.model, r.X, cols, cols // 2 * 2)
        picture = region_view.regions_picture(grid, (r.X, r.y))
        return [Group(picture, region_view.legend(grid.probabilities.shape[2], False, r.labels))]


VIEWS: dict[str, type[View]] = {
    view.kind: view
    for view in (HistoryView, SummaryView, TraceView, TraceStepView, EventView, LessonView,
                 ConfusionView, DigitsView, RegionsView)
}  # fmt: skip


def view(obj: Any) -> View:
    """The view of ``obj``, found by its ``view_kind`` in ``VIEWS``."""
    return VIEWS[obj.view_kind](obj)
