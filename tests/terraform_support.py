"""Read infra/terraform with python-hcl2 (8.x: `__is_block__` tells blocks from objects) for the Terraform tests.

No Terraform binary or provider is needed: the files are parsed, and the tests compare what they declare with the
rendered Kubernetes overlays, the code and the other configuration. Without python-hcl2 (or with checkov's fork
bc-python-hcl2 installed under the same module name `hcl2`) the tests are skipped, saying why.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
TF_DIR = REPO / "infra" / "terraform"


def _hcl2():
    try:
        import hcl2
    except ImportError:
        print("python-hcl2 is not installed: the Terraform tests are skipped (add python-hcl2 to the dev group)")
        pytest.skip("python-hcl2 is not installed")
    if not hasattr(hcl2, "SerializationOptions"):
        print("the hcl2 module is not python-hcl2 >= 8 (checkov's bc-python-hcl2 uses the same name): skipped")
        pytest.skip("hcl2 is not python-hcl2 >= 8 (bc-python-hcl2 shadows it?)")
    return hcl2


def _clean(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items() if k != "__is_block__" or v is not True}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


@functools.cache
def parse_file(name: str) -> dict:
    hcl2 = _hcl2()
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    return hcl2.loads((TF_DIR / name).read_text(), serialization_options=options)


def tf_files() -> list[str]:
    return sorted(p.name for p in TF_DIR.glob("*.tf"))


@functools.cache
def config() -> dict[str, Any]:
    """{"resource": {(type, name): body}, "locals": {...}, "variable": {...}, "output": {...}, "data": {...}}."""
    out: dict[str, Any] = {"resource": {}, "data": {}, "locals": {}, "variable": {}, "output": {}}
    for name in tf_files():
        doc = parse_file(name)
        for kind in ("resource", "data"):
            for entry in doc.get(kind, []):
                for rtype, by_name in entry.items():
                    for rname, body in by_name.items():
                        assert (rtype, rname) not in out[kind], f"{rtype}.{rname} declared twice"
                        out[kind][(rtype, rname)] = _clean(body)
        for entry in doc.get("locals", []):
            for key, value in _clean(entry).items():
                assert key not in out["locals"], f"local.{key} declared twice"
                out["locals"][key] = value
        for kind in ("variable", "output"):
            for entry in doc.get(kind, []):
                out[kind].update(_clean(entry))
    return out


def resource(rtype: str, name: str) -> dict:
    found = config()["resource"].get((rtype, name))
    assert found is not None, f"infra/terraform declares no {rtype}.{name}"
    return found


def resources(rtype: str) -> dict[str, dict]:
    return {name: body for (t, name), body in config()["resource"].items() if t == rtype}


def local(name: str) -> Any:
    assert name in config()["locals"], f"infra/terraform has no local.{name}"
    return config()["locals"][name]


def block(body: dict, key: str) -> dict:
    """The single nested block `key` of a resource body."""
    value = body.get(key)
    assert isinstance(value, list) and len(value) == 1, f"expected one {key} block, got {value!r}"
    return value[0]


def ref(expression: str) -> str:
    """`${local.x}` -> `local.x` (a whole-expression reference), anything else unchanged."""
    if expression.startswith("${") and expression.endswith("}") and expression.count("${") == 1:
        return expression[2:-1]
    return expression
