"""The retraining dispatcher: one `dataset.version.committed` event in, one training run per model family out."""
