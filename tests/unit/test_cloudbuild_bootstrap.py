"""The first-deploy parts of the pipelines: the ml pipeline's Terraform checks and champion bootstrap, the web
pipeline's wait for a champion, the project each build writes into its overlay, and the ClusterIssuer check.

The bash steps are run for real (after Cloud Build's substitution) against fake kubectl/gcloud commands
(tests/cloudbuild_fakes.py); the champion check's Python is run against a local HTTP server answering as MLflow
does (200 with the alias, 404 without the model, 400 without the alias: checked against an MLflow 3 server by hand).
"""

from __future__ import annotations

import http.server
import re
import shutil
import subprocess
import sys
import threading

import pytest
import yaml

from tests import k8s_support as k8s
from tests.cloudbuild_fakes import created_jobs, run_step
from tests.cloudbuild_support import ROOT, command, load, predecessors, step, steps_of, unescape

ML, WEB = load("cloudbuild_1.yaml"), load("cloudbuild_2.yaml")
needs_bash = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
NO_CHAMPION = {
    "config": {"MODEL_NAME": "house-price", "CHAMPION_ALIAS": "champion", "LANDING_BUCKET": "gs://p-landing"}
}


def ids(config):
    return [s["id"] for s in steps_of(config)]


def test_ml_pipeline_checks_terraform_in_a_pinned_image_before_any_build():
    terraform = step(ML, "terraform")
    assert re.fullmatch(r"hashicorp/terraform:\d+\.\d+\.\d+", terraform["name"]), terraform["name"]
    assert terraform["dir"] == "infra/terraform"
    script = command(terraform)
    order = [script.find(c) for c in ("terraform fmt -check -recursive", "init -backend=false", "terraform validate")]
    assert -1 not in order and order == sorted(order), script
    assert "set -eu" in script
    for build in (s for s in steps_of(ML) if s.get("args", [])[:1] == ["build"]):
        assert "terraform" in predecessors(steps_of(ML), ids(ML).index(build["id"])), build["id"]


@pytest.mark.parametrize("config", [ML, WEB], ids=["ml", "web"])
def test_set_project_rewrites_the_overlay_and_images_wait_for_it(config, tmp_path):
    tree = "k8s_ml" if config is ML else "k8s_web"
    set_images = next(s for s in steps_of(config) if "kustomize edit set image" in command(s))
    assert "set-project" in predecessors(steps_of(config), ids(config).index(set_images["id"]))
    if shutil.which("bash") is None or shutil.which("kubectl") is None:
        pytest.skip("bash and kubectl are needed to run the step and render its result")
    shutil.copytree(ROOT / tree, tmp_path / tree)
    code, _, err = run_step(config, "set-project", tmp_path, {})
    assert code == 0, err
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(tmp_path / tree / "overlays" / "prod")], capture_output=True, text=True, check=True
    ).stdout
    assert "house-price-prod" not in rendered.replace("house-price-prod/house-price/", "")
    objs = [o for o in yaml.safe_load_all(rendered) if o]
    for sa in k8s.of_kind(objs, "ServiceAccount"):
        assert sa["metadata"]["annotations"]["iam.gke.io/gcp-service-account"].endswith(
            "@p-123456.iam.gserviceaccount.com"
        )
    buckets = re.findall(r"gs://[\w.-]+", rendered)
    assert buckets and all(b.startswith("gs://p-123456-") for b in buckets), buckets


def champion_script(config, step_id) -> str:
    script = step(config, step_id)["args"][1]
    return script[script.index("read -r -d '' champion_py") : script.index("champion() {")]


def test_both_pipelines_ask_the_same_champion_question():
    assert champion_script(ML, "bootstrap-champion") == champion_script(WEB, "wait-for-champion")


