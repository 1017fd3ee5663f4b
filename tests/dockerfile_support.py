"""Reading Dockerfiles and .dockerignore files the way the engines do, for tests/unit/test_dockerfiles.py: the
instructions of each stage, the paths a COPY takes, the ignore rules, and the problems the tests report."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# folder -> the image name the k8s manifests and Cloud Build use
DEPLOYABLES = {
    "webapp": "webapp",
    "mlapp": "mlapp",
    "dbapp": "dbapp",
    "data_collection_and_versioning": "data-job",
    "models": "trainer",
    "mlflow": "mlflow-server",
    "failover": "failover-controller",
    "dispatcher": "dispatcher",
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
