"""The MCP server: in-process through `mcp.Client`, and over stdio by spawning `python executor.py mcp`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.tools.test_cli_support import (
    EXECUTOR,
    REPO,
    assert_no_secret,
    executor_env,
    journal_counts,
    prepare_home,
)
from tools.mcp_server import ExecutorMCPServer
from tools.registry import agent_specs
from tools.spec import ToolContext

READ_ONLY = {"scan", "status", "report"}
DESTRUCTIVE = {"trade", "pause", "resume", "kill"}


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    return prepare_home(tmp_path_factory.mktemp("mcp") / "home")


def _envelope(result) -> dict:
    assert len(result.content) == 1 and result.content[0].type == "text"
    document = json.loads(result.content[0].text)
    assert result.is_error is (not document["ok"])
    return document


def _check_listing(listing) -> None:
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == {spec.name for spec in agent_specs()} == READ_ONLY | DESTRUCTIVE
    assert "kill_reset" not in tools
    for name in READ_ONLY:
        assert tools[name].annotations.read_only_hint is True
        assert not tools[name].annotations.destructive_hint
    for name in DESTRUCTIVE:
        assert tools[name].annotations.read_only_hint is False
        assert tools[name].annotations.destructive_hint is True
    assert tools["trade"].input_schema["properties"]["quote"]
    assert tools["trade"].input_schema["additionalProperties"] is False


def test_in_process_lists_the_agent_tools_and_answers_the_cli_envelope(home, monkeypatch):
    for name, value in executor_env(home).items():
        monkeypatch.setenv(name, value)
    server = ExecutorMCPServer(lambda: ToolContext.from_environment(str(home)))

    async def session() -> None:
        async with Client(server) as client:
            _check_listing(await client.list_tools())
            status = _envelope(await client.call_tool("status", {}))
            assert status["ok"] and status["tool"] == "status" and status["data"]["mode"] == "replay"
            report = _envelope(await client.call_tool("report", {"period": "day"}))
            assert report["ok"]
            paused = _envelope(await client.call_tool("pause", {"symbol": "ETHUSDT", "minutes": 15}))
            assert paused["data"]["paused_symbols"]["ETHUSDT"] > 0
            resumed = _envelope(await client.call_tool("resume", {}))
            assert resumed["data"]["paused_symbols"] == {}
            killed = _envelope(await client.call_tool("kill", {}))
            assert killed["data"]["kill_switch"] is True
            before = journal_counts(home)
            bad = _envelope(await client.call_tool("trade", {"symbol": "BTCUSDT", "side": "buy", "quote": "lots"}))
            assert bad["error"]["code"] == "INVALID_ARGUMENT" and bad["error"]["details"]["path"] == "/quote"
            blocked = _envelope(await client.call_tool("trade", {"symbol": "BTCUSDT", "side": "buy", "pct": 1}))
            assert blocked["ok"] and blocked["data"]["status"] == "skipped"
            assert journal_counts(home)["orders"] == before["orders"]
            reset = _envelope(await client.call_tool("kill_reset", {"yes_i_understand": True}))
            assert reset["error"]["code"] == "INVALID_ARGUMENT"
            assert "kill_reset" not in reset["error"]["details"]["known"]

    anyio.run(session)


def test_over_stdio_the_spawned_server_speaks_only_the_protocol_on_stdout(home, tmp_path):
    params = StdioServerParameters(command=sys.executable, args=[str(EXECUTOR), "mcp", "--home", str(home)],
                                   env=executor_env(home), cwd=str(REPO))
    stderr_path = tmp_path / "stderr.txt"

    async def session() -> None:
        with stderr_path.open("w") as errlog:
            async with Client(stdio_client(params, errlog=errlog), read_timeout_seconds=120) as client:
                _check_listing(await client.list_tools())
                status = _envelope(await client.call_tool("status", {}))
                assert status["ok"] and status["data"]["mode"] == "replay"
                bad = _envelope(await client.call_tool("scan", {"symbols": "BTCUSDT"}))
                assert bad["error"]["details"]["path"] == "/symbols"
                unknown = _envelope(await client.call_tool("withdraw", {"amount": 1}))
                assert unknown["error"]["code"] == "INVALID_ARGUMENT"

    anyio.run(session)
    assert_no_secret(stderr_path.read_text())


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
