"""Charts of the answer objects, as PNG bytes for a Discord attachment.

Every chart is a pure function of one answer object. It uses matplotlib's object API with the
Agg canvas and never ``pyplot``: each call builds its own ``Figure``, sets every style on its own
artists instead of in ``rcParams``, and encodes its own pixels (``_encode_png``), so renders
share no global state and may run in worker threads (matplotlib docs, "Embed in a web
application server").

Figures are 8 × 4.67 in at 150 dpi: 1200 × 700 px, the width Discord scales an embed image
down from, with text sized to stay legible once scaled. Colours are from the Okabe–Ito palette
(Okabe & Ito 2008, "Color Universal Design"), readable by the common forms of colour blindness,
on a white figure so the chart reads the same on Discord's dark and light themes.

Names and labels come from upstream data, so every text is cleaned first: control and
formatting characters (zero-width spaces, bidi overrides, newlines) are dropped, characters
the font cannot draw become "?", ``$`` cannot start mathtext, and long names are cut with "…".
An input with nothing to plot gives a "no data" chart rather than an error.
"""

from __future__ import annotations

import functools
import math
import re
import struct
import unicodedata
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any, ParamSpec

from frontier.collector import collector_paused
from frontier.fits import FitRanking, RankedFit
from frontier.gap import GapReport
from frontier.lag import CatchUp, LagReport, OpenLag
from frontier.types import Citation, Score

P = ParamSpec("P")

if TYPE_CHECKING:
    from matplotlib import dates as mdates
    from matplotlib import font_manager, ft2font
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.path import Path
    from matplotlib.text import Annotation, Text
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import Bbox, ScaledTranslation


def _collector_paused(render: Callable[P, bytes]) -> Callable[P, bytes]:
    """Render with the cyclic garbage collector paused: a figure is thousands of objects that
    live until the PNG is written, and a full collection in the middle cost a chart 50-100 ms
    (its p95 over 300 ms); the cycles it leaves are collected just after."""

    @functools.wraps(render)
    def paused(*args: P.args, **kwargs: P.kwargs) -> bytes:
        with collector_paused():
            return render(*args, **kwargs)

    return paused


@cache
def _matplotlib() -> None:
    """Import matplotlib on the first chart rather than with the module.

    matplotlib (with numpy) costs about 45 MB of memory and 0.5 s of import, which a process
    that never draws a chart (the poller, a bot that has not been asked for one yet) should
    not pay. Only the Agg canvas and the object API are imported, never ``pyplot``. Every
    entry point of this module calls this first; the helpers then find the names as globals.
    """
    global mdates, font_manager, ft2font, Artist, Axes, RendererBase, FigureCanvasAgg, Figure
    global Line2D, Patch, Rectangle, Path, Annotation, Text, MaxNLocator, Bbox, ScaledTranslation
    from matplotlib import dates as mdates
    from matplotlib import font_manager, ft2font
    from matplotlib.artist import Artist
    from matplotlib.axes import Axes
    from matplotlib.backend_bases import RendererBase
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Rectangle
    from matplotlib.path import Path
    from matplotlib.text import Annotation, Text
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import Bbox, ScaledTranslation


FIGSIZE = (8.0, 14 / 3)  # inches: 1200 × 700 px at DPI
DPI = 150

# Okabe–Ito palette (Okabe & Ito 2008): distinguishable under protanopia, deuteranopia and
# tritanopia, and dark enough to read on white.
PROPRIETARY_COLOR = "#D55E00"  # vermillion
OPEN_COLOR = "#0072B2"  # blue
BAND_COLOR = "#009E73"  # bluish green
KV_COLOR = "#E69F00"  # orange
OVERHEAD_COLOR = "#999999"  # grey
INK = "#222222"
MUTED = "#666666"
GRID = "#E4E4E4"
BACKGROUND = "white"

TITLE_SIZE = 14
SUBTITLE_SIZE = 9.5
AXIS_SIZE = 9
TICK_SIZE = 9
LABEL_SIZE = 8.5
FOOTER_SIZE = 7.5

NAME_LIMIT = 24
"""Longest model name drawn next to a point, in characters; longer names end in "…"."""

MIN_DAYS = 180
"""Fewest days a dated axis spans, so a single date gets monthly ticks, not daily ones."""

MIN_SCORE_SPAN = 10.0
"""Fewest score points the frontier panel spans, so one point is not blown up to fill it."""

MAX_LAG_ROWS = 20
"""Most proprietary records a lag chart shows (the newest), for the same reason."""

MAX_FIT_ROWS = 20
"""Most models a fits chart shows: more bars than this would be unreadable at Discord size."""

_FONT_FAMILY = "DejaVu Sans"  # bundled with matplotlib, so every install draws the same glyphs


@dataclass(frozen=True)
class _Label:
    """A text to place next to a data point, on its preferred side (+1 above, −1 below)."""

    x: float
    y: float
    text: str
    color: str
    side: int
    headline: bool = False  # a side's current best: always labelled, even in a crowd


# Offsets in points (dx, dy, horizontal alignment). A rising step line leaves its point's
# upper left and lower right empty, so those come first. A label tries the near tier on its
# own side, then on the other side, then the far tier (joined to its point by a leader line);
# so labels of close changes alternate between sides and tiers instead of piling up.
_TIERS = (6, 17)
_HEADLINE_TIERS = (*_TIERS, 28, 39)  # a headline may go further before it must overlap
_OUTSIDE_COST = 100  # a label that leaves the axes
_OVERLAP_COST = 10  # per label or marker it covers; a line crossed costs 1
_UP = ((-5, "right"), (0, "center"), (5, "left"))
_RELPOS = {"left": 0.0, "center": 0.5, "right": 1.0}  # where a leader line leaves the text
_DOWN = ((5, "left"), (0, "center"), (-5, "right"))


def _candidates(side: int, tiers: Sequence[int]) -> tuple[tuple[float, float, str], ...]:
    """Offsets to try for a label whose preferred side is ``side`` (+1 above, −1 below)."""
    up = tuple((dx, 1, ha) for dx, ha in _UP)
    down = tuple((dx, -1, ha) for dx, ha in _DOWN)
    order = (up, down) if side > 0 else (down, up)
    return tuple(
        (dx, sign * tier, ha) for tier in tiers for group in order for dx, sign, ha in group
    )


