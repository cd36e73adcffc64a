"""The tool registry as an MCP server (mcp 2.x `MCPServer`), on stdio for agent hosts.

The SDK would derive each tool's schema from a Python signature; ours are already published from the
input models, and arguments must be checked against exactly that schema (so an error names its JSON
path) before anything runs. So `list_tools` publishes the registry's schemas and `call_tool` sends
the raw arguments through `tools.validation.invoke`, the same path as the command line: every call
answers the CLI's JSON envelope as text content, `is_error` set when `ok` is false. Only agent-facing
specs are listed or callable; the command-line-only kill reset is neither. Logs go to stderr.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.context import Context
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    CallToolResult,
    ErrorData,
    JSONRPCError,
    TextContent,
    Tool,
    ToolAnnotations,
)
from pydantic import ValidationError

from core.errors import ExecutorError
from tools.envelope import dumps, from_error
from tools.registry import agent_specs, get_spec, input_schema
from tools.spec import ToolContext, ToolSpec
from tools.validation import invoke

SERVER_NAME = "crypto-executor"
INSTRUCTIONS = (
    "Binance Spot executor, paper trading by default. Read-only: scan, status, report. trade, pause, resume "
    "and kill change what the executor does: never confirm a live trade without the user's explicit word in "
    "this conversation, and always show the user the preview first. Every answer is a JSON envelope "
    '{"ok": true, "data": ...} or {"ok": false, "error": {"code", "message", "details"}}.'
)


def tool_annotations(spec: ToolSpec) -> ToolAnnotations:
    """readOnlyHint for read-only tools; destructiveHint for tools that trade or change the executor's state."""
    return ToolAnnotations(title=spec.name, read_only_hint=spec.read_only,
                           destructive_hint=None if spec.read_only else spec.destructive)


def mcp_tool(spec: ToolSpec) -> Tool:
    return Tool(name=spec.name, description=spec.description, input_schema=input_schema(spec),
                annotations=tool_annotations(spec))


def mcp_tool_list() -> list[dict[str, Any]]:
    """The tool list as an MCP host sees it in `tools/list` (camelCase keys, no nulls)."""
    return [mcp_tool(spec).model_dump(by_alias=True, exclude_none=True, mode="json") for spec in agent_specs()]


class ExecutorMCPServer(MCPServer):
    """An `MCPServer` whose tools are the registry's agent-facing specs, validated and enveloped like the CLI."""

    def __init__(self, context: Callable[[], ToolContext]) -> None:
        super().__init__(name=SERVER_NAME, instructions=INSTRUCTIONS, log_level="WARNING")
        self._context = context

    async def list_tools(self) -> list[Tool]:
        return [mcp_tool(spec) for spec in agent_specs()]

    async def call_tool(self, name: str, arguments: dict[str, Any],
                        context: Context[Any, Any] | None = None) -> CallToolResult:
        try:
            spec = get_spec(name, agent_facing_only=True)
        except ExecutorError as exc:
            document = from_error(name, exc)
        else:
            # Handlers are synchronous (SQLite, subprocesses): run them off the event loop.
            document = await anyio.to_thread.run_sync(invoke, spec, arguments, self._context)
        return CallToolResult(content=[TextContent(type="text", text=dumps(document))],
                              is_error=not document["ok"])

    async def run_stdio_async(self) -> None:
        """The SDK's stdio loop, plus an answer to a line that is not a JSON-RPC message.

        The SDK's transport hands such a line on as an exception, which its dispatcher only logs at debug
        level: the client never hears back and waits. JSON-RPC 2.0 (section 5.1) answers it with id null:
        -32700 when the line is not JSON, -32600 when it is JSON but not a JSON-RPC message.
        """
        async with stdio_server() as (read_stream, write_stream):
            relay_in, relay_out = anyio.create_memory_object_stream[SessionMessage | Exception](0)

            async def relay() -> None:
                async with relay_in:
                    async for item in read_stream:
                        if isinstance(item, Exception):
                            await write_stream.send(SessionMessage(unreadable_message_error(item)))
                        else:
                            await relay_in.send(item)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(relay)
                await self._lowlevel_server.run(relay_out, write_stream,
                                                self._lowlevel_server.create_initialization_options())


def unreadable_message_error(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error for a line the transport could not read as a message (see `run_stdio_async`)."""
    not_json = isinstance(exc, ValidationError) and any(e["type"] == "json_invalid" for e in exc.errors())
    if not_json:
        error = ErrorData(code=PARSE_ERROR, message="Parse error: the line is not JSON")
    else:
        error = ErrorData(code=INVALID_REQUEST, message="Invalid Request: the line is not a JSON-RPC 2.0 message")
    return JSONRPCError(jsonrpc="2.0", id=None, error=error)


def build_server(home: str | None = None) -> ExecutorMCPServer:
    return ExecutorMCPServer(lambda: ToolContext.from_environment(home))


def serve_stdio(home: str | None = None) -> None:
    """Serve until the host closes stdin. Only the protocol is written to stdout."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    build_server(home).run("stdio")
