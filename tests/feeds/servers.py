"""Loopback stand-ins for Binance, started by the tests: a combined-stream WebSocket server that
replays captured messages, and a REST server that answers `GET /api/v3/depth` from captured snapshots.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

from aiohttp import web
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed


def free_port() -> int:
    """A port nothing listens on (connections to it are refused until a server takes it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ReplayWsServer:
    """Sends the captured messages of the streams a client asks for, `interval_s` apart.

    `close_after`: the first connection is closed (1001 going away, as Binance does at 24 h) after
    that many messages. `pause_after`/`pause_s`: every connection falls silent once, mid-replay.
    After the last message the connection stays open and quiet.
    """

    def __init__(self, messages: list[dict[str, Any]], *, interval_s: float = 0.002, close_after: int | None = None,
                 pause_after: int | None = None, pause_s: float = 0.0) -> None:
        self.messages = messages
        self.interval_s = interval_s
        self.close_after = close_after
        self.pause_after = pause_after
        self.pause_s = pause_s
        self.connections = 0
        self.paths: list[str] = []
        self.sent = 0
        self.port = 0
        self._server: Server | None = None

    @property
    def base(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def start(self, port: int = 0) -> None:
        self._server = await serve(self._handle, "127.0.0.1", port)
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # the client may leave mid-replay
            await self._replay(connection)

    async def _replay(self, connection: ServerConnection) -> None:
        self.connections += 1
        first = self.connections == 1
        path = connection.request.path if connection.request is not None else ""
        self.paths.append(path)
        wanted = set(parse_qs(urlparse(path).query).get("streams", [""])[0].split("/"))
        sent_here = 0
        for message in self.messages:
            if message["stream"] not in wanted:
                continue
            if first and self.close_after is not None and sent_here >= self.close_after:
                await connection.close(1001, "going away")
                return
            if self.pause_after is not None and sent_here == self.pause_after:
                await asyncio.sleep(self.pause_s)
            await connection.send(_dumps(message))
            sent_here += 1
            self.sent += 1
            await asyncio.sleep(self.interval_s)
        await connection.wait_closed()


def _dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


class DepthRestServer:
    """`GET /api/v3/depth?symbol=S&limit=N` from captured snapshots; -1121 for an unknown symbol.
    `status_for` can inject an HTTP status (e.g. 429) per request number."""

    def __init__(self, snapshots: dict[str, dict[str, Any]], status_for: Callable[[int], int | None] | None = None,
                 retry_after_s: int = 1) -> None:
        self.snapshots = snapshots
        self.status_for = status_for
        self.retry_after_s = retry_after_s
        self.requests: Counter[str] = Counter()
        self.limits: list[int] = []
        self.port = 0
        self._runner: web.AppRunner | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/api/v3/depth", self._depth)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = int(sock.getsockname()[1])
        await web.SockSite(self._runner, sock).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _depth(self, request: web.Request) -> web.Response:
        symbol = request.query.get("symbol", "")
        limit = int(request.query.get("limit", "100"))
        number = sum(self.requests.values())
        self.requests[symbol] += 1
        self.limits.append(limit)
        status = self.status_for(number) if self.status_for is not None else None
        if status is not None:
            return web.json_response({"code": -1003, "msg": "Too many requests."}, status=status,
                                     headers={"Retry-After": str(self.retry_after_s)})
        snapshot = self.snapshots.get(symbol)
        if snapshot is None:
            return web.json_response({"code": -1121, "msg": "Invalid symbol."}, status=400)
        return web.json_response({"lastUpdateId": snapshot["lastUpdateId"], "bids": snapshot["bids"][:limit],
                                  "asks": snapshot["asks"][:limit]})


@contextlib.asynccontextmanager
async def running(*servers: Any) -> Any:
    for server in servers:
        if not server.port:
            await server.start()
    try:
        yield servers
    finally:
        for server in servers:
            await server.stop()
