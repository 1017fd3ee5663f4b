"""The promotion rule, as a pure function: does a candidate become the champion, and why (or why not)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from common.compiled import Verdict
from common.training.evaluation import Evaluation
from common.training.faults import Fault

DEFERRED = "deferred"  # the label (promotion_decision tag) of a decision left to the next run


@dataclass(frozen=True)
class ChampionScore:
    """The current champion scored on the candidate's holdout. When that failed, `evaluation` is None,
    `error` says what happened and `fault` whose fault it was; no `fault` counts as the infrastructure's."""

    version: int
    evaluation: Evaluation | None
    error: str | None = None
    fault: Fault | None = None


@dataclass(frozen=True)
class Decision:
    """`deferred`: not promoted for now, because the champion could not be judged (see `common.training.faults`);
    the next run decides again for the same candidate."""

    promote: bool
    reason: str
    compared_with_version: int | None = None
    deferred: bool = False

    def __post_init__(self) -> None:
        if self.promote and self.deferred:
            raise ValueError("a decision cannot both promote and be deferred")

    @property
    def label(self) -> str:
        return "promoted" if self.promote else DEFERRED if self.deferred else "rejected"


def _money(value: float) -> str:
    return f"{value:,.0f}" if math.isfinite(value) else str(value)


def decide_promotion(
    candidate: Evaluation,
    baseline_mae: float,
    champion: ChampionScore | None,
    serving_form: Verdict = Verdict.NOT_COMPILED,
) -> Decision:
    """Promote only a sane candidate (finite, positive predictions; beats predicting the training median; a
    compiled serving form, if it has one, equal to its own predictions: `common.compiled`) whose holdout MAE is
    strictly lower than the champion's on the same holdout (or when there is no champion).

    A champion that cannot serve by its own fault (its files cannot be loaded or trusted, its predictions fail
    or are not finite and positive) is replaced by a sane candidate. A champion that could not be scored for
    any other reason (MLflow or storage unavailable, an unknown error) defers the decision: nothing is known
    against it. The reason records what went wrong either way.
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
    if serving_form is Verdict.DISAGREES:
        return Decision(
            False, "its compiled serving form disagrees with its own predictions (see the serving_form tag)", compared
        )
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
    if scored is None:
        problem = champion.error or "unknown error"
        if champion.fault is not Fault.MODEL:
            return Decision(
                False,
                f"deferred: champion v{champion.version} could not be scored on the holdout because of an "
                f"infrastructure fault ({problem}); the next run decides again",
                compared,
                deferred=True,
            )
        return Decision(True, f"champion v{champion.version} could not be scored on the holdout ({problem})", compared)
    if not scored.sane:
        problem = f"{scored.non_finite} non-finite and {scored.non_positive} non-positive predictions"
        return Decision(True, f"champion v{champion.version} could not be scored on the holdout ({problem})", compared)
    if candidate.mae < scored.mae:
        return Decision(
            True, f"MAE {_money(candidate.mae)} < champion v{champion.version} MAE {_money(scored.mae)}", compared
        )
    return Decision(
        False, f"MAE {_money(candidate.mae)} >= champion v{champion.version} MAE {_money(scored.mae)}", compared
    )
