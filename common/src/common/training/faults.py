"""Whose fault it is when the current champion cannot be scored: the model's own, or the infrastructure's.

Only a fault of the model itself means the champion cannot serve, so that a sane candidate may replace it.
An MLflow or storage blip says nothing about the champion: replacing it then could promote a worse model, so
the decision waits for the next run instead. The classification is by exception type and conservative:
only the types listed as the model's fault count as such, and any other type, including one never seen
before, counts as an infrastructure fault.
"""

from __future__ import annotations

from enum import StrEnum

from mlflow.exceptions import MlflowException

from common import registry


class Fault(StrEnum):
    MODEL = "model"  # the champion cannot serve: it may be replaced
    INFRASTRUCTURE = "infrastructure"  # nothing is known about the champion: the decision is deferred


class Stage(StrEnum):
    LOAD = "load"  # resolving, downloading and deserialising the champion's files
    PREDICT = "predict"  # the loaded champion predicting the holdout (all in this process)


# Raised while loading, these blame the model's files (registry raises them only once the files are local).
MODEL_LOAD_FAULTS: tuple[type[BaseException], ...] = (registry.UnusableModel,)
# Raised by a loaded model's own predict() on the rows the candidate predicted: the champion cannot serve them.
MODEL_PREDICT_FAULTS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    ArithmeticError,
)
# Never the model's fault, whatever the stage: the tracking server (its REST errors are MlflowException),
# the network and storage (ConnectionError, TimeoutError and requests' errors are all OSError), the machine.
# Listed so that they win over the model lists (requests' JSONDecodeError is also a ValueError, for one);
# google.api_core and google.auth errors need no entry, as every unlisted type is infrastructure.
INFRASTRUCTURE_FAULTS: tuple[type[BaseException], ...] = (MlflowException, OSError, MemoryError)


def classify(exc: BaseException, stage: Stage) -> Fault:
    """The model's fault only for an exception type listed for `stage`; the infrastructure's otherwise."""
    if isinstance(exc, INFRASTRUCTURE_FAULTS):
        return Fault.INFRASTRUCTURE
    model_faults = MODEL_LOAD_FAULTS if stage is Stage.LOAD else MODEL_PREDICT_FAULTS
    return Fault.MODEL if isinstance(exc, model_faults) else Fault.INFRASTRUCTURE
