"""What the request handlers share, kept on the Flask app: configuration, the model holder, the refresher."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from flask import current_app

from mlapp.config import MlappConfig
from mlapp.model_holder import ModelHolder
from mlapp.promotions import ModelRefresher

EXTENSION = "mlapp"


@dataclass(frozen=True)
class MlappContext:
    config: MlappConfig
    holder: ModelHolder
    refresher: ModelRefresher | None  # None when the app was built without background work (tests)

    def shutdown(self) -> None:
        """Stop polling and delete this process's subscription; safe to call more than once."""
        if self.refresher:
            self.refresher.stop()


def current() -> MlappContext:
    return cast(MlappContext, current_app.extensions[EXTENSION])
