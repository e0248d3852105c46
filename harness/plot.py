"""Line charts as self-contained SVG text, for reports (soak, benchmarks).

    svg = line_chart({"heap in use": [(0, 1.1), (1, 1.2)]},
                     title="Guest heap", x_label="minutes", y_label="MiB")
    Path("heap.svg").write_text(svg)

No dependencies: the chart is drawn from lines, circles and text, with
"nice" ticks (1, 2 or 5 times a power of ten) on both axes, light grid
lines, a legend, and a marker on each point when a series has few of them.
``stack()`` puts several charts one above the other in one SVG document
(e.g. quantities of different scales over the same time axis).

    svg = bar_chart([Bar("ringzero", 12.0, 11.5, 13.0), Bar("Linux VM", None,
                     note="not measured")], title="Boot", y_label="ms")
    Path("all.svg").write_text(grid([svg, svg2, svg3], columns=2))

``bar_chart()`` draws one bar per entry, each in its own colour, with a
whisker from its low to its high value and the value written above it;
``grid()`` lays charts of any kind out in rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

# Colour-blind-safe (Okabe-Ito), in the order series are given.
COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
MARKERS_UP_TO = 60  # points per series; more, and only the line is drawn

Point = tuple[float, float]


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    """About `count` round tick values covering [lo, hi] (the first <= lo,
    the last >= hi, each end allowed to miss by under 0.5 % of a step), spaced 1, 2,
    2.5 or 5 times a power of ten."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"ticks for a range that is not finite: {lo}..{hi}")
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(1, count - 1)
    power = 10.0 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * 0.999)
    first = math.floor(lo / step + 0.005) * step
    ticks = []
    k = 0
    while True:
        value = first + k * step
        ticks.append(0.0 if abs(value) < step * 1e-9 else value)
        if value >= hi - step * 0.005:  # a hair beyond the last tick needs no more
            break
        k += 1
    return ticks


def tick_label(value: float, step: float) -> str:
    """The value with as many decimals as the tick step has, thousands
    grouped: "12,500", "0.25", "1.5"."""
    exponent = Decimal(f"{step:.10g}").as_tuple().exponent if step > 0 else 0
    decimals = max(0, -exponent) if isinstance(exponent, int) else 0
    return f"{value:,.{decimals}f}"


