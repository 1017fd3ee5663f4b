"""The regions of infra/terraform/regions.auto.tfvars.json, checked as infra/terraform/regions.tf checks them, and
their address plan as regions.tf derives it (`network_ranges`), for scripts/render_region_overlays.py.

regions.tf computes each region's ranges with `cidrsubnet(base, newbits, network_index)`; `cidrsubnet` below is
the same function and ADDRESS_PLAN the same bases and newbits (tests/unit/test_region_overlays.py parses regions.tf
and fails when the two differ).
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REGIONS_FILE = Path("infra/terraform/regions.auto.tfvars.json")
NAME = re.compile(r"^[a-z][a-z0-9-]{0,18}[a-z0-9]$")
GCP_REGION = re.compile(r"^(europe|us|northamerica|asia)-[a-z]+[0-9]+$")
DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$")
# local.network_ranges in regions.tf: kind -> (base range, newbits); a region's range is slot network_index
ADDRESS_PLAN = {
    "nodes": ("10.10.0.0/16", 4),
    "services": ("10.11.0.0/16", 4),
    "pods": ("10.64.0.0/10", 4),
}


class RegionsInvalid(ValueError):
    """The regions file breaks a rule that infra/terraform/regions.tf also enforces."""


def cidrsubnet(prefix: str, newbits: int, netnum: int) -> str:
    """Terraform's cidrsubnet: subnet number `netnum` of `prefix` lengthened by `newbits` bits."""
    network = ipaddress.ip_network(prefix)
    length = network.prefixlen + newbits
    if length > network.max_prefixlen or not 0 <= netnum < 2**newbits:
        raise ValueError(f"cidrsubnet({prefix!r}, {newbits}, {netnum}): no such subnet")
    start = int(network.network_address) + (netnum << (network.max_prefixlen - length))
    return str(ipaddress.ip_network((start, length)))


@dataclass(frozen=True)
class Region:
    name: str
    region: str
    primary: bool
    network_index: int

    def network_range(self, kind: str) -> str:
        """This region's `nodes`, `services` or `pods` range (local.network_ranges[name][kind] in regions.tf)."""
        base, newbits = ADDRESS_PLAN[kind]
        return cidrsubnet(base, newbits, self.network_index)

    @property
    def pods(self) -> str:
        return self.network_range("pods")


@dataclass(frozen=True)
class RegionPlan:
    regions: tuple[Region, ...]
    web_domain: str

    def host(self, region: Region) -> str:
        return f"{region.name}.{self.web_domain}"

    @property
    def primary(self) -> Region:
        return next(r for r in self.regions if r.primary)

    @property
    def secondaries(self) -> tuple[Region, ...]:
        return tuple(r for r in self.regions if not r.primary)


def _region(entry: Any, position: int) -> Region:
    if not isinstance(entry, dict) or set(entry) != {"name", "region", "primary", "network_index"}:
        raise RegionsInvalid(f"regions[{position}]: needs exactly name, region, primary and network_index")
    name, gcp_region, primary, index = entry["name"], entry["region"], entry["primary"], entry["network_index"]
    if not isinstance(name, str) or not NAME.match(name):
        raise RegionsInvalid(
            f"regions[{position}].name {name!r}: a DNS label of 2-20 lowercase letters, digits, hyphens"
        )
    if not isinstance(gcp_region, str) or not GCP_REGION.match(gcp_region):
        raise RegionsInvalid(
            f"regions[{position}].region {gcp_region!r}: a GCP region in Europe, North America or Asia"
        )
    if not isinstance(primary, bool):
        raise RegionsInvalid(f"regions[{position}].primary must be true or false")
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index <= 15:
        raise RegionsInvalid(f"regions[{position}].network_index {index!r}: an integer from 0 to 15")
    return Region(name, gcp_region, primary, index)


def parse_plan(data: Any) -> RegionPlan:
    """The regions file's content, checked with the rules of regions.tf's validations."""
    if not isinstance(data, dict) or not isinstance(data.get("regions"), list):
        raise RegionsInvalid("the file needs a list `regions`")
    regions = tuple(_region(entry, i) for i, entry in enumerate(data["regions"]))
    if not 1 <= len(regions) <= 16:
        raise RegionsInvalid("regions must list between 1 and 16 regions")
    if sum(r.primary for r in regions) != 1:
        raise RegionsInvalid("exactly one region must be primary")
    for field in ("name", "region", "network_index"):
        values = [getattr(r, field) for r in regions]
        if len(set(values)) != len(values):
            raise RegionsInvalid(f"region {field} values must be unique: {values}")
    domain = data.get("web_domain")
    if not isinstance(domain, str) or not DOMAIN.match(domain):
        raise RegionsInvalid(f"web_domain {domain!r}: a DNS name such as house-price.example.com")
    return RegionPlan(regions, domain)


def load_plan(repo: Path = REPO) -> RegionPlan:
    return parse_plan(json.loads((repo / REGIONS_FILE).read_text()))
