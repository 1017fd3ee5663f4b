"""cloudbuild_1.yaml (ml tree) and cloudbuild_2.yaml (web tree): structure, step order, images, deploy, substitutions.

Nothing here talks to Google Cloud (there is no GCP access on this machine): the files are parsed and checked against
the rules of docs/architecture.md and the Cloud Build semantics they rely on (step ordering by `waitFor`, MUST_MATCH
substitutions, `$$` escaping). A Dockerfile that does not exist yet is checked by its declared path only.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.cloudbuild_support import (
    BUILDERS,
    BUILT_INS,
    ROOT,
    STEP_KEYS,
    TOP_KEYS,
    TREES,
    command,
    image_ref,
    load,
    predecessors,
    references,
    script_file,
    script_texts,
    steps_of,
    strings,
    unescape,
)

SHARED_TEST_FILES = ("test_schema.py", "test_features.py", "test_csv_validation.py", "test_common_")


@pytest.fixture(params=sorted(TREES), ids=lambda n: n.removesuffix(".yaml"))
def pipeline(request) -> tuple[str, dict, dict]:
    return request.param, load(request.param), TREES[request.param]


def test_parses_with_only_known_fields(pipeline):
    name, config, _ = pipeline
    assert isinstance(config, dict), f"{name} is not a YAML mapping"
    assert set(config) <= TOP_KEYS, f"{name}: unknown top-level keys {set(config) - TOP_KEYS}"
    ids = [s.get("id") for s in steps_of(config)]
    assert all(ids) and len(set(ids)) == len(ids), f"{name}: every step needs a unique id: {ids}"
    for step in steps_of(config):
        assert set(step) <= STEP_KEYS, f"{name}/{step['id']}: unknown keys {set(step) - STEP_KEYS}"
        assert step["name"].startswith(BUILDERS), f"{name}/{step['id']}: unexpected builder image {step['name']}"
        assert all(isinstance(a, str) for a in step.get("args", [])), f"{name}/{step['id']}: args must be strings"
        assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", e, re.S) for e in step.get("env", [])), step.get("env")
    assert re.fullmatch(r"\d+s", config["timeout"])


def build_steps(config: dict) -> dict[str, tuple[dict, str, str]]:
    """image name -> (step, Dockerfile, tag) for every `docker build` step."""
    found = {}
    for step in steps_of(config):
        args = step.get("args", [])
        if step["name"] == "gcr.io/cloud-builders/docker" and args[:1] == ["build"]:
            dockerfile = args[args.index("-f") + 1]
            tag = args[args.index("-t") + 1]
            assert args[-1] == ".", f"{step['id']}: the build context must be the repository root"
            image = tag.split("/")[-1].split(":")[0]
            found[image] = (step, dockerfile, tag)
    return found


def test_builds_exactly_this_trees_images_from_their_member_dockerfiles(pipeline):
    name, config, tree = pipeline
    builds = build_steps(config)
    assert set(builds) == set(tree["images"]), f"{name} builds {sorted(builds)}, expected {sorted(tree['images'])}"
    for image, (_, dockerfile, tag) in builds.items():
        assert dockerfile == tree["images"][image], f"{name}: {image} is built from {dockerfile}"
        # The Dockerfiles are written in parallel: a missing one is checked by its declared path (member folder).
        assert (ROOT / dockerfile).parent.is_dir(), f"{dockerfile}: no member folder {Path(dockerfile).parent}"
        assert tag == image_ref(image), f"{name}: {image} is tagged {tag}"


def test_every_image_is_pushed_before_deploy_and_recorded(pipeline):
    name, config, tree = pipeline
    steps = steps_of(config)
    refs = {image_ref(image) for image in tree["images"]}
    pushes = {s["args"][1]: s["id"] for s in steps if s.get("args", [])[:1] == ["push"]}
    assert set(pushes) == refs, f"{name}: pushes {sorted(pushes)}"
    assert set(config["images"]) == refs, f"{name}: `images:` must list exactly the pushed tags"
    for ref, push_id in pushes.items():
        index = [s["id"] for s in steps].index(push_id)
        image = ref.split("/")[-1].split(":")[0]
        assert build_steps(config)[image][0]["id"] in predecessors(steps, index), f"{push_id} runs before its build"


def test_tests_run_first_and_gate_every_build(pipeline):
    name, config, _ = pipeline
    steps = steps_of(config)
    ids = [s["id"] for s in steps]
    assert "tests" in ids, f"{name}: no step with id 'tests'"
    test_step = steps[ids.index("tests")]
    script = command(test_step)
    assert "uv sync --frozen" in script and "pytest" in script, f"{name}: the tests step must sync and run pytest"
    assert test_step["name"].startswith("python:3.11"), test_step["name"]
    for step, _, _ in build_steps(config).values():
        assert "tests" in predecessors(steps, ids.index(step["id"])), f"{name}: {step['id']} does not wait for tests"


def pytest_targets(config: dict) -> list[str]:
    test_step = next(s for s in steps_of(config) if s["id"] == "tests")
    env = dict(e.split("=", 1) for e in test_step["env"])
    return shlex.split(env["PYTEST_TARGETS"])


def selected(config: dict, path: Path) -> bool:
    return any(path.match(str(ROOT / pattern)) for pattern in pytest_targets(config))


def test_pytest_targets_select_this_trees_tests_and_the_shared_ones(pipeline):
    name, config, tree = pipeline
    targets = pytest_targets(config)
    assert all(t.startswith("tests/unit/") for t in targets), f"{name}: only the unit tier runs in Cloud Build"
    files = sorted((ROOT / "tests" / "unit").glob("test_*.py"))
    chosen = [f for f in files if selected(config, f)]
    assert chosen, f"{name}: PYTEST_TARGETS selects no test file"
    for f in files:
        if f.name.startswith(tree["test_prefixes"] + SHARED_TEST_FILES):
            assert f in chosen, f"{name} does not run {f.name}"
    other = next(t for n, t in TREES.items() if n != name)
    for f in files:
        if f.name.startswith(other["test_prefixes"]):
            assert f not in chosen, f"{name} runs the other tree's test {f.name}"


def deploy_steps(config: dict) -> tuple[list[dict], dict]:
    """The `kustomize edit set image` steps and the one step that applies (its script inline or in a file)."""
    steps = steps_of(config)
    set_images = [s for s in steps if "kustomize edit set image" in command(s)]
    applies = [s for s in steps if "kubectl apply" in command(s)]
    assert set_images and len(applies) == 1, "expected `kustomize edit set image` steps and one apply step"
    return set_images, applies[0]


def deploy_env(step: dict) -> dict[str, str]:
    """The deploy step's environment: a script file reads the substitutions from it."""
    return dict(e.split("=", 1) for e in step.get("env", []))


