"""The dashboard charts' geometry: SVG coordinates for the live accuracy chart (points, line,
promotion marks) and the reliability diagram.

Pure (no Flask): the dashboard template draws the result as inline SVG, so the chart needs
no JavaScript and no asset from anywhere else.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from movieclassifier.reliability import Bin
from movieclassifier.stats import Series

WIDTH = 560
HEIGHT = 260
# Room for the axis labels on the left and bottom, and the version labels on top.
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 30, 38
Y_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str


@dataclass(frozen=True)
class ChartMark:
    x: float
    label_y: float
    version: int
    label: str


@dataclass(frozen=True)
class Tick:
    position: float
    label: str
    # Minor ticks are hidden on a phone (dashboard.css), where the labels are drawn larger.
    minor: bool = False


@dataclass(frozen=True)
class Frame:
    """A chart's size and plot area, and where a value falls in it (accuracy upwards)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int

    @classmethod
    def of(cls, width: int, height: int) -> Frame:
        """Room for the axis labels on the left and bottom, and labels on top."""
        return cls(width, height, LEFT, width - RIGHT, TOP, height - BOTTOM)

    def x(self, value: float, low: float, high: float) -> float:
        return scale(value, low, high, self.left, self.right)

    def y(self, accuracy: float) -> float:
        return scale(accuracy, 0, 1, self.bottom, self.top)

    def accuracy_ticks(self) -> list[Tick]:
        return [Tick(self.y(t), f"{t:.0%}") for t in Y_TICKS]

    def sizes(self) -> dict[str, int]:
        """The frame's fields, to build a chart that is a frame."""
        return {f.name: getattr(self, f.name) for f in fields(Frame)}


@dataclass(frozen=True)
class Chart(Frame):
    """Everything the template needs to draw the live accuracy chart."""

    points: list[ChartPoint]
    line: str
    marks: list[ChartMark]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    bucket: int


def scale(value: float, low: float, high: float, start: float, end: float) -> float:
    """Map ``value`` from [low, high] onto [start, end], rounded for compact SVG.

    >>> scale(5, 0, 10, 100, 200)
    150.0
    >>> scale(1.0, 0, 1, 230, 30)
    30.0
    """
    if high == low:
        return round(start, 1)
    return round(start + (value - low) * (end - start) / (high - low), 1)


def nice_ticks(maximum: int, count: int = 4) -> list[int]:
    """Round tick values from 0 to about ``maximum``.

    >>> nice_ticks(1)
    [0, 1]
    >>> nice_ticks(437)
    [0, 200, 400]
    """
    if maximum <= count:
        return list(range(maximum + 1))
    raw = maximum / count
    magnitude = 10 ** (len(str(int(raw))) - 1)
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, maximum + 1, step))


def x_ticks(positions: list[float], values: list[int]) -> list[Tick]:
    """Ticks for the answer axis; with more than three, every other one is minor.

    >>> [(t.label, t.minor) for t in x_ticks([0, 1, 2, 3], [0, 5, 10, 15])]
    [('0', False), ('5', True), ('10', False), ('15', True)]
    """
    many = len(values) > 3
    return [
        Tick(position, f"{value:,}", minor=many and index % 2 == 1)
        for index, (position, value) in enumerate(zip(positions, values, strict=True))
    ]


def layout(series: Series, width: int = WIDTH, height: int = HEIGHT) -> Chart | None:
    """Coordinates for ``series``; None when there is no answer to draw yet."""
    if not series.points:
        return None
    x_max = max([series.total, 1] + [p.answers_before for p in series.promotions])
    frame = Frame.of(width, height)

    def x_of(answers: float) -> float:
        return frame.x(answers, 0, x_max)

    y_of = frame.y
    points = [
        ChartPoint(
            x_of((p.start + p.end) / 2),
            y_of(p.accuracy),
            f"answers {p.start + 1}–{p.end}: {p.accuracy:.0%} correct ({p.correct} of {p.answers})",
        )
        for p in series.points
    ]
    answer_ticks = nice_ticks(x_max)
    marks = [
        ChartMark(
            x_of(promotion.answers_before),
            # Stagger labels so versions promoted close together stay readable.
            TOP - 16 + 10 * (index % 2),
            promotion.version,
            f"v{promotion.version}",
        )
        for index, promotion in enumerate(series.promotions)
    ]
    return Chart(
        **frame.sizes(),
        points=points,
        line=polyline(points),
        marks=marks,
        x_ticks=x_ticks([x_of(t) for t in answer_ticks], answer_ticks),
        y_ticks=frame.accuracy_ticks(),
        bucket=series.bucket,
    )


def polyline(points: list[ChartPoint]) -> str:
    """An SVG polyline's points."""
    return " ".join(f"{p.x},{p.y}" for p in points)


@dataclass(frozen=True)
class ReliabilityLine:
    """One set's points on the reliability diagram (held-out rows, or live answers)."""

    name: str
    css: str
    points: list[ChartPoint]
    line: str
    bins: list[Bin]


@dataclass(frozen=True)
class ReliabilityChart(Frame):
    """The reliability diagram: accuracy against the confidence shown, and the diagonal."""

    diagonal: str
    lines: list[ReliabilityLine]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


# The label shown always has a probability of at least 50%.
CONFIDENCE_TICKS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def reliability_layout(
    held: list[Bin], live: list[Bin], width: int = WIDTH, height: int = HEIGHT
) -> ReliabilityChart | None:
    """Coordinates for the held-out and the live bins; None when neither has any."""
    if not held and not live:
        return None
    frame = Frame.of(width, height)

    def x_of(confidence: float) -> float:
        return frame.x(confidence, 0.5, 1.0)

    y_of = frame.y
    lines = []
    for name, css, bins in (("held-out rows", "held-out", held), ("live answers", "live", live)):
        if not bins:
            continue
        points = [
            ChartPoint(
                x_of(max(b.confidence, 0.5)),
                y_of(b.accuracy),
                f"{name}, shown {b.low:.0%}–{b.high:.0%}: {b.accuracy:.1%} right at a mean "
                f"{b.confidence:.1%} ({b.rows:,} rows)",
            )
            for b in bins
        ]
        lines.append(ReliabilityLine(name, css, points, polyline(points), bins))
    return ReliabilityChart(
        **frame.sizes(),
        diagonal=f"{x_of(0.5)},{y_of(0.5)} {x_of(1.0)},{y_of(1.0)}",
        lines=lines,
        x_ticks=[Tick(x_of(t), f"{t:.0%}") for t in CONFIDENCE_TICKS],
        y_ticks=frame.accuracy_ticks(),
    )