# --- text -----------------------------------------------------------------------------------


@cache
def _drawable() -> frozenset[int]:
    """Code points the chart font has glyphs for (missing ones would warn at draw time)."""
    _matplotlib()
    path = font_manager.findfont(font_manager.FontProperties(family=_FONT_FAMILY))
    return frozenset(ft2font.FT2Font(path).get_charmap())


def clean_text(text: str, limit: int = NAME_LIMIT) -> str:
    """Make untrusted text safe and short enough to draw.

    Args:
        text: A name or label from upstream data.
        limit: Most characters to keep; a longer text is cut and ends in "…".

    Returns:
        The text without control or formatting characters, with glyphs the font lacks shown
        as "?", runs of whitespace collapsed, and ``$`` escaped so it is never mathtext.
    """
    drawable = _drawable()
    kept = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category.startswith("Z") or char in "\t\n\r":
            kept.append(" ")
        elif not category.startswith("C"):
            kept.append(char if ord(char) in drawable else "?")
    short = " ".join("".join(kept).split())
    if len(short) > limit:
        short = short[: limit - 1].rstrip() + "…"
    return short.replace("$", r"\$") or "?"


def _signed(value: float) -> str:
    """``+2.1`` or ``−2.1`` (a true minus sign), one decimal."""
    return f"{value:+.1f}".replace("-", "−")


def _score_text(score: Score) -> str:
    approx = "~" if score.approximate else ""
    return f"{clean_text(score.model_name)} {approx}{score.value:g}"


def _short_label(citation: Citation) -> str:
    """A source's name without its details: the label up to its first ", " or " (".

    Labels read like "Market Accurate report, 2026-01-03 (v0.1), The Frontier Gap › MMLU";
    the footer needs only "Market Accurate report".
    """
    head = re.split(r", | \(", citation.label, maxsplit=1)[0]
    return clean_text(head if len(head) >= 3 else citation.label, 32)


def _sources(citations: Iterable[Citation], limit: int = 4) -> str:
    """The distinct sources (by key), by short label, in order of first appearance."""
    labels: dict[str, str] = {}
    for citation in citations:
        labels.setdefault(citation.source, _short_label(citation))
    shown = list(labels.values())[:limit]
    more = len(labels) - len(shown)
    return ", ".join(shown) + (f" +{more} more" if more else "")


# --- figure scaffolding ---------------------------------------------------------------------


def _figure() -> Figure:
    figure = Figure(figsize=FIGSIZE, dpi=DPI, facecolor=BACKGROUND)
    FigureCanvasAgg(figure)
    return figure


def _png(figure: Figure) -> bytes:
    """Draw ``figure`` once and encode its pixels as a PNG (see ``_encode_png``)."""
    canvas = figure.canvas
    canvas.draw()  # type: ignore[attr-defined]
    return _encode_png(canvas.buffer_rgba(), DPI)  # type: ignore[attr-defined]


PNG_LEVEL = 3
"""zlib level of the chart PNGs: 1-3 are equally fast and 3 the smallest of them."""


def _encode_png(rgba: Any, dpi: float) -> bytes:
    """An 8-bit RGBA PNG of the (height, width, 4) pixels ``rgba``, rows unfiltered.

    ``savefig`` goes through Pillow, whose PNG encoder picks a filter for every row (adaptive
    filtering) and compresses at zlib level 6: 30 ms of a 250 ms chart. Flat chart colours and
    anti-aliased text compress as well or better unfiltered, and level 3 is twice as fast as 6,
    so this writes the same pixels in about 8 ms, in a smaller file (PNG spec, 3rd edition:
    signature, IHDR, pHYs for the dpi as ``savefig`` writes it, IDAT, IEND).
    """
    import numpy as np

    pixels = np.asarray(rgba)
    height, width, _ = pixels.shape
    rows = np.empty((height, 1 + 4 * width), dtype=np.uint8)
    rows[:, 0] = 0  # filter type None
    rows[:, 1:] = pixels.reshape(height, 4 * width)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(data, zlib.crc32(kind))
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    per_metre = round(dpi / 0.0254)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)),
            chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)),
            chunk(b"IDAT", zlib.compress(rows, PNG_LEVEL)),
            chunk(b"IEND", b""),
        )
    )


def _header(figure: Figure, title: str, subtitle: str) -> None:
    figure.text(0.015, 0.965, title, size=TITLE_SIZE, weight="bold", color=INK, va="top")
    figure.text(0.015, 0.905, subtitle, size=SUBTITLE_SIZE, color=MUTED, va="top")


FOOTER_CHARS = 118
"""Longest footer text that leaves room for the "gapwatch" mark at 1200 px (measured)."""


def _footer(figure: Figure, left: str) -> None:
    if len(left) > FOOTER_CHARS:
        left = left[: FOOTER_CHARS - 1].rstrip() + "…"
    figure.text(0.015, 0.018, left, size=FOOTER_SIZE, color=MUTED, va="bottom")
    figure.text(0.985, 0.018, "gapwatch", size=FOOTER_SIZE, color=MUTED, va="bottom", ha="right")


def _style_axes(ax: Axes) -> None:
    ax.set_facecolor(BACKGROUND)
    ax.grid(True, color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=TICK_SIZE, colors=INK, length=3)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#AAAAAA")