def test_deploy_pins_images_with_kustomize_never_sed(pipeline):
    name, config, tree = pipeline
    set_images, apply = deploy_steps(config)
    overlay = f"{tree['k8s']}/overlays/${{_OVERLAY}}"
    pins: dict[str, dict[str, str]] = {}
    for set_image in set_images:
        assert set_image["name"].startswith("registry.k8s.io/kustomize/kustomize:"), set_image["name"]
        pins[set_image.get("dir", "")] = dict(a.split("=", 1) for a in set_image["args"][3:])
    expected: dict[str, dict[str, str]] = {}
    for image in tree["images"]:
        expected.setdefault(tree.get("pinned_in", {}).get(image, overlay), {})[image] = image_ref(image)
    assert pins == expected, f"{name}: image pins by kustomization (the overlay first: {overlay})"
    for text in strings(config["steps"]) + script_texts(config):
        assert not re.search(r"\bsed\b", text), f"{name}: sed is not allowed in a pipeline: {text[:80]!r}"
    steps = steps_of(config)
    ids = [s["id"] for s in steps]
    for set_image in set_images:
        before_set = predecessors(steps, ids.index(set_image["id"]))
        assert {s["id"] for s in steps if s.get("args", [])[:1] == ["push"]} <= before_set, "set images after pushes"
        assert set_image["id"] in predecessors(steps, ids.index(apply["id"])), f"{name}: apply before images are set"
    script = command(apply)
    if "deploy_script" in tree:  # which overlay goes to which cluster: tests/unit/test_cloudbuild_regions.py
        assert script_file(apply) == tree["deploy_script"] and deploy_env(apply)["OVERLAY"] == "${_OVERLAY}"
        assert 'kubectl kustomize "$overlay"' in script and f'"{tree["k8s"]}/overlays/$OVERLAY"' in script
    else:
        assert f'kubectl kustomize "{overlay}"' in script or f'kubectl apply -k "{overlay}"' in script, script


