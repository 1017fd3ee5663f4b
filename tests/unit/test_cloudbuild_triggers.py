"""The trigger definitions in cloudbuild/triggers/ and which pipeline a change runs.

Cloud Build matches `includedFiles` / `ignoredFiles` with Go's `path/filepath.Match` extended with `**` (the
BuildTrigger API reference): `*` and `?` never cross a `/`, `**` does. A push starts a build when at least one changed
file is not ignored and, if `includedFiles` is set, matches one of them. `matches` / `would_run` implement that and are
tested first; the routing test then applies them to the repository's two trigger files.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TRIGGERS = {
    "ml": ("cloudbuild/triggers/ml.yaml", "cloudbuild_1.yaml"),
    "web": ("cloudbuild/triggers/web.yaml", "cloudbuild_2.yaml"),
}
PLACEHOLDERS = {"GITHUB_OWNER", "GITHUB_REPO", "PROJECT_ID", "REGION", "AR_REPO", "CLUSTER_NAME", "CLUSTER_LOCATION"}
SAMPLE = {
    "GITHUB_OWNER": "octo-org",
    "GITHUB_REPO": "house-prices",
    "PROJECT_ID": "my-proj-123",
    "REGION": "europe-west1",
    "AR_REPO": "house-price",
    "CLUSTER_NAME": "house-price",
    "CLUSTER_LOCATION": "europe-west1",
}


@cache
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # zero or more whole directories
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif c == "*":
            out.append("[^/]*")
            i += 1
        elif c == "?":
            out.append("[^/]")
            i += 1
        elif c == "[":
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            negate = body.startswith("^")
            body = body[1:] if negate else body
            out.append("[" + ("^" if negate else "") + body.replace("\\", "\\\\") + "]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out))


def matches(pattern: str, path: str) -> bool:
    """Cloud Build's glob: Go filepath.Match plus `**` across directories, anchored at both ends."""
    return _glob_regex(pattern).fullmatch(path) is not None


def would_run(trigger: dict, changed: list[str]) -> bool:
    ignored = trigger.get("ignoredFiles", [])
    remaining = [f for f in changed if not any(matches(p, f) for p in ignored)]
    if not remaining:
        return False
    included = trigger.get("includedFiles", [])
    return not included or any(matches(p, f) for p in included for f in remaining)


def fill(text: str) -> str:
    """What `envsubst '$GITHUB_OWNER ...'` produces (docs/deploy.md), with sample values: only the listed
    variables are replaced, any other `$` (the branch regex `^main$`) is left alone."""
    names = "|".join(SAMPLE)
    return re.sub(rf"\$(?:\{{({names})\}}|({names})\b)", lambda m: SAMPLE[m.group(1) or m.group(2)], text)


def load(tree: str) -> dict:
    return yaml.safe_load(fill((ROOT / TRIGGERS[tree][0]).read_text()))


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("common/**", "common/src/common/schema.py", True),
        ("common/**", "common/pyproject.toml", True),
        ("common/**", "commonx/a.py", False),
        ("common/**", "tests/common/a.py", False),
        ("common/*", "common/src/x.py", False),
        ("common/*", "common/pyproject.toml", True),
        ("uv.lock", "uv.lock", True),
        ("uv.lock", "sub/uv.lock", False),
        ("**/Dockerfile", "Dockerfile", True),
        ("**/Dockerfile", "webapp/Dockerfile", True),
        ("*.md", "docs/deploy.md", False),
        ("**.md", "docs/deploy.md", True),
        ("file?.py", "file1.py", True),
        ("file?.py", "file/.py", False),
        ("k8s_[mw]*/**", "k8s_ml/base/a.yaml", True),
        ("k8s_[^m]*/**", "k8s_ml/base/a.yaml", False),
        ("a.b", "aXb", False),
    ],
)
def test_glob_semantics(pattern, path, expected):
    assert matches(pattern, path) is expected


def test_would_run_applies_ignored_then_included():
    trigger = {"includedFiles": ["src/**"], "ignoredFiles": ["src/**/*.md"]}
    assert would_run(trigger, ["src/a.py"])
    assert not would_run(trigger, ["src/docs/a.md"])
    assert would_run(trigger, ["src/docs/a.md", "src/b.py"])
    assert not would_run(trigger, ["README.md"])
    assert not would_run(trigger, [])
    assert would_run({}, ["anything"])
    assert not would_run({"ignoredFiles": ["**"]}, ["anything"])


