"""README's "Connecting an agent host" says what the code does: the MCP protocol versions the server
negotiates (checked over stdio, started from `/` by absolute paths as a host starts it), the read-only tool
list for a research agent, and a host configuration that parses."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from tests.tools.test_anywhere import fresh_user_env
from tests.tools.test_cli_support import EXECUTOR, REPO
from tools.registry import agent_specs

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("### Connecting an agent host"):README.index("## Safety, in plain words")]
VERSIONS_TEXT = SECTION[SECTION.index("MCP protocol versions"):]
LISTED = re.findall(r"`(\d{4}-\d{2}-\d{2})`", VERSIONS_TEXT[:VERSIONS_TEXT.index("A host that asks")])
OFFERED = re.search(r"is\s+offered `(\d{4}-\d{2}-\d{2})`", VERSIONS_TEXT)


def negotiated(requested: str, home: Path) -> str:
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": requested, "capabilities": {}, "clientInfo": {"name": "readme-test", "version": "1"}}}
    done = subprocess.run([sys.executable, str(EXECUTOR), "mcp"], cwd="/", input=json.dumps(request) + "\n",
                          env=fresh_user_env(home.parent, EXECUTOR_HOME=str(home)), capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    answer: str = json.loads(done.stdout.splitlines()[0])["result"]["protocolVersion"]
    return answer


def test_the_readme_names_the_sdk_it_was_checked_against():
    assert f"`mcp` {version('mcp')} SDK" in VERSIONS_TEXT


@pytest.mark.parametrize("requested", [*LISTED, "2026-07-28", "1999-01-01"])
def test_the_server_negotiates_exactly_the_versions_the_readme_lists(tmp_path, requested):
    assert len(LISTED) >= 4 and OFFERED is not None and OFFERED.group(1) == LISTED[-1]
    expected = requested if requested in LISTED else OFFERED.group(1)
    assert negotiated(requested, tmp_path / "home") == expected


def test_the_research_agent_include_list_is_exactly_the_read_only_tools():
    lists = re.findall(r"openclaw mcp tools crypto-executor --include '([^']+)' +# ([^\n]+)", SECTION)
    research = [set(tools.split(",")) for tools, comment in lists if "research agent" in comment]
    execution = [set(tools.split(",")) for tools, comment in lists if "execution agent" in comment]
    assert len(research) == 2 and len(execution) == 1, lists  # the MCP set-up, and the Discord research channel
    assert all(tools == {spec.name for spec in agent_specs() if spec.read_only} for tools in research)
    assert execution == [{spec.name for spec in agent_specs()}]


def test_the_host_configurations_use_absolute_paths_and_parse():
    (block,) = re.findall(r"```json\n(.*?)```", SECTION, flags=re.DOTALL)
    server = json.loads(block)["mcpServers"]["crypto-executor"]
    assert Path(server["command"]).is_absolute() and server["command"].endswith("/.venv/bin/python")
    assert Path(server["args"][0]).is_absolute() and server["args"][1:] == ["mcp"]
    assert Path(server["env"]["EXECUTOR_HOME"]).is_absolute()
    (add,) = [line for line in SECTION.splitlines() if line.startswith("openclaw mcp add ")]
    assert "--command /" in add and "--arg /" in add and "EXECUTOR_HOME=/" in add
