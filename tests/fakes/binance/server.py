"""The fake Binance's transports: REST (`/api/v3/...`), the WebSocket API (`/ws-api/v3`) and a control API
(`/fake/...`), all served by one aiohttp application on 127.0.0.1, in a thread of its own so that the
synchronous REST client of the SDK and a test's driver calls can use it from the test's thread.

Every request, on either transport, goes through the same steps in Binance's order: IP ban (418), injected
fault, request weight (429), API key, signature (-1022), timestamp (-1021), parameters, then the venue.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from core.filters import SymbolRules
from tests.fakes.binance import documents as docs
from tests.fakes.binance.errors import BinanceError, Code, mandatory, status_unknown
from tests.fakes.binance.faults import Fault, FaultKind, FaultQueue, Transport
from tests.fakes.binance.limits import (
    MY_TRADES_WEIGHT_BY_ORDER,
    OPEN_ORDERS_WEIGHT_ALL,
    OPEN_ORDERS_WEIGHT_ONE_SYMBOL,
    WEIGHTS,
    Limits,
    Op,
    RateLimiter,
)
from tests.fakes.binance.market import Market
from tests.fakes.binance.params import Params
from tests.fakes.binance.render import exchange_info
from tests.fakes.binance.signing import (
    PublicKeyVerifier,
    check_api_key,
    check_timestamp,
    param_text,
    verifier,
    verify_rest,
    verify_ws,
)
from tests.fakes.binance.venue import Event, Venue
from tests.fakes.loop_thread import LoopThread

Doc = Any  # a JSON document: an object or a list of objects
Handler = Callable[[Params, int], Doc]

REST_ROUTES: dict[tuple[str, str], Op] = {
    ("GET", "/api/v3/time"): Op.TIME,
    ("GET", "/api/v3/exchangeInfo"): Op.EXCHANGE_INFO,
    ("GET", "/api/v3/account"): Op.ACCOUNT,
    ("POST", "/api/v3/order"): Op.NEW_ORDER,
    ("POST", "/api/v3/orderList/oco"): Op.NEW_OCO,
    ("DELETE", "/api/v3/order"): Op.CANCEL_ORDER,
    ("DELETE", "/api/v3/orderList"): Op.CANCEL_ORDER_LIST,
    ("GET", "/api/v3/order"): Op.QUERY_ORDER,
    ("GET", "/api/v3/openOrders"): Op.OPEN_ORDERS,
    ("GET", "/api/v3/myTrades"): Op.MY_TRADES,
    ("GET", "/api/v3/allOrders"): Op.ALL_ORDERS,
    ("GET", "/sapi/v1/account/apiRestrictions"): Op.API_RESTRICTIONS,
    ("GET", "/api/v3/orderList"): Op.QUERY_ORDER_LIST,
    ("GET", "/api/v3/openOrderList"): Op.OPEN_ORDER_LISTS,
}
WS_METHODS: dict[str, Op] = {op.value: op for op in Op if op is not Op.API_RESTRICTIONS}
# userDataStream.unsubscribe acts on its own connection's subscriptions and needs no key (web-socket-api.md);
# session.logout is security type NONE.
UNSIGNED = frozenset({Op.TIME, Op.EXCHANGE_INFO, Op.USER_STREAM_UNSUBSCRIBE, Op.SESSION_LOGOUT})
# USER_STREAM security on a logged-on session: no signature and no timestamp, the session's key is used.
SESSION_ONLY = frozenset({Op.USER_STREAM_SESSION_SUBSCRIBE})
ORDERS_PLACED = {Op.NEW_ORDER: 1, Op.NEW_OCO: 2}  # an OCO counts as two orders
# Binance CHANGELOG 2026-03-27 (effective 2026-04-02): these requests weigh 0 when they succeed; "Failed
# requests are still charged the documented weight".
FREE_WHEN_SUCCESSFUL = frozenset({Op.NEW_ORDER, Op.NEW_OCO, Op.CANCEL_ORDER, Op.CANCEL_ORDER_LIST})
WS_API_PATH = "/ws-api/v3"
KEY_CREATED_MS = 1_767_225_600_000  # apiRestrictions' createTime: 2026-01-01
STREAM_PATH = "/stream"
DEFAULT_DEPTH_LIMIT = 100


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class _Connection:
    """One WebSocket API connection: answers and user-data events leave through one queue, in order."""

    ws: web.WebSocketResponse
    request: web.Request
    connected_ms: int
    outbox: asyncio.Queue[str | None] = field(default_factory=asyncio.Queue)
    subscriptions: dict[int, Callable[[Event], None]] = field(default_factory=dict)
    session_key: str | None = None  # the API key `session.logon` authenticated on this connection
    authorized_since: int | None = None


class FakeBinance:
    """Binance Spot on 127.0.0.1, backed by the paper simulator. See the package docstring for how to drive it."""

    def __init__(self, rules: dict[str, SymbolRules], balances: dict[str, Decimal], *, api_key: str,
                 api_secret: str | None = None, public_key: str | None = None, fee_rate: Decimal = Decimal("0.001"),
                 limits: Limits | None = None, clock_ms: Callable[[], int] = wall_clock_ms,
                 market: Market | None = None, market_interval_s: float = 0.1) -> None:
        """`api_secret` (an HMAC key) or `public_key` (the PEM public key registered for an Ed25519 or RSA API key):
        exactly one. `market`: public prices that move the matching engine every `market_interval_s` and are
        streamed on `/stream` (see `tests.fakes.binance.market`); None: the market moves only when a test drives
        it."""
        self.venue = Venue(rules, balances, fee_rate=fee_rate)
        self.market = market
        self._market_interval_s = market_interval_s
        self._market_task: asyncio.Task[None] | None = None
        self._streams: list[tuple[web.WebSocketResponse, frozenset[str]]] = []
        self.faults = FaultQueue()
        self.limiter = RateLimiter(limits or Limits())
        self.api_key = api_key
        self._verifier = verifier(api_secret, public_key)
        self.session_logons = 0  # successful session.logon requests, every connection
        self.api_restrictions = docs.ApiRestrictions()  # what apiRestrictions reports; a test sets its flags
        self._clock = clock_ms
        self.clock_offset_ms = 0
        self.port = 0
        self._loop_thread = LoopThread("fake-binance")
        self._runner: web.AppRunner | None = None
        self._connections: list[_Connection] = []
        self._next_subscription = 0
        self._limiter_lock = threading.Lock()
        self.requests: collections.Counter[Op] = collections.Counter()  # every request received, by kind

    # ----- life cycle ------------------------------------------------------------------------------------

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_api_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{WS_API_PATH}"

    @property
    def stream_url(self) -> str:
        """The market streams' base (BINANCE_STREAM_URL): clients connect to `<base>/stream?streams=...`."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/fake"

    def start(self, port: int = 0) -> FakeBinance:
        self._loop_thread.start(self._serve(port))
        return self

    def stop(self) -> None:
        self._loop_thread.stop(self._shutdown())

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    async def _serve(self, port: int) -> None:
        app = web.Application()
        for method, path in REST_ROUTES:
            app.router.add_route(method, path, self._rest)
        app.router.add_get(WS_API_PATH, self._ws_api)
        app.router.add_get(STREAM_PATH, self._stream)
        app.router.add_get("/api/v3/depth", self._depth)
        for action in ("book", "trade", "balance", "fault", "clock", "drop", "terminate", "restrictions"):
            app.router.add_post(f"/fake/{action}", self._control)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        server = site._server
        assert server is not None and server.sockets  # type: ignore[union-attr]
        self.port = int(server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        if self.market is not None:
            self._market_task = asyncio.create_task(self._run_market(self.market))

    async def _shutdown(self) -> None:
        if self._market_task is not None:
            self._market_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._market_task
        for ws, _ in list(self._streams):
            await ws.close()
        await self._drop()
        if self._runner is not None:
            await self._runner.cleanup()

    # ----- the driver (any thread) -----------------------------------------------------------------------

    def now_ms(self) -> int:
        return self._clock() + self.clock_offset_ms

    def set_book(self, symbol: str, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]) -> None:
        self.venue.set_book(symbol, bids, asks, self.now_ms())

    def trade(self, symbol: str, price: Decimal, quantity: Decimal = Decimal(1)) -> None:
        self.venue.trade(symbol, price, quantity, self.now_ms())

    def adjust_balance(self, asset: str, delta: Decimal) -> None:
        self.venue.adjust_balance(asset, delta, self.now_ms())

    def inject(self, fault: Fault) -> None:
        self.faults.arm(fault)

    def set_clock_offset(self, offset_ms: int) -> None:
        """Skew the server's clock against the client's (a stale client timestamp gets -1021)."""
        self.clock_offset_ms = offset_ms

    def set_api_restrictions(self, **flags: bool) -> None:
        """The key's permissions from now on, e.g. `set_api_restrictions(enable_withdrawals=True)`."""
        self.api_restrictions = dataclasses.replace(self.api_restrictions, **flags)

    def drop_connections(self) -> None:
        """Cut every WebSocket API connection at once, without a close handshake."""
        self._on_loop(self._drop())

    def terminate_user_streams(self) -> None:
        """Send `eventStreamTerminated` on every user-data subscription and end them."""
        self._on_loop(self._terminate())

    def announce_shutdown(self) -> None:
        """Send Binance's `serverShutdown` notice on every WebSocket API connection (the connection stays open)."""
        self._on_loop(self._announce_shutdown())

    async def _announce_shutdown(self) -> None:
        for connection in self._connections:
            connection.outbox.put_nowait(json.dumps({"event": {"e": "serverShutdown", "E": self.now_ms()}}))

    def _on_loop(self, work: Awaitable[None]) -> None:
        self._loop_thread.run(work)  # type: ignore[arg-type]

    async def _drop(self) -> None:
        for connection in list(self._connections):
            transport = connection.request.transport
            if transport is not None:
                transport.abort()
            self._forget(connection)

    async def _terminate(self) -> None:
        now = self.now_ms()
        for connection in self._connections:
            for subscription_id, listener in list(connection.subscriptions.items()):
                self.venue.unlisten(listener)
                message = {"subscriptionId": subscription_id, "event": {"e": "eventStreamTerminated", "E": now}}
                connection.outbox.put_nowait(json.dumps(message))
            connection.subscriptions.clear()

    def _forget(self, connection: _Connection) -> None:
        for listener in connection.subscriptions.values():
            self.venue.unlisten(listener)
        connection.subscriptions.clear()
        connection.outbox.put_nowait(None)
        if connection in self._connections:
            self._connections.remove(connection)

    # ----- one request, either transport -----------------------------------------------------------------

    def _handle(self, op: Op, transport: Transport, params: Params, authenticate: Callable[[], None],
                now: int) -> tuple[Doc | None, BinanceError | None, bool]:
        """(answer, error, silent): the steps every request takes. `silent`: send nothing at all."""
        with self._limiter_lock:
            self.requests[op] += 1
            self.limiter.check_ban(now)
            fault = self.faults.take(op, transport)
            if fault is not None and fault.kind is FaultKind.BANNED:
                self.limiter.ban(now, fault.retry_after_s)
                self.limiter.check_ban(now)
            if fault is not None and fault.kind is FaultKind.RATE_LIMITED:
                raise BinanceError(Code.TOO_MANY_REQUESTS, "Too many requests; injected by the fake Binance.",
                                   http_status=429, retry_after_s=fault.retry_after_s)
            free_if_successful = op in FREE_WHEN_SUCCESSFUL
            self.limiter.charge(0 if free_if_successful else _weight(op, params), now)
        try:
            return self._carry_out(op, params, authenticate, now, fault)
        except BinanceError:
            if free_if_successful:  # "Failed requests are still charged the documented weight"
                with self._limiter_lock:
                    self.limiter.charge_failed(_weight(op, params), now)
            raise

    def _carry_out(self, op: Op, params: Params, authenticate: Callable[[], None], now: int,
                   fault: Fault | None) -> tuple[Doc | None, BinanceError | None, bool]:
        if op not in UNSIGNED:
            authenticate()
            if op not in SESSION_ONLY:
                check_timestamp(params.text("timestamp"), params.text("recvWindow"), now)
        if fault is not None and fault.kind is FaultKind.REJECT:
            raise BinanceError(fault.code, fault.msg)
        if fault is not None and not fault.accepted:
            return None, _fault_error(fault), fault.kind is FaultKind.NO_ANSWER
        with self._limiter_lock:
            placed = ORDERS_PLACED.get(op, 0)
            if placed:
                self.limiter.count_orders(placed, now)
        answer = self._dispatch(op, params, now)
        if placed:
            with self._limiter_lock:
                self.limiter.add_orders(placed, now)
        if fault is not None:
            return None, _fault_error(fault), fault.kind is FaultKind.NO_ANSWER
        return answer, None, False

    def _dispatch(self, op: Op, p: Params, now: int) -> Doc:
        venue = self.venue
        if op is Op.TIME:
            return {"serverTime": now}
        if op is Op.EXCHANGE_INFO:
            return exchange_info(self._listed(p), self.limiter.limits.exchange_info(), now)
        if op is Op.ACCOUNT:
            return docs.account(venue, omit_zero=p.boolean("omitZeroBalances", False), now_ms=now)
        if op is Op.NEW_ORDER:
            reports, order = venue.place_order(p, now)
            default = docs.RespType.FULL if order.last.order_type.value in ("MARKET", "LIMIT") else docs.RespType.ACK
            return docs.new_order(order, reports, p.enum("newOrderRespType", docs.RespType) or default, now)
        if op is Op.NEW_OCO:
            _, order_list = venue.place_oco(p, now)
            return docs.new_oco(venue, order_list, now)
        if op is Op.CANCEL_ORDER:
            order, _ = venue.cancel_order(p, now)
            return docs.cancelled_order(order, now)
        if op is Op.CANCEL_ORDER_LIST:
            order_list, _ = venue.cancel_order_list(p, now)
            return docs.cancelled_list(venue, order_list, now)
        if op is Op.QUERY_ORDER:
            return docs.order_status(venue.query_order(p))
        if op is Op.OPEN_ORDERS:
            return [docs.order_status(o) for o in venue.open_orders(p.text("symbol"))]
        if op is Op.MY_TRADES:
            return [docs.trade(t) for t in venue.my_trades(p)]
        if op is Op.ALL_ORDERS:
            return [docs.order_status(o) for o in venue.all_orders(p)]
        if op is Op.API_RESTRICTIONS:
            return self.api_restrictions.document(KEY_CREATED_MS)
        if op is Op.QUERY_ORDER_LIST:
            return docs.list_status(venue, venue.query_order_list(p), now)
        if op is Op.OPEN_ORDER_LISTS:
            return [docs.list_status(venue, order_list, now) for order_list in venue.open_order_lists()]
        return None  # USER_STREAM_(UN)SUBSCRIBE: the WebSocket API acts on its own connection

    def _listed(self, p: Params) -> list[SymbolRules]:
        rules = self.venue.rules
        wanted: list[str] = []
        if p.text("symbol") is not None:
            wanted = [p.required("symbol")]
        elif p.text("symbols") is not None:
            try:
                wanted = list(json.loads(p.required("symbols")))
            except ValueError:
                raise mandatory("symbols") from None
        for symbol in wanted:
            if symbol not in rules:
                raise BinanceError(Code.INVALID_SYMBOL, "Invalid symbol.")
        return [rules[s] for s in wanted] if wanted else [rules[s] for s in sorted(rules)]

    # ----- REST ------------------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        op = REST_ROUTES[(request.method, request.path)]
        now = self.now_ms()
        raw_query = request.raw_path.partition("?")[2]
        raw_body = (await request.text()) if request.can_read_body else ""
        total = raw_query + raw_body  # Binance's totalParams: the query string, then the body
        params = Params(dict(parse_qsl(raw_query, keep_blank_values=True)) | dict(parse_qsl(raw_body)))

        def authenticate() -> None:
            check_api_key(request.headers.get("X-MBX-APIKEY"), self.api_key)
            verify_rest(total, self._verifier)

        try:
            answer, error, _ = self._handle(op, Transport.REST, params, authenticate, now)
        except BinanceError as refused:
            answer, error = None, refused
        headers = self.limiter.headers(now)
        if error is None:
            return web.json_response(answer, headers=headers)
        if error.retry_after_s is not None:
            headers["Retry-After"] = str(error.retry_after_s)
        if error.code == 0:  # an injected bare 5XX: no Binance document, as a gateway error would be
            return web.Response(status=error.http_status, text="Bad Gateway", headers=headers)
        return web.json_response(error.document(), status=error.http_status, headers=headers)

    # ----- WebSocket API ---------------------------------------------------------------------------------

    async def _ws_api(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        connection = _Connection(ws=ws, request=request, connected_ms=self.now_ms())
        self._connections.append(connection)
        writer = asyncio.create_task(self._write(connection))
        try:
            async for message in ws:
                if message.type is WSMsgType.TEXT:
                    self._ws_request(connection, message.data)
        finally:
            self._forget(connection)
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

    async def _write(self, connection: _Connection) -> None:
        while (text := await connection.outbox.get()) is not None:
            if connection.ws.closed:
                return
            with contextlib.suppress(ConnectionError):
                await connection.ws.send_str(text)

    def _ws_request(self, connection: _Connection, text: str) -> None:
        now = self.now_ms()
        try:
            message = json.loads(text)
            request_id, method, raw = message.get("id"), message.get("method"), message.get("params") or {}
        except (ValueError, AttributeError):
            connection.outbox.put_nowait(json.dumps({"id": None, "status": 400, "error": {
                "code": -1000, "msg": "Malformed request."}}))
            return
        op = WS_METHODS.get(method) if isinstance(method, str) else None
        silent = False
        try:
            if op is None or not isinstance(raw, dict):
                raise BinanceError(-1000, f"Unknown method '{method}'.")
            params = Params({k: param_text(v) for k, v in raw.items()})

            def authenticate() -> None:
                self._authenticate_ws(connection, op, params, raw)

            answer, error, silent = self._handle(op, Transport.WS_API, params, authenticate, now)
            if op in (Op.USER_STREAM_SUBSCRIBE, Op.USER_STREAM_SESSION_SUBSCRIBE) and error is None:
                answer = self._subscribe(connection)
            if op is Op.USER_STREAM_UNSUBSCRIBE and error is None:
                answer = self._unsubscribe(connection, params)
            if op in (Op.SESSION_LOGON, Op.SESSION_LOGOUT) and error is None:
                answer = self._session(connection, op, now)
        except BinanceError as refused:
            answer, error = None, refused
        if silent:
            return
        limits = self.limiter.ws_rate_limits(now)
        if error is None:
            reply: dict[str, Any] = {"id": request_id, "status": 200, "result": answer, "rateLimits": limits}
        else:
            body: dict[str, Any] = {"code": error.code or Code.UNKNOWN, "msg": error.msg or "Internal error."}
            if error.retry_after_s is not None:
                body["data"] = {"serverTime": now, "retryAfter": now + error.retry_after_s * 1000}
            reply = {"id": request_id, "status": error.http_status, "error": body, "rateLimits": limits}
        connection.outbox.put_nowait(json.dumps(reply))

    def _authenticate_ws(self, connection: _Connection, op: Op, params: Params, raw: dict[str, Any]) -> None:
        """A request signed on its own (apiKey and signature), or one a logged-on session authenticates.

        session.logon takes Ed25519 keys only (web-socket-api.md, "Session Authentication"); the fake answers an
        HMAC or RSA key's logon with -2015 (Binance's exact code for that case is not documented)."""
        if op in SESSION_ONLY or (connection.session_key is not None and "signature" not in raw):
            if connection.session_key is None:
                raise BinanceError(Code.REJECTED_API_KEY, "Invalid API-key, IP, or permissions for action.",
                                   http_status=401)
            return
        check_api_key(params.text("apiKey"), self.api_key)
        verify_ws(raw, self._verifier)
        if op is Op.SESSION_LOGON and not (isinstance(self._verifier, PublicKeyVerifier) and self._verifier.ed25519):
            raise BinanceError(Code.REJECTED_API_KEY, "Only Ed25519 keys are supported for session.logon.",
                               http_status=401)

    def _session(self, connection: _Connection, op: Op, now: int) -> dict[str, Any]:
        """session.logon / session.logout: the connection's authenticated key, and the session's status."""
        if op is Op.SESSION_LOGON:
            connection.session_key, connection.authorized_since = self.api_key, now
            self.session_logons += 1
        else:
            connection.session_key = connection.authorized_since = None
        return {"apiKey": connection.session_key, "authorizedSince": connection.authorized_since,
                "connectedSince": connection.connected_ms, "returnRateLimits": False, "serverTime": now,
                "userDataStream": bool(connection.subscriptions)}

    def _subscribe(self, connection: _Connection) -> dict[str, int]:
        subscription_id = self._next_subscription
        self._next_subscription += 1
        loop = asyncio.get_running_loop()

        def listener(event: Event) -> None:
            text = json.dumps({"subscriptionId": subscription_id, "event": event})
            loop.call_soon_threadsafe(connection.outbox.put_nowait, text)

        connection.subscriptions[subscription_id] = listener
        self.venue.listen(listener)
        return {"subscriptionId": subscription_id}

    def _unsubscribe(self, connection: _Connection, params: Params) -> dict[str, Any]:
        """Ends the given subscription of this connection, or every one of them without `subscriptionId`."""
        wanted = params.text("subscriptionId")
        ids = list(connection.subscriptions) if wanted is None else [int(wanted)]
        for subscription_id in ids:
            listener = connection.subscriptions.pop(subscription_id, None)
            if listener is None:
                raise BinanceError(Code.UNKNOWN, f"No subscription with id {subscription_id}.")
            self.venue.unlisten(listener)
        return {}

    # ----- public market data ----------------------------------------------------------------------------

    async def _run_market(self, market: Market) -> None:
        """Move the market every interval: the venue matches on it first, then the streams carry it."""
        while True:
            await asyncio.sleep(self._market_interval_s)
            now = self.now_ms()
            for step in market.step(now):
                self.venue.set_book(step.symbol, step.bids, step.asks, now)
                self.venue.trade(step.symbol, step.trade_price, Decimal("0.0001"), now)
                for name, data in step.messages.items():
                    text = json.dumps({"stream": name, "data": data})
                    for ws, wanted in list(self._streams):
                        if name in wanted and not ws.closed:
                            with contextlib.suppress(ConnectionError):
                                await ws.send_str(text)

    async def _stream(self, request: web.Request) -> web.WebSocketResponse:
        """A combined-stream connection: the messages of the streams named in `?streams=a/b`."""
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        entry = (ws, frozenset(request.query.get("streams", "").split("/")))
        self._streams.append(entry)
        try:
            async for _ in ws:
                pass  # Binance ignores what a stream client sends here (no SUBSCRIBE support needed)
        finally:
            self._streams.remove(entry)
        return ws

    async def _depth(self, request: web.Request) -> web.Response:
        """`GET /api/v3/depth?symbol=S&limit=N`: the current book of the streamed market."""
        symbol = request.query.get("symbol", "")
        if self.market is None or symbol not in self.market.symbols:
            return web.json_response({"code": Code.INVALID_SYMBOL, "msg": "Invalid symbol."}, status=400)
        limit = int(request.query.get("limit", DEFAULT_DEPTH_LIMIT))
        return web.json_response(self.market.depth(symbol, limit), headers=self.limiter.headers(self.now_ms()))

    # ----- control API (by hand: curl -X POST .../fake/trade -d '{"symbol": ..., "price": ...}') ---------

    async def _control(self, request: web.Request) -> web.Response:
        action = request.path.rsplit("/", 1)[1]
        body: dict[str, Any] = await request.json() if request.can_read_body else {}
        try:
            if action == "book":
                self.set_book(body["symbol"], _levels(body.get("bids", [])), _levels(body.get("asks", [])))
            elif action == "trade":
                self.trade(body["symbol"], Decimal(str(body["price"])), Decimal(str(body.get("quantity", "1"))))
            elif action == "balance":
                self.adjust_balance(body["asset"], Decimal(str(body["delta"])))
            elif action == "fault":
                fields = {k: v for k, v in body.items() if k in Fault.__dataclass_fields__}
                self.inject(Fault(**{**fields, "kind": FaultKind(body["kind"]),
                                     "op": Op(body["op"]) if body.get("op") else None,
                                     "transport": Transport(body["transport"]) if body.get("transport") else None}))
            elif action == "clock":
                self.set_clock_offset(int(body["offset_ms"]))
            elif action == "drop":
                await self._drop()
            elif action == "terminate":
                await self._terminate()
            elif action == "restrictions":
                self.set_api_restrictions(**{k: bool(v) for k, v in body.items()})
        except (KeyError, ValueError, TypeError, BinanceError) as bad:
            return web.json_response({"ok": False, "error": str(bad)}, status=400)
        return web.json_response({"ok": True})


def _weight(op: Op, params: Params) -> int:
    if op is Op.OPEN_ORDERS:
        return OPEN_ORDERS_WEIGHT_ONE_SYMBOL if params.text("symbol") else OPEN_ORDERS_WEIGHT_ALL
    if op is Op.MY_TRADES and params.text("orderId"):
        return MY_TRADES_WEIGHT_BY_ORDER
    return WEIGHTS[op]


def _fault_error(fault: Fault) -> BinanceError:
    if fault.kind is FaultKind.STATUS_UNKNOWN:
        return status_unknown()
    if fault.kind is FaultKind.SERVER_ERROR:
        return BinanceError(0, "", http_status=fault.http_status)
    # NO_ANSWER: nothing is sent; the error only marks the request as answered with silence.
    return BinanceError(Code.TIMEOUT, "no answer (injected)", http_status=408)


def _levels(raw: list[list[Any]]) -> list[tuple[Decimal, Decimal]]:
    return [(Decimal(str(p)), Decimal(str(q))) for p, q in raw]
