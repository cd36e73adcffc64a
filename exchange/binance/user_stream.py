"""The user-data stream over the WebSocket API, kept alive: subscribe, parse, reconnect, report gaps.

Binance retired the REST listenKey endpoints (and `userDataStream.start/ping/stop`) on 2026-02-20. An HMAC
or RSA key subscribes with `userDataStream.subscribe.signature` (`user_data_stream_subscribe_signature()` in
the SDK); an Ed25519 key logs the connection on (`session.logon`, "Only Ed25519 keys are supported for this
feature") and then subscribes with `userDataStream.subscribe` on that session. `subscription_kind` is the one
place that decides; every new connection (after a drop or a renewal) logs on again before it subscribes,
since a session ends with its connection. The SDK's WebSocket API client reconnects by itself only on a
`serverShutdown` notice or at 23 h, and carries on with a subscription it cannot renew: that ends the
session here too. It never raises: an error comes back as data (`{"error": {...}}`), a lost answer as
`{"error": "timeout"}` after a fixed 20 s, a request during its
own reconnect as the string "Websocket Reconnect". Every answer is checked here.

The stream runs its own asyncio loop on a thread and hands events to the runtime's thread through a queue
(`drain`). After any interruption (a dropped connection, `eventStreamTerminated`, a refused subscription,
the 24-hour connection limit) it reconnects with exponential backoff and, once subscribed again, queues
a `StreamGap`: the consumer then calls `BinanceExchange.catch_up` (`myTrades` since the last trade id)
and reads open orders before trusting the stream again. Fills are deduplicated by trade id by the consumer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, MutableMapping
from enum import StrEnum
from typing import Any

from binance_common.models import WebsocketApiUserDataStreamResponse
from binance_common.websocket import RequestStream
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_api.models import (
    SessionLogonResponse,
    UserDataStreamEventsResponse,
    UserDataStreamSubscribeSignatureResponse,
)

from exchange.binance.config import BinanceConfig
from exchange.binance.events import (
    ListStatus,
    StreamGap,
    StreamTerminated,
    UnknownUserEvent,
    UserEvent,
    parse_user_event,
)
from exchange.binance.keys import KeyKind
from exchange.feeds.live import wall_clock_ms

log = logging.getLogger(__name__)

CONNECTION_LIFETIME_MS = 23 * 3_600_000  # Binance closes WebSocket connections at 24 h: renew before
_STOP_TIMEOUT_S = 10


# The SDK hands each event over as a model whose class names the event; its `to_dict()` drops the `e` field.
_SDK_EVENT_NAMES = {"ExecutionReport": "executionReport", "ListStatus": "listStatus",
                    "OutboundAccountPosition": "outboundAccountPosition", "BalanceUpdate": "balanceUpdate",
                    "EventStreamTerminated": "eventStreamTerminated"}


def sdk_event(message: Any) -> dict[str, Any]:
    """Binance's event document back from the SDK's `UserDataStreamEventsResponse` (or a plain dict)."""
    if isinstance(message, dict):
        return message
    instance = message.actual_instance
    doc = dict(instance.to_dict())
    doc.setdefault("e", _SDK_EVENT_NAMES.get(type(instance).__name__, type(instance).__name__))
    return doc


class SubscriptionRefused(Exception):
    """The subscription's answer was an error, a timeout or "Websocket Reconnect" (kept inside this module)."""


def check_answer(answer: Any) -> None:
    """Raise unless a WebSocket API answer is a success (the SDK returns failures as data)."""
    if isinstance(answer, str):
        raise SubscriptionRefused(answer)
    data = answer.data() if hasattr(answer, "data") else answer
    if isinstance(data, dict) and "error" in data:
        raise SubscriptionRefused(str(data["error"]))


class SubscriptionKind(StrEnum):
    SIGNATURE = "userDataStream.subscribe.signature"  # one signed request, any key kind but Ed25519's preferred path
    SESSION = "session.logon + userDataStream.subscribe"  # Ed25519 only: the connection is logged on first