def test_deploy_gets_cluster_credentials_and_waits_for_rollout_with_timeout(pipeline):
    name, config, tree = pipeline
    _, apply = deploy_steps(config)
    script = command(apply)
    if "deploy_script" in tree:  # the substitutions reach the script as its environment
        env = deploy_env(apply)
        assert {k: env[k] for k in ("GKE_CLUSTER", "GKE_LOCATION", "ROLLOUT_TIMEOUT", "NAMESPACE", "PROJECT_ID")} == {
            "GKE_CLUSTER": "${_GKE_CLUSTER}",
            "GKE_LOCATION": "${_GKE_LOCATION}",
            "ROLLOUT_TIMEOUT": "${_ROLLOUT_TIMEOUT}",
            "NAMESPACE": "${_NAMESPACE}",
            "PROJECT_ID": "$PROJECT_ID",
        }
        assert 'get-credentials "$1" --location "$2" --project "$PROJECT_ID"' in script, script
        rollout = re.search(r'rollout status "\$workload" --timeout="\$ROLLOUT_TIMEOUT"', script)
    else:
        assert re.search(r"get-credentials \"\$\{_GKE_CLUSTER\}\" --location \"\$\{_GKE_LOCATION\}\"", script), script
        assert "CLOUDSDK_CONTAINER_CLUSTER=${_GKE_CLUSTER}" in apply["env"]
        rollout = re.search(r"rollout status .*--timeout=\"?\$\{_ROLLOUT_TIMEOUT\}", script)
    assert rollout, f"{name}: kubectl rollout status with a timeout is missing"
    assert "set -euo pipefail" in script and "exit 1" in script, f"{name}: a failed rollout must fail the build"
    assert config["substitutions"]["_NAMESPACE"] == tree["namespace"]
    assert re.fullmatch(r"\d+s", config["substitutions"]["_ROLLOUT_TIMEOUT"])


def test_substitutions_are_declared_used_and_documented(pipeline):
    name, config, _ = pipeline
    declared = config["substitutions"]
    assert all(k.startswith("_") and re.fullmatch(r"_[A-Z0-9_]+", k) for k in declared), sorted(declared)
    used: set[str] = set()
    for text in strings({k: v for k, v in config.items() if k != "substitutions"}):
        used |= references(text)
    undeclared = {u for u in used if u not in declared and u not in BUILT_INS}
    assert not undeclared, f"{name}: used but neither declared nor built in: {sorted(undeclared)} (escape $ as $$)"
    # With the default substitutionOption MUST_MATCH a declared but unused substitution fails the build.
    assert set(declared) <= used, f"{name}: declared but unused: {sorted(set(declared) - used)}"
    header = "\n".join(line for line in (ROOT / name).read_text().splitlines() if line.startswith("#"))
    for key in [*declared, "PROJECT_ID", "SHORT_SHA"]:
        assert re.search(rf"#\s+\$?{key}\s", header), f"{name}: {key} is not documented in the header comment"


