"""Each component reads the environment in one typed settings model, and the README documents exactly what they read.

The variables are found by running every model against a mapping that records each name it is asked for (not by
reading the sources), so a variable added to a model is in the README or this test fails, and a README row that no
model reads any more fails too. A third test holds the rest of the code to reading nothing by name itself."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from common.jsonlog import LogStyle
from common.server_settings import ServerSettings
from common.training.config import TrainerConfig
from data_versioning.config import JobConfig
from dbapp.config import DbappConfig
from dispatcher.config import DispatcherConfig
from failover.config import FailoverConfig
from local_platform.config import LauncherConfig, RegionsConfig
from mlapp.config import MlappConfig
from mlflow_server.config import ServerConfig
from platform_bench.config import BenchConfig
from platform_chaos.config import ChaosConfig, DrillConfig
from tests.unit.test_settings_documented import REPO, documented, readme
from webapp.config import WebappConfig

# Read where the library that owns them reads them (not a setting of ours): documented, but in no model.
LIBRARY_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR": "prometheus_client", "STORAGE_EMULATOR_HOST": "google-cloud-storage"}


class RecordingEnv(Mapping[str, str]):
    """An environment that remembers every name looked up in it."""

    def __init__(self, values: dict[str, str]):
        self.values, self.asked = values, set[str]()

    def __getitem__(self, name: str) -> str:
        self.asked.add(name)
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        self.asked.add(str(name))
        return name in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def models(tmp_path: Path) -> dict[str, tuple[str, Callable[[Mapping[str, str]], object]]]:
    """Component -> (the folder whose README documents its own variables, how its model is read)."""
    return {
        "webapp": ("webapp", lambda env: WebappConfig.from_env(env)),
        "mlapp": ("mlapp", lambda env: MlappConfig.from_env(env)),
        "dbapp": ("dbapp", lambda env: DbappConfig.from_env(env)),
        "data job": ("data_collection_and_versioning", lambda env: JobConfig.from_env(env)),
        "trainer": ("models", lambda env: TrainerConfig.from_env(env, default_models_dir=tmp_path)),
        "mlflow": ("mlflow", lambda env: ServerConfig.from_env(env)),
        "gunicorn": ("", lambda env: ServerSettings.from_env(env)),
        "logging": ("", lambda env: LogStyle.from_env(env, None)),
        "launcher": ("local_platform", lambda env: LauncherConfig.from_env(env)),
        "bench": ("bench", lambda env: BenchConfig.from_env(env)),
        "chaos": ("chaos", lambda env: ChaosConfig.from_env(env)),
        "dispatcher": ("dispatcher", lambda env: DispatcherConfig.from_env(env)),
        "failover controller": ("failover", lambda env: FailoverConfig.from_env(env)),
        "regions": ("local_platform", lambda env: RegionsConfig.from_env(env)),
        "failover drill": ("chaos", lambda env: DrillConfig.from_env(env)),
    }


def variables_read(tmp_path: Path) -> dict[str, tuple[str, set[str]]]:
    """Component -> (its README folder, every variable its model looked up). The environment is the smallest that
    starts everything (the Pub/Sub emulator, a scratch data folder): optional variables are all unset, so each
    model also asks for the ones it reads only as a fallback (GOOGLE_CLOUD_PROJECT, WEBAPP_REQUIRE_SECRET)."""
    found = {}
    for component, (folder, read) in models(tmp_path).items():
        env = RecordingEnv({"PLATFORM_DATA_DIR": str(tmp_path), "PUBSUB_EMULATOR_HOST": "127.0.0.1:8085"})
        read(env)
        found[component] = (folder, env.asked)
    return found


def test_the_models_are_what_the_components_read(tmp_path: Path) -> None:
    found = variables_read(tmp_path)
    assert {"SECRET_KEY", "WEBAPP_REQUIRE_SECRET", "API_TOKENS", "MAX_UPLOAD_MB"} <= found["webapp"][1]
    assert {"PUBLISH_EVENTS", "TRAIN_THREADS", "MODELS_DIR"} <= found["trainer"][1]
    assert {"PUBLISH_EVENTS", "DATA_JOB_LEASE_SECONDS", "GOOGLE_CLOUD_PROJECT"} <= found["data job"][1]
    assert {"PORT", "READ_ONLY_PORT", "GUNICORN_WORKERS"} <= found["gunicorn"][1]
    assert {"WEBAPP_PORT", "MLAPP_PORT", "CONTAINER_PLATFORM_NAME"} <= found["launcher"][1]


def test_every_variable_a_model_reads_is_documented(tmp_path: Path) -> None:
    undocumented = {
        name: component
        for component, (folder, names) in variables_read(tmp_path).items()
        for name in names
        if not documented(name, readme()) and not documented(name, readme(folder))
    }
    assert not undocumented, f"read by a settings model but in no README: {undocumented}"


def configuration_table() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    section = readme().split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row)}


def test_the_configuration_table_lists_nothing_no_model_reads(tmp_path: Path) -> None:
    read = set().union(*(names for _folder, names in variables_read(tmp_path).values()))
    table = configuration_table()
    assert {"PLATFORM_DATA_DIR", "PUBLISH_EVENTS", "SECRET_KEY", "LOG_LEVEL"} <= table
    stale = table - read - set(LIBRARY_VARIABLES)
    assert not stale, f"the README's configuration table lists variables no settings model reads: {sorted(stale)}"


# Modules that hold a settings model, and so may look up variables by name.
SETTINGS_MODULES = {
    "config.py",
    "settings.py",
    "server_settings.py",
    "jsonlog.py",
    "api_tokens.py",
    "kubernetes_api.py",
}
# Every other module that touches the environment, and why that is not reading a setting.
OTHER_READS = {
    "common/src/common/metrics.py": "PROMETHEUS_MULTIPROC_DIR, where prometheus_client itself reads it",
    "common/src/common/blobstore_gcs.py": "STORAGE_EMULATOR_HOST, where google-cloud-storage itself reads it",
    "common/src/common/training/tracking.py": "saves and restores MLFLOW_TRACKING_URI around a scoped client",
    "local_platform/src/local_platform/container_stack.py": "forwards the launcher's log variables to containers",
    "local_platform/src/local_platform/cli.py": "looks up addresses in the stack's own environment dict",
    "bench/src/platform_bench/__main__.py": "looks up the bench stack's own environment dict",
    "bench/src/platform_bench/servers.py": "extends PATH for a child process",
    "bench/src/platform_bench/training.py": "looks up the trainer job's own environment dict",
    "chaos/src/platform_chaos/drill.py": "looks up the ports it chose in the environment it gives make up-regions",
}
NAMED_READ = re.compile(
    r"""os\.environ\.get\(|os\.environ\[|os\.getenv\(|"""
    r"""(?:env\.get\(|env_(?:int|float|flag|path)\(\s*\w+,\s*|env\[)\s*["'][A-Z][A-Z0-9_]+["']"""
)
SOURCE_FOLDERS = ("common", "webapp", "mlapp", "dbapp", "data_collection_and_versioning", "models", "mlflow")


@pytest.mark.parametrize("folder", [*SOURCE_FOLDERS, "local_platform", "bench", "chaos", "dispatcher", "failover"])
def test_only_settings_models_read_the_environment_by_name(folder: str) -> None:
    readers = {
        str(path.relative_to(REPO))
        for path in (REPO / folder / "src").rglob("*.py")
        if path.name not in SETTINGS_MODULES and NAMED_READ.search(path.read_text())
    }
    unexplained = readers - set(OTHER_READS)
    assert not unexplained, f"read the environment outside a settings model (move it into one): {sorted(unexplained)}"