def subscription_kind(key_kind: KeyKind) -> SubscriptionKind:
    """How an account of this key kind subscribes to its user data (session.logon takes Ed25519 keys only)."""
    match key_kind:
        case KeyKind.ED25519:
            return SubscriptionKind.SESSION
        case KeyKind.HMAC | KeyKind.RSA:
            return SubscriptionKind.SIGNATURE
        case _:
            raise ValueError(f"no user-data subscription for a key of kind {key_kind!r}")


async def subscribe(api: Any, config: BinanceConfig, server_time_ms: int) -> Any:
    """Subscribe this (new) connection to the account's user data, the way its key kind allows; the answer's
    `.response` and `.stream` are the SDK's, or a string ("Websocket Reconnect"). Errors: SubscriptionRefused."""
    kind = subscription_kind(config.key_kind)
    match kind:
        case SubscriptionKind.SIGNATURE:
            return await subscribe_signature(api, server_time_ms)
        case SubscriptionKind.SESSION:
            logon = await session_logon(api, server_time_ms)
            if isinstance(logon, str):
                return logon
            # The SDK raises ValueError for an error answer to userDataStream.subscribe: kept a refusal here.
            try:
                return await api.user_data_stream_subscribe()
            except ValueError as refused:
                raise SubscriptionRefused(str(refused)) from None
        case _:
            raise ValueError(f"unknown subscription kind {kind!r}")


async def session_logon(api: Any, server_time_ms: int) -> Any:
    """`session.logon`, signed with the Ed25519 key at the server's time (the SDK's method stamps the local
    clock, refused with -1021 once that is off by more than recvWindow). Returns the answer, or the string
    "Websocket Reconnect"; a refusal raises SubscriptionRefused."""
    payload = {"method": "session.logon", "params": {"timestamp": server_time_ms}}
    response = await api.send_signed_message(payload=payload, response_model=SessionLogonResponse, signer=api.signer,
                                             session_logon=True)
    data = response.data()
    if isinstance(data, str):
        return data
    if isinstance(data, dict) or data.result is None:
        raise SubscriptionRefused(f"session.logon: {data}")
    return response


async def subscribe_signature(api: Any, server_time_ms: int) -> Any:
    """`userDataStream.subscribe.signature`, signed at the server's time. The SDK's own method stamps the request
    with the local clock (`binance_common.utils.get_timestamp`), which Binance refuses (-1021) once that clock is
    off by more than recvWindow: the stream would never subscribe while REST, signed at the synced time, works."""
    payload = {"method": "userDataStream.subscribe.signature", "params": {"timestamp": server_time_ms}}
    response = await api.send_signed_message(payload=payload, response_model=UserDataStreamSubscribeSignatureResponse,
                                             signer=api.signer)
    data = response.data()
    if isinstance(data, str):  # "Websocket Reconnect": the SDK answers with a string while it reconnects
        return data
    if isinstance(data, dict) or data.result is None or getattr(data, "error", None) is not None:
        raise SubscriptionRefused(str(data))
    stream = await RequestStream(api, data.result.subscription_id, response_model=UserDataStreamEventsResponse)
    return WebsocketApiUserDataStreamResponse(response=response, stream=stream)


