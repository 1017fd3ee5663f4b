"""Run one bash step of a Cloud Build file for real (after Cloud Build's substitution) against fake `kubectl` and
`gcloud` commands that answer from a JSON state file and log every call, so that a test can check what the step
does: which Jobs it creates, in which order, and when it gives up.

State keys (all optional): champion (bool), champion_after_trainers (bool: the registry gets a champion once every
trainer Job exists), registry_down (bool), config (ml-config data), trainers (CronJob names with app=trainer),
failing (CronJob names whose Jobs fail), issuers (existing ClusterIssuers), rendered (what `kubectl kustomize`
prints), workloads (what `kubectl get -f ... -o name` prints).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.cloudbuild_support import step, unescape

FAKE = r"""
import json, os, sys
raw = sys.argv[1:]
NS = ("-n", "--namespace")
args = [a for i, a in enumerate(raw) if a not in NS and (i == 0 or raw[i - 1] not in NS)]
state_path = os.environ["FAKE_STATE"]
state = json.load(open(state_path))
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps([os.path.basename(sys.argv[0]), *raw]) + "\n")

def save():
    json.dump(state, open(state_path, "w"))

def value(flag):
    for i, a in enumerate(args):
        if a == flag:
            return args[i + 1]
        if a.startswith(flag + "="):
            return a.split("=", 1)[1]
    return None

def cronjob_of(job):
    return job.rsplit("-bootstrap-", 1)[0]

if os.path.basename(sys.argv[0]) == "gcloud":
    sys.exit(0)
verb = args[0]
if verb == "exec":
    if state.get("registry_down"):
        sys.exit(1)
    sys.exit(0 if state.get("champion") else 3)
if verb == "kustomize":
    print(state.get("rendered", ""))
elif verb == "apply":
    pass
elif verb == "rollout":
    pass
elif verb == "create" and args[1] == "job":
    state.setdefault("created", []).append(args[3])
    made = {cronjob_of(j) for j in state["created"]}
    if state.get("champion_after_trainers") and set(state.get("trainers", [])) <= made:
        state["champion"] = True
    save()
elif verb == "get":
    what, output = args[1], value("-o") or ""
    if what == "configmap":
        key = output.split(".data.")[1].rstrip("}")
        print(state.get("config", {}).get(key, ""))
    elif what == "cronjobs":
        print(" ".join(state.get("trainers", [])))
    elif what == "job":
        failed = cronjob_of(args[2]) in state.get("failing", [])
        if "succeeded" in output:
            print("" if failed else "1")
        else:
            print("True" if failed else "")
    elif what == "clusterissuer":
        if args[2] not in state.get("issuers", []):
            print(f"clusterissuer {args[2]} not found", file=sys.stderr)
            sys.exit(1)
    elif what == "-f":
        if "--ignore-not-found" not in args:
            print("\n".join(state.get("workloads", [])))
"""


def install_fakes(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("kubectl", "gcloud"):
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n{FAKE}")
        path.chmod(0o755)


def run_step(config: dict, step_id: str, tmp: Path, state: dict, **substitutions: str) -> tuple[int, list, str]:
    """Run the step's bash script in `tmp` (as its workspace); return (exit code, calls, stderr)."""
    script = unescape(
        step(config, step_id)["args"][1],
        {**config["substitutions"], **substitutions},
        PROJECT_ID="p-123456",
        SHORT_SHA="abc1234",
    ).replace("/workspace/", f"{tmp}/")
    install_fakes(tmp / "bin")
    (tmp / "state.json").write_text(json.dumps(state))
    log = tmp / "calls.jsonl"
    log.write_text("")
    env = {
        **os.environ,
        "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_STATE": str(tmp / "state.json"),
        "FAKE_LOG": str(log),
    }
    proc = subprocess.run(
        ["bash", "-c", script], cwd=tmp, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return proc.returncode, calls, proc.stderr


def created_jobs(calls: list) -> list[tuple[str, str, str]]:
    """(source CronJob, Job name, namespace) of every `kubectl create job --from=cronjob/...`."""
    found = []
    for call in calls:
        if call[:3] == ["kubectl", "create", "job"]:
            source = next(a for a in call if a.startswith("--from="))
            namespace = call[call.index("-n") + 1] if "-n" in call else ""
            found.append((source.removeprefix("--from=cronjob/"), call[4], namespace))
    return found
