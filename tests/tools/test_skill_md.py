"""SKILL.md: OpenClaw's frontmatter rules, and every example command in it runs as written."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.tools.test_cli_support import REPO, assert_no_secret, executor_env, prepare_home
from tools.registry import agent_specs

SKILL = REPO / "SKILL.md"
EXAMPLE_PREFIX = "python {baseDir}/executor.py "
# Typed errors an example may answer on a replayed home: the confirmation example's code is illustrative.
EXPECTED_ERRORS = {"CONFIRMATION_UNKNOWN", "NO_POSITION"}


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
    assert fields["license"]
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
    assert requires["bins"] == ["python3"]
    assert isinstance(requires["env"], list) and all(isinstance(name, str) for name in requires["env"])
    assert openclaw["primaryEnv"] == "BINANCE_API_KEY"
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


@pytest.mark.parametrize("line", EXAMPLES)
def test_every_example_runs_as_written(tmp_path, line):
    """Each example on its own home: `run` on a fresh one, every tool on a copy of a replayed one."""
    argv = shlex.split(line.replace("{baseDir}", str(REPO)))
    assert argv[0] == "python"
    command = argv[2]
    if command == "mcp":
        pytest.skip("a server that waits for a host: covered by test_mcp's stdio tests")
    home = tmp_path / "home" if command == "run" else prepare_home(tmp_path / "home")
    home_flag = [] if command == "tools" else ["--home", str(home)]
    done = subprocess.run([sys.executable, *argv[1:], *home_flag], cwd=REPO, env=executor_env(home),
                          capture_output=True, text=True, timeout=180, check=False)
    assert_no_secret(done.stdout, done.stderr)
    if command == "tools":
        assert done.returncode == 0 and json.loads(done.stdout)
    elif "--format text" in line:
        first = done.stdout.splitlines()[0]
        ok = first == f"{command}: ok"
        code = re.fullmatch(rf"{command} failed: ([A-Z_]+)", first)
        assert ok or (code and code.group(1) in EXPECTED_ERRORS), (line, done.stdout, done.stderr[-2000:])
        assert done.returncode == (0 if ok else 1)
    else:
        document = json.loads(done.stdout)
        assert document["tool"] == command, document
        assert document["ok"] or document["error"]["code"] in EXPECTED_ERRORS, (line, document)
        assert done.returncode == (0 if document["ok"] else 1)


@pytest.mark.parametrize("path", [SKILL, REPO / "CONFIGURATION.md"])
def test_docs_never_show_a_real_looking_key(path: Path):
    text = path.read_text(encoding="utf-8")
    assert not re.search(r"(?<![A-Za-z0-9])[A-Za-z0-9]{40,}(?![A-Za-z0-9])", text)
