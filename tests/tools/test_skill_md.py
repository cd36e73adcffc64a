"""SKILL.md: OpenClaw's frontmatter rules, its error table matches the code, and every example command in it
runs as written, from another folder, as an agent's exec tool runs it."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import tomllib
from pathlib import Path

import pytest

from tests.tools.test_cli_support import REPO, assert_no_secret, executor_env, prepare_home
from tools.registry import agent_specs

SKILL = REPO / "SKILL.md"
EXAMPLE_PREFIX = "{baseDir}/.venv/bin/python {baseDir}/executor.py "
# Typed errors an example may answer on a replayed home: the confirmation example's code is illustrative.
EXPECTED_ERRORS = {"CONFIRMATION_UNKNOWN", "NO_POSITION", "DOCTOR_BLOCKING"}  # doctor: no Binance here
# Where the code names its error codes: typed errors' `code = "…"`, and codes given literally to the
# envelope, the oracle's errors and a stored command's error.
CODE_SOURCES = (re.compile(r'^\s*code(?::[^=\n]+)?\s*=\s*"([A-Z][A-Z_]+)"', re.MULTILINE),
                re.compile(r'failure\([^,()]+,\s*"([A-Z][A-Z_]+)"'), re.compile(r'OracleError\(\s*"([A-Z][A-Z_]+)"'),
                re.compile(r'\.get\("code",\s*"([A-Z][A-Z_]+)"\)'))
SOURCE_PACKAGES = ("core", "exchange", "memory", "oracle", "reports", "runtime", "scouts", "tools")


def frontmatter() -> tuple[dict[str, str], list[str]]:
    """The frontmatter as raw `key: value` strings (OpenClaw reads single-line values), and its lines."""
    text = SKILL.read_text(encoding="utf-8")
    assert text.startswith("---\n"), "SKILL.md starts with YAML frontmatter"
    block = text[4:text.index("\n---\n", 4)]
    lines = block.splitlines()
    fields = {}
    for line in lines:
        key, sep, value = line.partition(": ")
        assert sep and re.fullmatch(r"[a-z][a-z-]*", key), f"not a single-line `key: value`: {line!r}"
        fields[key] = value
    return fields, lines


def examples() -> list[str]:
    """Every example command in SKILL.md's fenced blocks, in document order."""
    text = SKILL.read_text(encoding="utf-8")
    blocks = re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.DOTALL)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip().startswith(EXAMPLE_PREFIX)]


def test_frontmatter_follows_openclaw_rules():
    fields, _ = frontmatter()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert fields["name"] == "crypto-executor" == project["name"]
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", fields["name"])
    assert 0 < len(fields["description"]) < 160 and "\n" not in fields["description"]
    assert fields["version"] == project["version"]
    assert fields["license"] == project["license"] == "MIT-0"
    assert (REPO / "LICENSE").read_text(encoding="utf-8").startswith("MIT No Attribution\n")
    assert fields["user-invocable"] in ("true", "false")
    assert set(fields) <= {"name", "description", "version", "license", "homepage", "user-invocable", "metadata"}


def test_metadata_is_single_line_json_in_openclaws_shape():
    fields, lines = frontmatter()
    assert sum(line.startswith("metadata: ") for line in lines) == 1
    metadata = json.loads(fields["metadata"])
    openclaw = metadata["openclaw"]
    assert openclaw["emoji"]
    assert set(openclaw["os"]) <= {"darwin", "linux", "win32"}
    requires = openclaw["requires"]
    assert requires["bins"] == ["python3.11", "make"]  # what `make setup` runs
    assert isinstance(requires["env"], list) and all(isinstance(name, str) for name in requires["env"])
    # OpenClaw would inject the skill's apiKey into the agent's own environment; keys belong to the service's.
    assert "primaryEnv" not in openclaw
    for step in openclaw["install"]:
        assert step["kind"] in {"brew", "node", "go", "uv", "download"}
        assert {"brew": "formula", "node": "package", "uv": "package", "go": "module", "download": "url"}[
            step["kind"]] in step