def _date_axis(ax: Axes) -> None:
    locator = mdates.AutoDateLocator(minticks=4, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    # Every tick names its year: the formatter's offset text would collide with the footer.
    formats = ["%Y", "%b %Y", "%d %b %Y", "%H:%M", "%H:%M", "%S.%f"]
    formatter = mdates.ConciseDateFormatter(
        locator, formats=formats, zero_formats=["", *formats[:-1]], show_offset=False
    )
    ax.xaxis.set_major_formatter(formatter)


def _x_limits(ax: Axes, first: date, last: date) -> None:
    """Span ``first`` to ``last`` with a margin; a short span is centred in ``MIN_DAYS``."""
    days = (last - first).days
    pad = timedelta(days=max(days * 0.03, (MIN_DAYS - days) / 2) + 10)
    ax.set_xlim(_num(first - pad), _num(last + pad))


def _no_data(title: str, message: str) -> bytes:
    """A chart that says plainly there is nothing to plot, and why."""
    figure = _figure()
    _header(figure, clean_text(title, 80), "")
    figure.text(0.5, 0.56, "No data", size=18, weight="bold", color=MUTED, ha="center")
    figure.text(0.5, 0.46, clean_text(message, 110), size=11, color=MUTED, ha="center")
    _footer(figure, "")
    return _png(figure)


def _row_font(count: int) -> float:
    """Row label size: smaller once rows get too thin for the tick size."""
    return TICK_SIZE if count <= 12 else LABEL_SIZE


def _num(day: date) -> float:
    return float(mdates.date2num(day))


# --- label placement ------------------------------------------------------------------------


def _place_labels(
    ax: Axes, labels: Sequence[_Label], obstacles: list[Bbox], lines: Sequence[Path]
) -> None:
    """Annotate each point on its least crowded offset; drop a label that would overlap.

    Labels come in priority order, so the ones dropped in a crowd are the least important.
    """
    renderer = ax.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    frame = ax.get_window_extent(renderer)
    for label in labels:
        note = ax.annotate(
            label.text,
            (label.x, label.y),
            xytext=(0, 0),
            textcoords="offset points",
            size=LABEL_SIZE,
            color=label.color,
            annotation_clip=False,
        )
        cost, offset = _best_offset(ax, note, label, renderer, frame, obstacles, lines)
        if cost >= _OVERLAP_COST and not label.headline:  # a bare marker beats a text pile
            note.remove()
            continue
        box = _try(note, offset, renderer)
        obstacles.append(box)
        leader = _leader(ax, label, box, offset)
        if leader is not None:
            _draw_leader(ax, leader, label.color)
            obstacles.append(leader.get_extents())  # keep later labels off the line


def _best_offset(
    ax: Axes,
    note: Annotation,
    label: _Label,
    renderer: RendererBase,
    frame: Bbox,
    obstacles: Sequence[Bbox],
    lines: Sequence[Path],
) -> tuple[float, tuple[float, float, str]]:
    """The first uncrowded candidate offset for ``note`` and its cost, else the least crowded.

    Every candidate is scored at once (``_candidate_costs``); the first of the lowest cost is
    the one a loop over the candidates, stopping at the first of cost 0, would pick.
    """
    import numpy as np

    boxes = _extents(obstacles)  # once per label: every candidate is tested against them all
    candidates = _candidates(label.side, _HEADLINE_TIERS if label.headline else _TIERS)
    # The text's box only moves between candidates: lay it out once, then shift it.
    first = _try(note, candidates[0], renderer)
    anchor = ax.transData.transform((label.x, label.y))
    points = renderer.points_to_pixels(1.0)
    costs = _candidate_costs(candidates, first, anchor, points, frame, boxes, lines)
    best = int(np.argmin(costs))
    return float(costs[best]), candidates[best]


def _candidate_costs(
    candidates: Sequence[tuple[float, float, str]],
    first: Bbox,
    anchor: Any,
    points: float,
    frame: Bbox,
    boxes: Any,
    lines: Sequence[Path],
) -> Any:
    """Each candidate's cost, for all candidates at once (numpy arrays, one entry each).

    A candidate's box is ``first`` moved as ``_shifted`` moves it. It costs ``_OUTSIDE_COST``
    if it leaves ``frame``; ``_OVERLAP_COST`` per obstacle in ``boxes`` its padded box
    (``Bbox.expanded(1.08, 1.15)``) overlaps, edges included; 1 per line of ``lines`` the
    padded box touches (``Path.intersects_bbox``); and for a far tier, ``_OVERLAP_COST`` per
    obstacle its ``_leader`` line touches (Liang-Barsky). Scoring candidate by candidate
    (Bbox and Path objects, a numpy test per obstacle array) was most of the placement time.
    tests/frontier/test_charts_placement.py checks it against that loop.
    """
    import numpy as np

    dx = np.array([c[0] for c in candidates], dtype=float)
    dy = np.array([c[1] for c in candidates], dtype=float)
    relpos = np.array([_RELPOS[c[2]] for c in candidates])
    width, height = first.width, first.height
    # _shifted: Bbox.from_bounds(x, y0, width, height)
    x0 = anchor[0] + dx * points - relpos * width
    y = anchor[1] + dy * points
    y0 = np.where(dy > 0, y, y - height)
    x1, y1 = x0 + width, y0 + height
    # The padded box, as Bbox.expanded(1.08, 1.15) computes it; inside the frame; overlaps.
    w, h = x1 - x0, y1 - y0
    dw, dh = (1.08 * w - w) / 2.0, (1.15 * h - h) / 2.0
    px0, py0, px1, py1 = x0 - dw, y0 - dh, x1 + dw, y1 + dh
    fx0, fx1 = sorted(frame.intervalx)
    fy0, fy1 = sorted(frame.intervaly)
    inside = (fx0 <= x0) & (x0 <= fx1) & (fx0 <= x1) & (x1 <= fx1)
    inside &= (fy0 <= y0) & (y0 <= fy1) & (fy0 <= y1) & (y1 <= fy1)
    lo_x, hi_x = np.minimum(px0, px1)[:, None], np.maximum(px0, px1)[:, None]
    lo_y, hi_y = np.minimum(py0, py1)[:, None], np.maximum(py0, py1)[:, None]
    hits = (lo_x <= boxes[:, 2]) & (boxes[:, 0] <= hi_x) & (lo_y <= boxes[:, 3])
    hits &= boxes[:, 1] <= hi_y
    crossings = sum(_path_touches(line.vertices, px0, py0, px1, py1) for line in lines)
    cost = np.where(inside, 0, _OUTSIDE_COST) + _OVERLAP_COST * hits.sum(axis=1) + crossings
    # A far tier's leader line (as _leader draws it) and the obstacles it touches.
    far = np.abs(dy) > _TIERS[0]
    if far.any():
        start_x = x0 + relpos * w
        start_y = np.where(dy > 0, y0, y1)
        stop_x = start_x + 0.8 * (anchor[0] - start_x)
        stop_y = start_y + 0.8 * (anchor[1] - start_y)
        leader_hits = _segments_hits(start_x, start_y, stop_x, stop_y, boxes)
        cost = cost + np.where(far, _OVERLAP_COST * leader_hits, 0)
    return cost


def _path_touches(vertices: Any, x0: Any, y0: Any, x1: Any, y1: Any) -> Any:
    """Whether a line path touches each rectangle (arrays of corners): ``Path.intersects_bbox``
    with ``filled=False`` for every rectangle at once, by the same test as matplotlib's
    ``path_intersects_rectangle`` (its first vertex inside, or a segment crossing)."""
    import numpy as np

    cx, cy = ((x0 + x1) * 0.5)[:, None], ((y0 + y1) * 0.5)[:, None]
    w, h = np.abs(x0 - x1)[:, None], np.abs(y0 - y1)[:, None]
    first_x, first_y = vertices[0]
    touch = (2.0 * np.abs(first_x - cx) <= w) & (2.0 * np.abs(first_y - cy) <= h)
    ax_, ay, bx, by = vertices[:-1, 0], vertices[:-1, 1], vertices[1:, 0], vertices[1:, 1]
    cross = np.abs(ax_ + bx - 2.0 * cx) < np.abs(ax_ - bx) + w
    cross &= np.abs(ay + by - 2.0 * cy) < np.abs(ay - by) + h
    cross &= 2.0 * np.abs((ax_ - cx) * (ay - by) - (ay - cy) * (ax_ - bx)) < w * np.abs(
        ay - by
    ) + h * np.abs(ax_ - bx)
    return (touch[:, 0] | cross.any(axis=1)).astype(int)


def _segments_hits(ax_: Any, ay: Any, bx: Any, by: Any, boxes: Any) -> Any:
    """How many of ``boxes`` each segment (arrays of ends) crosses or touches: Liang-Barsky
    clipping of every segment against every box at once (as ``Path.intersects_bbox`` for a
    straight segment)."""
    import numpy as np

    count = len(ax_)
    low = np.zeros((count, len(boxes)))
    high = np.ones((count, len(boxes)))
    ok = np.ones((count, len(boxes)), dtype=bool)
    for start, delta, lo, hi in (
        (ax_, bx - ax_, boxes[:, 0], boxes[:, 2]),
        (ay, by - ay, boxes[:, 1], boxes[:, 3]),
    ):
        start, delta = start[:, None], delta[:, None]
        flat = delta == 0
        ok &= ~flat | ((lo <= start) & (start <= hi))
        with np.errstate(divide="ignore", invalid="ignore"):
            t1, t2 = (lo - start) / delta, (hi - start) / delta
        low = np.where(flat, low, np.maximum(low, np.minimum(t1, t2)))
        high = np.where(flat, high, np.minimum(high, np.maximum(t1, t2)))
    return (ok & (low <= high)).sum(axis=1)


def _shifted(box: Bbox, anchor: Any, points: float, offset: tuple[float, float, str]) -> Bbox:
    """The box ``_try`` would give for ``offset``, from one box of the same text: aligned
    ``ha`` horizontally, and by its bottom (above the point) or top (below) vertically."""
    dx, dy, ha = offset
    x = anchor[0] + dx * points - _RELPOS[ha] * box.width
    y = anchor[1] + dy * points
    y0 = y if dy > 0 else y - box.height
    return Bbox.from_bounds(x, y0, box.width, box.height)


def _try(note: Annotation, offset: tuple[float, float, str], renderer: RendererBase) -> Bbox:
    """Move ``note`` to ``offset`` and return its text's box there (leader line excluded)."""
    dx, dy, ha = offset
    note.xyann = (dx, dy)
    note.set_horizontalalignment(ha)
    note.set_verticalalignment("bottom" if dy > 0 else "top")
    note.update_positions(renderer)
    return Text.get_window_extent(note, renderer)


def _leader(ax: Axes, label: _Label, box: Bbox, offset: tuple[float, float, str]) -> Path | None:
    """A far-tier label's leader line, in pixels: from the text's corner nearest the point to
    just short of the point, so it does not run into its own marker."""
    _, dy, ha = offset
    if abs(dy) <= _TIERS[0]:
        return None
    start = (box.x0 + _RELPOS[ha] * box.width, box.y0 if dy > 0 else box.y1)
    end = ax.transData.transform((label.x, label.y))
    stop = (start[0] + 0.8 * (end[0] - start[0]), start[1] + 0.8 * (end[1] - start[1]))
    return Path([start, stop])


def _draw_leader(ax: Axes, leader: Path, color: str) -> None:
    points = ax.transData.inverted().transform(leader.vertices)
    ax.plot(points[:, 0], points[:, 1], color=color, linewidth=0.7, solid_capstyle="butt")


def _extents(boxes: Sequence[Bbox]) -> Any:
    """The boxes as one (n, 4) array of x0, y0, x1, y1, each pair in increasing order."""
    import numpy as np

    if not boxes:
        return np.empty((0, 4))
    raw = np.array([b.extents for b in boxes], dtype=float)
    return np.column_stack(
        (
            np.minimum(raw[:, 0], raw[:, 2]),
            np.minimum(raw[:, 1], raw[:, 3]),
            np.maximum(raw[:, 0], raw[:, 2]),
            np.maximum(raw[:, 1], raw[:, 3]),
        )
    )


def _marker_boxes(ax: Axes, points: Iterable[tuple[float, float]], radius: float) -> list[Bbox]:
    boxes = []
    for x, y in points:
        px, py = ax.transData.transform((x, y))
        boxes.append(Bbox.from_extents(px - radius, py - radius, px + radius, py + radius))
    return boxes


def _step_path(ax: Axes, xs: Sequence[float], ys: Sequence[float]) -> Path:
    """A steps-post line in display coordinates, as drawn."""
    vertices = []
    for i, (x, y) in enumerate(zip(xs, ys, strict=True)):
        if i:
            vertices.append((x, ys[i - 1]))
        vertices.append((x, y))
    return Path(ax.transData.transform(vertices))


# --- gap chart ------------------------------------------------------------------------------


def _records(report: GapReport, open_weights: bool) -> list[Score]:
    """One side's frontier records: its best score wherever it changes (finite scores only)."""
    records: list[Score] = []
    for point in report.trajectory:
        best = point.open if open_weights else point.proprietary
        if best is None or not math.isfinite(best.value):
            continue
        if not records or best != records[-1]:
            records.append(best)
    return records


@_collector_paused
def gap_chart(report: GapReport) -> bytes:
    """Draw both frontiers over time, with the gap and its threshold band below.

    Args:
        report: A gap report.

    Returns:
        A PNG of about 1200 × 700 px; a "no data" chart when the report has no trajectory.
    """
    _matplotlib()
    name = clean_text(report.benchmark.name, 24)
    proprietary, open_ = _records(report, False), _records(report, True)
    if not proprietary and not open_:
        return _no_data(
            f"{name}: proprietary vs open-weights frontier",
            f"No {name} scores as of {report.as_of.isoformat()}.",
        )
    figure = _figure()
    grid = figure.add_gridspec(
        2, 1, height_ratios=(3, 1.2), hspace=0.08, left=0.085, right=0.9, top=0.82, bottom=0.1
    )
    top = figure.add_subplot(grid[0])
    bottom = figure.add_subplot(grid[1], sharex=top)
    first = min(s.available_on for s in (*proprietary, *open_))
    for ax in (top, bottom):
        _style_axes(ax)
        _x_limits(ax, first, report.as_of)
    _date_axis(bottom)
    top.tick_params(labelbottom=False)
    _frontier_limits(top, [s.value for s in (*proprietary, *open_)], report)
    paths = [
        _draw_frontier(top, proprietary, report.as_of, PROPRIETARY_COLOR),
        _draw_frontier(top, open_, report.as_of, OPEN_COLOR),
    ]
    _legend(top, proprietary, open_)
    obstacles = _marker_boxes(top, [(_num(s.available_on), s.value) for s in proprietary], 5)
    obstacles += _marker_boxes(top, [(_num(s.available_on), s.value) for s in open_], 5)
    _place_labels(top, _change_labels(proprietary, open_, report), obstacles, paths)
    _draw_gap(bottom, report)
    _header(figure, f"{name}: proprietary vs open-weights frontier", _gap_subtitle(report))
    _footer(figure, f"Sources: {_sources(s.citation for s in (*proprietary, *open_))}")
    return _png(figure)


def _gap_subtitle(report: GapReport) -> str:
    as_of = f"as of {report.as_of.isoformat()}"
    if report.gap is None:
        missing = "open-weights" if report.open is None else "proprietary"
        return f"{as_of} · no gap yet: no {missing} score"
    leader = {"proprietary": "proprietary leads", "open": "open weights lead", "tie": "tied"}
    return f"{as_of} · gap now {_signed(report.gap)} pts, {leader[report.leader or 'tie']}"


def _frontier_limits(ax: Axes, values: Sequence[float], report: GapReport) -> None:
    low, high = min(values), max(values)
    if high - low < MIN_SCORE_SPAN:  # one point, or a flat history: centre it
        middle = (low + high) / 2
        low, high = middle - MIN_SCORE_SPAN / 2, middle + MIN_SCORE_SPAN / 2
    span = high - low
    bottom, top = low - 0.1 * span, high + 0.2 * span  # room above for labels
    if report.benchmark.higher_is_better:
        bottom = max(bottom, 0.0)
    ax.set_ylim(bottom, top)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=8, steps=[1, 2, 5, 10]))
    unit = report.benchmark.unit
    better = "" if report.benchmark.higher_is_better else ", lower is better"
    ax.set_ylabel(f"Best score ({unit}{better})", size=AXIS_SIZE, color=INK)


