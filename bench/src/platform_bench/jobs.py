"""Run one of the platform's own entry points (`data-job`, `train`) to completion and measure it.

The peak memory is the job's own `ru_maxrss` (the kernel's high-water mark of its resident set, exact however
short the peak), read with `os.wait4` by a small launcher process that forks and execs the job. The bench
cannot reap the job itself: Linux carries the forking process's high-water mark into the child's
`ru_maxrss`, so `/bin/true` started from an 800 MiB bench process "peaks" at 810 MiB. Started from the
launcher (a bare Python, about 10 MiB), the figure is the job's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local_platform.components import python_tool
from platform_bench.config import REPO_ROOT

# argv: result file, then the job's command. Writes {"seconds", "cpu_seconds", "exit_code", "maxrss_kib"} there.
_LAUNCHER = """
import json, os, sys, time
result, command = sys.argv[1], sys.argv[2:]
started = time.monotonic()
pid = os.fork()
if pid == 0:
    try:
        os.execv(command[0], command)
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
seconds = time.monotonic() - started
cpu_seconds = usage.ru_utime + usage.ru_stime
code = os.waitstatus_to_exitcode(status)
with open(result, "w") as out:
    json.dump({"seconds": seconds, "cpu_seconds": cpu_seconds, "exit_code": code, "maxrss_kib": usage.ru_maxrss}, out)
"""

GIB = 2**30


class JobFailed(RuntimeError):
    """A platform job exited with an error; the message ends with the last lines of its log."""


@dataclass(frozen=True)
class JobRun:
    seconds: float  # wall time from start to exit, Python start-up and imports included
    cpu_seconds: float  # user + system time of the job: what it cost, less sensitive than wall time to a busy machine
    peak_rss_bytes: int
    log_path: Path

    @property
    def peak_rss_gib(self) -> float:
        return self.peak_rss_bytes / GIB

    def log_entries(self) -> list[dict[str, Any]]:
        """The job's JSON log lines (anything else it printed is skipped)."""
        entries = []
        for line in self.log_path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict):
                entries.append(entry)
        return entries


def run_job(tool: str, args: list[str], env: dict[str, str], log_path: Path) -> JobRun:
    """Run `tool args` from the repository root (as `make pipeline` does) with `env` on top of this process's
    environment, its output in `log_path`. Raises `JobFailed` on a non-zero exit."""
    usage_path = log_path.with_suffix(".usage.json")
    usage_path.unlink(missing_ok=True)
    with log_path.open("wb") as sink:
        subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(usage_path), python_tool(tool), *args],
            env={**os.environ, **env},
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        )
    command = " ".join([tool, *args])
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    if not usage_path.exists():
        raise JobFailed(f"{command} was not started, or its launcher failed (log {log_path}):\n{tail}")
    usage = json.loads(usage_path.read_text())
    if usage["exit_code"] != 0:
        raise JobFailed(f"{command} exited with code {usage['exit_code']} (log {log_path}):\n{tail}")
    return JobRun(usage["seconds"], usage["cpu_seconds"], peak_rss_bytes=usage["maxrss_kib"] * 1024, log_path=log_path)
