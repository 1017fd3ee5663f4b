"""How every long-running process of the platform learns it must stop: SIGTERM (Kubernetes, `make up`) or SIGINT
(Ctrl-C) sets one event that its loops wait on; and how a process's children stop when it dies."""

from __future__ import annotations

import logging
import shutil
import signal
import threading
from types import FrameType

# A command prefix: the child gets SIGTERM when its parent dies, even by SIGKILL (the kernel's parent-death signal,
# set by util-linux's setpriv just before it execs the command), so no child is orphaned holding a port or a
# training run. An exec prefix, not `preexec_fn`: Python code between fork and exec can deadlock or abort in a
# process whose other threads hold locks (gRPC's, when a Pub/Sub client is running), and it did (SIGABRT).
DIE_WITH_PARENT: tuple[str, ...] = ("setpriv", "--pdeathsig", "SIGTERM", "--") if shutil.which("setpriv") else ()


def stop_on_signals(log: logging.Logger, message: str = "stopping") -> threading.Event:
    """An event set by SIGTERM or SIGINT (each logged with `message` and the signal's name)."""
    stop = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        log.info(message, extra={"signal": signal.Signals(signum).name})
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    return stop
