"""The geometry of the `/model` page's chart: MAE across registered versions, one series per family, holdout
(solid line) and live (dashed line). Pure arithmetic; `templates/_mae_chart.html` draws it as inline SVG, so
the page needs no script and no external resource.

Coordinates are SVG user units in a `WIDTH` x `HEIGHT` view box (the SVG scales to its container). x is the
version number (one registered model numbers every family's versions, so versions of different families
interleave on one axis); y is dollars from 0 to a round value above the largest MAE.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from common.contracts.quality import ModelVersionQuality
from webapp.model_catalog import family_name

WIDTH, HEIGHT = 720, 300
LEFT, RIGHT, TOP, BOTTOM = 72, 16, 16, 44  # margins: dollar labels on the left, version labels below
SERIES_CLASSES = 6  # style.css colours .series-0 ... .series-5; a seventh family reuses the first colour
MAX_X_TICKS = 12
Y_TICKS = 4


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    version: int
    value: float
    corrections: int | None = None  # live points: how many corrections the value stands on

    @property
    def label(self) -> str:
        """What the point says when hovered (its SVG <title>)."""
        kind = "holdout MAE" if self.corrections is None else "live MAE"
        text = f"v{self.version} {kind} ${self.value:,.0f}"
        if self.corrections is not None:
            text += f" over {self.corrections} correction{'s' if self.corrections != 1 else ''}"
        return text


@dataclass(frozen=True)
class Series:
    family: str
    css_class: str
    holdout: list[Point]
    live: list[Point]

    @staticmethod
    def path(points: Sequence[Point]) -> str:
        """The `points` attribute of a polyline through `points`."""
        return " ".join(f"{p.x:g},{p.y:g}" for p in points)


@dataclass(frozen=True)
class Tick:
    at: float  # x for version ticks, y for dollar ticks
    label: str


@dataclass(frozen=True)
class Chart:
    series: list[Series]
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    description: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    right: int = WIDTH - RIGHT  # the plot area's right edge
    bottom: int = HEIGHT - BOTTOM  # the x axis


def nice_step(largest: float, ticks: int = Y_TICKS) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) so that `ticks` steps cover `largest`."""
    raw = largest / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if raw <= m * magnitude * (1 + 1e-9))


def short_dollars(value: float) -> str:
    """An axis label: `$80k`, `$1.25M`, `$500`."""
    if value >= 1_000_000:
        return f"${value / 1_000_000:g}M"
    if value >= 1_000:
        return f"${value / 1_000:g}k"
    return f"${value:g}"


def mae_chart(versions: Sequence[ModelVersionQuality]) -> Chart | None:
    """The chart of every version with a holdout or live MAE; None when no version has either."""
    plotted = [v for v in versions if v.holdout_mae is not None or v.live_mae is not None]
    if not plotted:
        return None
    values = [m for v in plotted for m in (v.holdout_mae, v.live_mae) if m is not None]
    step = nice_step(max(values)) if max(values) > 0 else 1.0
    y_top = step * max(1, math.ceil(max(values) / step - 1e-9))
    numbers = sorted({v.version for v in plotted})
    x0 = numbers[0] - 0.5  # half a version of room on each side
    per_version = (WIDTH - RIGHT - LEFT) / (numbers[-1] + 0.5 - x0)
    bottom = HEIGHT - BOTTOM

    def x(version: int) -> float:
        return round(LEFT + (version - x0) * per_version, 1)

    def y(value: float) -> float:
        return round(bottom - value / y_top * (bottom - TOP), 1)

    families = sorted({family_name(v) for v in plotted})
    series = []
    for index, family in enumerate(families):
        own = sorted((v for v in plotted if family_name(v) == family), key=lambda v: v.version)
        holdout = [
            Point(x(v.version), y(v.holdout_mae), v.version, v.holdout_mae) for v in own if v.holdout_mae is not None
        ]
        live = [
            Point(x(v.version), y(v.live_mae), v.version, v.live_mae, v.live_corrections)
            for v in own
            if v.live_mae is not None
        ]
        series.append(Series(family, f"series-{index % SERIES_CLASSES}", holdout, live))
    every = math.ceil(len(numbers) / MAX_X_TICKS)
    x_ticks = [Tick(x(n), f"v{n}") for n in numbers[::every]]
    y_ticks = [Tick(y(step * i), short_dollars(step * i)) for i in range(round(y_top / step) + 1)]
    description = (
        f"Mean absolute error in US dollars of {len(plotted)} model version{'s' if len(plotted) != 1 else ''} "
        f"of {len(families)} famil{'ies' if len(families) != 1 else 'y'} ({', '.join(families)}), by registered "
        "version: holdout MAE as solid lines, live MAE on corrected predictions as dashed lines. The table "
        "lists every value."
    )
    return Chart(series, x_ticks, y_ticks, description)
