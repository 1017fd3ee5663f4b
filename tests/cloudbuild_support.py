"""Shared readers for the Cloud Build tests (tests/unit/test_cloudbuild_*.py): the two pipelines, Cloud Build's
substitution and `$$` escaping, and step ordering by `waitFor`."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]

# image name -> Dockerfile (build context is the repository root)
TREES = {
    "cloudbuild_1.yaml": {
        "k8s": "k8s_ml",
        "namespace": "ml",
        "images": {
            "data-job": "data_collection_and_versioning/Dockerfile",
            "trainer": "models/Dockerfile",
            "mlflow-server": "mlflow/Dockerfile",
            "dispatcher": "dispatcher/Dockerfile",
        },
        "test_prefixes": (
            "test_data_job_",
            "test_dispatcher",
            "test_training_",
            "test_mlflow_",
            "test_model_quality",
            "test_promotion_",
        ),
    },
    "cloudbuild_2.yaml": {
        "k8s": "k8s_web",
        "namespace": "web",
        "images": {
            "webapp": "webapp/Dockerfile",
            "mlapp": "mlapp/Dockerfile",
            "dbapp": "dbapp/Dockerfile",
            "failover-controller": "failover/Dockerfile",
        },
        # pinned where it is declared, not in the overlay: the component the config cluster's region overlay adds
        "pinned_in": {"failover-controller": "k8s_web/components/failover-controller"},
        # the deploy step runs this script (every region's cluster, then the Gateway): test_cloudbuild_regions.py
        "deploy_script": "cloudbuild/deploy_web.sh",
        "test_prefixes": ("test_webapp_", "test_mlapp_", "test_dbapp_", "test_failover_"),
    },
}
# Cloud Build's built-in substitutions (https://cloud.google.com/build/docs/configuring-builds/substitute-variable-values)
BUILT_INS = {
    "PROJECT_ID",
    "PROJECT_NUMBER",
    "BUILD_ID",
    "LOCATION",
    "TRIGGER_NAME",
    "COMMIT_SHA",
    "REVISION_ID",
    "SHORT_SHA",
    "REPO_NAME",
    "REPO_FULL_NAME",
    "BRANCH_NAME",
    "TAG_NAME",
    "REF_NAME",
    "TRIGGER_BUILD_CONFIG_PATH",
    "SERVICE_ACCOUNT_EMAIL",
    "SERVICE_ACCOUNT",
}
STEP_KEYS = {"name", "id", "args", "env", "entrypoint", "waitFor", "dir", "secretEnv", "timeout", "script", "volumes"}
TOP_KEYS = {"steps", "images", "substitutions", "options", "timeout", "availableSecrets", "tags", "logsBucket"}
# `$NAME` / `${NAME}` that Cloud Build substitutes; `$$` is the escape for a literal `$` (a shell variable).
SUBSTITUTION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
BUILDERS = (
    "gcr.io/cloud-builders/",
    "gcr.io/google.com/cloudsdktool/",
    "python:",
    "registry.k8s.io/kustomize/",
    "hashicorp/terraform:",
)


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / name).read_text())


def strings(value) -> list[str]:
    """Every string inside a parsed YAML value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


def references(text: str) -> set[str]:
    return {a or b for a, b in SUBSTITUTION.findall(text)}


def unescape(text: str, substitutions: dict[str, str], **built_ins: str) -> str:
    """Apply Cloud Build's substitution to one string, as the build would see it."""
    values = {**substitutions, **built_ins}
    out = SUBSTITUTION.sub(lambda m: values[m.group(1) or m.group(2)], text)
    return out.replace("$$", "$")


def predecessors(steps: list[dict], index: int) -> set[str]:
    """Ids of every step that must finish before `steps[index]` starts (transitively). Cloud Build semantics: no
    `waitFor` waits for every earlier step; `waitFor: ['-']` starts at once."""
    ids = [s.get("id", f"#{i}") for i, s in enumerate(steps)]
    by_id = dict(zip(ids, range(len(steps)), strict=True))
    wait = steps[index].get("waitFor")
    direct = ids[:index] if wait is None else [w for w in wait if w != "-"]
    found: set[str] = set()
    for dep in direct:
        assert dep in by_id, f"step {ids[index]} waits for unknown step {dep!r}"
        assert by_id[dep] < index, f"step {ids[index]} waits for a later step {dep!r}"
        found |= {dep} | predecessors(steps, by_id[dep])
    return found


def script_file(step: dict) -> str | None:
    """The repository's script a bash step runs (`args: [path]`), None for an inline one (`args: [-c, script]`)."""
    args = step.get("args", [])
    return args[0] if step.get("entrypoint") == "bash" and args and args[0] != "-c" else None


def command(step: dict) -> str:
    """The step's command line as one string (entrypoint or image, then args), then the script file it runs."""
    head = step.get("entrypoint") or step["name"].rsplit("/", 1)[-1].split(":")[0]
    line = " ".join([head, *step.get("args", [])] + ([step["script"]] if "script" in step else []))
    path = script_file(step)
    return line if path is None else f"{line}\n{(ROOT / path).read_text()}"


def image_ref(image: str) -> str:
    return "${_REGION}-docker.pkg.dev/$PROJECT_ID/${_REPOSITORY}/" + image + ":$SHORT_SHA"


def script_texts(config: dict) -> list[str]:
    """The text of every repository script the pipeline's steps run (`script_file`)."""
    return [(ROOT / path).read_text() for path in filter(None, map(script_file, steps_of(config)))]


def steps_of(config: dict) -> list[dict]:
    return config["steps"]


def step(config: dict, step_id: str) -> dict:
    return next(s for s in steps_of(config) if s["id"] == step_id)
