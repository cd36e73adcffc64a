"""The user-data stream over the loopback Binance's WebSocket API: events, a dropped connection and its
catch-up, eventStreamTerminated and renewal."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal

import pytest
from binance_common.models import WebsocketApiResponse

from core.exchange_port import ExecutionReport, ExecutionType
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.binance import BinanceConfig, BinanceExchange
from exchange.binance.events import AccountPosition, BalanceUpdate, StreamGap, StreamTerminated
from exchange.binance.user_stream import (
    SubscriptionRefused,
    UserStream,
    check_answer,
    session_logon,
    subscribe_signature,
)
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL, book

D = Decimal
WAIT_S = 5.0


@pytest.fixture
def fake() -> Iterator[FakeBinance]:
    with FakeBinance({SYMBOL: RULES}, {"USDT": D("1000"), "BTC": D("0.5")}, api_key=KEY, api_secret=SECRET) as server:
        yield server


@pytest.fixture
def adapter(fake: FakeBinance) -> Iterator[BinanceExchange]:
    exchange = BinanceExchange(BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url,
                                             ws_api_url=fake.ws_api_url, retries=0))
    exchange.start()
    yield exchange
    exchange.close()


@pytest.fixture
def stream(adapter: BinanceExchange) -> Iterator[UserStream]:
    user = adapter.user_stream()
    user.start()
    yield user
    user.stop()


def _next(stream: UserStream, kind: type) -> object:
    while (event := stream.wait(WAIT_S)) is not None:
        if isinstance(event, kind):
            return event
    raise AssertionError(f"no {kind.__name__} within {WAIT_S} s")


def _buy(cid: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT, quantity=D("0.1"),
                        price=D("100"), time_in_force=TimeInForce.GTC)


def test_order_events_and_balances_arrive_as_typed_events(fake: FakeBinance, adapter: BinanceExchange,
                                                          stream: UserStream) -> None:
    book(fake, "99", "101")
    adapter.place_order(_buy("cx-s1"), 0)
    new = _next(stream, ExecutionReport)
    assert isinstance(new, ExecutionReport) and (new.client_order_id, new.status) == ("cx-s1", OrderStatus.NEW)
    fake.trade(SYMBOL, D("99"))
    fill = _next(stream, ExecutionReport)
    assert isinstance(fill, ExecutionReport) and fill.execution_type is ExecutionType.TRADE
    assert fill.fill is not None and (fill.fill.quantity, fill.fill.commission_asset) == (D("0.1"), "BTC")
    position = _next(stream, AccountPosition)
    assert isinstance(position, AccountPosition) and position.balances["USDT"] == (D("990"), D("0"))
    fake.adjust_balance("USDT", D("5"))
    update = _next(stream, BalanceUpdate)
    assert isinstance(update, BalanceUpdate) and (update.asset, update.delta) == ("USDT", D("5"))


def test_a_cancel_names_the_order_by_its_own_client_id(fake: FakeBinance, adapter: BinanceExchange,
                                                      stream: UserStream) -> None:
    book(fake, "99", "101")
    adapter.place_order(_buy("cx-s2"), 0)
    adapter.cancel_order(SYMBOL, "cx-s2", 0)
    while (event := _next(stream, ExecutionReport)) is not None:
        assert isinstance(event, ExecutionReport) and event.client_order_id == "cx-s2"
        if event.status is OrderStatus.CANCELED:
            break


def test_a_dropped_connection_reconnects_reports_the_gap_and_catch_up_finds_the_missed_fill(
        fake: FakeBinance, adapter: BinanceExchange, stream: UserStream) -> None:
    book(fake, "99", "101")
    adapter.place_order(_buy("cx-gap"), 0)
    _next(stream, ExecutionReport)
    fake.drop_connections()  # returns once the subscription is gone
    fake.trade(SYMBOL, D("99"))  # the fill happens while nobody listens
    gap = _next(stream, StreamGap)
    assert isinstance(gap, StreamGap) and "closed" in gap.reason
    missed = adapter.catch_up(SYMBOL, after_trade_id=0).reports
    assert [(r.client_order_id, r.status, r.fill.trade_id if r.fill else None) for r in missed] == [
        ("cx-gap", OrderStatus.FILLED, 1)]
    assert stream.connections == 2
    fake.adjust_balance("USDT", D("1"))  # and the renewed subscription delivers again
    assert isinstance(_next(stream, BalanceUpdate), BalanceUpdate)


def test_event_stream_terminated_renews_the_subscription(fake: FakeBinance, stream: UserStream) -> None:
    fake.terminate_user_streams()
    assert isinstance(_next(stream, StreamTerminated), StreamTerminated)
    gap = _next(stream, StreamGap)
    assert isinstance(gap, StreamGap) and "eventStreamTerminated" in gap.reason
    fake.adjust_balance("USDT", D("1"))
    assert isinstance(_next(stream, BalanceUpdate), BalanceUpdate)


@pytest.mark.parametrize("answer", ["Websocket Reconnect", {"error": "timeout"},
                                    {"error": {"code": -1022, "msg": "Signature for this request is not valid."}}])
def test_every_failure_the_sdk_returns_as_data_is_refused(answer: object) -> None:
    with pytest.raises(SubscriptionRefused):
        check_answer(answer)


def test_a_refused_subscription_is_retried_with_backoff_and_no_gap_is_reported_while_down(fake: FakeBinance) -> None:
    wrong = BinanceConfig(api_key=KEY, api_secret="not-the-secret", rest_url=fake.rest_url, ws_api_url=fake.ws_api_url)
    stream = UserStream(wrong, {}, backoff_s=0.01, max_backoff_s=0.02)
    with pytest.raises(TimeoutError):
        stream.start(timeout_s=0.5)
    try:
        assert "-1022" in stream.last_failure  # the SDK raised it here, or answered it as data: both are caught
        assert stream.connections == 0 and stream.drain() == []  # no gap is reported while still down
    finally:
        stream.stop()


def test_the_subscription_is_signed_at_the_servers_time_when_the_local_clock_is_off(fake: FakeBinance) -> None:
    """With the server 30 s ahead (far past recvWindow), REST works on its synced clock; the subscription must be
    signed at that clock too, not the local one the SDK would stamp (Binance answers that with -1021)."""
    fake.set_clock_offset(30_000)
    exchange = BinanceExchange(BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url,
                                             ws_api_url=fake.ws_api_url, retries=0))
    exchange.start()
    user = exchange.user_stream()
    try:
        user.start(timeout_s=WAIT_S)
        assert user.connections == 1 and user.last_failure == ""
    finally:
        user.stop()
        exchange.close()


class _Reconnecting:
    """The SDK's WebSocket API while it reconnects: every request is answered with the string "Websocket Reconnect"
    (binance_common.websocket.WebSocketAPIBase.send_signed_message), wrapped in its response object."""

    signer = None

    async def send_signed_message(self, **_: object) -> object:
        return WebsocketApiResponse(data_function=lambda: "Websocket Reconnect", rate_limits=[])


@pytest.mark.parametrize("request_", [subscribe_signature, session_logon], ids=["signature", "session.logon"])
def test_a_request_made_while_the_sdk_reconnects_is_a_refusal_not_a_crash(request_: object) -> None:
    """The answer's data is the string (the response object is not): taken for a document, it raised AttributeError,
    which ended the stream's thread for good."""
    answer = asyncio.run(request_(_Reconnecting(), 0))  # type: ignore[operator]
    with pytest.raises(SubscriptionRefused, match="Websocket Reconnect"):
        check_answer(answer)
