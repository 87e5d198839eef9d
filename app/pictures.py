"""Small charts as view models for inline SVG: every coordinate is computed here, the template
(templates/partials/picture.html) only places the shapes and the words.

A chart is drawn in a fixed box of ``WIDTH`` x ``HEIGHT`` user units and scaled to the page by
its viewBox, so the same numbers serve a phone and a projector.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from engine.numfmt import fmt

WIDTH, HEIGHT = 360, 220
LEFT, RIGHT, TOP, BOTTOM = 46, 12, 26, 36   # margins around the plot area, for the tick labels
TANGENT = 34.0                               # half the drawn length of a tangent, in user units


@dataclass
class Tick:
    at: float          # position along the axis, in user units
    label: str


@dataclass
class Line:
    x1: float
    y1: float
    x2: float
    y2: float
    cls: str = ""


@dataclass
class Dot:
    x: float
    y: float
    cls: str = ""
    label: str = ""
    anchor: str = "start"   # where the label sits: "start" (right of the dot), "end" (left)
    label_x: float = 0.0
    label_y: float = 0.0


@dataclass
class Bar:
    x: float
    y: float
    width: float
    height: float
    center: float
    label: str          # under the bar
    value: str          # above the bar
    value_y: float
    cls: str = ""


@dataclass
class Series:
    path: str
    cls: str
    label: str


@dataclass
class Chart:
    title: str                       # the SVG's <title>
    desc: str                        # the SVG's <desc>: the chart in words
    x_label: str
    y_label: str
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    zero_lines: list[Line] = field(default_factory=list)
    series: list[Series] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    dots: list[Dot] = field(default_factory=list)
    bars: list[Bar] = field(default_factory=list)
    width: int = WIDTH
    height: int = HEIGHT
    left: float = LEFT
    right: float = WIDTH - RIGHT
    top: float = TOP
    bottom: float = HEIGHT - BOTTOM

    # where the template puts the ticks and the axis words (the template does no arithmetic)
    @property
    def tick_end_y(self) -> float:
        return self.bottom + 4

    @property
    def tick_label_y(self) -> float:
        return self.bottom + 16

    @property
    def x_title_y(self) -> float:
        return self.bottom + 31

    @property
    def tick_start_x(self) -> float:
        return self.left - 4

    @property
    def tick_label_x(self) -> float:
        return self.left - 6


@dataclass
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass
class Picture:
    heading: str
    caption: str                     # shown under the charts: what to look at
    charts: list[Chart]
    legend: list[tuple[str, str]] = field(default_factory=list)   # (css class, words)
    table: Table | None = None

    @property
    def many(self) -> bool:
        """Several charts share the width, side by side where it allows."""
        return len(self.charts) > 1


class Unchartable(ValueError):
    """The numbers cannot be drawn: not finite, or too large or too close together to tell apart."""


class Scale:
    """Data values to user units along one axis (``p0`` is where ``lo`` lands)."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float):
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise Unchartable(f"the range {lo} to {hi} is not finite")
        if hi <= lo:
            lo, hi = padded(lo, hi)
        if not math.isfinite(hi - lo) or hi - lo <= 1e-9 * max(abs(lo), abs(hi)):
            raise Unchartable(f"the range {lo} to {hi} cannot be drawn")
        self.lo, self.hi, self.p0, self.p1 = lo, hi, p0, p1

    def __call__(self, value: float) -> float:
        return self.p0 + (value - self.lo) / (self.hi - self.lo) * (self.p1 - self.p0)

    def per_unit(self) -> float:
        return (self.p1 - self.p0) / (self.hi - self.lo)

    def ticks(self, count: int = 5, digits: int = 4) -> list[Tick]:
        step = nice_step((self.hi - self.lo) / count)
        first = math.ceil(self.lo / step - 1e-9)
        values = [k * step for k in range(first, int(math.floor(self.hi / step + 1e-9)) + 1)]
        return [Tick(round(self(v), 2), fmt(v, digits)) for v in values]