def test_every_agent_tool_has_an_example_and_the_reset_is_not_one():
    commands = {shlex.split(line)[2] for line in examples()}
    assert {spec.name for spec in agent_specs()} <= commands
    assert not any("--reset" in line for line in examples())


EXAMPLES = examples()


def test_there_are_examples_to_run():
    assert len(EXAMPLES) >= 10


def test_every_command_is_written_with_the_venv_interpreter():
    """A bare `python` is the system's: it lacks the dependencies and answers a traceback, not JSON."""
    text = SKILL.read_text(encoding="utf-8")
    spans = re.findall(r"`([^`\n]+)`", text) + [line for block in re.findall(r"```[a-z]*\n(.*?)```", text,
                                                                               flags=re.DOTALL)
                                                 for line in block.splitlines()]
    commands = [span for span in spans if re.search(r"executor\.py \w", span) and "/path/to/" not in span]
    assert len(commands) > len(EXAMPLES)
    for span in commands:
        assert span.startswith(EXAMPLE_PREFIX), span
    assert not re.search(r"(?<![/\w])python3? ", text)


def error_table_codes() -> set[str]:
    text = SKILL.read_text(encoding="utf-8")
    table = text[text.index("## Error codes and what to do"):text.index("## MCP server")]
    return {code for row in table.splitlines() if row.startswith("| `")
            for code in re.findall(r"`([A-Z][A-Z_]+)`", row.split(" | ")[0])}


def source_codes() -> set[str]:
    files = [REPO / "executor.py", *(path for package in SOURCE_PACKAGES for path in (REPO / package).rglob("*.py"))]
    return {code for path in files for pattern in CODE_SOURCES for code in pattern.findall(path.read_text("utf-8"))}


def test_the_error_table_has_every_code_of_the_code_and_no_other():
    found = source_codes()
    assert {"DEADLINE", "CLIENT_ID_CONFLICT", "REQUEST_ID_CONFLICT", "INTERNAL_ERROR", "INTERRUPTED"} <= found
    assert error_table_codes() == found
    assert "| any other code |" in SKILL.read_text(encoding="utf-8")


@pytest.mark.parametrize("line", EXAMPLES)
def test_every_example_runs_as_written(tmp_path, line):
    """Each example exactly as written ({baseDir} substituted) from another folder, on its own home (given as
    EXECUTOR_HOME, as an agent's environment would): `run` on a fresh one, every tool on a copy of a replayed
    one. Each must answer JSON (or its text) with a code the error table explains."""
    argv = shlex.split(line.replace("{baseDir}", str(REPO)))
    assert argv[0] == str(REPO / ".venv" / "bin" / "python")
    command = argv[2]
    if command == "mcp":
        pytest.skip("a server that waits for a host: covered by test_mcp's stdio tests")
    home = tmp_path / "home" if command == "run" else prepare_home(tmp_path / "home")
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    done = subprocess.run(argv, cwd=workspace, env=executor_env(home), capture_output=True, text=True,
                          timeout=180, check=False)
    assert_no_secret(done.stdout, done.stderr)
    if command == "tools":
        assert done.returncode == 0 and json.loads(done.stdout)
    elif "--format text" in line:
        first = done.stdout.splitlines()[0]
        ok = first == f"{command}: ok"
        code = re.fullmatch(rf"{command} failed: ([A-Z_]+)", first)
        assert ok or (code and code.group(1) in EXPECTED_ERRORS & error_table_codes()), (line, done.stdout,
                                                                                         done.stderr[-2000:])
        assert done.returncode == (0 if ok else 1)
    else:
        document = json.loads(done.stdout)
        assert document["tool"] == command, document
        assert document["ok"] or document["error"]["code"] in EXPECTED_ERRORS & error_table_codes(), (line, document)
        assert done.returncode == (0 if document["ok"] else 1)


@pytest.mark.parametrize("path", [SKILL, REPO / "CONFIGURATION.md"])
def test_docs_never_show_a_real_looking_key(path: Path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![A-Za-z0-9])[A-Za-z0-9]{40,}(?![A-Za-z0-9])", text)
