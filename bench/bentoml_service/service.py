"""The BentoML peer of `make bench`: one MLflow model version served the way BentoML's MLflow integration
serves it, as a BentoML user would write it.

It runs in the peer's own environment, never in the workspace's: `bench/src/platform_bench/bentoml_peer.py`
makes that environment, imports the model version into BentoML's model store (`import_model.py`) and starts
`bentoml serve service:HousePrice --arg model=<tag> --arg workers=<n>` with this folder as working directory.

POST /predict `{"records": [house, ...]}` answers `[price, ...]`: the body of mlapp's `/predict/batch`, one
record or many. The model is what `bentoml.mlflow.load_model` gives, an MLflow pyfunc, so the logged
signature is enforced on every call, as in `mlflow models serve` and MLServer's MLflow runtime.
"""

from typing import Any

import bentoml
import pandas as pd
from pydantic import BaseModel


class Arguments(BaseModel):
    """`bentoml serve --arg key=value`, read in the server process and in each worker."""

    model: str  # the tag in BentoML's model store, e.g. house-price:3
    workers: int


ARGUMENTS = bentoml.use_arguments(Arguments)


@bentoml.service(workers=ARGUMENTS.workers, traffic={"timeout": 60})
class HousePrice:
    def __init__(self) -> None:
        self.model = bentoml.mlflow.load_model(ARGUMENTS.model)

    @bentoml.api
    def predict(self, records: list[dict[str, Any]]) -> list[float]:
        return self.model.predict(pd.DataFrame(records)).tolist()  # pyfunc answers a numpy array
