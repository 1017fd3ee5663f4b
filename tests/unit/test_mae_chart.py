"""The geometry of the `/model` page's MAE chart (`webapp.mae_chart`) and the join behind it
(`webapp.model_catalog`)."""

from __future__ import annotations

from typing import Any

import pytest

from common.contracts.quality import LiveQuality, ModelVersionQuality, RegistryVersion, RegistryVersionsAnswer
from webapp import mae_chart as mc
from webapp.model_catalog import by_family, join


def version(number: int, family: str | None, holdout: float | None, live: float | None = None, **more: Any):
    return ModelVersionQuality(
        family=family,
        version=number,
        holdout_mae=holdout,
        status=more.pop("status", "retired"),
        decision=None,
        live_mae=live,
        live_corrections=more.pop("corrections", 0 if live is None else 3),
        **more,
    )


VERSIONS = [
    version(1, "linear_regression", 100_000.0, 120_000.0),
    version(2, "gradient_boosting", 80_000.0),
    version(3, "linear_regression", 95_000.0),
    version(4, "gradient_boosting", 70_000.0, 90_000.0, status="champion"),
]


def test_nice_steps_and_labels() -> None:
    assert [mc.nice_step(v) for v in (120_000, 80_000, 95_000, 3)] == [50_000, 20_000, 25_000, 1]
    assert [mc.short_dollars(v) for v in (0, 500, 25_000, 1_250_000)] == ["$0", "$500", "$25k", "$1.25M"]


def test_points_span_the_plot_area_by_version_and_dollars() -> None:
    chart = mc.mae_chart(VERSIONS)
    assert chart is not None
    # y: $0 on the x axis, the top tick ($150k, above the largest MAE of $120k) at the top margin
    assert [t.label for t in chart.y_ticks] == ["$0", "$50k", "$100k", "$150k"]
    assert chart.y_ticks[0].at == chart.bottom and chart.y_ticks[-1].at == chart.top
    # x: versions 1..4 with half a version of room on each side
    assert [t.label for t in chart.x_ticks] == ["v1", "v2", "v3", "v4"]
    step = (chart.right - chart.left) / 4
    assert [t.at for t in chart.x_ticks] == pytest.approx([chart.left + step * (i + 0.5) for i in range(4)], abs=0.1)
    boosting, linear = chart.series  # by family name
    assert (boosting.family, boosting.css_class, linear.css_class) == ("gradient_boosting", "series-0", "series-1")
    assert [p.version for p in linear.holdout] == [1, 3] and [p.version for p in linear.live] == [1]
    top = linear.live[0]
    assert top.y == pytest.approx(chart.bottom - (chart.bottom - chart.top) * 120 / 150, abs=0.1)
    assert top.label == "v1 live MAE $120,000 over 3 corrections"
    assert boosting.holdout[-1].label == "v4 holdout MAE $70,000"
    assert mc.Series.path(linear.holdout) == f"{linear.holdout[0].x:g},{linear.holdout[0].y:g} " + (
        f"{linear.holdout[1].x:g},{linear.holdout[1].y:g}"
    )
    assert "4 model versions of 2 families (gradient_boosting, linear_regression)" in chart.description


def test_a_single_version_sits_in_the_middle_and_nothing_to_plot_is_no_chart() -> None:
    chart = mc.mae_chart([version(9, None, 50_000.0)])
    assert chart is not None
    assert chart.series[0].holdout[0].x == pytest.approx((chart.left + chart.right) / 2, abs=0.1)
    assert chart.series[0].family == "unnamed family"
    assert mc.mae_chart([version(9, "linear_regression", None)]) is None
    assert mc.mae_chart([]) is None


def test_many_versions_thin_the_axis_labels_and_families_cycle_colours() -> None:
    many = [version(n, f"family_{n % 8}", 1000.0 * n) for n in range(1, 41)]
    chart = mc.mae_chart(many)
    assert chart is not None
    assert len(chart.x_ticks) <= mc.MAX_X_TICKS and chart.x_ticks[0].label == "v1"
    assert [s.css_class for s in chart.series][5:8] == ["series-5", "series-0", "series-1"]
    for series in chart.series:
        for point in series.holdout:
            assert chart.left <= point.x <= chart.right and chart.top <= point.y <= chart.bottom


def registry(*versions: RegistryVersion) -> RegistryVersionsAnswer:
    return RegistryVersionsAnswer(name="house-price", alias="champion", champion_version=4, versions=list(versions))


def entry(number: int, family: str | None, status: str = "retired") -> RegistryVersion:
    return RegistryVersion(family=family, version=number, holdout_mae=1.0, status=status, decision=None)  # type: ignore[arg-type]


def test_live_rows_join_their_version_merged_by_weight_and_never_another_family() -> None:
    answer = registry(entry(4, "gradient_boosting", "champion"), entry(3, "linear_regression"), entry(2, None))
    live = [
        LiveQuality(family="gradient_boosting", version=4, live_mae=10_000.0, live_corrections=3),
        LiveQuality(family=None, version=4, live_mae=30_000.0, live_corrections=1),  # no family: merged
        LiveQuality(family="gradient_boosting", version=3, live_mae=1.0, live_corrections=9),  # v3 is linear
        LiveQuality(family="linear_regression", version=2, live_mae=7.0, live_corrections=2),  # v2 has no family
        LiveQuality(family="linear_regression", version=99, live_mae=1.0, live_corrections=1),  # not registered
    ]
    joined = {v.version: (v.live_mae, v.live_corrections) for v in join(answer, live)}
    assert joined == {4: (15_000.0, 4), 3: (None, 0), 2: (7.0, 2)}
    assert {v.version: v.live_mae for v in join(answer, None)} == {4: None, 3: None, 2: None}


def test_families_are_grouped_champion_first_newest_first() -> None:
    groups = by_family(join(registry(entry(1, "b"), entry(4, "z", "champion"), entry(3, "b"), entry(2, "a")), []))
    assert [(g.family, [v.version for v in g.versions], g.serving) for g in groups] == [
        ("z", [4], True),
        ("a", [2], False),
        ("b", [3, 1], False),
    ]