def _draw_frontier(ax: Axes, records: Sequence[Score], as_of: date, color: str) -> Path:
    """A side's best score as a step line to ``as_of``; hollow markers for approximate scores."""
    if not records:
        return Path([(0.0, 0.0)])
    xs = [_num(s.available_on) for s in records] + [_num(as_of)]
    ys = [s.value for s in records] + [records[-1].value]
    ax.plot(xs, ys, drawstyle="steps-post", color=color, linewidth=2.2, solid_joinstyle="miter")
    for approximate in (False, True):
        chosen = [s for s in records if s.approximate == approximate]
        ax.plot(
            [_num(s.available_on) for s in chosen],
            [s.value for s in chosen],
            linestyle="none",
            marker="o",
            markersize=5.5,
            markeredgewidth=1.6,
            color=color,
            markerfacecolor=BACKGROUND if approximate else color,
            zorder=3,
        )
    return _step_path(ax, xs, ys)


def _legend(ax: Axes, proprietary: Sequence[Score], open_: Sequence[Score]) -> None:
    """A legend of the sides present, above the panel."""
    line = {"linewidth": 2.2, "marker": "o", "markersize": 5}
    handles = [
        Line2D([], [], color=color, label=label, **line)
        for records, color, label in (
            (proprietary, PROPRIETARY_COLOR, "proprietary"),
            (open_, OPEN_COLOR, "open weights"),
        )
        if records
    ]
    if any(s.approximate for s in (*proprietary, *open_)):
        hollow = {"linestyle": "none", "marker": "o", "markerfacecolor": BACKGROUND}
        handles.append(Line2D([], [], color=MUTED, label="approximate", **hollow))
    _top_legend(ax, handles)


