"""Inline SVG charts for the HTML report: grouped horizontal bars and line charts.

The report must open offline and from a mail attachment, so charts are plain SVG written as
text: no script draws them, and every label is escaped here, not by the caller. Sizes are fixed
numbers so the same data always gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Sequence

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; yellow left out
# because it vanishes on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000")

FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
LABEL_WIDTH = 150
PLOT_WIDTH = 300
VALUE_WIDTH = 44
BAR_HEIGHT = 14
BAR_GAP = 2
GROUP_GAP = 10
AXIS_HEIGHT = 22
MAX_LABEL_CHARS = 22


def color(index: int) -> str:
    """The colour of the index-th series; series keep their colour across every chart of a report."""
    return PALETTE[index % len(PALETTE)]


@dataclass(frozen=True)
class Series:
    """One named line or one bar per group; ``values`` is aligned with the chart's x positions or
    groups, and None marks a missing value (no bar, a gap in a line)."""

    name: str
    color: str
    values: tuple[float | None, ...]
    # Bar charts only: a reference value per group drawn as a tick across the bar (the baseline).
    marks: tuple[float | None, ...] = ()
    mark_label: str = "baseline"
    # Bar charts only: a [low, high] interval per group (the 95 % interval), drawn as an error bar.
    intervals: tuple[Sequence[float] | None, ...] = ()


def bar_chart(title: str, groups: Sequence[str], series: Sequence[Series], *, max_value: float = 10.0,
              threshold: float | None = None, value_format: str = "{:.1f}") -> str:
    """A horizontal grouped bar chart: one group per label in ``groups``, one bar per series.

    ``threshold`` draws a dashed line (the pass mark). Labels longer than MAX_LABEL_CHARS are
    shortened; the full text stays in the bar's tooltip.
    """
    per_group = max(1, len(series)) * (BAR_HEIGHT + BAR_GAP) - BAR_GAP
    height = AXIS_HEIGHT * 2 + len(groups) * (per_group + GROUP_GAP)
    width = LABEL_WIDTH + PLOT_WIDTH + VALUE_WIDTH
    out = [_open_svg(title, width, height)]
    out.append(_x_axis(0, max_value, AXIS_HEIGHT, height - AXIS_HEIGHT))
    if threshold is not None:
        x = _n(_x(threshold, max_value))
        out.append(f'<line class="threshold" x1="{x}" y1="{AXIS_HEIGHT - 4}" x2="{x}" y2="{height - AXIS_HEIGHT + 4}" '
                   f'stroke="#B00020" stroke-width="1" stroke-dasharray="4 3"><title>pass mark '
                   f'{escape(value_format.format(threshold))}</title></line>')
    y = AXIS_HEIGHT + GROUP_GAP // 2
    for index, label in enumerate(groups):
        middle = y + per_group / 2
        out.append(f'<text x="{LABEL_WIDTH - 8}" y="{_n(middle + 4)}" text-anchor="end" font-size="12" '
                   f'fill="#222">{escape(_shorten(label))}<title>{escape(label)}</title></text>')
        for s in series:
            value = s.values[index] if index < len(s.values) else None
            tip = f"{label} — {s.name}: " + ("no data" if value is None else value_format.format(value))
            if value is None:
                out.append(f'<text x="{LABEL_WIDTH + 4}" y="{y + BAR_HEIGHT - 3}" font-size="10" fill="#888">'
                           f'no data<title>{escape(tip)}</title></text>')
            else:
                w = max(1.0, _x(value, max_value) - LABEL_WIDTH)
                interval = s.intervals[index] if index < len(s.intervals) else None
                if interval:
                    tip += (f" (95% interval {value_format.format(interval[0])}–"
                            f"{value_format.format(interval[1])})")
                out.append(f'<rect class="bar" x="{LABEL_WIDTH}" y="{y}" width="{_n(w)}" height="{BAR_HEIGHT}" '
                           f'fill="{s.color}" rx="2"><title>{escape(tip)}</title></rect>')
                end = LABEL_WIDTH + w
                if interval:
                    low, high = _x(interval[0], max_value), _x(interval[1], max_value)
                    middle = y + BAR_HEIGHT / 2
                    out.append(f'<path class="error-bar" d="M{_n(low)} {_n(middle)}H{_n(high)}'
                               f'M{_n(low)} {y + 3}V{y + BAR_HEIGHT - 3}M{_n(high)} {y + 3}V{y + BAR_HEIGHT - 3}" '
                               f'stroke="#222" stroke-width="1.2" fill="none"><title>{escape(tip)}</title></path>')
                    end = max(end, high)
                out.append(f'<text x="{_n(end + 4)}" y="{y + BAR_HEIGHT - 3}" font-size="11" '
                           f'fill="#222">{escape(value_format.format(value))}</text>')
            mark = s.marks[index] if index < len(s.marks) else None
            if mark is not None:
                x = _n(_x(mark, max_value))
                out.append(f'<line class="mark" x1="{x}" y1="{y - 1}" x2="{x}" y2="{y + BAR_HEIGHT + 1}" '
                           f'stroke="#222" stroke-width="2"><title>{escape(f"{label} — {s.name}: {s.mark_label} ")}'
                           f'{escape(value_format.format(mark))}</title></line>')
            y += BAR_HEIGHT + BAR_GAP
        y += GROUP_GAP - BAR_GAP
    out.append("</svg>")
    return "".join(out)


def line_chart(title: str, x_labels: Sequence[str], series: Sequence[Series], *, max_value: float = 10.0,
               threshold: float | None = None, x_title: str = "", value_format: str = "{:.1f}") -> str:
    """A line chart over the positions ``x_labels`` (turns), one polyline with markers per series;
    a None value breaks the line."""
    left, right, top, bottom = 44, 20, 16, 44
    plot_w, plot_h = 420, 200
    width, height = left + plot_w + right, top + plot_h + bottom
    count = max(1, len(x_labels))
    step = plot_w / max(1, count - 1) if count > 1 else 0.0

    def px(i: int) -> float:
        return left + (i * step if count > 1 else plot_w / 2)

    def py(v: float) -> float:
        return top + plot_h - max(0.0, min(v, max_value)) / max_value * plot_h

    out = [_open_svg(title, width, height)]
    for tick in _ticks(max_value):
        y = _n(py(tick))
        out.append(f'<line x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" stroke="#e4e4e4"/>'
                   f'<text x="{left - 6}" y="{_n(py(tick) + 4)}" text-anchor="end" font-size="10" '
                   f'fill="#555">{_n(tick)}</text>')
    for i, label in enumerate(x_labels):
        out.append(f'<text x="{_n(px(i))}" y="{top + plot_h + 16}" text-anchor="middle" font-size="10" '
                   f'fill="#555">{escape(label)}</text>')
    if x_title:
        out.append(f'<text x="{_n(left + plot_w / 2)}" y="{height - 8}" text-anchor="middle" font-size="11" '
                   f'fill="#333">{escape(x_title)}</text>')
    if threshold is not None:
        y = _n(py(threshold))
        out.append(f'<line class="threshold" x1="{left}" y1="{y}" x2="{left + plot_w}" y2="{y}" stroke="#B00020" '
                   f'stroke-width="1" stroke-dasharray="4 3"><title>pass mark '
                   f'{escape(value_format.format(threshold))}</title></line>')
    for s in series:
        for segment in _segments(s.values):
            points = " ".join(f"{_n(px(i))},{_n(py(v))}" for i, v in segment)
            if len(segment) > 1:
                out.append(f'<polyline class="line" points="{points}" fill="none" stroke="{s.color}" '
                           f'stroke-width="2"/>')
            for i, v in segment:
                tip = f"{s.name}, {x_labels[i] if i < len(x_labels) else i}: {value_format.format(v)}"
                out.append(f'<circle cx="{_n(px(i))}" cy="{_n(py(v))}" r="3.5" fill="{s.color}">'
                           f'<title>{escape(tip)}</title></circle>')
    out.append("</svg>")
    return "".join(out)


def legend(series: Sequence[Series]) -> str:
    """An HTML legend (name and colour swatch per series), shared by all charts of a report."""
    items = "".join(f'<span class="legend-item"><span class="swatch" style="background:{s.color}"></span>'
                    f'{escape(s.name)}</span>' for s in series)
    return f'<div class="legend">{items}</div>'


def _open_svg(title: str, width: int, height: int) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" style="{FONT}" aria-label="{escape(title)}">'
            f'<title>{escape(title)}</title>')


def _x_axis(low: float, high: float, top: int, bottom: int) -> str:
    parts = []
    for tick in _ticks(high):
        x = _n(_x(tick, high))
        parts.append(f'<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#e4e4e4"/>'
                     f'<text x="{x}" y="{top - 8}" text-anchor="middle" font-size="10" fill="#555">{_n(tick)}</text>'
                     f'<text x="{x}" y="{bottom + 14}" text-anchor="middle" font-size="10" fill="#555">{_n(tick)}</text>')
    return "".join(parts)


def _ticks(high: float) -> list[float]:
    step = 2.0 if high >= 8 else 0.25 if high <= 1 else 1.0
    ticks, value = [], 0.0
    while value <= high + 1e-9:
        ticks.append(round(value, 6))
        value += step
    return ticks


def _x(value: float, max_value: float) -> float:
    return round(LABEL_WIDTH + max(0.0, min(value, max_value)) / max_value * PLOT_WIDTH, 1)


def _segments(values: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    segments: list[list[tuple[int, float]]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if segments[-1]:
                segments.append([])
        else:
            segments[-1].append((i, v))
    return [s for s in segments if s]


def _shorten(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[:MAX_LABEL_CHARS - 1] + "…"


def _n(number: float) -> str:
    """A coordinate as short, stable text: at most one decimal, no trailing zero."""
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text