def _fmt(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def line_chart(
    series: dict[str, list[Point]],
    title: str,
    x_label: str,
    y_label: str,
    *,
    width: int = 760,
    height: int = 360,
    y_zero: bool = True,
) -> str:
    """An SVG document: one line per series (in the order given), x and y
    axes with ticks and labels, a title and a legend. y_zero: the y axis
    starts at 0 when every value is positive (so that a flat line looks
    flat, not magnified noise). Non-finite points are left out."""
    clean = {
        name: sorted(
            (float(x), float(y)) for x, y in points if math.isfinite(x) and math.isfinite(y)
        )
        for name, points in series.items()
    }
    xs = [x for pts in clean.values() for x, _ in pts]
    ys = [y for pts in clean.values() for _, y in pts]
    if xs:
        x_lo, x_hi = min(xs), max(xs)
        y_lo, y_hi = min(ys), max(ys)
    else:
        x_lo, x_hi, y_lo, y_hi = 0.0, 1.0, 0.0, 1.0
    if y_zero and y_lo > 0:
        y_lo = 0.0
    x_ticks = nice_ticks(x_lo, x_hi, 8)
    y_ticks = nice_ticks(y_lo, y_hi, 6)
    x_step = x_ticks[1] - x_ticks[0] if len(x_ticks) > 1 else 1.0
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    x_min, x_max = min(x_ticks[0], x_lo), max(x_ticks[-1], x_hi)
    y_min, y_max = min(y_ticks[0], y_lo), max(y_ticks[-1], y_hi)

    y_labels = [tick_label(v, y_step) for v in y_ticks]
    left = 30 + 7 * max(len(s) for s in y_labels) + 12
    right, top, bottom = 20, 44, 54
    legend_rows = len(clean)
    plot_w = width - left - right
    plot_h = height - top - bottom - (18 * ((legend_rows + 2) // 3) if legend_rows else 0)

    def px(x: float) -> float:
        return left + (x - x_min) / (x_max - x_min) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (y - y_min) / (y_max - y_min) * plot_h

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT} font-size='12'>",
        f"<title>{escape(title)}</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='white'/>",
        f"<text x='{width / 2:g}' y='24' text-anchor='middle' font-size='15' "
        f"font-weight='bold'>{escape(title)}</text>",
    ]
    # grid and ticks
    for v, label in zip(y_ticks, y_labels, strict=True):
        y = _fmt(py(v))
        out.append(f"<line x1='{left}' y1='{y}' x2='{left + plot_w}' y2='{y}' stroke='#e4e4e4'/>")
        out.append(f"<line x1='{left - 5}' y1='{y}' x2='{left}' y2='{y}' stroke='#333'/>")
        out.append(
            f"<text x='{left - 8}' y='{y}' text-anchor='end' dominant-baseline='middle'>"
            f"{escape(label)}</text>"
        )
    base = top + plot_h
    for v in x_ticks:
        x = _fmt(px(v))
        out.append(f"<line x1='{x}' y1='{top}' x2='{x}' y2='{base}' stroke='#efefef'/>")
        out.append(f"<line x1='{x}' y1='{base}' x2='{x}' y2='{base + 5}' stroke='#333'/>")
        out.append(
            f"<text x='{x}' y='{base + 18}' text-anchor='middle'>"
            f"{escape(tick_label(v, x_step))}</text>"
        )
    # axes
    out.append(
        f"<path d='M{left},{top} V{_fmt(base)} H{left + plot_w}' fill='none' stroke='#333'/>"
    )
    out.append(
        f"<text x='{left + plot_w / 2:g}' y='{_fmt(base + 38)}' text-anchor='middle'>"
        f"{escape(x_label)}</text>"
    )
    mid = top + plot_h / 2
    out.append(
        f"<text x='14' y='{_fmt(mid)}' text-anchor='middle' "
        f"transform='rotate(-90 14 {_fmt(mid)})'>{escape(y_label)}</text>"
    )
    # series
    for i, (name, pts) in enumerate(clean.items()):
        color = COLORS[i % len(COLORS)]
        coords = " ".join(f"{_fmt(px(x))},{_fmt(py(y))}" for x, y in pts)
        group = [f"<g class='series' data-name={quoteattr(name)}>"]
        if len(pts) > 1:
            group.append(
                f"<polyline points='{coords}' fill='none' stroke='{color}' "
                "stroke-width='2' stroke-linejoin='round'/>"
            )
        if 0 < len(pts) <= MARKERS_UP_TO:
            group += [
                f"<circle cx='{_fmt(px(x))}' cy='{_fmt(py(y))}' r='2.5' fill='{color}'/>"
                for x, y in pts
            ]
        group.append("</g>")
        out += group
    # legend, three entries a row, under the x axis label
    for i, name in enumerate(clean):
        color = COLORS[i % len(COLORS)]
        col, row = i % 3, i // 3
        lx = left + col * (plot_w / 3)
        ly = base + 58 + row * 18
        out.append(
            f"<line x1='{_fmt(lx)}' y1='{_fmt(ly)}' x2='{_fmt(lx + 22)}' y2='{_fmt(ly)}' "
            f"stroke='{color}' stroke-width='3'/>"
        )
        out.append(
            f"<text x='{_fmt(lx + 28)}' y='{_fmt(ly)}' dominant-baseline='middle'>"
            f"{escape(name)}</text>"
        )
    out.append("</svg>")
    return "\n".join(out) + "\n"


_SIZE = re.compile(r"<svg [^>]*?width='(\d+)' height='(\d+)'")


def stack(charts: Sequence[str], gap: int = 8) -> str:
    """Several charts from line_chart() one above the other, in one SVG."""
    parts = []
    y = 0
    width = 0
    for chart in charts:
        m = _SIZE.match(chart)
        if m is None:
            raise ValueError("stack() takes charts made by line_chart()")
        w, h = int(m.group(1)), int(m.group(2))
        body = chart.replace("<svg ", f"<svg x='0' y='{y}' ", 1)
        parts.append(body.rstrip("\n"))
        y += h + gap
        width = max(width, w)
    height = max(0, y - gap)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>\n<rect x='0' y='0' width='{width}' height='{height}' "
        "fill='white'/>\n" + "\n".join(parts) + "\n</svg>\n"
    )


@dataclass(frozen=True)
class Bar:
    """One bar: its label, its value (None: not measured, and note says
    why), and the range its whisker spans (e.g. min and max)."""

    label: str
    value: float | None
    low: float | None = None
    high: float | None = None
    note: str = ""


