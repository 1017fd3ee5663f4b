"""Import one MLflow model version into BentoML's model store, as a BentoML user does before serving it.

Runs in the BentoML peer's own environment: `python import_model.py <MLflow model URI> <BentoML tag>`, with
`MLFLOW_TRACKING_URI` (read by MLflow) and `BENTOML_HOME` (the store, read by BentoML) in its environment.
Without a reachable tracking server, BentoML 1.4.40 reports `UnboundLocalError: ... 'local_path'` instead of
MLflow's own error (its `finally` clause uses the download's result).
"""

import json
import logging
import sys

import bentoml

log = logging.getLogger("bentoml-import")


def main(model_uri: str, tag: str) -> None:
    model = bentoml.mlflow.import_model(tag, model_uri)
    log.info(json.dumps({"message": "model imported", "model_uri": model_uri, "tag": str(model.tag)}))


if __name__ == "__main__":
    # This environment has only BentoML, not the project's `common`: one JSON line per record, by hand.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    main(sys.argv[1], sys.argv[2])
