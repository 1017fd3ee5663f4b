"""What the pages say when something is not available: plain words, never a stack trace or a made-up price."""

PRICE_UNAVAILABLE = (
    "The price service is not available right now, so we cannot price this house. "
    "Your answers are kept below: please try again in a few minutes."
)
NO_MODEL = (
    "No price model is serving yet, so we cannot price this house. A model is trained as soon as there is data; "
    "please try again later."
)
HISTORY_UNAVAILABLE = (
    "History is not available right now. Predictions and corrections are still being recorded; "
    "please try again in a few minutes."
)
MODEL_UNAVAILABLE = "Model information is not available right now because the price service cannot be reached."
VERSIONS_UNAVAILABLE = (
    "The list of model versions is not available right now because the model registry cannot be read. "
    "Please try again in a few minutes."
)
LIVE_QUALITY_UNAVAILABLE = (
    "Live errors are not available right now (the history service cannot be reached): the table shows the "
    "registry's figures only."
)
NO_MODEL_INFO = "No model is serving yet. Once a model has been trained and promoted to champion, it is shown here."
CORRECTION_NOT_SAVED = (
    "Your correction could not be saved right now. Nothing was lost on your side: please submit it again in a minute."
)
LANDING_UNAVAILABLE = "The upload storage is not available right now, so nothing was stored. Please try again later."
UPLOADS_BUSY = (
    "Other uploads are being checked right now, so this one was not stored. Please send it again in a moment."
)