def value_label(v: float) -> str:
    """About three significant digits, thousands grouped: "1,234", "12.3", "0.123"."""
    a = abs(v)
    if a >= 100 or a == 0:
        return f"{v:,.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def bar_chart(
    bars: Sequence[Bar],
    title: str,
    y_label: str,
    *,
    width: int = 380,
    height: int = 250,
    subtitle: str = "",
) -> str:
    """An SVG document: a bar per entry from 0 (each its own colour), a
    whisker from low to high where given, the value above it, the label
    under it; an entry without a value shows its note instead of a bar. The
    subtitle, if any, is a smaller line under the title."""
    values = [
        v for b in bars for v in (b.value, b.low, b.high) if v is not None and math.isfinite(v)
    ]
    hi = max([0.0, *values])
    lo = min([0.0, *values])
    y_ticks = nice_ticks(lo, hi if hi > lo else lo + 1.0, 5)
    y_step = y_ticks[1] - y_ticks[0] if len(y_ticks) > 1 else 1.0
    y_min, y_max = min(y_ticks[0], lo), max(y_ticks[-1], hi)
    y_labels = [tick_label(v, y_step) for v in y_ticks]
    left = 30 + 7 * max(len(t) for t in y_labels) + 12
    right, top, bottom = 16, 58 if subtitle else 44, 40
    plot_w = width - left - right
    plot_h = height - top - bottom

    def py(y: float) -> float:
        return top + plot_h - (y - y_min) / (y_max - y_min) * plot_h

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' {FONT} font-size='12'>",
        f"<title>{escape(title)}</title>",
        f"<rect x='0' y='0' width='{width}' height='{height}' fill='white'/>",
        f"<text x='{width / 2:g}' y='22' text-anchor='middle' font-size='13' "
        f"font-weight='bold'>{escape(title)}</text>",
    ]
    if subtitle:
        out.append(
            f"<text x='{width / 2:g}' y='40' text-anchor='middle' font-size='11' "
            f"fill='#555'>{escape(subtitle)}</text>"
        )
    for v, label in zip(y_ticks, y_labels, strict=True):
        y = _fmt(py(v))
        out.append(f"<line x1='{left}' y1='{y}' x2='{left + plot_w}' y2='{y}' stroke='#e4e4e4'/>")
        out.append(f"<line x1='{left - 5}' y1='{y}' x2='{left}' y2='{y}' stroke='#333'/>")
        out.append(
            f"<text x='{left - 8}' y='{y}' text-anchor='end' dominant-baseline='middle'>"
            f"{escape(label)}</text>"
        )
    base = top + plot_h
    out.append(
        f"<path d='M{left},{top} V{_fmt(base)} H{left + plot_w}' fill='none' stroke='#333'/>"
    )
    mid = top + plot_h / 2
    out.append(
        f"<text x='14' y='{_fmt(mid)}' text-anchor='middle' "
        f"transform='rotate(-90 14 {_fmt(mid)})'>{escape(y_label)}</text>"
    )
    slot = plot_w / max(1, len(bars))
    bar_w = min(70.0, slot * 0.6)
    zero = py(0.0)
    for i, b in enumerate(bars):
        color = COLORS[i % len(COLORS)]
        cx = left + slot * (i + 0.5)
        group = [f"<g class='bar' data-label={quoteattr(b.label)}>"]
        group.append(
            f"<text x='{_fmt(cx)}' y='{_fmt(base + 18)}' text-anchor='middle'>"
            f"{escape(b.label)}</text>"
        )
        if b.value is None or not math.isfinite(b.value):
            group.append(
                f"<text x='{_fmt(cx)}' y='{_fmt(mid)}' text-anchor='middle' fill='#777'>"
                f"{escape(b.note or 'not measured')}</text>"
            )
        else:
            value_y = py(b.value)
            group.append(
                f"<rect x='{_fmt(cx - bar_w / 2)}' y='{_fmt(min(value_y, zero))}' "
                f"width='{_fmt(bar_w)}' height='{_fmt(abs(zero - value_y))}' fill='{color}'/>"
            )
            top_y = value_y
            if b.low is not None and b.high is not None and b.high > b.low:
                y1, y2 = py(b.low), py(b.high)
                w = bar_w / 4
                group += [
                    f"<line x1='{_fmt(cx)}' y1='{_fmt(y1)}' x2='{_fmt(cx)}' y2='{_fmt(y2)}' "
                    "stroke='#222' stroke-width='1.5'/>",
                    f"<line x1='{_fmt(cx - w)}' y1='{_fmt(y1)}' x2='{_fmt(cx + w)}' "
                    f"y2='{_fmt(y1)}' stroke='#222' stroke-width='1.5'/>",
                    f"<line x1='{_fmt(cx - w)}' y1='{_fmt(y2)}' x2='{_fmt(cx + w)}' "
                    f"y2='{_fmt(y2)}' stroke='#222' stroke-width='1.5'/>",
                ]
                top_y = min(value_y, y2)
            group.append(
                f"<text x='{_fmt(cx + bar_w / 2 + 4)}' y='{_fmt(max(top + 10, top_y))}' "
                f"dominant-baseline='middle'>{escape(value_label(b.value))}</text>"
            )
        group.append("</g>")
        out += group
    out.append("</svg>")
    return "\n".join(out) + "\n"


def grid(charts: Sequence[str], columns: int = 2, gap: int = 8) -> str:
    """Charts (from line_chart() or bar_chart()) in rows of `columns`, in one SVG."""
    if columns < 1:
        raise ValueError("grid() needs one column at least")
    sizes = []
    for chart in charts:
        m = _SIZE.match(chart)
        if m is None:
            raise ValueError("grid() takes charts made by line_chart() or bar_chart()")
        sizes.append((int(m.group(1)), int(m.group(2))))
    parts = []
    y = 0
    width = 0
    for row in range(0, len(charts), columns):
        x = 0
        row_h = 0
        for chart, (w, h) in zip(
            charts[row : row + columns], sizes[row : row + columns], strict=True
        ):
            body = chart.replace("<svg ", f"<svg x='{x}' y='{y}' ", 1)
            parts.append(body.rstrip("\n"))
            x += w + gap
            row_h = max(row_h, h)
        width = max(width, x - gap)
        y += row_h + gap
    height = max(0, y - gap)
    width = max(0, width)
    return (
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}'>\n<rect x='0' y='0' width='{width}' height='{height}' "
        "fill='white'/>\n" + "\n".join(parts) + "\n</svg>\n"
    )
