"""Run one bash step of a Cloud Build file for real (after Cloud Build's substitution) against fake `kubectl` and
`gcloud` commands that answer from a JSON state file and log every call, so that a test can check what the step
does: which Jobs it creates, in which order, and when it gives up.

State keys (all optional): champion (bool), champion_after_trainers (bool: the registry gets a champion once every
trainer Job exists), registry_down (bool), config (ml-config data), trainers (CronJob names with app=trainer),
failing (CronJob names whose Jobs fail), issuers (existing ClusterIssuers), rendered (what `kubectl kustomize`
prints), rendered_by_overlay (overlay directory -> what `kubectl kustomize <it>` prints, else `rendered`), workloads
(what `kubectl get -f ... -o name` prints), live (the objects `kubectl get -f ... -o json` finds), failing_rollouts
([context, workload] pairs whose `kubectl rollout status` fails).

The fakes keep a cluster context as gcloud and kubectl do: `gcloud container clusters get-credentials NAME
--location LOCATION` writes `NAME@LOCATION` into $KUBECONFIG (default: a file beside the state), and kubectl acts in
the context that file names. What the step did is recorded in the state file (`final_state`): applied ([context,
the applied file's text]) and rollouts ([context, workload]).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.cloudbuild_support import ROOT, script_file, step, unescape

REGIONS_FILE = Path("infra/terraform/regions.auto.tfvars.json")

FAKE = r"""
import json, os, sys
import yaml
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

kubeconfig = os.environ.get("KUBECONFIG") or state_path + ".kubeconfig"
if os.path.basename(sys.argv[0]) == "gcloud":
    if args[:3] == ["container", "clusters", "get-credentials"]:
        open(kubeconfig, "w").write(args[3] + "@" + value("--location"))
    sys.exit(0)
context = open(kubeconfig).read() if os.path.exists(kubeconfig) else ""
verb = args[0]
if verb == "exec":
    if state.get("registry_down"):
        sys.exit(1)
    sys.exit(0 if state.get("champion") else 3)
if verb == "kustomize":
    print(state.get("rendered_by_overlay", {}).get(args[1], state.get("rendered", "")))
elif verb == "apply":
    state.setdefault("applied", []).append([context, open(value("-f")).read()])
    save()
elif verb == "rollout":
    state.setdefault("rollouts", []).append([context, args[2]])
    save()
    if [context, args[2]] in state.get("failing_rollouts", []):
        sys.exit(1)
elif verb == "create" and "--dry-run=client" in args:
    for obj in yaml.safe_load_all(open(value("-f"))):
        if obj:
            print(json.dumps(obj))
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
        if output == "json":
            print(json.dumps({"apiVersion": "v1", "kind": "List", "items": state.get("live", [])}))
        elif "--ignore-not-found" not in args:
            print("\n".join(state.get("workloads", [])))
"""


def install_fakes(bin_dir: Path) -> None:
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in ("kubectl", "gcloud"):
        path = bin_dir / tool
        path.write_text(f"#!{sys.executable}\n{FAKE}")
        path.chmod(0o755)


def run_step(config: dict, step_id: str, tmp: Path, state: dict, **substitutions: str) -> tuple[int, list, str]:
    """Run the step's bash script (inline, or the repository's script file it names) in `tmp` as its workspace, with
    the step's environment; return (exit code, calls, stderr). A script file's step gets the repository's regions
    file in `tmp` unless the test put one there."""
    the_step = step(config, step_id)

    def substituted(text: str) -> str:
        values = {**config["substitutions"], **substitutions}
        return unescape(text, values, PROJECT_ID="p-123456", SHORT_SHA="abc1234")

    path = script_file(the_step)
    if path is None:
        command = ["bash", "-c", substituted(the_step["args"][1]).replace("/workspace/", f"{tmp}/")]
    else:
        command = ["bash", str(ROOT / path)]
        if not (tmp / REGIONS_FILE).is_file():
            (tmp / REGIONS_FILE).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(ROOT / REGIONS_FILE, tmp / REGIONS_FILE)
    step_env = dict(substituted(e).split("=", 1) for e in the_step.get("env", []))
    install_fakes(tmp / "bin")
    (tmp / "state.json").write_text(json.dumps(state))
    log = tmp / "calls.jsonl"
    log.write_text("")
    env = {
        **{k: v for k, v in os.environ.items() if k != "KUBECONFIG"},
        **step_env,
        "PATH": f"{tmp / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "FAKE_STATE": str(tmp / "state.json"),
        "FAKE_LOG": str(log),
    }
    proc = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True, timeout=60, check=False)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return proc.returncode, calls, proc.stderr


def final_state(tmp: Path) -> dict:
    """The fakes' state after `run_step`, with what they recorded (applied, rollouts)."""
    return json.loads((tmp / "state.json").read_text())


def created_jobs(calls: list) -> list[tuple[str, str, str]]:
    """(source CronJob, Job name, namespace) of every `kubectl create job --from=cronjob/...`."""
    found = []
    for call in calls:
        if call[:3] == ["kubectl", "create", "job"]:
            source = next(a for a in call if a.startswith("--from="))
            namespace = call[call.index("-n") + 1] if "-n" in call else ""
            found.append((source.removeprefix("--from=cronjob/"), call[4], namespace))
    return found
