"""The promotion rule, as a pure function: does a candidate become the champion, and why (or why not)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.training.evaluation import Evaluation


@dataclass(frozen=True)
class ChampionScore:
    """The current champion scored on the candidate's holdout; `evaluation` is None when that failed."""

    version: int
    evaluation: Evaluation | None
    error: str | None = None


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str
    compared_with_version: int | None = None

    @property
    def label(self) -> str:
        return "promoted" if self.promote else "rejected"


def _money(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else str(value)


def decide_promotion(candidate: Evaluation, baseline_mae: float, champion: ChampionScore | None) -> Decision:
    """Promote only a sane candidate (finite, positive predictions; beats predicting the training median)
    whose holdout MAE is strictly lower than the champion's on the same holdout (or when there is no champion).

    A champion that cannot be scored (fails to load or predict, or gives invalid predictions) cannot serve
    either, so a sane candidate replaces it; the reason records what went wrong.
    """
    compared = champion.version if champion else None
    if candidate.rows == 0:
        return Decision(False, "the holdout is empty: nothing to compare on", compared)
    if candidate.non_finite:
        return Decision(
            False, f"{candidate.non_finite} of {candidate.rows} holdout predictions are not finite", compared
        )
    if candidate.non_positive:
        return Decision(False, f"{candidate.non_positive} of {candidate.rows} holdout predictions are <= 0", compared)
    if not candidate.mae < baseline_mae:
        return Decision(
            False,
            f"MAE {_money(candidate.mae)} does not beat predicting the training median (MAE {_money(baseline_mae)})",
            compared,
        )
    if champion is None:
        return Decision(
            True,
            f"no champion yet; MAE {_money(candidate.mae)} beats the training median (MAE {_money(baseline_mae)})",
        )
    scored = champion.evaluation
    if scored is None or not scored.sane:
        problem = champion.error or (
            f"{scored.non_finite} non-finite and {scored.non_positive} non-positive predictions"
            if scored is not None
            else "unknown error"
        )
        return Decision(True, f"champion v{champion.version} could not be scored on the holdout ({problem})", compared)
    if candidate.mae < scored.mae:
        return Decision(
            True, f"MAE {_money(candidate.mae)} < champion v{champion.version} MAE {_money(scored.mae)}", compared
        )
    return Decision(
        False, f"MAE {_money(candidate.mae)} >= champion v{champion.version} MAE {_money(scored.mae)}", compared
    )
