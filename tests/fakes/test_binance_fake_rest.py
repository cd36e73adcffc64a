"""The real `binance-sdk-spot` REST client against the fake Binance, over sockets on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal
from urllib.parse import urlencode

import httpx
import pytest
import requests
from binance_common.errors import BadRequestError, RateLimitBanError, ServerError, TooManyRequestsError
from binance_common.utils import send_request

from core.events import TradePrint
from core.filters import rules_from_exchange_info
from core.types import OcoRequest
from exchange.paper import PaperExchange
from tests.conftest import fixture_path
from tests.fakes.binance import FakeBinance, Fault, FaultKind, Limits, Op
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL, book, config, d, fake, rest

__all__ = ["fake"]  # the fixture, imported for pytest


def _code(excinfo: pytest.ExceptionInfo[BaseException]) -> int:
    return excinfo.value.status_code  # type: ignore[attr-defined]


def _balances(fake: FakeBinance) -> dict[str, tuple[Decimal, Decimal]]:
    doc = rest(fake).get_account(omit_zero_balances=True).data()
    return {b.asset: (d(b.free), d(b.locked)) for b in doc.balances}


# ----- orders ---------------------------------------------------------------------------------------------


def test_market_buy_by_quote_walks_the_book_with_fees_in_the_asset_received(fake: FakeBinance) -> None:
    fake.set_book(SYMBOL, [(d("99"), d("1"))], [(d("100"), d("0.05")), (d("101"), d("1"))])
    answer = rest(fake).new_order(symbol=SYMBOL, side="BUY", type="MARKET", quote_order_qty="20.2",
                                  new_client_order_id="cx-buy-1")
    order = answer.data()
    assert order.status == "FILLED" and order.client_order_id == "cx-buy-1"
    assert [(f.price, f.qty, f.commission, f.commission_asset) for f in order.fills] == [
        ("100.00000000", "0.05000000", "0.00005000", "BTC"), ("101.00000000", "0.15049000", "0.00015049", "BTC")]
    assert order.cummulative_quote_qty == "20.19949000"
    trades = rest(fake).my_trades(symbol=SYMBOL).data()
    assert [(t.id, t.qty, t.commission, t.commission_asset, t.is_buyer, t.is_maker) for t in trades] == [
        (1, "0.05000000", "0.00005000", "BTC", True, False), (2, "0.15049000", "0.00015049", "BTC", True, False)]
    assert _balances(fake) == {"BTC": (d("0.70028951"), d("0")), "USDT": (d("979.80051"), d("0"))}


def test_market_order_on_a_thin_book_fills_in_part_and_the_rest_expires(fake: FakeBinance) -> None:
    fake.set_book(SYMBOL, [(d("99"), d("1"))], [(d("100"), d("0.05"))])
    order = rest(fake).new_order(symbol=SYMBOL, side="BUY", type="MARKET", quantity="0.08",
                                 new_client_order_id="cx-thin").data()
    assert (order.status, order.executed_qty, order.orig_qty) == ("EXPIRED", "0.05000000", "0.08000000")


def test_limit_rests_then_fills_in_part_from_the_book_and_the_rest_is_cancelled(fake: FakeBinance) -> None:
    api = rest(fake)
    book(fake, "99", "101")
    placed = api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.3",
                           price="100", new_client_order_id="cx-lim").data()
    assert placed.status == "NEW"
    assert [o.client_order_id for o in api.get_open_orders(symbol=SYMBOL).data()] == ["cx-lim"]
    assert _balances(fake)["USDT"] == (d("970"), d("30"))
    fake.set_book(SYMBOL, [(d("98"), d("1"))], [(d("100"), d("0.1"))])
    partial = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-lim").data()
    assert (partial.status, partial.executed_qty) == ("PARTIALLY_FILLED", "0.10000000")
    cancelled = api.delete_order(symbol=SYMBOL, orig_client_order_id="cx-lim").data()
    assert (cancelled.status, cancelled.executed_qty, cancelled.orig_client_order_id) == (
        "CANCELED", "0.10000000", "cx-lim")
    assert api.get_open_orders(symbol=SYMBOL).data() == []
    assert _balances(fake)["USDT"] == (d("990"), d("0"))


def test_a_trade_through_a_resting_limit_fills_it_at_its_own_price(fake: FakeBinance) -> None:
    api = rest(fake)
    fake.trade(SYMBOL, d("105"))
    api.new_order(symbol=SYMBOL, side="SELL", type="LIMIT", time_in_force="GTC", quantity="0.1", price="110",
                  new_client_order_id="cx-sell")
    fake.trade(SYMBOL, d("110"))  # touching the level is not enough
    assert api.get_order(symbol=SYMBOL, orig_client_order_id="cx-sell").data().status == "NEW"
    fake.trade(SYMBOL, d("110.5"))
    filled = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-sell").data()
    assert (filled.status, filled.cummulative_quote_qty) == ("FILLED", "11.00000000")
    trade = api.my_trades(symbol=SYMBOL).data()[0]
    assert (trade.price, trade.is_maker, trade.commission, trade.commission_asset) == (
        "110.00000000", True, "0.01100000", "USDT")


def test_client_order_ids_other_than_cx_are_kept_as_sent(fake: FakeBinance) -> None:
    api = rest(fake)
    book(fake, "99", "101")
    placed = api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1",
                           price="90", new_client_order_id="web_Manual:Order/1").data()
    auto = api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1",
                         price="91").data()
    assert placed.client_order_id == "web_Manual:Order/1"
    assert not auto.client_order_id.startswith("cx-")
    assert api.get_order(symbol=SYMBOL, orig_client_order_id="web_Manual:Order/1").data().order_id == placed.order_id
    assert {o.client_order_id for o in api.get_open_orders().data()} == {"web_Manual:Order/1", auto.client_order_id}


def test_stop_loss_limit_and_limit_maker(fake: FakeBinance) -> None:
    api = rest(fake)
    fake.trade(SYMBOL, d("100"))
    book(fake, "99.9", "100.1")
    with pytest.raises(BadRequestError) as taker:
        api.new_order(symbol=SYMBOL, side="SELL", type="LIMIT_MAKER", quantity="0.1", price="99",
                      new_client_order_id="cx-mk")
    assert (_code(taker), taker.value.error_message) == (-2010, "Order would immediately match and take.")
    stop = api.new_order(symbol=SYMBOL, side="SELL", type="STOP_LOSS_LIMIT", time_in_force="GTC", quantity="0.1",
                         price="94", stop_price="95", new_client_order_id="cx-stop",
                         new_order_resp_type="RESULT").data()
    assert stop.status == "NEW"
    fake.set_book(SYMBOL, [(d("94.5"), d("5"))], [(d("94.7"), d("5"))])
    fake.trade(SYMBOL, d("94.9"))
    done = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-stop").data()
    assert (done.status, done.type, done.stop_price, done.cummulative_quote_qty) == (
        "FILLED", "STOP_LOSS_LIMIT", "95.00000000", "9.45000000")


# ----- OCO --------------------------------------------------------------------------------------------------


def _oco(fake: FakeBinance, list_id: str = "cx-oco") -> object:
    return rest(fake).order_list_oco(
        symbol=SYMBOL, side="SELL", quantity="0.2", above_type="LIMIT_MAKER", below_type="STOP_LOSS_LIMIT",
        list_client_order_id=list_id, above_price="110", below_stop_price="95", below_price="94",
        below_time_in_force="GTC").data()


def test_oco_take_profit_fills_and_the_stop_leg_expires(fake: FakeBinance) -> None:
    fake.trade(SYMBOL, d("100"))
    placed = _oco(fake)
    assert (placed.list_status_type, placed.list_order_status) == ("EXEC_STARTED", "EXECUTING")
    assert [o.client_order_id for o in placed.orders] == ["cx-oco-sl", "cx-oco-tp"]
    assert _balances(fake)["BTC"] == (d("0.3"), d("0.2"))  # one lock for both legs
    fake.trade(SYMBOL, d("111"))
    api = rest(fake)
    tp = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-oco-tp").data()
    sl = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-oco-sl").data()
    assert (tp.status, sl.status, tp.order_list_id) == ("FILLED", "EXPIRED", placed.order_list_id)
    assert _balances(fake) == {"BTC": (d("0.3"), d("0")), "USDT": (d("1021.978"), d("0"))}


def test_oco_stop_fills_and_the_take_profit_leg_expires(fake: FakeBinance) -> None:
    fake.trade(SYMBOL, d("100"))
    _oco(fake)
    fake.set_book(SYMBOL, [(d("94.8"), d("5"))], [(d("95.2"), d("5"))])
    fake.trade(SYMBOL, d("94.9"))
    api = rest(fake)
    assert api.get_order(symbol=SYMBOL, orig_client_order_id="cx-oco-sl").data().status == "FILLED"
    assert api.get_order(symbol=SYMBOL, orig_client_order_id="cx-oco-tp").data().status == "EXPIRED"
    assert api.get_open_orders(symbol=SYMBOL).data() == []


def test_cancelling_one_leg_cancels_the_list_and_a_cancelled_list_is_gone(fake: FakeBinance) -> None:
    fake.trade(SYMBOL, d("100"))
    placed = _oco(fake)
    api = rest(fake)
    api.delete_order(symbol=SYMBOL, orig_client_order_id="cx-oco-tp")
    legs = [api.get_order(symbol=SYMBOL, order_id=o.order_id).data().status for o in placed.orders]
    assert legs == ["CANCELED", "CANCELED"]
    with pytest.raises(BadRequestError) as gone:
        api.delete_order_list(symbol=SYMBOL, list_client_order_id="cx-oco")
    assert _code(gone) == -2011
    again = _oco(fake, "cx-oco")  # a list client id is free again once its list is done
    cancelled = api.delete_order_list(symbol=SYMBOL, order_list_id=again.order_list_id).data()
    assert (cancelled.list_order_status, [r.status for r in cancelled.order_reports]) == (
        "ALL_DONE", ["CANCELED", "CANCELED"])
    assert _balances(fake)["BTC"] == (d("0.5"), d("0"))


@pytest.mark.parametrize(("take_profit", "stop"), [("99", "95"), ("110", "100"), ("110", "101")])
def test_a_sell_oco_needs_take_profit_above_last_above_stop(fake: FakeBinance, take_profit: str, stop: str) -> None:
    fake.trade(SYMBOL, d("100"))
    with pytest.raises(BadRequestError) as refused:
        rest(fake).order_list_oco(symbol=SYMBOL, side="SELL", quantity="0.2", above_type="LIMIT_MAKER",
                                  below_type="STOP_LOSS_LIMIT", above_price=take_profit, below_stop_price=stop,
                                  below_price=stop, below_time_in_force="GTC", list_client_order_id="cx-bad")
    assert (_code(refused), refused.value.error_message) == (
        -2010, "The relationship of the prices for the orders is not correct.")


def test_exchange_info_publishes_the_trailing_rules_and_reads_back_as_the_same_rules(fake: FakeBinance) -> None:
    info = httpx.get(f"{fake.rest_url}/api/v3/exchangeInfo").json()
    symbol = info["symbols"][0]
    assert symbol["allowTrailingStop"] is True
    assert [f for f in symbol["filters"] if f["filterType"] == "TRAILING_DELTA"] == [
        {"filterType": "TRAILING_DELTA", "minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 2000,
         "minTrailingBelowDelta": 10, "maxTrailingBelowDelta": 2000}]
    assert rules_from_exchange_info(info)[SYMBOL] == RULES


def _trailing_oco(fake: FakeBinance, delta: int = 500, stop: str | None = None) -> object:
    return rest(fake).order_list_oco(
        symbol=SYMBOL, side="SELL", quantity="0.2", above_type="LIMIT_MAKER", below_type="STOP_LOSS_LIMIT",
        list_client_order_id="cx-trail", above_price="130", below_stop_price=stop, below_price="85",
        below_time_in_force="GTC", below_trailing_delta=delta).data()


def _simulated(tape: list[str]) -> list[tuple[str, str, str | None]]:
    """The same OCO and trades on the paper simulator itself: (leg, status, fill price) of each report."""
    paper = PaperExchange({SYMBOL: RULES}, {"BTC": d("0.5")})
    paper.on_trade(TradePrint(SYMBOL, 1, 100.0, 1.0, buyer_is_maker=False))
    paper.place_oco(OcoRequest(list_client_id="cx-trail", symbol=SYMBOL, quantity=d("0.2"),
                               take_profit_price=d("130"), stop_limit_price=d("85"), trailing_delta=500), 2)
    reports = [r for i, price in enumerate(tape, start=3)
               for r in paper.on_trade(TradePrint(SYMBOL, i, float(price), 1.0, buyer_is_maker=False))]
    return [(r.client_order_id, r.status.value, None if r.fill is None else f"{r.fill.price:.8f}") for r in reports]


def test_oco_with_below_trailing_delta_trails_and_triggers_as_the_simulator_does(fake: FakeBinance) -> None:
    fake.trade(SYMBOL, d("100"))
    events: list[dict[str, object]] = []
    fake.venue.listen(events.append)
    placed = _trailing_oco(fake)
    api = rest(fake)
    stop = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-trail-sl").data()
    assert (stop.trailing_delta, stop.stop_price) == (500, "0.00000000")
    assert stop.trailing_time is not None and stop.trailing_time > 0  # no stop price: tracking from placement
    assert api.get_order(symbol=SYMBOL, orig_client_order_id="cx-trail-tp").data().trailing_delta is None
    tape = ["105", "120", "115", "114.01", "114"]  # 120 × 0.95 = 114
    for price in tape[:-1]:
        fake.trade(SYMBOL, d(price))
    assert len(api.get_open_orders(symbol=SYMBOL).data()) == 2
    fake.trade(SYMBOL, d(tape[-1]))
    legs = {o.client_order_id: api.get_order(symbol=SYMBOL, order_id=o.order_id).data() for o in placed.orders}
    assert {cid: leg.status for cid, leg in legs.items()} == {"cx-trail-sl": "FILLED", "cx-trail-tp": "EXPIRED"}
    reports = [e for e in events if e["e"] == "executionReport" and e["x"] != "NEW"]
    wire = [(e["c"], e["X"], e["L"] if e["x"] == "TRADE" else None) for e in reports]
    assert wire == _simulated(tape) == [("cx-trail-tp", "EXPIRED", None), ("cx-trail-sl", "FILLED", "114.00000000")]
    assert [(e["d"], e["D"]) for e in reports if e["c"] == "cx-trail-sl"] == [(500, stop.trailing_time)]
    assert all("d" not in e for e in reports if e["c"] == "cx-trail-tp")
    assert _balances(fake)["BTC"] == (d("0.3"), d("0"))


def test_a_trailing_stop_loss_limit_with_a_stop_price_tracks_only_from_it(fake: FakeBinance) -> None:
    fake.trade(SYMBOL, d("100"))
    api = rest(fake)
    api.new_order(symbol=SYMBOL, side="SELL", type="STOP_LOSS_LIMIT", time_in_force="GTC", quantity="0.1",
                  price="80", stop_price="95", trailing_delta=1000, new_client_order_id="cx-ts")
    placed = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-ts").data()
    assert (placed.trailing_delta, placed.trailing_time) == (1000, -1)  # not tracking above the stop price
    fake.trade(SYMBOL, d("95"))
    tracking = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-ts").data()
    assert tracking.trailing_time is not None and tracking.trailing_time > 0 and tracking.status == "NEW"
    fake.trade(SYMBOL, d("85.5"))  # 95 × 0.90
    done = api.get_order(symbol=SYMBOL, orig_client_order_id="cx-ts").data()
    assert (done.status, done.cummulative_quote_qty) == ("FILLED", "8.55000000")


def test_trailing_refusals_are_binances(fake: FakeBinance) -> None:
    fake.trade(SYMBOL, d("100"))
    with pytest.raises(BadRequestError) as out_of_range:
        _trailing_oco(fake, delta=5)
    assert (_code(out_of_range), out_of_range.value.error_message) == (-1013, "Filter failure: TRAILING_DELTA")
    with pytest.raises(BadRequestError) as not_for_limits:
        rest(fake).new_order(symbol=SYMBOL, side="SELL", type="LIMIT", time_in_force="GTC", quantity="0.1",
                             price="120", trailing_delta=100)
    assert _code(not_for_limits) == -1106
    with pytest.raises(BadRequestError) as neither:
        rest(fake).order_list_oco(symbol=SYMBOL, side="SELL", quantity="0.2", above_type="LIMIT_MAKER",
                                  below_type="STOP_LOSS_LIMIT", above_price="130", below_price="85",
                                  below_time_in_force="GTC")
    assert _code(neither) == -1102 and "belowStopPrice" in neither.value.error_message
    closed = RULES.model_copy(update={"allow_trailing_stop": False, "trailing_delta": None})
    with FakeBinance({SYMBOL: closed}, {"BTC": d("0.5")}, api_key=KEY, api_secret=SECRET) as other:
        other.trade(SYMBOL, d("100"))
        assert httpx.get(f"{other.rest_url}/api/v3/exchangeInfo").json()["symbols"][0]["allowTrailingStop"] is False
        with pytest.raises(BadRequestError) as refused:
            _trailing_oco(other)
        assert (_code(refused), refused.value.error_message) == (
            -2010, "Trailing stop orders are not supported for this symbol.")


# ----- rejections -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("quantity", "price", "message"), [
    ("0.100005", "100", "Filter failure: LOT_SIZE"),
    ("0.1", "100.005", "Filter failure: PRICE_FILTER"),
    ("0.01", "100", "Filter failure: NOTIONAL"),
])
def test_filter_failures_are_1013_with_the_filter_named(fake: FakeBinance, quantity: str, price: str,
                                                        message: str) -> None:
    book(fake, "99", "101")
    with pytest.raises(BadRequestError) as refused:
        rest(fake).new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=quantity,
                             price=price, new_client_order_id="cx-f")
    assert (_code(refused), refused.value.error_message) == (-1013, message)


def test_insufficient_balance_unknown_order_and_unknown_cancel(fake: FakeBinance) -> None:
    api = rest(fake)
    book(fake, "99", "101")
    with pytest.raises(BadRequestError) as poor:
        api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="20", price="100",
                      new_client_order_id="cx-rich")
    assert (_code(poor), poor.value.error_message) == (-2010, "Account has insufficient balance for requested action.")
    with pytest.raises(BadRequestError) as unknown:
        api.get_order(symbol=SYMBOL, orig_client_order_id="cx-rich")
    assert (_code(unknown), unknown.value.error_message) == (-2013, "Order does not exist.")
    with pytest.raises(BadRequestError) as cancel:
        api.delete_order(symbol=SYMBOL, orig_client_order_id="cx-rich")
    assert (_code(cancel), cancel.value.error_message) == (-2011, "Unknown order sent.")


def test_the_sdks_exponent_notation_is_refused_with_1100(fake: FakeBinance) -> None:
    """The SDK writes 0.00001 as str(0.00001) == '1e-05'; Binance (and the fake) refuse it."""
    book(fake, "99", "101")
    with pytest.raises(BadRequestError) as refused:
        rest(fake).new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.00001,
                             price="100", new_client_order_id="cx-exp")
    assert _code(refused) == -1100 and "'quantity'" in refused.value.error_message


# ----- signing and time -------------------------------------------------------------------------------------


def test_a_wrong_secret_is_1022(fake: FakeBinance) -> None:
    with pytest.raises(BadRequestError) as refused:
        rest(fake, secret="not-the-secret").get_account()
    assert (_code(refused), refused.value.error_message) == (-1022, "Signature for this request is not valid.")


def _signed_by_hand(fake: FakeBinance, *, encode_before_signing: bool) -> httpx.Response:
    params = {"symbol": SYMBOL, "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.1",
              "price": "90", "newClientOrderId": "cx-a:b/c", "timestamp": str(int(time.time() * 1000))}
    encoded = urlencode(params)
    raw = "&".join(f"{k}={v}" for k, v in params.items())
    signed = encoded if encode_before_signing else raw
    signature = hmac.new(SECRET.encode(), signed.encode(), hashlib.sha256).hexdigest()
    return httpx.post(f"{fake.rest_url}/api/v3/order?{encoded}&signature={signature}", headers={"X-MBX-APIKEY": KEY})


def test_a_payload_signed_before_percent_encoding_is_1022(fake: FakeBinance) -> None:
    book(fake, "99", "101")
    refused = _signed_by_hand(fake, encode_before_signing=False)
    assert (refused.status_code, refused.json()["code"]) == (400, -1022)
    accepted = _signed_by_hand(fake, encode_before_signing=True)
    assert accepted.status_code == 200 and accepted.json()["clientOrderId"] == "cx-a:b/c"


def test_an_unencoded_payload_on_the_wire_is_1022_even_when_signed_as_sent(fake: FakeBinance) -> None:
    raw = f"timestamp={int(time.time() * 1000)}&note=a:b"
    signature = hmac.new(SECRET.encode(), raw.encode(), hashlib.sha256).hexdigest()
    refused = httpx.get(f"{fake.rest_url}/api/v3/account?{raw}&signature={signature}", headers={"X-MBX-APIKEY": KEY})
    assert refused.json()["code"] == -1022


def test_an_unknown_api_key_is_2015(fake: FakeBinance) -> None:
    answer = httpx.get(f"{fake.rest_url}/api/v3/account?timestamp=1&signature=00", headers={"X-MBX-APIKEY": "x"})
    assert (answer.status_code, answer.json()["code"]) == (401, -2015)


@pytest.mark.parametrize(("offset_ms", "message"), [
    (10_000, "Timestamp for this request is outside of the recvWindow."),
    (-2_000, "Timestamp for this request was 1000ms ahead of the server's time."),
])
def test_a_timestamp_outside_recv_window_is_1021_until_the_client_resyncs(fake: FakeBinance, offset_ms: int,
                                                                          message: str) -> None:
    api = rest(fake)
    fake.set_clock_offset(offset_ms)
    with pytest.raises(BadRequestError) as stale:
        api.get_account()
    assert (_code(stale), stale.value.error_message) == (-1021, message)
    server_ms = api.time().data().server_time
    skew = server_ms - int(time.time() * 1000)
    assert abs(skew - offset_ms) < 1000
    # The SDK's methods always stamp the local clock and its send_signed_request is broken in 13.2.0
    # (`send_request[T](...)` raises TypeError), so a resynced request goes through binance_common's send_request.
    resynced = send_request(requests.Session(), config(fake), "GET", "/api/v3/account",
                            payload={"timestamp": int(time.time() * 1000) + skew}, is_signed=True)
    assert resynced.data()["accountType"] == "SPOT"


# ----- rate limits and faults -------------------------------------------------------------------------------


def test_rate_limit_headers_count_weight_and_orders(fake: FakeBinance) -> None:
    api = rest(fake)
    book(fake, "99", "101")
    first = {(r.rateLimitType, r.interval): r.count for r in api.get_account().rate_limits}
    second = api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1",
                           price="90", new_client_order_id="cx-w").rate_limits
    counts = {(r.rateLimitType, r.intervalNum, r.interval): r.count for r in second}
    # A successful order weighs 0 since 2026-04-02 (Binance CHANGELOG 2026-03-27); it still counts as an order.
    assert counts[("REQUEST_WEIGHT", 1, "MINUTE")] == first[("REQUEST_WEIGHT", "MINUTE")]
    assert counts[("ORDERS", 10, "SECOND")] == 1 and counts[("ORDERS", 1, "DAY")] == 1


def test_the_order_count_limit_is_429_1015(fake: FakeBinance) -> None:
    with FakeBinance({SYMBOL: RULES}, {"USDT": d("1000")}, api_key=KEY, api_secret=SECRET,
                     limits=Limits(orders_per_10s=2)) as small:
        api = rest(small)
        book(small, "99", "101")
        for i in range(2):
            api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                          new_client_order_id=f"cx-n{i}")
        with pytest.raises(TooManyRequestsError) as limited:
            api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                          new_client_order_id="cx-n2")
        assert _code(limited) == -1015 and 1 <= (limited.value.retry_after or 0) <= 10
        assert len(api.get_open_orders(symbol=SYMBOL).data()) == 2


def test_429_carries_retry_after_and_does_nothing(fake: FakeBinance) -> None:
    fake.inject(Fault(FaultKind.RATE_LIMITED, op=Op.NEW_ORDER, retry_after_s=7))
    book(fake, "99", "101")
    api = rest(fake)
    with pytest.raises(TooManyRequestsError) as limited:
        api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                      new_client_order_id="cx-429")
    assert (_code(limited), limited.value.retry_after) == (-1003, 7)
    with pytest.raises(BadRequestError):
        api.get_order(symbol=SYMBOL, orig_client_order_id="cx-429")


def test_418_bans_every_request_until_retry_after(fake: FakeBinance) -> None:
    fake.inject(Fault(FaultKind.BANNED, retry_after_s=120))
    api = rest(fake)
    for _ in range(2):
        with pytest.raises(RateLimitBanError) as banned:
            api.time()
        assert _code(banned) == -1003 and 119 <= (banned.value.retry_after or 0) <= 120
    fake.set_clock_offset(121_000)
    assert api.time().data().server_time > 0


@pytest.mark.parametrize("fault", [
    Fault(FaultKind.SERVER_ERROR, op=Op.NEW_ORDER, http_status=502, accepted=True),
    Fault(FaultKind.STATUS_UNKNOWN, op=Op.NEW_ORDER, accepted=True),
])
def test_a_5xx_after_the_order_was_accepted_leaves_it_on_the_exchange(fake: FakeBinance, fault: Fault) -> None:
    fake.inject(fault)
    book(fake, "99", "101")
    api = rest(fake, retries=3)
    with pytest.raises(ServerError) as unknown:
        api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                      new_client_order_id="cx-5xx")
    assert _code(unknown) == fault.http_status if fault.kind is FaultKind.SERVER_ERROR else _code(unknown) == 503
    assert api.get_order(symbol=SYMBOL, orig_client_order_id="cx-5xx").data().status == "NEW"
    assert len(api.get_open_orders(symbol=SYMBOL).data()) == 1  # the SDK never resent the POST


def test_a_5xx_before_acceptance_leaves_nothing(fake: FakeBinance) -> None:
    fake.inject(Fault(FaultKind.STATUS_UNKNOWN, op=Op.NEW_ORDER))
    book(fake, "99", "101")
    api = rest(fake)
    with pytest.raises(ServerError):
        api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                      new_client_order_id="cx-lost")
    with pytest.raises(BadRequestError) as unknown:
        api.get_order(symbol=SYMBOL, orig_client_order_id="cx-lost")
    assert _code(unknown) == -2013


@pytest.mark.parametrize(("op", "code", "msg"), [
    (Op.NEW_ORDER, -2010, "Account has insufficient balance for requested action."),
    (Op.QUERY_ORDER, -2013, "Order does not exist."),
    (Op.CANCEL_ORDER, -2011, "Unknown order sent."),
])
def test_injected_rejections_arrive_as_binance_errors(fake: FakeBinance, op: Op, code: int, msg: str) -> None:
    api = rest(fake)
    book(fake, "99", "101")
    api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity="0.1", price="90",
                  new_client_order_id="cx-ok")
    fake.inject(Fault(FaultKind.REJECT, op=op, code=code, msg=msg))
    calls = {
        Op.NEW_ORDER: lambda: api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC",
                                            quantity="0.1", price="90", new_client_order_id="cx-more"),
        Op.QUERY_ORDER: lambda: api.get_order(symbol=SYMBOL, orig_client_order_id="cx-ok"),
        Op.CANCEL_ORDER: lambda: api.delete_order(symbol=SYMBOL, orig_client_order_id="cx-ok"),
    }
    with pytest.raises(BadRequestError) as refused:
        calls[op]()
    assert (_code(refused), refused.value.error_message) == (code, msg)
    assert [o.client_order_id for o in api.get_open_orders(symbol=SYMBOL).data()] == ["cx-ok"]


# ----- exchangeInfo -------------------------------------------------------------------------------------------


def test_exchange_info_reads_back_as_the_rules_it_was_built_from(fake: FakeBinance) -> None:
    info = rest(fake).exchange_info(symbol=SYMBOL).data()
    assert info.symbols[0].symbol == SYMBOL and info.rate_limits[0].limit == 6000
    raw = httpx.get(f"{fake.rest_url}/api/v3/exchangeInfo").json()
    assert rules_from_exchange_info(raw) == {SYMBOL: RULES}


@pytest.mark.fixtures
def test_the_recorded_testnet_exchange_info_round_trips() -> None:
    recorded = json.loads(fixture_path("rest", "chrisleekr_testnet_2021-04", "binance-exchange-info.json").read_text())
    rules = rules_from_exchange_info(recorded)
    with FakeBinance(rules, {}, api_key=KEY, api_secret=SECRET) as server:
        served = httpx.get(f"{server.rest_url}/api/v3/exchangeInfo").json()
    assert rules_from_exchange_info(served) == rules


def test_all_orders_lists_a_window_oldest_first_and_refuses_more_than_24_hours(fake: FakeBinance) -> None:
    book(fake, "99", "101")
    api = rest(fake)
    for i in range(3):
        api.new_order(symbol=SYMBOL, side="BUY", type="LIMIT", time_in_force="GTC", quantity=1.0, price=90.0,
                      new_client_order_id=f"cx-all-{i}")
    api.delete_order(symbol=SYMBOL, orig_client_order_id="cx-all-0")
    now = fake.now_ms()
    listed = api.all_orders(symbol=SYMBOL, start_time=now - 60_000, end_time=now + 1000, limit=2).data()
    assert [(o.client_order_id, o.status) for o in listed] == [("cx-all-0", "CANCELED"), ("cx-all-1", "NEW")]
    rest_of_it = api.all_orders(symbol=SYMBOL, order_id=listed[-1].order_id + 1).data()
    assert [o.client_order_id for o in rest_of_it] == ["cx-all-2"]
    with pytest.raises(BadRequestError) as refused:
        api.all_orders(symbol=SYMBOL, start_time=now - 25 * 3_600_000, end_time=now)
    assert refused.value.status_code == -1127
    assert fake.requests[Op.ALL_ORDERS] == 3
