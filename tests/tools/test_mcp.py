"""The MCP server: in-process through `mcp.Client`, and over stdio (`mcp.client.stdio`) by spawning
`python executor.py mcp` from another folder. Every answer, ok or error, is checked against the tool's
published outputSchema with jsonschema, and its structured content against its text."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import anyio
import pytest
from jsonschema import Draft202012Validator
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL
from tests.tools.test_cli_support import (
    EXECUTOR,
    REPO,
    assert_no_secret,
    executor_env,
    journal_counts,
    prepare_home,
)
from tools.envelope import dumps
from tools.mcp_server import SUPPORTED_PROTOCOL_VERSIONS, ExecutorMCPServer
from tools.registry import agent_specs, answer_schema
from tools.spec import ToolContext

READ_ONLY = {"scan", "status", "report", "doctor"}
CHANGING = {"trade", "pause", "resume", "kill"}
# (readOnlyHint, destructiveHint, idempotentHint, openWorldHint): pause and kill only reduce risk, so a host must
# not put a confirmation prompt in front of them; trade and resume loosen it.
HINTS = {
    "scan": (True, None, None, True),
    "status": (True, None, None, False),
    "report": (True, None, None, False),
    "doctor": (True, None, None, True),
    "trade": (False, True, False, True),
    "pause": (False, False, True, False),
    "resume": (False, True, True, False),
    "kill": (False, False, True, False),
}
PYPROJECT_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return prepare_home(tmp_path_factory.mktemp("mcp") / "home")


class Answers:
    """Each tool's published outputSchema (from tools/list) and a check of every answer against it."""

    def __init__(self, listing: Any) -> None:
        self.validators = {tool.name: Draft202012Validator(tool.output_schema) for tool in listing.tools}
        self.seen: set[tuple[str, bool]] = set()

    def check(self, name: str, result: Any) -> dict[str, Any]:
        assert len(result.content) == 1 and result.content[0].type == "text"
        document = result.structured_content
        assert result.content[0].text == dumps(document)
        assert result.is_error is (not document["ok"]) and document["tool"] == name
        errors = sorted(self.validators[name].iter_errors(document), key=str)
        assert not errors, f"{name}: {errors[0].message} at {list(errors[0].absolute_path)}"
        self.seen.add((name, document["ok"]))
        return document


def _check_listing(listing: Any) -> Answers:
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == {spec.name for spec in agent_specs()} == READ_ONLY | CHANGING
    assert "kill_reset" not in tools
    for spec in agent_specs():
        tool = tools[spec.name]
        hints = tool.annotations
        assert tool.title == hints.title == spec.title and spec.title and spec.title != spec.name
        assert (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint) == \
            HINTS[spec.name], spec.name
        assert tool.output_schema == answer_schema(spec)
        Draft202012Validator.check_schema(tool.output_schema)
        assert tool.output_schema["type"] == "object"  # required at the root through protocol 2025-11-25
    assert tools["trade"].input_schema["properties"]["quote"]
    assert tools["trade"].input_schema["additionalProperties"] is False
    return Answers(listing)


def _check_identity(client: Client) -> None:
    """serverInfo carries the project's version; only the tools capability is advertised."""
    assert client.server_info is not None
    assert (client.server_info.name, client.server_info.version) == ("crypto-executor", PYPROJECT_VERSION)
    capabilities = client.server_capabilities
    assert capabilities.tools is not None
    assert (capabilities.prompts, capabilities.resources, capabilities.completions) == (None, None, None)
    assert client.protocol_version in SUPPORTED_PROTOCOL_VERSIONS


async def _unknown_tool_is_a_protocol_error(client: Client, name: str) -> None:
    with pytest.raises(MCPError) as raised:
        await client.call_tool(name, {"amount": 1})
    assert raised.value.code == -32602 and name in raised.value.message
    assert "kill_reset" not in raised.value.data["known"] and "trade" in raised.value.data["known"]