def test_no_project_id_is_hard_coded(pipeline):
    name, config, _ = pipeline
    text = "\n".join([(ROOT / name).read_text(), *script_texts(config)])
    for registry in re.findall(r"[\w${}.-]+\.pkg\.dev/[^/\s\"']+", "\n".join(strings(config))):
        assert registry.endswith("/$PROJECT_ID"), f"{name}: registry path without $PROJECT_ID: {registry}"
    assert "projects/" not in text, f"{name}: a literal resource path"
    # service-account domains only as the build's own project's (set-project writes GSA_DOMAIN from $PROJECT_ID)
    for domain in re.findall(r"(\S*)\.iam\.gserviceaccount\.com", text):
        assert domain.endswith("$PROJECT_ID"), f"{name}: a service-account domain not of $PROJECT_ID: {domain}"
    assert "mlops-476802" not in text  # the seed's project id
    for text_value in [*strings(config["steps"]), text]:
        for match in re.findall(r"--project[= ](\S+)", text_value):
            assert match.strip('"') == "$PROJECT_ID", f"{name}: --project {match}"


def test_substituted_commands_are_what_the_build_runs(pipeline):
    """Substituting sample values leaves no `${_...}` behind and turns `$$` into the shell's `$` (a script file is
    run as it is: the substitutions reach it as its step's environment)."""
    _, config, tree = pipeline
    set_images, apply = deploy_steps(config)

    def sub(text: str) -> str:
        return unescape(text, config["substitutions"], PROJECT_ID="p-1", SHORT_SHA="abc1234")

    if "deploy_script" in tree:
        env = {k: sub(v) for k, v in deploy_env(apply).items()}
        assert "${_" not in str(env) and (env["PROJECT_ID"], env["OVERLAY"]) == ("p-1", "prod")
        script = command(apply)
    else:
        script = sub(command(apply))
        assert "${_" not in script and "$$" not in script
        assert f'kubectl kustomize "{tree["k8s"]}/overlays/prod"' in script and '--project "p-1"' in script
    assert "for workload in $workloads" in script
    first = sub(set_images[0]["args"][3])
    image = next(iter(tree["images"]))
    assert first == f"{image}=europe-west1-docker.pkg.dev/p-1/house-price/{image}:abc1234"


def test_a_manual_build_without_short_sha_fails_first():
    for name in TREES:
        steps = steps_of(load(name))
        check = steps[0]
        assert check.get("waitFor") is None, "the check must be the first step"
        assert '-z "$SHORT_SHA"' in command(check) and "exit 1" in command(check)
        for index in range(1, len(steps)):
            assert check["id"] in predecessors(steps, index), f"{name}: {steps[index]['id']} can start before the check"


def test_reference_helpers_follow_cloud_build_escaping():
    assert references("a ${_X} $PROJECT_ID $$HOME $${y} $SHORT_SHA") == {"_X", "PROJECT_ID", "SHORT_SHA"}
    assert unescape("$$v=${_A}/$B", {"_A": "1"}, B="2") == "$v=1/2"
    steps = [{"id": "a"}, {"id": "b", "waitFor": ["-"]}, {"id": "c", "waitFor": ["a"]}, {"id": "d"}]
    assert predecessors(steps, 1) == set() and predecessors(steps, 2) == {"a"}
    assert predecessors(steps, 3) == {"a", "b", "c"}


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_every_shell_script_parses_after_substitution(pipeline):
    """`bash -n` on each bash step exactly as the build would run it (after substitution and `$$` -> `$`)."""
    name, config, _ = pipeline
    scripts = [s for s in steps_of(config) if s.get("entrypoint") == "bash"]
    assert scripts, f"{name}: no bash step"
    for step in scripts:
        path = script_file(step)
        if path is not None:  # the repository's script, run as it is (its environment holds the substitutions)
            assert step["args"] == [path] and (ROOT / path).is_file(), step["id"]
            result = subprocess.run(["bash", "-n", str(ROOT / path)], capture_output=True, text=True, check=False)
            assert result.returncode == 0, f"{name}/{step['id']}: {result.stderr}"
            continue
        assert step["args"][0] == "-c", step["id"]
        script = unescape(step["args"][1], config["substitutions"], PROJECT_ID="p-1", SHORT_SHA="abc1234")
        result = subprocess.run(["bash", "-n", "-c", script], capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{name}/{step['id']}: {result.stderr}"