def _top_legend(ax: Axes, handles: Sequence[Artist]) -> None:
    """One row of legend entries right-aligned above the axes, where no data can be."""
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncols=len(handles),
        fontsize=LABEL_SIZE + 0.5,
        frameon=False,
        borderaxespad=0.3,
        handlelength=1.8,
        columnspacing=1.0,
    )


def _change_labels(
    proprietary: Sequence[Score], open_: Sequence[Score], report: GapReport
) -> list[_Label]:
    """One label per frontier change, most important first.

    Proprietary labels go above their line and open ones below when higher is better. The
    current best of each side comes first, so a crowd never drops the headline; the others
    follow in date order.
    """
    up = 1 if report.benchmark.higher_is_better else -1
    sides = ((proprietary, PROPRIETARY_COLOR, up), (open_, OPEN_COLOR, -up))
    labels = [
        _Label(_num(s.available_on), s.value, _score_text(s), color, side, s is records[-1])
        for records, color, side in sides
        for s in records
    ]
    return sorted(labels, key=lambda label: (not label.headline, label.x))


def _draw_gap(ax: Axes, report: GapReport) -> None:
    """The gap as a step line over the ±threshold band, shaded by who leads."""
    threshold = report.threshold if math.isfinite(report.threshold) else 0.0
    ax.axhspan(-threshold, threshold, color=BAND_COLOR, alpha=0.22, linewidth=0)
    ax.axhline(0, color=MUTED, linewidth=0.8)
    ax.set_ylabel("Gap (pts)", size=AXIS_SIZE, color=INK)
    defined = [(_num(p.date), p.gap) for p in report.trajectory if _finite(p.gap)]
    if defined:
        _gap_line(
            ax, [x for x, _ in defined], [g or 0.0 for _, g in defined], report.as_of, threshold
        )
    else:
        ax.set_ylim(-3 * max(threshold, 1.0), 3 * max(threshold, 1.0))
        ax.text(
            0.5,
            0.5,
            "no gap yet: one side has no score",
            transform=ax.transAxes,
            ha="center",
            va="center",
            size=AXIS_SIZE,
            color=MUTED,
            bbox={"facecolor": BACKGROUND, "edgecolor": "none", "pad": 2},
        )
    _gap_legend(ax, threshold)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _gap_line(ax: Axes, xs: list[float], gaps: list[float], as_of: date, threshold: float) -> None:
    """The gap's step line to ``as_of``, shaded by who leads, with its value now."""
    xs, gaps = [*xs, _num(as_of)], [*gaps, gaps[-1]]
    ax.plot(xs, gaps, drawstyle="steps-post", color=INK, linewidth=1.6)
    for sign, color in ((1, PROPRIETARY_COLOR), (-1, OPEN_COLOR)):
        ahead = [sign * gap > 0 for gap in gaps]
        ax.fill_between(xs, gaps, 0, where=ahead, step="post", color=color, alpha=0.25, linewidth=0)
    low, high = min(*gaps, -threshold, -1.0), max(*gaps, threshold, 1.0)
    pad = 0.2 * (high - low)
    ax.set_ylim(low - pad, high + pad)
    # The value sits over the line's last step, on the side with more room.
    dy = -5 if gaps[-1] > (low + high) / 2 else 5
    ax.annotate(
        f"now {_signed(gaps[-1])}",
        (xs[-1], gaps[-1]),
        xytext=(-2, dy),
        textcoords="offset points",
        ha="right",
        va="top" if dy < 0 else "bottom",
        size=LABEL_SIZE + 0.5,
        weight="bold",
        color=INK,
    )