@pytest.mark.parametrize("tree", sorted(TRIGGERS))
def test_trigger_file_is_importable_and_points_at_its_pipeline(tree):
    path, pipeline = TRIGGERS[tree]
    raw = (ROOT / path).read_text()
    used = set(re.findall(r"\$\{([A-Z_]+)\}", raw))
    assert used <= PLACEHOLDERS, f"{path}: undocumented placeholders {used - PLACEHOLDERS}"
    assert "GITHUB_OWNER" in used and "GITHUB_REPO" in used
    trigger = load(tree)
    assert set(trigger) <= {
        "name",
        "description",
        "github",
        "filename",
        "includedFiles",
        "ignoredFiles",
        "substitutions",
        "serviceAccount",
        "tags",
    }, sorted(trigger)
    assert re.fullmatch(r"[a-z][a-z0-9-]{0,62}", trigger["name"]), trigger["name"]
    assert trigger["github"] == {"owner": "octo-org", "name": "house-prices", "push": {"branch": "^main$"}}
    assert trigger["filename"] == pipeline and (ROOT / pipeline).is_file()
    assert trigger["serviceAccount"] == (
        "projects/my-proj-123/serviceAccounts/cloudbuild-deployer@my-proj-123.iam.gserviceaccount.com"
    )
    # Trigger substitutions override the pipeline's defaults; each must be one the pipeline declares (MUST_MATCH).
    declared = yaml.safe_load((ROOT / pipeline).read_text())["substitutions"]
    assert set(trigger["substitutions"]) <= set(declared), sorted(set(trigger["substitutions"]) - set(declared))
    assert trigger["substitutions"]["_REGION"] == "europe-west1"
    assert pipeline in trigger["includedFiles"] and "common/**" in trigger["includedFiles"]


def test_trigger_names_are_distinct():
    assert load("ml")["name"] != load("web")["name"]


ROUTES = [
    ("common/src/common/schema.py", {"ml", "web"}),
    ("uv.lock", {"ml", "web"}),
    ("pyproject.toml", {"ml", "web"}),
    ("webapp/src/webapp/app.py", {"web"}),
    ("mlapp/Dockerfile", {"web"}),
    ("dbapp/src/dbapp/consumer.py", {"web"}),
    ("failover/src/failover/decisions.py", {"web"}),
    ("k8s_web/overlays/prod/kustomization.yaml", {"web"}),
    ("cloudbuild_2.yaml", {"web"}),
    ("cloudbuild/deploy_web.sh", {"web"}),  # the web deploy, every region's cluster
    ("cloudbuild/web_regions.py", {"web"}),
    ("scripts/region_plan.py", {"web"}),
    ("infra/terraform/regions.auto.tfvars.json", {"ml", "web"}),  # Terraform's, and the web deploy's regions
    ("cloudbuild/triggers/web.yaml", set()),  # imported by hand
    ("models/gradient_boosting/family.py", {"ml"}),
    ("data_collection_and_versioning/src/data_versioning/job.py", {"ml"}),
    ("mlflow/Dockerfile", {"ml"}),
    ("dispatcher/src/dispatcher/dispatch.py", {"ml"}),
    ("k8s_ml/base/x.yaml", {"ml"}),
    ("cloudbuild_1.yaml", {"ml"}),
    ("infra/terraform/gke.tf", {"ml"}),  # the ml pipeline runs terraform fmt/validate
    ("infra/k8s/cluster-issuers.yaml", set()),  # applied by hand, once per cluster
    ("README.md", set()),
    ("docs/deploy.md", set()),
    ("sample_dataset/data.csv", set()),
    ("local_platform/src/local_platform/cli.py", set()),
    ("tests/unit/test_schema.py", set()),
]


@pytest.mark.parametrize(("changed", "expected"), ROUTES, ids=[r[0] for r in ROUTES])
def test_a_change_runs_exactly_the_pipelines_that_build_from_it(changed, expected):
    assert {tree for tree in TRIGGERS if would_run(load(tree), [changed])} == expected


def test_a_change_across_both_trees_runs_both():
    changed = ["webapp/src/webapp/app.py", "models/linear_regression/family.py"]
    assert all(would_run(load(tree), changed) for tree in TRIGGERS)


def test_every_member_folder_routes_to_the_tree_that_builds_it():
    """Each image's Dockerfile folder (and k8s folder) must be covered by its tree's trigger and not the other's."""
    owners = {
        "data_collection_and_versioning": "ml",
        "models": "ml",
        "mlflow": "ml",
        "k8s_ml": "ml",
        "webapp": "web",
        "mlapp": "web",
        "dbapp": "web",
        "k8s_web": "web",
    }
    for folder, tree in owners.items():
        probe = f"{folder}/src/x.py"
        assert {t for t in TRIGGERS if would_run(load(t), [probe])} == {tree}, folder