class UserStream:
    """Start it once; `drain()` from the runtime's thread returns the events (and gaps) in arrival order."""

    def __init__(self, config: BinanceConfig, list_ids: MutableMapping[int, str], *, backoff_s: float = 0.5,
                 max_backoff_s: float = 30.0, lifetime_ms: int = CONNECTION_LIFETIME_MS,
                 clock_ms: Callable[[], int] = wall_clock_ms,
                 server_time_ms: Callable[[], int] | None = None) -> None:
        self._config = config
        self._server_time = server_time_ms or clock_ms  # what the subscription is signed at (the REST clock's)
        self._list_ids = list_ids
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._lifetime_ms = lifetime_ms
        self._clock = clock_ms
        self._queue: queue.Queue[UserEvent | StreamGap] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._subscribed = threading.Event()
        self._pending_gap: StreamGap | None = None
        self.last_event_ms = 0
        self.connections = 0
        self.last_failure = ""

    def start(self, timeout_s: float = 10.0) -> None:
        """Start, and return once the first subscription is live (or raise TimeoutError)."""
        self._thread = threading.Thread(target=asyncio.run, args=(self._run(),), name="binance-user-stream",
                                        daemon=True)
        self._thread.start()
        if not self._subscribed.wait(timeout_s):
            raise TimeoutError(f"no user-data subscription at {self._config.ws_api_url} within {timeout_s} s")

    def stop(self) -> None:
        loop, stopping = self._loop, self._stopping
        if loop is not None and stopping is not None:
            loop.call_soon_threadsafe(stopping.set)
        if self._thread is not None:
            self._thread.join(_STOP_TIMEOUT_S)

    def drain(self) -> list[UserEvent | StreamGap]:
        events: list[UserEvent | StreamGap] = []
        while True:
            try:
                events.append(self._queue.get_nowait())
            except queue.Empty:
                return events

    def wait(self, timeout_s: float) -> UserEvent | StreamGap | None:
        """The next event, waiting up to `timeout_s`; None if none came."""
        try:
            return self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None

    # ----- the stream's own thread ----------------------------------------------------------------------

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        failures = 0
        while not self._stopping.is_set():
            reason = await self._session()
            if self._stopping.is_set():
                return
            self.last_failure = reason
            if self._pending_gap is None:  # the first interruption names the gap; retries do not move it
                self._pending_gap = StreamGap(since_ms=self.last_event_ms or self._clock(), reason=reason)
            failures = 0 if reason.startswith("ended") else failures + 1
            delay = min(self._max_backoff_s, self._backoff_s * 2 ** failures)
            try:
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)
            except TimeoutError:
                continue

    async def _session(self) -> str:
        """One connection's life; returns why it ended."""
        assert self._stopping is not None
        api = Spot(config_ws_api=self._config.ws_api_configuration()).websocket_api
        ended = asyncio.Event()
        why: list[str] = []

        def end(reason: str) -> None:
            why.append(reason)
            ended.set()

        loop = asyncio.get_running_loop()
        try:
            await api.create_connection()
            api.on_connection("close", lambda *_: loop.call_soon_threadsafe(end, "connection closed"))
            # The SDK's own reconnect (serverShutdown, its 23 h renewal) would carry on with a subscription it cannot
            # renew: ended here, the loop connects, logs on and subscribes again, and reports the gap.
            api.on_connection("reconnect", lambda *_: loop.call_soon_threadsafe(end, "the SDK reconnected"))
            answer = await subscribe(api, self._config, self._server_time())
            check_answer(answer)
            answer.stream.on("message", lambda message: self._on_message(message, end))
            self.connections += 1
            if self._pending_gap is not None:  # back: the consumer catches up from here
                self._queue.put(self._pending_gap)
                self._pending_gap = None
            self._subscribed.set()
            stopper = asyncio.ensure_future(self._stopping.wait())
            ender = asyncio.ensure_future(ended.wait())
            _, pending = await asyncio.wait({stopper, ender}, timeout=self._lifetime_ms / 1000,
                                               return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            return f"ended: {why[0]}" if why else "ended: connection lifetime reached"
        except SubscriptionRefused as refused:
            return f"subscription refused: {refused}"
        except (OSError, ValueError, RuntimeError, TimeoutError) as failed:
            return f"connection failed: {failed}"
        finally:
            try:
                await api.close_connection()
            except (OSError, ValueError, RuntimeError) as closing:
                log.debug("closing the user-data connection: %s", closing)

    def _on_message(self, message: Any, end: Callable[[str], None]) -> None:
        raw = sdk_event(message)
        try:
            event = parse_user_event(raw, self._list_ids)
        except UnknownUserEvent as unknown:
            log.warning("%s", unknown)
            return
        if isinstance(event, ListStatus):
            self._list_ids[event.order_list_id] = event.list_client_id
        self.last_event_ms = max(self.last_event_ms, getattr(event, "time_ms", 0))
        self._queue.put(event)
        if isinstance(event, StreamTerminated):
            end("eventStreamTerminated")