def nice_step(rough: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``rough``."""
    if rough <= 0 or not math.isfinite(rough):
        return 1.0
    power = 10 ** math.floor(math.log10(rough))
    for k in (1, 2, 5, 10):
        if k * power >= rough * 0.999:
            return k * power
    return 10 * power


def padded(lo: float, hi: float, share: float = 0.08) -> tuple[float, float]:
    """A range widened a little on both sides (and opened up when it is a single value)."""
    if hi - lo < 1e-12:
        span = max(abs(lo), 1.0) * 0.5
        return lo - span, hi + span
    pad = (hi - lo) * share
    return lo - pad, hi + pad


def axes(chart: Chart, xs: Scale, ys: Scale, x_ticks: int = 6, y_ticks: int = 5) -> None:
    chart.x_ticks = xs.ticks(x_ticks)
    chart.y_ticks = ys.ticks(y_ticks)
    if xs.lo < 0 < xs.hi:
        chart.zero_lines.append(Line(round(xs(0), 2), chart.top, round(xs(0), 2), chart.bottom, "zero"))
    if ys.lo < 0 < ys.hi:
        chart.zero_lines.append(Line(chart.left, round(ys(0), 2), chart.right, round(ys(0), 2), "zero"))


def path(points: Sequence[tuple[float, float]], xs: Scale, ys: Scale) -> str:
    """An SVG path through the points; a point outside the y range breaks the line."""
    parts: list[str] = []
    pen_down = False
    low, high = min(ys.lo, ys.hi), max(ys.lo, ys.hi)
    for x, y in points:
        if not (math.isfinite(y) and low <= y <= high):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{xs(x):.2f},{ys(y):.2f}")
        pen_down = True
    return " ".join(parts)


def tangent(x: float, y: float, slope: float, xs: Scale, ys: Scale, cls: str = "tangent") -> Line:
    """A short line through (x, y) with the given slope, the same drawn length at any steepness."""
    dx, dy = xs.per_unit(), slope * ys.per_unit()     # user units per unit of x along the line
    length = math.hypot(dx, dy) or 1.0
    ux, uy = dx / length * TANGENT, dy / length * TANGENT
    cx, cy = xs(x), ys(y)
    ends = []
    for sign in (-1, 1):   # each half shortened, if need be, to stay inside the plot area
        reach = 1.0
        for centre, step, lo, hi in ((cx, sign * ux, min(xs.p0, xs.p1), max(xs.p0, xs.p1)),
                                     (cy, sign * uy, min(ys.p0, ys.p1), max(ys.p0, ys.p1))):
            if centre + step > hi and step:
                reach = min(reach, max(hi - centre, 0.0) / step)
            if centre + step < lo and step:
                reach = min(reach, max(centre - lo, 0.0) / -step)
        ends.append((round(cx + sign * ux * reach, 2), round(cy + sign * uy * reach, 2)))
    (x1, y1), (x2, y2) = ends
    return Line(x1, y1, x2, y2, cls)


def dot(chart: Chart, x: float, y: float, cls: str, label: str = "", side: str = "") -> Dot:
    """A marked point, its label above it on ``side`` ("left" or "right": away from a curve through
    the point) when there is room, else on whichever side has more."""
    x, y = round(x, 2), round(y, 2)
    room = 8 * len(label) + 10
    right_side = x < (chart.left + chart.right) / 2
    if side == "right" and x + room <= chart.right:
        right_side = True
    elif side == "left" and x - room >= chart.left:
        right_side = False
    label_y = y - 8 if y - 8 > chart.top + 10 else y + 16
    return Dot(x, y, cls, label, "start" if right_side else "end", x + (7 if right_side else -7), label_y)


def curve_chart(title: str, desc: str, x_label: str, y_label: str, fn: Callable[[Sequence[float]], Sequence[float]],
                x_range: tuple[float, float], y_range: tuple[float, float] | None = None,
                samples: int = 161) -> tuple[Chart, Scale, Scale]:
    """A function drawn over ``x_range``: ``fn`` maps a list of x values to their y values."""
    lo, hi = x_range
    grid_x = [lo + (hi - lo) * k / (samples - 1) for k in range(samples)]
    grid_y = [float(v) for v in fn(grid_x)]
    if y_range is None:
        finite = [v for v in grid_y if math.isfinite(v)]
        if not finite:
            raise Unchartable("no finite value to draw")
        y_range = padded(min(finite), max(finite))
    chart = Chart(title, desc, x_label, y_label)
    xs = Scale(lo, hi, chart.left, chart.right)
    ys = Scale(y_range[0], y_range[1], chart.bottom, chart.top)
    axes(chart, xs, ys)
    chart.series.append(Series(path(list(zip(grid_x, grid_y)), xs, ys), "curve", y_label))
    return chart, xs, ys


def bar_chart(title: str, desc: str, x_label: str, y_label: str, labels: Sequence[str],
              values: Sequence[float], digits: int = 3) -> Chart:
    """One bar per value, on an axis from 0 (or the smallest negative value) to the largest."""
    chart = Chart(title, desc, x_label, y_label)
    lo, hi = min(0.0, *values), max(0.0, *values)
    ys = Scale(lo, hi if hi > lo else 1.0, chart.bottom, chart.top + 12)
    chart.y_ticks = ys.ticks(4)
    if lo < 0:
        chart.zero_lines.append(Line(chart.left, round(ys(0), 2), chart.right, round(ys(0), 2), "zero"))
    slot = (chart.right - chart.left) / len(values)
    width = slot * 0.62
    show_values = len(values) <= 10
    for k, (name, v) in enumerate(zip(labels, values)):
        top, base = ys(max(v, 0.0)), ys(min(v, 0.0))
        x = chart.left + slot * k + (slot - width) / 2
        chart.bars.append(Bar(round(x, 2), round(top, 2), round(width, 2), round(max(base - top, 0.5), 2),
                              round(x + width / 2, 2), name if len(values) <= 16 or k % 2 == 0 else "",
                              fmt(v, digits) if show_values else "", round(top - 4, 2), "bar"))
    return chart


def history_chart(title: str, desc: str, y_label: str,
                  lines: Sequence[tuple[str, str, Sequence[int], Sequence[float | None]]]) -> Chart:
    """Values over the update count t: ``lines`` holds (css class, words, t values, values), one per
    line; None (not defined at that t) leaves a gap."""
    chart = Chart(title, desc, "update t", y_label)
    every = [v for *_, values in lines for v in values if v is not None]
    steps = sorted({t for _, _, ts, _ in lines for t in ts})
    if not every or not all(math.isfinite(v) for v in every):
        raise Unchartable("a value is not finite")
    lo, hi = padded(min(every), max(every))
    t0, t1 = (steps[0] - 0.5, steps[-1] + 0.5) if len(steps) == 1 else (steps[0], steps[-1])
    xs = Scale(t0, t1, chart.left + 6, chart.right - 6)
    ys = Scale(lo, hi, chart.bottom, chart.top)
    chart.x_ticks = [t for t in xs.ticks(min(len(steps), 6)) if float(t.label).is_integer()]
    chart.y_ticks = ys.ticks(4)
    if lo < 0 < hi:
        chart.zero_lines.append(Line(chart.left, round(ys(0), 2), chart.right, round(ys(0), 2), "zero"))
    for cls, words, ts, values in lines:
        defined = [(t, v) for t, v in zip(ts, values) if v is not None]
        chart.series.append(Series(path(defined, xs, ys), cls, words))
        for t, v in defined if len(defined) <= 31 else ():
            chart.dots.append(Dot(round(xs(t), 2), round(ys(v), 2), cls))
    return chart