def _gap_legend(ax: Axes, threshold: float) -> None:
    """Name the band just right of the panel, level with it (the plot area stays clear)."""
    ax.text(
        1.008,
        0.0,
        f"±{threshold:g} pts\nparity",
        transform=ax.get_yaxis_transform(),
        ha="left",
        va="center",
        size=LABEL_SIZE,
        color=BAND_COLOR,
        weight="bold",
        linespacing=1.1,
    )


# --- lag chart ------------------------------------------------------------------------------


@_collector_paused
def lag_chart(report: LagReport) -> bytes:
    """Draw each catch-up as a bar from the proprietary record to the open model that matched it.

    Args:
        report: A lag report.

    Returns:
        A PNG of about 1200 × 700 px: one row per proprietary record (the newest
        ``MAX_LAG_ROWS``), oldest on top, with the lag in months and the matching open model
        in a column on the right; records not matched yet run dashed to ``as_of``. A "no data"
        chart when there are no records.
    """
    _matplotlib()
    name = clean_text(report.benchmark.name, 24)
    title = f"{name}: how long open weights took to catch up"
    rows: list[CatchUp | OpenLag] = [*report.pairs, *report.open_lags]
    if not rows:
        return _no_data(title, f"No proprietary {name} records as of {report.as_of.isoformat()}.")
    rows = sorted(rows, key=lambda row: row.closed.available_on)[-MAX_LAG_ROWS:]
    figure = _figure()
    size = _row_font(len(rows))
    labels = [_score_text(row.closed) for row in rows]
    left = max(0.19, _text_width(figure, labels, size) / figure.bbox.width + 0.03)
    ax = figure.add_axes((left, 0.14, 0.79 - left, 0.66))
    _lag_axes(ax, rows, report.as_of)
    for y, row in enumerate(rows):
        _draw_lag_row(ax, y, row, report.as_of, size)
    scores = [row.closed for row in rows] + [row.open for row in rows if isinstance(row, CatchUp)]
    _lag_legend(ax, bool(report.open_lags), any(s.approximate for s in scores))
    _header(figure, title, _lag_subtitle(report, len(rows)))
    _footer(figure, f"Sources: {_sources(s.citation for s in scores)}")
    return _png(figure)


