"""Crash injection for the fault tests: `DATA_JOB_FAILPOINT=<name>` kills the process at that step.

    after_instream_data     instream batch Parquet written, its marker not yet
    after_version_data      versioned/v{N}/ train+valid written, the manifest not yet
    after_version_manifest  manifest written, the absorbed instream batches not yet deleted

The process sends itself SIGKILL: no cleanup handler runs, exactly as when the kernel or kubelet kills it.
"""

from __future__ import annotations

import logging
import os
import signal
import sys

log = logging.getLogger(__name__)


class Failpoints:
    def __init__(self, armed: str | None):
        self.armed = armed

    def hit(self, name: str) -> None:
        if self.armed != name:
            return
        log.warning("failpoint reached: killing the process", extra={"failpoint": name})
        for handler in logging.getLogger().handlers:
            handler.flush()
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
