"""The real `binance-sdk-spot` WebSocket API client against the fake Binance: trading, user data, faults."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from binance_common.errors import BadRequestError
from binance_sdk_spot.spot import Spot
from binance_sdk_spot.websocket_api import SpotWebSocketAPI

from tests.fakes.binance import FakeBinance, Fault, FaultKind, Op
from tests.fakes.binance_support import SYMBOL, book, d, fake, rest, ws_config

__all__ = ["fake"]  # the fixture, imported for pytest


async def _client(fake: FakeBinance, *, secret: str | None = None) -> SpotWebSocketAPI:
    config = ws_config(fake) if secret is None else ws_config(fake, secret=secret)
    api = Spot(config_ws_api=config).websocket_api
    await api.create_connection()
    return api


async def _until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def _run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def _kind(event: Any) -> str:
    return type(event.actual_instance).__name__


def test_user_data_events_arrive_over_the_ws_api_subscription(fake: FakeBinance) -> None:
    async def scenario() -> None:
        api = await _client(fake)
        events: list[Any] = []
        subscription = await api.user_data_stream_subscribe_signature()
        subscription.stream.on("message", events.append)
        fake.trade(SYMBOL, d("101"))
        placed = await api.order_place(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1",
                                       price="100", new_client_order_id="cx-w1")
        assert placed.data().result.status == "NEW"
        fake.trade(SYMBOL, d("99"))
        await _until(lambda: len(events) == 4)
        assert [_kind(e) for e in events] == ["ExecutionReport", "OutboundAccountPosition", "ExecutionReport",
                                              "OutboundAccountPosition"]
        fill = events[2].actual_instance
        assert (fill.c, fill.x, fill.X, fill.l, fill.L, fill.n, fill.N, fill.m) == (
            "cx-w1", "TRADE", "FILLED", "0.10000000", "100.00000000", "0.00010000", "BTC", True)
        assert {b.a: (b.f, b.l) for b in events[3].actual_instance.B} == {
            "BTC": ("0.59990000", "0.00000000"), "USDT": ("990.00000000", "0.00000000")}

        events.clear()
        oco = await api.order_list_place_oco(symbol=SYMBOL, side="SELL", quantity="0.2", above_type="LIMIT_MAKER",
                                             below_type="STOP_LOSS_LIMIT", above_price="110", below_stop_price="95",
                                             below_price="94", below_time_in_force="GTC", list_client_order_id="cx-o")
        assert oco.data().result.list_order_status == "EXECUTING"
        fake.trade(SYMBOL, d("111"))
        await _until(lambda: sum(_kind(e) == "ListStatus" for e in events) == 2)
        await _until(lambda: _kind(events[-1]) == "OutboundAccountPosition")
        reports = [(e.actual_instance.c, e.actual_instance.X) for e in events if _kind(e) == "ExecutionReport"]
        assert reports == [("cx-o-sl", "NEW"), ("cx-o-tp", "NEW"), ("cx-o-tp", "FILLED"), ("cx-o-sl", "EXPIRED")]
        statuses = [(e.actual_instance.l, e.actual_instance.L) for e in events if _kind(e) == "ListStatus"]
        assert statuses == [("EXEC_STARTED", "EXECUTING"), ("ALL_DONE", "ALL_DONE")]

        events.clear()
        fake.adjust_balance("USDT", d("50"))
        await _until(lambda: len(events) == 2)
        update = events[0].actual_instance
        assert (_kind(events[0]), update.a, update.d) == ("BalanceUpdate", "USDT", "50.00000000")
        fake.terminate_user_streams()
        await _until(lambda: len(events) == 3)
        assert _kind(events[2]) == "EventStreamTerminated"
        fake.trade(SYMBOL, d("120"))
        await api.close_connection()
        assert len(events) == 3  # nothing after the stream was terminated

    _run(scenario)


def test_ws_api_errors_come_back_as_data(fake: FakeBinance) -> None:
    async def scenario() -> None:
        api = await _client(fake)
        book(fake, "99", "101")
        poor = await api.order_place(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="100",
                                     price="100", new_client_order_id="cx-poor")
        assert poor.data()["error"] == {"code": -2010, "msg": "Account has insufficient balance for requested action."}
        exponent = await api.order_place(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                         quantity=0.00001, price="100", new_client_order_id="cx-exp")
        assert exponent.data()["error"]["code"] == -1100
        fake.inject(Fault(FaultKind.RATE_LIMITED, op=Op.QUERY_ORDER, retry_after_s=3))
        limited = await api.order_status(symbol=SYMBOL, orig_client_order_id="cx-poor")
        error = limited.data()["error"]
        assert error["code"] == -1003 and error["data"]["retryAfter"] - error["data"]["serverTime"] == 3000
        await api.close_connection()
        forged = await _client(fake, secret="not-the-secret")
        refused = await forged.account_status()
        assert refused.data()["error"]["code"] == -1022
        await forged.close_connection()

    _run(scenario)


def test_a_dropped_connection_closes_the_client_and_its_subscription(fake: FakeBinance) -> None:
    async def scenario() -> None:
        api = await _client(fake)
        closed = asyncio.Event()
        api.on_connection("close", closed.set)
        events: list[Any] = []
        (await api.user_data_stream_subscribe_signature()).stream.on("message", events.append)
        fake.drop_connections()
        await asyncio.wait_for(closed.wait(), timeout=5)
        fake.adjust_balance("USDT", d("1"))
        with pytest.raises(ValueError, match="No WebSocket connections available"):
            await api.account_status()
        assert events == []
        again = await _client(fake)  # a new connection subscribes afresh
        assert (await again.account_status()).data().result.account_type == "SPOT"
        await again.close_connection()

    _run(scenario)


@pytest.mark.slow
def test_a_ws_api_request_without_answer_times_out_after_the_order_was_accepted(fake: FakeBinance) -> None:
    """The SDK waits a fixed 20 s, then answers {"error": "timeout"}; the order exists all the same."""
    fake.inject(Fault(FaultKind.NO_ANSWER, op=Op.NEW_ORDER, accepted=True))
    book(fake, "99", "101")

    async def scenario() -> None:
        api = await _client(fake)
        silent = await api.order_place(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1",
                                       price="90", new_client_order_id="cx-silent")
        assert silent.data() == {"error": "timeout"}
        await api.close_connection()

    _run(scenario)
    assert rest(fake).get_order(symbol=SYMBOL, orig_client_order_id="cx-silent").data().status == "NEW"


def test_rest_and_ws_api_share_one_account(fake: FakeBinance) -> None:
    book(fake, "99", "101")
    rest(fake).new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                         new_client_order_id="cx-both")

    async def scenario() -> None:
        api = await _client(fake)
        cancelled = await api.order_cancel(symbol=SYMBOL, orig_client_order_id="cx-both")
        assert cancelled.data().result.status == "CANCELED"
        await api.close_connection()

    _run(scenario)
    with pytest.raises(BadRequestError) as gone:
        rest(fake).delete_order(symbol=SYMBOL, orig_client_order_id="cx-both")
    assert gone.value.status_code == -2011


def test_unsubscribe_ends_the_user_data_events_of_that_subscription(fake: FakeBinance) -> None:
    async def scenario() -> None:
        api = await _client(fake)
        events: list[Any] = []
        subscription = await api.user_data_stream_subscribe_signature()
        subscription.stream.on("message", events.append)
        subscription_id = subscription.response.data().result.subscription_id
        fake.adjust_balance("USDT", d("5"))
        await _until(lambda: len(events) == 2)
        done = await api.user_data_stream_unsubscribe(subscription_id=subscription_id)
        assert done.data().result is not None
        fake.adjust_balance("USDT", d("5"))
        await asyncio.sleep(0.2)
        assert len(events) == 2
        again = await api.user_data_stream_unsubscribe(subscription_id=subscription_id)  # gone: an error, as data
        assert again.data() == {"error": {"code": -1000, "msg": f"No subscription with id {subscription_id}."}}
        await api.close_connection()

    _run(scenario)
