"""gunicorn's logger for the platform's services (`logger_class` in `common.gunicorn_conf`): gunicorn's own, without
its access lines.

Each app writes one access line per request itself, with the request id and in the platform's format
(`common.webservice.install_request_log`). gunicorn would also build one of its own for every request whenever
`logconfig_dict` is set, as it is here: it computes the line's atoms, then hands it to a `gunicorn.access` logger
that has no handler, so the line goes nowhere. Measured on a prediction: 8% of mlapp's CPU per request (py-spy,
GIL samples), the same in any other service. Its error log is untouched.
"""

from __future__ import annotations

from gunicorn.glogging import Logger


class AppLogger(Logger):  # type: ignore[misc]  # gunicorn is unannotated
    """gunicorn's logger, with the access log off: the apps log their own requests (gunicorn's `access` returns
    at once when `access_log_enabled` is false)."""

    @property
    def access_log_enabled(self) -> bool:
        return False
