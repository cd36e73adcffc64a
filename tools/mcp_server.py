"""The tool registry as an MCP server (the `mcp` SDK's low-level `Server`), on stdio for agent hosts.

The SDK's `MCPServer` would derive each tool's schema from a Python signature and register prompt and
resource handlers, which makes the server advertise prompt and resource capabilities it does not have.
The low-level `Server` gets exactly two handlers, so `initialize` advertises tools only. Ours are published
from the registry: `inputSchema` from the input model, `outputSchema` describing the whole JSON envelope
(`tools.registry.answer_schema`), and the spec's hints as `ToolAnnotations`.

Every call goes through `tools.validation.invoke`, the same path as the command line: the answer is the
CLI's JSON envelope, both as `structuredContent` and as its text (for hosts that read only text), with
`isError` set when `ok` is false. The outputSchema covers the error envelope too, so a host that validates
structured content accepts every answer. A tool name that is not an agent-facing tool is a JSON-RPC error
(-32602, as the MCP spec's tools/call error handling says), never a tool result; the command-line-only
kill reset is neither listed nor callable. Logs go to stderr.

Protocol versions: whatever the SDK negotiates (mcp 2.3.0: the initialize handshake for 2024-11-05,
2025-03-26, 2025-06-18 and 2025-11-25, and `server/discover` for 2026-07-28); `SUPPORTED_PROTOCOL_VERSIONS`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server import Server
from mcp.server.context import ServerRequestContext
from mcp.server.stdio import stdio_server
from mcp.shared.exceptions import MCPError
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_PARAMS,
    INVALID_REQUEST,
    PARSE_ERROR,
    CallToolRequestParams,
    CallToolResult,
    ErrorData,
    JSONRPCError,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSIONS
from pydantic import ValidationError

from tools.envelope import dumps
from tools.registry import UnknownTool, agent_specs, answer_schema, get_spec, input_schema
from tools.spec import ToolContext, ToolSpec
from tools.validation import invoke
from tools.version import project_version

SERVER_NAME = "crypto-executor"
SERVER_TITLE = "crypto-executor: Binance Spot executor"
SUPPORTED_PROTOCOL_VERSIONS: tuple[str, ...] = (*HANDSHAKE_PROTOCOL_VERSIONS, *MODERN_PROTOCOL_VERSIONS)
INSTRUCTIONS = (
    "Binance Spot executor, paper trading by default. Read-only: scan, status, report. trade, pause, resume "
    "and kill change what the executor does: never confirm a live trade without the user's explicit word in "
    "this conversation, and always show the user the preview first. Every answer is a JSON envelope "
    '{"ok": true, "data": ...} or {"ok": false, "error": {"code", "message", "details"}}, as structured '
    "content and as text."
)


def tool_annotations(spec: ToolSpec) -> ToolAnnotations:
    """The spec's hints. destructiveHint and idempotentHint only mean something for a tool that is not
    read-only (MCP spec), so a read-only tool carries neither."""
    changes = not spec.read_only
    return ToolAnnotations(title=spec.title, read_only_hint=spec.read_only,
                           destructive_hint=spec.destructive if changes else None,
                           idempotent_hint=spec.idempotent if changes else None,
                           open_world_hint=spec.open_world)


def mcp_tool(spec: ToolSpec) -> Tool:
    return Tool(name=spec.name, title=spec.title, description=spec.description, input_schema=input_schema(spec),
                output_schema=answer_schema(spec), annotations=tool_annotations(spec))


def mcp_tool_list() -> list[dict[str, Any]]:
    """The tool list as an MCP host sees it in `tools/list` (camelCase keys, no nulls)."""
    return [mcp_tool(spec).model_dump(by_alias=True, exclude_none=True, mode="json") for spec in agent_specs()]


def unknown_tool_error(exc: UnknownTool) -> MCPError:
    """-32602 Invalid params, with the known tools in `data` so the caller can correct itself."""
    return MCPError(code=INVALID_PARAMS, message=f"Unknown tool: {exc.details['tool']}", data=exc.details)


class ExecutorMCPServer(Server[Any]):
    """A low-level MCP `Server` whose tools are the registry's agent-facing specs, answered like the CLI."""

    def __init__(self, context: Callable[[], ToolContext]) -> None:
        super().__init__(SERVER_NAME, version=project_version(), title=SERVER_TITLE, instructions=INSTRUCTIONS,
                         on_list_tools=self._list_tools, on_call_tool=self._call_tool)
        self._context = context

    async def _list_tools(self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
                          ) -> ListToolsResult:
        return ListToolsResult(tools=[mcp_tool(spec) for spec in agent_specs()])

    async def _call_tool(self, ctx: ServerRequestContext[Any], params: CallToolRequestParams) -> CallToolResult:
        try:
            spec = get_spec(params.name, agent_facing_only=True)
        except UnknownTool as exc:
            raise unknown_tool_error(exc) from None
        # Handlers are synchronous (SQLite, subprocesses): run them off the event loop.
        document = await anyio.to_thread.run_sync(invoke, spec, params.arguments or {}, self._context)
        return CallToolResult(content=[TextContent(type="text", text=dumps(document))],
                              structured_content=document, is_error=not document["ok"])

    async def run_stdio(self) -> None:
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
                await self.run(relay_out, write_stream, self.create_initialization_options())


def unreadable_message_error(exc: Exception) -> JSONRPCError:
    """The JSON-RPC error for a line the transport could not read as a message (see `run_stdio`)."""
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
    anyio.run(build_server(home).run_stdio)