def _lag_axes(ax: Axes, rows: Sequence[CatchUp | OpenLag], as_of: date) -> None:
    _style_axes(ax)
    ax.grid(False, axis="y")
    first = rows[0].closed.available_on
    last = max([as_of, *(row.open.available_on for row in rows if isinstance(row, CatchUp))])
    _x_limits(ax, first, last)
    _date_axis(ax)
    ax.set_ylim(len(rows) - 0.4, -0.7)
    ax.set_yticks(range(len(rows)), [_score_text(row.closed) for row in rows])
    ax.tick_params(axis="y", length=0, labelcolor=PROPRIETARY_COLOR, labelsize=_row_font(len(rows)))
    ax.axvline(_num(as_of), color=MUTED, linewidth=0.8, linestyle=":")
    ax.annotate(
        "as of",
        (_num(as_of), 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(0, -2),
        textcoords="offset points",
        ha="center",
        va="top",
        size=LABEL_SIZE,
        color=MUTED,
        bbox={"facecolor": BACKGROUND, "edgecolor": "none", "pad": 1},
    )
    ax.annotate(
        "matched by",
        (1.0, 1.0),
        xycoords="axes fraction",
        xytext=(8, 0),
        textcoords="offset points",
        ha="left",
        va="top",
        size=LABEL_SIZE,
        color=MUTED,
    )


def _lag_subtitle(report: LagReport, shown: int) -> str:
    parts = [f"as of {report.as_of.isoformat()}"]
    if report.mean_months is not None:
        count = len(report.pairs)
        parts.append(f"mean lag {report.mean_months:.1f} months over {count} catch-ups")
    if report.open_lags:
        parts.append(f"{len(report.open_lags)} not matched yet")
    total = len(report.pairs) + len(report.open_lags)
    if shown < total:
        parts.append(f"newest {shown} of {total} shown")
    if report.skipped:
        parts.append(f"{len(report.skipped)} records already covered, not shown")
    return " · ".join(parts)


def _draw_lag_row(ax: Axes, y: int, row: CatchUp | OpenLag, as_of: date, size: float) -> None:
    start = _num(row.closed.available_on)
    _lag_marker(ax, start, y, row.closed, PROPRIETARY_COLOR)
    if isinstance(row, CatchUp):
        end = _num(row.open.available_on)
        ax.plot([start, end], [y, y], color=OPEN_COLOR, linewidth=3, solid_capstyle="butt")
        _lag_marker(ax, end, y, row.open, OPEN_COLOR)
        months, who, color = f"{row.months:.1f} mo", _score_text(row.open), OPEN_COLOR
    else:
        end = _num(as_of)
        ax.plot([start, end], [y, y], color=MUTED, linewidth=2.2, linestyle=(0, (4, 2.5)))
        months, who, color = f"≥ {row.months:.1f} mo", "not matched yet", MUTED
    ax.annotate(
        months,
        ((start + end) / 2, y),
        xytext=(0, 4),
        textcoords="offset points",
        ha="center",
        va="bottom",
        size=size,
        weight="bold",
        color=INK,
    )
    # The matching open model sits in a column right of the plot, level with its row, so
    # names never run into the "as of" line or each other.
    ax.annotate(
        who,
        (1.0, y),
        xycoords=("axes fraction", "data"),
        xytext=(8, 0),
        textcoords="offset points",
        ha="left",
        va="center",
        size=size,
        color=color,
        annotation_clip=False,
    )


def _lag_marker(ax: Axes, x: float, y: int, score: Score, color: str) -> None:
    face = BACKGROUND if score.approximate else color
    ax.plot(
        [x],
        [y],
        marker="o",
        markersize=6,
        markeredgewidth=1.6,
        color=color,
        markerfacecolor=face,
        linestyle="none",
        zorder=3,
    )


def _lag_legend(ax: Axes, any_open: bool, any_approximate: bool) -> None:
    dot = {"linestyle": "none", "marker": "o", "markersize": 6}
    handles = [
        Line2D([], [], color=PROPRIETARY_COLOR, label="proprietary record", **dot),
        Line2D([], [], color=OPEN_COLOR, label="first open model to match it", **dot),
    ]
    if any_open:
        handles.append(Line2D([], [], color=MUTED, linestyle=(0, (4, 2.5)), label="not matched"))
    if any_approximate:
        hollow = {**dot, "markerfacecolor": BACKGROUND}
        handles.append(Line2D([], [], color=MUTED, label="approximate", **hollow))
    _top_legend(ax, handles)


# --- fits chart -----------------------------------------------------------------------------


@_collector_paused
def fits_chart(ranking: FitRanking) -> bytes:
    """Draw the memory each ranked model needs, stacked by part, against the budget.

    Args:
        ranking: A fit ranking; its first ``MAX_FIT_ROWS`` models are drawn, in its order.

    Returns:
        A PNG of about 1200 × 700 px: one bar per model (weights, KV cache, overhead) and a
        column with its quantization, total and score; models over the budget are hatched
        and marked. A "no data" chart when the ranking is empty.
    """
    _matplotlib()
    budget = ranking.budget_gib
    title = f"Open-weights models that fit {budget:g} GiB"
    rows = ranking.fits[:MAX_FIT_ROWS]
    if not rows:
        return _no_data(title, f"No open-weights model fits {budget:g} GiB at these settings.")
    figure = _figure()
    size = _row_font(len(rows))
    names = [clean_text(row.report.model_name, 28) for row in rows]
    left = _text_width(figure, names, size) / figure.bbox.width + 0.03
    ax = figure.add_axes((left, 0.135, 0.75 - left, 0.665))
    _fits_axes(ax, rows, names, size, budget)
    _draw_fit_bars(ax, rows)
    _draw_fit_table(ax, rows, size)
    _fits_legend(ax, any(not row.report.fits for row in rows))
    _header(figure, title, _fits_subtitle(ranking))
    _footer(figure, _fits_footer(ranking, rows))
    return _png(figure)


def _text_width(figure: Figure, texts: Sequence[str], size: float) -> float:
    """The widest of ``texts`` in pixels, drawn as a plain text of ``size`` points.

    Measured by a ``Text`` with the properties the drawn labels have, so matplotlib keeps each
    text's metrics in its per-renderer cache and the draw does not lay the texts out again.
    """
    renderer = figure.canvas.get_renderer()  # type: ignore[attr-defined]
    probe = Text(size=size)
    probe.set_figure(figure)
    widths = []
    for text in texts:
        probe.set_text(text)
        widths.append(probe.get_window_extent(renderer).width)
    return max(widths)


def _fits_axes(
    ax: Axes, rows: Sequence[RankedFit], names: Sequence[str], size: float, budget: float
) -> None:
    _style_axes(ax)
    ax.grid(False, axis="y")
    ax.set_xlim(0, max(budget, *(row.report.estimate.total_gib for row in rows)) * 1.06)
    # A header strip of _HEADER_PX above the first bar's slot, whatever the number of rows:
    # h rows of a range of n + 0.05 + h rows over H px is _HEADER_PX when h = P(n + 0.05)/(H − P).
    height = ax.get_window_extent().height
    header = _HEADER_PX * (len(rows) + 0.05) / (height - _HEADER_PX)
    ax.set_ylim(len(rows) - 0.45, -0.5 - header)
    ax.set_xlabel("Memory (GiB)", size=AXIS_SIZE, color=INK)
    ax.set_yticks([])
    colors = [INK if row.report.fits else PROPRIETARY_COLOR for row in rows]
    _row_names(ax, names, colors, size)
    ax.axvline(budget, color=INK, linewidth=1.4, linestyle=(0, (5, 3)))
    ax.annotate(
        f"{budget:g} GiB budget",
        (budget, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(-4, -3),
        textcoords="offset points",
        ha="right",
        va="top",
        size=LABEL_SIZE,
        weight="bold",
        color=INK,
    )
    for offset, ha, heading in _FIT_COLUMNS:
        ax.annotate(
            heading,
            (1.0, 1.0),
            xycoords="axes fraction",
            xytext=(offset, -3),
            textcoords="offset points",
            ha=ha,
            va="top",
            size=LABEL_SIZE,
            color=MUTED,
            annotation_clip=False,
        )


def _row_names(ax: Axes, names: Sequence[str], colors: Sequence[str], size: float) -> None:
    """Name row ``y`` left of the axes, where its y tick label would be, as a plain text.

    Placed and aligned as a y tick label with no tick line (``TICK_PAD`` points left of the
    axes, right-aligned, centred on its ascent), without the 20 ``Tick`` objects (two lines, a
    grid line and two texts each) and the locator and formatter rounds that tick labels cost.
    """
    transform = ax.get_yaxis_transform() + ScaledTranslation(
        -TICK_PAD / 72, 0, ax.figure.dpi_scale_trans
    )
    for y, (name, color) in enumerate(zip(names, colors, strict=True)):
        ax.text(
            0.0,
            y,
            name,
            transform=transform,
            ha="right",
            va="center_baseline",
            size=size,
            color=color,
        )


TICK_PAD = 3.5
"""Points between the axes and a row's name: matplotlib's default tick label pad."""


_HEADER_PX = 22

# The table right of the bars: (offset in points from the axes' right edge, alignment, heading).
_FIT_COLUMNS = ((8, "left", "quant"), (102, "right", "memory"), (134, "right", "score"))


def _draw_fit_bars(ax: Axes, rows: Sequence[RankedFit]) -> None:
    """One bar per model, stacked weights, KV cache and overhead; those over budget hatched.

    Each part is the ``Rectangle`` ``barh`` would make, added as an artist: ``barh`` also
    updates the data limits patch by patch and requests an autoscale, about 1 ms a bar for
    up to 60 bars, while the limits here are set beforehand.
    """
    for y, row in enumerate(rows):
        estimate, fits = row.report.estimate, row.report.fits
        parts = (
            (estimate.weights_gib, OPEN_COLOR),
            (estimate.kv_cache_gib, KV_COLOR),
            (estimate.overhead_gib, OVERHEAD_COLOR),
        )
        left = 0.0
        for width, color in parts:
            bar = Rectangle(
                (left, y - _BAR_HEIGHT / 2),
                width,
                _BAR_HEIGHT,
                facecolor=color,
                alpha=1 if fits else 0.4,
                hatch=None if fits else "///",
                edgecolor=BACKGROUND if fits else PROPRIETARY_COLOR,
                linewidth=0.6,
            )
            ax.add_artist(bar)
            left += width


_BAR_HEIGHT = 0.66


def _draw_fit_table(ax: Axes, rows: Sequence[RankedFit], size: float) -> None:
    """Each model's quantization, total and score in columns right of the bars.

    Plain texts placed by one transform per column (the axes' right edge, shifted by the
    column's offset in points, by the row in data): an ``annotate`` per cell resolved its
    coordinate systems again at every draw, for 60 cells.
    """
    base = ax.get_yaxis_transform()  # x in axes fraction, y in data
    cells = [_fit_cells(row) for row in rows]
    for column, (offset, ha, _) in enumerate(_FIT_COLUMNS):
        transform = base + ScaledTranslation(offset / 72, 0, ax.figure.dpi_scale_trans)
        for y, (row, texts) in enumerate(zip(rows, cells, strict=True)):
            ax.text(
                1.0,
                y,
                texts[column],
                transform=transform,
                ha=ha,
                va="center",
                size=size,
                color=INK if row.report.fits else PROPRIETARY_COLOR,
            )


def _fit_cells(row: RankedFit) -> tuple[str, str, str]:
    estimate = row.report.estimate
    approx = "" if estimate.kv_exact else "≈"
    return (
        estimate.quant.name,
        f"{approx}{estimate.total_gib:.1f} GiB",
        "–" if row.score is None else f"{row.score.value:.1f}",
    )


def _fits_legend(ax: Axes, any_over: bool) -> None:
    handles = [
        Patch(color=OPEN_COLOR, label="weights"),
        Patch(color=KV_COLOR, label="KV cache"),
        Patch(color=OVERHEAD_COLOR, label="overhead"),
    ]
    if any_over:
        handles.append(
            Patch(
                facecolor=BACKGROUND, edgecolor=PROPRIETARY_COLOR, hatch="///", label="over budget"
            )
        )
    _top_legend(ax, handles)


def _fits_subtitle(ranking: FitRanking) -> str:
    parts = [f"{ranking.context:,}-token context", f"{ranking.min_bits:g}-bit or better"]
    if len(ranking.fits) > MAX_FIT_ROWS:
        parts.append(f"top {MAX_FIT_ROWS} of {len(ranking.fits)}")
    return " · ".join(parts)


def _fits_footer(ranking: FitRanking, rows: Sequence[RankedFit]) -> str:
    citations = [row.score.citation for row in rows if row.score]
    parts = [f"Scores: {_sources(citations)}"] if citations else []
    if any(not row.report.estimate.kv_exact for row in rows):
        parts.append("≈ KV cache estimated (architecture unknown)")
    if ranking.unsized:
        parts.append(f"{len(ranking.unsized)} without a parameter count left out")
    return " · ".join(parts)
