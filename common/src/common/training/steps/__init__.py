"""The trainer's steps, each in its own module and called in this order by `common.training.trainer`:

    load      the committed dataset versions, as train and holdout rows        -> Dataset
    fit       the family's Pipeline([features, model]) on the train rows        -> Fitted
    evaluate  the fitted pipeline on train and holdout, and the median baseline  -> Scores
    register  params, metrics and the model logged to the run; a model version  -> Candidate
    decide    the champion scored on the same holdout, the decision recorded, the alias moved -> Decision
    publish   `model.promoted` on the bus for a promotion                        -> the event id

Each step takes and returns explicit values (frozen dataclasses); the MLflow writes go through an
`MlflowClient` with explicit run ids.
"""
