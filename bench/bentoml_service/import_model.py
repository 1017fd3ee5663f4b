"""Import one MLflow model version into BentoML's model store, as a BentoML user does before serving it.

Runs in the BentoML peer's own environment: `python import_model.py <MLflow model URI> <BentoML tag>`, with
`MLFLOW_TRACKING_URI` (read by MLflow) and `BENTOML_HOME` (the store, read by BentoML) in its environment.
Without a reachable tracking server, BentoML 1.4.40 reports `UnboundLocalError: ... 'local_path'` instead of
MLflow's own error (its `finally` clause uses the download's result).
"""

import sys

import bentoml


def main(model_uri: str, tag: str) -> None:
    model = bentoml.mlflow.import_model(tag, model_uri)
    print(f"imported {model_uri} as {model.tag}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