def test_in_process_every_tool_answers_its_published_schema_ok_and_error(home, monkeypatch):
    for name, value in executor_env(home).items():
        monkeypatch.setenv(name, value)
    server = ExecutorMCPServer(lambda: ToolContext.from_environment(str(home)))

    async def session() -> Answers:
        async with Client(server) as client:
            _check_identity(client)
            answers = _check_listing(await client.list_tools())
            status = answers.check("status", await client.call_tool("status", {}))
            assert status["ok"] and status["data"]["mode"] == "replay"
            assert answers.check("report", await client.call_tool("report", {"period": "day"}))["ok"]
            scan = answers.check("scan", await client.call_tool("scan", {"symbols": ["BTCUSDT"]}))
            assert scan["ok"] and scan["data"]["results"][0]["symbol"] == "BTCUSDT"
            paused = answers.check("pause", await client.call_tool("pause", {"symbol": "ETHUSDT", "minutes": 15}))
            assert paused["data"]["paused_symbols"]["ETHUSDT"] > 0
            resumed = answers.check("resume", await client.call_tool("resume", {}))
            assert resumed["data"]["paused_symbols"] == {}
            killed = answers.check("kill", await client.call_tool("kill", {}))
            assert killed["data"]["kill_switch"] is True
            blocking = answers.check("doctor", await client.call_tool("doctor", {}))  # Binance: a closed port
            assert "binance.connectivity" in blocking["error"]["details"]["blocking"]
            with FakeBinance({SYMBOL: RULES}, {}, api_key=KEY, api_secret=SECRET) as binance:
                monkeypatch.setenv("BINANCE_BASE_URL", binance.rest_url)
                for name in ("TELEGRAM_BOT_TOKEN", "TELEGRAM_CHAT_ID", "DEEPSEEK_API_KEY"):
                    monkeypatch.delenv(name)
                ready = answers.check("doctor", await client.call_tool("doctor", {"symbols": [SYMBOL]}))
            assert ready["ok"] and ready["data"]["mode"] == "paper", ready
            before = journal_counts(home)
            bad = answers.check("trade", await client.call_tool("trade", {"symbol": "BTCUSDT", "side": "buy",
                                                                          "quote": "lots"}))
            assert bad["error"]["code"] == "INVALID_ARGUMENT" and bad["error"]["details"]["path"] == "/quote"
            blocked = answers.check("trade", await client.call_tool("trade", {"symbol": "BTCUSDT", "side": "buy",
                                                                              "pct": 1}))
            assert blocked["ok"] and blocked["data"]["status"] == "skipped"
            assert journal_counts(home)["orders"] == before["orders"]
            for spec in agent_specs():
                refused = answers.check(spec.name, await client.call_tool(spec.name, {"no_such_argument": 1}))
                assert refused["error"]["details"]["path"] == "/no_such_argument"
            await _unknown_tool_is_a_protocol_error(client, "kill_reset")
            await _unknown_tool_is_a_protocol_error(client, "withdraw")
            return answers

    answers = anyio.run(session)
    assert answers.seen == {(spec.name, ok) for spec in agent_specs() for ok in (True, False)}


@pytest.mark.parametrize("mode", ["legacy", "auto"])
def test_over_stdio_from_another_folder_with_a_fresh_home(tmp_path, mode):
    """What a host does (Claude Desktop starts servers without a working directory): the mcp package's stdio
    client, the server started in an unrelated folder, a home that has never been used. `legacy` negotiates
    through the initialize handshake, `auto` through server/discover (protocol 2026-07-28)."""
    home, elsewhere = tmp_path / "fresh-home", tmp_path / "elsewhere"
    elsewhere.mkdir()
    params = StdioServerParameters(command=sys.executable, args=[str(EXECUTOR), "mcp", "--home", str(home)],
                                   env=executor_env(home), cwd=str(elsewhere))
    stderr_path = tmp_path / "stderr.txt"

    async def session() -> None:
        with stderr_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), mode=mode, read_timeout_seconds=120) as client:
                _check_identity(client)
                answers = _check_listing(await client.list_tools())
                answers.check("status", await client.call_tool("status", {}))
                answers.check("report", await client.call_tool("report", {}))
                bad = answers.check("scan", await client.call_tool("scan", {"symbols": "BTCUSDT"}))
                assert bad["error"]["details"]["path"] == "/symbols"
                # A fresh home has no engine to act on yet: the controls say so, in the published shape.
                paused = answers.check("pause", await client.call_tool("pause", {"minutes": 5, "wait_s": 5}))
                assert paused["error"]["code"] == "NOT_STARTED"
                killed = answers.check("kill", await client.call_tool("kill", {"wait_s": 5}))
                assert killed["error"]["code"] == "NOT_STARTED"
                await _unknown_tool_is_a_protocol_error(client, "withdraw")

    anyio.run(session)
    assert_no_secret(stderr_path.read_text())
    assert (home / "KILL").exists() and not (elsewhere / "KILL").exists()


def test_raw_stdio_every_stdout_line_is_json_rpc_even_while_a_tool_runs(home):
    """What a host reads: nothing on stdout but JSON-RPC messages, including during a scan (oracle workers)."""
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "raw-test", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "scan",
                                                                       "arguments": {"symbols": ["BTCUSDT"]}}},
        {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "trade", "arguments": {
            "symbol": "BTCUSDT", "side": "buy", "quote": "NaN"}}},
    ]
    server = subprocess.Popen([sys.executable, str(EXECUTOR), "mcp", "--home", str(home)], cwd=REPO,
                              env=executor_env(home), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    answers: dict[int, dict] = {}
    try:
        for request in requests:
            server.stdin.write(json.dumps(request) + "\n")
            server.stdin.flush()
            if "id" not in request:
                continue
            while request["id"] not in answers:
                line = server.stdout.readline()
                assert line, f"server closed stdout; stderr: {server.stderr.read()[-2000:]}"
                message = json.loads(line)
                assert message["jsonrpc"] == "2.0"
                if "id" in message:
                    answers[message["id"]] = message
    finally:
        server.stdin.close()
        server.wait(timeout=60)
    stderr = server.stderr.read()
    server.stdout.close()
    server.stderr.close()
    assert_no_secret(stderr, json.dumps(answers))
    scan = json.loads(answers[2]["result"]["content"][0]["text"])
    assert scan["ok"] and scan["data"]["results"][0]["symbol"] == "BTCUSDT"
    trade = json.loads(answers[3]["result"]["content"][0]["text"])
    assert trade["error"]["details"]["path"] == "/quote" and answers[3]["result"]["isError"] is True
