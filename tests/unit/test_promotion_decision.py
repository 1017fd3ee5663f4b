"""The promotion rule: a candidate becomes champion only when it is sane and strictly better on the same holdout;
a champion that could not be scored for a reason that is not its own fault defers the decision."""

from __future__ import annotations

import math

import numpy as np
import pytest

from common.compiled import Verdict
from common.training import ChampionScore, Decision, decide_promotion, evaluate, median_baseline_mae
from common.training.faults import Fault

Y = np.array([300_000.0, 450_000.0, 520_000.0, 610_000.0, 1_200_000.0])
BASELINE = median_baseline_mae(Y, Y)  # predicting 520,000 for every row


def scored(offset: float) -> object:
    return evaluate(Y, Y + offset)


def champion(offset: float, version: int = 3) -> ChampionScore:
    return ChampionScore(version, evaluate(Y, Y + offset))


def test_evaluate_scores_and_counts() -> None:
    result = evaluate(Y, Y + 10_000)
    assert result.rows == 5 and result.sane
    assert result.mae == pytest.approx(10_000) and result.rmse == pytest.approx(10_000)
    assert 0.99 < result.r2 < 1.0
    assert result.metrics("holdout") == {
        "holdout_rows": 5,
        "holdout_mae": pytest.approx(10_000),
        "holdout_rmse": pytest.approx(10_000),
        "holdout_r2": pytest.approx(result.r2),
    }


def test_evaluate_never_scores_a_subset_when_predictions_are_not_finite() -> None:
    result = evaluate(Y, np.array([300_000.0, np.nan, 520_000.0, np.inf, 1_200_000.0]))
    assert result.non_finite == 2 and not result.sane
    assert math.isnan(result.mae) and math.isnan(result.rmse)


def test_median_baseline_is_the_mae_of_predicting_the_training_median() -> None:
    assert np.abs(Y - 520_000.0).mean() == pytest.approx(BASELINE)


def test_promotes_a_better_candidate_and_says_by_how_much() -> None:
    decision = decide_promotion(scored(20_000), BASELINE, champion(30_000))
    assert decision.promote and decision.label == "promoted"
    assert decision.reason == "MAE 20,000 < champion v3 MAE 30,000"
    assert decision.compared_with_version == 3


def test_promotes_the_first_sane_candidate_when_there_is_no_champion() -> None:
    decision = decide_promotion(scored(20_000), BASELINE, None)
    assert decision.promote and decision.compared_with_version is None
    assert "no champion yet" in decision.reason


@pytest.mark.parametrize("offset", [30_000, 45_000], ids=["equal", "worse"])
def test_rejects_a_candidate_that_is_not_strictly_better(offset: float) -> None:
    decision = decide_promotion(scored(offset), BASELINE, champion(30_000))
    assert not decision.promote and decision.label == "rejected"
    assert decision.reason == f"MAE {offset:,.0f} >= champion v3 MAE 30,000"
    assert decision.compared_with_version == 3


def test_rejects_nan_predictions_even_without_a_champion() -> None:
    candidate = evaluate(Y, np.where(np.arange(5) == 1, np.nan, Y))
    decision = decide_promotion(candidate, BASELINE, None)
    assert not decision.promote
    assert decision.reason == "1 of 5 holdout predictions are not finite"


def test_rejects_negative_or_zero_predictions_even_if_the_mae_is_lower() -> None:
    candidate = evaluate(Y, np.array([-1.0, 450_000.0, 520_000.0, 0.0, 1_200_000.0]))
    assert candidate.mae < champion(300_000).evaluation.mae
    decision = decide_promotion(candidate, BASELINE, champion(300_000))
    assert not decision.promote
    assert decision.reason == "2 of 5 holdout predictions are <= 0"


def test_rejects_a_candidate_no_better_than_predicting_the_median() -> None:
    constant = evaluate(Y, np.full(5, 520_000.0))
    decision = decide_promotion(constant, BASELINE, None)
    assert not decision.promote
    assert "does not beat predicting the training median" in decision.reason
    # ...even when the champion is worse still.
    assert not decide_promotion(constant, BASELINE, champion(900_000)).promote


def test_rejects_on_an_empty_holdout() -> None:
    empty = evaluate(np.array([]), np.array([]))
    assert not decide_promotion(empty, float("nan"), None).promote


def test_a_champion_that_cannot_be_scored_by_its_own_fault_is_replaced_by_a_sane_candidate() -> None:
    broken = ChampionScore(4, None, "UntrustedModel: boom", Fault.MODEL)
    decision = decide_promotion(scored(20_000), BASELINE, broken)
    assert decision.promote and decision.compared_with_version == 4
    assert "champion v4 could not be scored" in decision.reason and "boom" in decision.reason

    invalid = ChampionScore(5, evaluate(Y, np.full(5, np.nan)))
    decision = decide_promotion(scored(20_000), BASELINE, invalid)
    assert decision.promote and "5 non-finite" in decision.reason


def test_an_insane_candidate_never_replaces_even_a_broken_champion() -> None:
    candidate = evaluate(Y, np.full(5, -5.0))
    assert not decide_promotion(candidate, BASELINE, ChampionScore(4, None, "gone", Fault.MODEL)).promote


@pytest.mark.parametrize("fault", [Fault.INFRASTRUCTURE, None], ids=["infrastructure", "unclassified"])
def test_a_champion_not_scored_for_another_reason_defers_the_decision(fault: Fault | None) -> None:
    blip = ChampionScore(4, None, "ConnectionError: connection refused", fault)
    decision = decide_promotion(scored(20_000), BASELINE, blip)
    assert not decision.promote and decision.deferred and decision.label == "deferred"
    assert decision.compared_with_version == 4
    assert decision.reason.startswith("deferred: champion v4 could not be scored")
    assert "infrastructure fault (ConnectionError: connection refused)" in decision.reason


def test_a_candidate_that_fails_on_its_own_is_rejected_not_deferred() -> None:
    blip = ChampionScore(4, None, "MlflowException: 503", Fault.INFRASTRUCTURE)
    for candidate, baseline in ((evaluate(Y, np.full(5, -5.0)), BASELINE), (scored(20_000), 10_000.0)):
        decision = decide_promotion(candidate, baseline, blip)
        assert decision.label == "rejected" and not decision.deferred


def test_a_decision_cannot_promote_and_be_deferred() -> None:
    with pytest.raises(ValueError, match="both"):
        Decision(True, "?", 3, deferred=True)
    assert Decision(False, "later", 3, deferred=True).label == "deferred"


def test_a_candidate_whose_compiled_form_disagrees_is_never_promoted() -> None:
    better = evaluate(Y, Y + 1_000)
    for champion in (None, ChampionScore(3, evaluate(Y, Y + 50_000))):
        decision = decide_promotion(better, BASELINE, champion, Verdict.DISAGREES)
        assert not decision.promote and not decision.deferred and "compiled serving form" in decision.reason
    for verdict in (Verdict.COMPILED, Verdict.NOT_COMPILED):  # none at all: the pipeline itself serves
        assert decide_promotion(better, BASELINE, None, verdict).promote