class _Registry(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[str] = []

    def do_GET(self):
        _Registry.seen.append(self.path)
        self.send_response(_Registry.status)
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.mark.parametrize(("status", "expected"), [(200, 0), (404, 3), (400, 3), (500, 1), (None, 1)])
def test_champion_check_exit_codes(status, expected):
    script = champion_script(ML, "bootstrap-champion")
    python = script.split("<<'PY' || true\n", 1)[1].split("\nPY\n", 1)[0]
    server = http.server.HTTPServer(("127.0.0.1", 0), _Registry)
    port = server.server_port
    if status is None:
        server.server_close()  # nothing listens: the registry cannot be read
    else:
        _Registry.status = status
        threading.Thread(target=server.handle_request, daemon=True).start()
    env = {"MLFLOW_PORT": str(port), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", python, "house-price", "champion"], env=env, timeout=30, check=False)
    assert proc.returncode == expected
    if status is not None:
        server.server_close()
        assert _Registry.seen[-1] == "/api/2.0/mlflow/registered-models/alias?name=house-price&alias=champion"


def trainer_cronjobs() -> list[str]:
    return [c["metadata"]["name"] for c in k8s.of_kind(k8s.render("k8s_ml/overlays/prod"), "CronJob")]


@needs_bash
def test_bootstrap_trains_from_every_cronjob_when_there_is_no_champion(tmp_path):
    cronjobs = trainer_cronjobs() if shutil.which("kubectl") else ["data-job", "train-a", "train-b"]
    trainers = [c for c in cronjobs if c not in ("data-job", "mlflow-db-backup")]
    assert "data-job" in cronjobs and trainers
    state = {**NO_CHAMPION, "trainers": trainers, "champion_after_trainers": True}
    code, calls, err = run_step(ML, "bootstrap-champion", tmp_path, state)
    assert code == 0, err
    assert created_jobs(calls) == [(c, f"{c}-bootstrap-abc1234", "ml") for c in ["data-job", *trainers]]
    copy = next(c for c in calls if c[:3] == ["gcloud", "storage", "cp"])
    assert copy[3:] == ["--no-clobber", "sample_dataset/data.csv", "gs://p-landing/bootstrap/sample_dataset.csv"]
    assert (ROOT / "sample_dataset" / "data.csv").is_file()
    assert "bootstrap-champion" not in [s["id"] for s in steps_of(ML) if "kubectl apply" in command(s)]
    assert step(ML, "bootstrap-champion")["waitFor"] == ["deploy"]


@needs_bash
def test_trainer_cronjobs_carry_the_label_the_bootstrap_selects():
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed: cannot render k8s_ml")
    cronjobs = k8s.of_kind(k8s.render("k8s_ml/overlays/prod"), "CronJob")
    trainers = [c for c in cronjobs if c["metadata"]["name"].startswith("train-")]
    assert trainers and all(c["metadata"]["labels"]["app"] == "trainer" for c in trainers)
    others = [c for c in cronjobs if c not in trainers]
    assert all(c["metadata"]["labels"].get("app") != "trainer" for c in others)
    assert re.search(r"-l app=trainer\s", command(step(ML, "bootstrap-champion")))


@needs_bash
@pytest.mark.parametrize(
    ("state", "code", "jobs"),
    [
        ({"champion": True}, 0, 0),  # an existing champion: nothing to do
        ({"registry_down": True}, 1, 0),  # MLflow cannot be read: fail, train nothing
        ({"trainers": ["train-a", "train-b"], "failing": ["data-job"]}, 1, 1),  # stops at the failed data job
        ({"trainers": ["train-a", "train-b"], "failing": ["train-a"]}, 1, 2),
        ({"trainers": []}, 1, 1),  # no trainer CronJob found
    ],
)
def test_bootstrap_does_nothing_with_a_champion_and_fails_loudly(tmp_path, state, code, jobs):
    result, calls, _ = run_step(ML, "bootstrap-champion", tmp_path, {**NO_CHAMPION, **state})
    assert result == code
    assert len(created_jobs(calls)) == jobs


@needs_bash
def test_bootstrap_fails_when_training_gives_no_champion(tmp_path):
    state = {**NO_CHAMPION, "trainers": ["train-a"], "champion_after_trainers": False}
    code, calls, err = run_step(ML, "bootstrap-champion", tmp_path, state, _BOOTSTRAP_TIMEOUT="0s")
    assert code == 1 and "no champion" in err
    assert len(created_jobs(calls)) == 2


@needs_bash
@pytest.mark.parametrize(("champion", "code"), [(True, 0), (False, 1)])
def test_web_deploy_waits_for_a_champion(tmp_path, champion, code):
    deploy = ids(WEB).index("deploy")
    assert "wait-for-champion" in predecessors(steps_of(WEB), deploy)
    assert step(WEB, "wait-for-champion")["waitFor"] == ["check-inputs"]  # waits beside the tests and builds
    assert re.fullmatch(r"\d+s", WEB["substitutions"]["_CHAMPION_TIMEOUT"])
    result, calls, err = run_step(WEB, "wait-for-champion", tmp_path, {**NO_CHAMPION, "champion": champion},
                                  _CHAMPION_TIMEOUT="0s")  # fmt: skip
    assert result == code, err
    assert not created_jobs(calls)


@needs_bash
@pytest.mark.parametrize("config", [ML, WEB], ids=["ml", "web"])
@pytest.mark.parametrize(("issuers", "applied"), [(["letsencrypt-prod"], True), ([], False)])
def test_deploy_refuses_an_ingress_whose_cluster_issuer_is_missing(tmp_path, config, issuers, applied):
    rendered = (
        "kind: Ingress\nmetadata:\n  annotations:\n    cert-manager.io/cluster-issuer: letsencrypt-prod\n---\n"
        "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - image: x:1\n"
    )
    state = {"issuers": issuers, "rendered": rendered, "workloads": ["deployment.apps/x"]}
    code, calls, err = run_step(config, "deploy", tmp_path, state)
    assert (code == 0) is applied, err
    assert any(c[:2] == ["kubectl", "apply"] for c in calls) is applied
    if not applied:
        assert "ClusterIssuer letsencrypt-prod does not exist" in err


def test_the_scripts_substitute_cleanly():
    for config, step_id in ((ML, "bootstrap-champion"), (WEB, "wait-for-champion"), (ML, "set-project")):
        script = unescape(step(config, step_id)["args"][1], config["substitutions"], PROJECT_ID="p", SHORT_SHA="a")
        assert "${_" not in script and "$$" not in script
