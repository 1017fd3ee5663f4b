"""checkov finds nothing failing in infra/terraform, the rendered prod and region overlays and the images'
Dockerfiles.

A check that does not fit may be skipped only where the skipped thing is: an inline `#checkov:skip=CKV_...:reason`
comment (Terraform, Dockerfiles) or a `checkov.io/skipN: CKV_K8S_xx=reason` annotation on the manifest; every skip
must carry its reason, and no configuration file or command-line flag skips anything. Each run takes 10-30 s.

checkov must be importable by the test's interpreter, or an executable named by $CHECKOV or found on PATH (its
bc-python-hcl2 dependency installs a module `hcl2` that python-hcl2, used by the Terraform tests, overwrites, so
the two may live in separate environments). Otherwise the tests are skipped, saying why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests import k8s_support as k8s

REPO = k8s.REPO
ENV = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false"}
COMMON = ["-o", "json", "--skip-download", "--compact"]


def checkov() -> list[str]:
    probe = subprocess.run(
        [sys.executable, "-c", "import checkov.main"], capture_output=True, text=True, env=ENV, check=False
    )
    if probe.returncode == 0:
        return [sys.executable, "-c", "import sys; from checkov.main import Checkov; sys.exit(Checkov().run())"]
    reason = probe.stderr.strip().splitlines()[-1] if probe.stderr.strip() else "not installed"
    executable = os.environ.get("CHECKOV") or shutil.which("checkov")
    if executable:
        version = subprocess.run([executable, "--version"], capture_output=True, text=True, env=ENV, check=False)
        if version.returncode == 0:
            return [executable]
        reason += f"; {executable} --version failed"
    print(f"checkov is not importable ({reason}) and no working checkov executable: checkov tests skipped")
    pytest.skip(f"checkov is not importable: {reason}")


def run(args: list[str], what: str) -> dict:
    started = time.monotonic()
    proc = subprocess.run(
        [*checkov(), *args, *COMMON], capture_output=True, text=True, env=ENV, cwd=REPO, timeout=600, check=False
    )
    print(f"checkov {what}: {time.monotonic() - started:.1f} s")
    assert proc.stdout.strip(), f"checkov printed nothing (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    reports = json.loads(proc.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    assert reports and all("results" in r for r in reports), f"checkov checked nothing: {proc.stdout[:500]}"
    return {
        key: [check for r in reports for check in r["results"][key]]
        for key in ("passed_checks", "failed_checks", "skipped_checks")
    } | {"parsing_errors": [e for r in reports for e in r["results"].get("parsing_errors", [])]}


def assert_clean(result: dict) -> None:
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in result["failed_checks"]]
    assert not failed, "checkov failures:\n" + "\n".join(failed)
    assert not result["parsing_errors"], f"files checkov could not parse: {result['parsing_errors']}"
    assert result["passed_checks"], "checkov passed nothing: did it read the files?"
    for check in result["skipped_checks"]:
        reason = check["check_result"].get("suppress_comment", "")
        assert len(reason) >= 20 and reason != "No comment provided", f"{check['check_id']} {check['resource']}"


def test_no_configuration_file_skips_checks():
    assert not [p for p in REPO.rglob(".checkov.y*ml") if ".venv" not in p.parts]


def test_terraform():
    result = run(["-d", "infra/terraform", "--framework", "terraform"], "terraform (infra/terraform)")
    assert_clean(result)
    text = "".join(p.read_text() for p in (REPO / "infra" / "terraform").glob("*.tf"))
    for check in result["skipped_checks"]:
        assert f"#checkov:skip={check['check_id']}:" in text, check["check_id"]


# prod, and every region's overlay (prod plus the region component) held to the same checks, and the config
# cluster's overlay with the failover controller
PROD_LIKE = [f"{tree}/overlays/prod" for tree in sorted(k8s.TREES)] + k8s.REGION_OVERLAYS


def _file_name(target: str) -> str:
    return f"{target.replace('/', '-')}.yaml"


def _in_file(found: dict | str, name: str) -> bool:
    """A check (a dict with its file path) or a parsing error (the path itself) of the file `name`."""
    return Path(found["file_path"] if isinstance(found, dict) else found).name == name


@pytest.fixture(scope="module")
def rendered_results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One checkov run over every rendered overlay, each in its own file (a run costs ~10 s of start-up alone)."""
    folder = tmp_path_factory.mktemp("rendered")
    for target in PROD_LIKE:
        objects = k8s.render(target)
        (folder / _file_name(target)).write_text("\n---\n".join(yaml.safe_dump(o, sort_keys=False) for o in objects))
    return run(["-d", str(folder), "--framework", "kubernetes"], f"kubernetes ({len(PROD_LIKE)} rendered overlays)")


@pytest.mark.parametrize("target", PROD_LIKE)
def test_rendered_prod_overlay(rendered_results: dict, target: str):
    name = _file_name(target)
    result = {key: [c for c in found if _in_file(c, name)] for key, found in rendered_results.items()}
    assert_clean(result)
    annotations = [
        value
        for obj in k8s.render(target)
        for key, value in obj["metadata"].get("annotations", {}).items()
        if key.startswith("checkov.io/skip")
    ]
    for check in result["skipped_checks"]:
        assert any(a.startswith(check["check_id"] + "=") for a in annotations), check["check_id"]


def test_dockerfiles():
    dockerfiles = sorted(str(p.relative_to(REPO)) for p in REPO.glob("*/Dockerfile"))
    assert dockerfiles, "no */Dockerfile"
    args = [arg for path in dockerfiles for arg in ("-f", path)]
    result = run([*args, "--framework", "dockerfile"], f"dockerfile ({len(dockerfiles)} files)")
    assert_clean(result)
    text = "".join((REPO / p).read_text() for p in dockerfiles)
    for check in result["skipped_checks"]:
        assert f"checkov:skip={check['check_id']}" in text, check["check_id"]
