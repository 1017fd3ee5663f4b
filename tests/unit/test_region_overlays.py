"""scripts/render_region_overlays.py: the committed region overlays and Gateway routes are exactly what it writes
from infra/terraform/regions.auto.tfvars.json, it refuses the lists Terraform's validations refuse, and it adds and
removes overlays as regions come and go. (Rendering the overlays: tests/integration/test_k8s_regions.py.)"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    path = REPO / "scripts" / "render_region_overlays.py"
    spec = importlib.util.spec_from_file_location("render_region_overlays", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module
    spec.loader.exec_module(module)
    return module


script = _script()


def region(name: str, gcp_region: str, primary: bool = False, index: int = 0) -> dict[str, Any]:
    return {"name": name, "region": gcp_region, "primary": primary, "network_index": index}


def test_the_committed_files_are_what_the_script_writes():
    plan = script.load_plan()
    assert script.differences(plan) == [], "run: .venv/bin/python scripts/render_region_overlays.py"
    proc = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "render_region_overlays.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_each_overlay_is_prod_plus_the_region_component_with_the_regions_values():
    plan = script.load_plan()
    files = script.render(plan)
    for r in plan.regions:
        text = files[script.REGION_OVERLAYS / r.name / "kustomization.yaml"]
        controller = "  - ../../../components/failover-controller\n" if r.primary else ""
        assert "resources:\n  - ../../prod\n" in text
        assert f"components:\n{controller}  - ../../../components/region\n" in text, "the controller: primary only"
        assert f"      - NAME={r.name}\n" in text and f"      - HOST={r.name}.{plan.web_domain}\n" in text
        assert text.startswith(script.HEADER)
    routes = files[script.ROUTES_FILE]
    for r in plan.regions:
        weight = script.PRIMARY_WEIGHT if r.primary else 0
        assert f"          name: webapp-{r.name}\n          port: 8080\n          weight: {weight}\n" in routes
        assert routes.count(f"\n    name: webapp-{r.name}\n") == 1, "one health check targets the region's import"


BAD = [
    ({"regions": []}, "between 1 and 16"),
    ({"regions": [region("a1", "europe-west1")]}, "exactly one region must be primary"),
    ({"regions": [region("a1", "europe-west1", True), region("b1", "europe-west4", True, 1)]}, "exactly one"),
    ({"regions": [region("a1", "europe-west1", True), region("a1", "europe-west4", index=1)]}, "name values"),
    ({"regions": [region("a1", "europe-west1", True), region("b1", "europe-west1", index=1)]}, "region values"),
    ({"regions": [region("a1", "europe-west1", True), region("b1", "europe-west4")]}, "network_index values"),
    ({"regions": [region("Region_A", "europe-west1", True)]}, "DNS label"),
    ({"regions": [region("a1", "australia-southeast1", True)]}, "Europe, North America or Asia"),
    ({"regions": [region("a1", "europe-west1", True, 16)]}, "0 to 15"),
    ({"regions": [region("a1", "europe-west1", True, True)]}, "0 to 15"),
    ({"regions": [{"name": "a1", "region": "europe-west1", "primary": True}]}, "exactly name, region"),
    ({"regions": [region("a1", "europe-west1", True)], "web_domain": "not a host"}, "web_domain"),
]


@pytest.mark.parametrize(("data", "message"), BAD)
def test_the_script_refuses_what_terraform_refuses(data, message):
    data = {"web_domain": "house-price.example.com", **data}
    with pytest.raises(script.RegionsInvalid, match=message):
        script.parse_plan(data)


def test_the_script_and_terraform_state_the_same_patterns():
    hcl = (REPO / "infra" / "terraform" / "regions.tf").read_text()
    assert f'"{script.NAME.pattern}"' in hcl and f'"{script.GCP_REGION.pattern}"' in hcl
    assert '"{}"'.format(script.DOMAIN.pattern.replace("\\", "\\\\")) in hcl


def test_regions_come_and_go(tmp_path):
    (tmp_path / "infra" / "terraform").mkdir(parents=True)
    shutil.copytree(REPO / "k8s_web" / "overlays" / "gateway", tmp_path / "k8s_web" / "overlays" / "gateway")
    regions = [region("eu-a", "europe-west1", True), region("eu-b", "europe-west4", index=1)]
    regions.append(region("eu-c", "europe-west3", index=2))

    def state(listed: list[dict[str, Any]]) -> Any:
        values = {"regions": listed, "web_domain": "shop.example.org"}
        (tmp_path / script.REGIONS_FILE).write_text(json.dumps(values))
        return script.load_plan(tmp_path)

    plan = state(regions)
    missing = {f"k8s_web/overlays/regions/{name}/kustomization.yaml: missing" for name in ("eu-a", "eu-b", "eu-c")}
    assert set(script.differences(plan, tmp_path)) == missing | {f"{script.ROUTES_FILE}: differs"}
    script.write(plan, tmp_path)
    assert script.differences(plan, tmp_path) == []
    assert "    - shop.example.org\n" in (tmp_path / script.ROUTES_FILE).read_text()
    plan = state(regions[:2])
    assert script.differences(plan, tmp_path) == [
        f"{script.ROUTES_FILE}: differs",
        "k8s_web/overlays/regions/eu-c: a region no longer listed",
    ]
    script.write(plan, tmp_path)
    assert script.differences(plan, tmp_path) == []
    assert sorted(p.name for p in (tmp_path / script.REGION_OVERLAYS).iterdir()) == ["eu-a", "eu-b"]
