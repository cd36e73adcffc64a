"""Trailing stops in the paper simulator, against Binance's own scenarios (faqs/trailing-stop-faq.md).

Scenarios A, B and E of the FAQ are replayed as the "series of linear trades" they describe (one print per
100 USDT, the exact prices the FAQ names included), in trade mode; then the same rules on candles, where a
bar's path is taken adverse extreme first.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from core.exchange_port import ExchangeRejected, ExecutionReport, ExecutionType
from core.types import OcoRequest, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.paper import PaperExchange
from tests.exchange.test_paper_support import SYMBOL, D, bar, btc_rules, paper, trade

FAQ_RULES = {"allow_trailing_stop": True, "min_price": D("0.01")}


def trailing(cid: str, side: Side, delta: int, price: str, stop: str | None = None,
             quantity: str = "0.01") -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=SYMBOL, side=side, type=OrderType.STOP_LOSS_LIMIT,
                        quantity=D(quantity), price=D(price), stop_price=None if stop is None else D(stop),
                        time_in_force=TimeInForce.GTC, trailing_delta=delta)


def _text(price: Decimal) -> str:
    return format(price.normalize(), "f")


class Tape:
    """Trade prints one after another, 1 s apart, as linear series between the prices given."""

    def __init__(self, ex: PaperExchange) -> None:
        self.ex = ex
        self.time_ms = 0
        self.reports: list[tuple[int, ExecutionReport]] = []

    def at(self, price: str) -> list[ExecutionReport]:
        self.time_ms += 1_000
        reports = self.ex.on_trade(trade(float(price), time_ms=self.time_ms))
        self.reports += [(self.time_ms, r) for r in reports]
        return reports

    def run(self, start: str, end: str, step: str = "100") -> None:
        """Prints from `start` (exclusive) to `end` (inclusive), `step` apart."""
        a, b, s = D(start), D(end), D(step)
        price = a
        while price != b:
            price = min(price + s, b) if b > a else max(price - s, b)
            self.at(str(price))

    def fills(self) -> list[tuple[str, str, bool]]:
        return [(r.client_order_id, _text(r.fill.price), r.fill.is_maker) for _, r in self.reports if r.fill]


def test_scenario_b_trailing_stop_loss_limit_sell() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    tape = Tape(ex)
    tape.at("40000")
    placed = ex.place_order(trailing("cx-b", Side.SELL, 1000, price="38000", stop="39000"), now_ms=tape.time_ms)
    assert (placed[0].trailing_delta, placed[0].trailing_time_ms) == (1000, None)
    tape.run("40000", "41500")
    tape.run("41500", "39100")
    assert ex.get_order(SYMBOL, "cx-b").trailing_time_ms is None  # not tracking before the stop price
    tape.at("39000")  # meets the stop: the highest price is now 39,000
    activated = tape.time_ms
    assert ex.get_order(SYMBOL, "cx-b").trailing_time_ms == activated
    tape.run("39000", "37000")  # ~512 BIPS down: not enough
    tape.run("37000", "41000")  # a new highest price
    tape.run("41000", "37000")
    assert tape.fills() == [] and ex.get_order(SYMBOL, "cx-b").status is OrderStatus.NEW
    tape.at("36900")  # 41,000 × 0.90: triggers; below the 38,000 limit, so it rests there
    assert tape.fills() == [] and ex.open_orders(SYMBOL)[0].trailing_time_ms == activated
    tape.at("38000")  # touching the limit is not trading through it
    tape.at("38000.01")
    assert tape.fills() == [("cx-b", "38000", True)]
    assert ex.get_order(SYMBOL, "cx-b").status is OrderStatus.FILLED


def test_scenario_a_trailing_stop_loss_limit_buy() -> None:
    ex = paper(usdt="1000", **FAQ_RULES)
    tape = Tape(ex)
    tape.at("40000")
    ex.place_order(trailing("cx-a", Side.BUY, 500, price="45000", stop="44000"), now_ms=tape.time_ms)
    tape.run("40000", "37000")  # 750 BIPS down, but not tracking yet
    tape.run("37000", "45000")  # tracking from 44,000 on the way
    tape.run("45000", "46000")  # ~454 BIPS above 44,000: not enough
    tape.run("46000", "42000")  # a new lowest price
    tape.run("42000", "44000")
    assert tape.fills() == []
    tape.at("44100")  # 42,000 × 1.05
    assert tape.fills() == [("cx-a", "44100", False)]  # the 45,000 limit allows taking at the market


def test_scenario_e_without_a_stop_price_trailing_starts_at_placement_from_the_last_price() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    tape = Tape(ex)
    tape.at("40000")
    placed = ex.place_order(trailing("cx-e", Side.SELL, 700, price="39000"), now_ms=tape.time_ms)
    assert placed[0].trailing_time_ms == tape.time_ms
    tape.run("40000", "42000")
    tape.run("42000", "39500")  # ~595 BIPS below 42,000: not enough
    tape.run("39500", "45500")
    tape.run("45500", "42320", step="5")
    assert tape.fills() == []
    tape.at("42315")  # 45,500 × 0.93
    assert tape.fills() == [("cx-e", "42315", False)]


def test_without_any_price_yet_tracking_starts_at_the_next_trade() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.place_order(trailing("cx-n", Side.SELL, 1000, price="80", quantity="1"), now_ms=1)
    assert ex.get_order(SYMBOL, "cx-n").trailing_time_ms is None
    ex.on_trade(trade(100.0, time_ms=5))
    assert ex.get_order(SYMBOL, "cx-n").trailing_time_ms == 5
    assert [r.fill.price for r in ex.on_trade(trade(90.0, time_ms=6)) if r.fill] == [D("90")]


def test_refused_like_binance_where_the_rules_say_no() -> None:
    not_allowed = paper(btc="1")
    not_allowed.on_trade(trade(100.0))
    with pytest.raises(ExchangeRejected) as refused:
        not_allowed.place_order(trailing("cx-x", Side.SELL, 100, price="90"), now_ms=1)
    assert (refused.value.binance_code, refused.value.binance_msg) == (
        -2010, "Trailing stop orders are not supported for this symbol.")
    bounded = paper(btc="1", **FAQ_RULES, trailing_delta={"min_above": 10, "max_above": 2000, "min_below": 10,
                                                          "max_below": 2000})
    bounded.on_trade(trade(100.0))
    with pytest.raises(ExchangeRejected) as out_of_range:
        bounded.place_order(trailing("cx-x", Side.SELL, 2001, price="90"), now_ms=1)
    assert (out_of_range.value.binance_code, out_of_range.value.binance_msg) == (
        -1013, "Filter failure: TRAILING_DELTA")
    with pytest.raises(ExchangeRejected) as oco_refused:
        not_allowed.place_oco(OcoRequest(list_client_id="cx-o", symbol=SYMBOL, quantity=D("0.5"),
                                         take_profit_price=D("110"), stop_limit_price=D("80"), trailing_delta=100),
                              now_ms=2)
    assert oco_refused.value.binance_code == -2010
    assert not_allowed.open_orders() == [] and bounded.open_orders() == []


def test_a_trailing_stop_with_its_stop_already_reached_would_trigger_immediately() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.on_trade(trade(100.0))
    with pytest.raises(ExchangeRejected, match=r"Order would trigger immediately\."):
        ex.place_order(trailing("cx-x", Side.SELL, 100, price="90", stop="100", quantity="1"), now_ms=1)


# ----- the OCO stop leg (belowTrailingDelta) --------------------------------------------------------------


def trailing_oco(stop: str | None = None) -> OcoRequest:
    return OcoRequest(list_client_id="cx-o1", symbol=SYMBOL, quantity=D("0.5"), take_profit_price=D("130"),
                      stop_price=None if stop is None else D(stop), stop_limit_price=D("85"), trailing_delta=500)


def test_oco_stop_leg_trails_and_its_trigger_ends_the_take_profit() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.on_trade(trade(100.0, time_ms=1))
    placed = ex.place_oco(trailing_oco(), now_ms=2)
    assert [(r.client_order_id, r.trailing_delta, r.trailing_time_ms) for r in placed] == [
        ("cx-o1-sl", 500, 2), ("cx-o1-tp", None, None)]
    for t, price in enumerate((105.0, 120.0, 115.0, 114.01), start=3):
        assert ex.on_trade(trade(price, time_ms=t)) == []
    reports = ex.on_trade(trade(114.0, time_ms=9))  # 120 × 0.95
    assert [(r.client_order_id, r.status, r.execution_type) for r in reports] == [
        ("cx-o1-tp", OrderStatus.EXPIRED, ExecutionType.EXPIRED),
        ("cx-o1-sl", OrderStatus.FILLED, ExecutionType.TRADE)]
    assert reports[1].fill is not None and reports[1].fill.price == D("114")
    assert ex.balances()["BTC"] == (D("0.5"), D("0"))


def test_oco_stop_leg_with_a_stop_price_trails_only_from_it() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(trailing_oco(stop="95"), now_ms=2)
    assert ex.on_trade(trade(120.0, time_ms=3)) == []  # no tracking above the stop price: 120 is not remembered
    assert ex.on_trade(trade(96.0, time_ms=4)) == []
    assert ex.on_trade(trade(95.0, time_ms=5)) == []  # tracking starts: highest 95
    assert ex.get_order(SYMBOL, "cx-o1-sl").trailing_time_ms == 5
    assert ex.on_trade(trade(90.26, time_ms=6)) == []
    reports = ex.on_trade(trade(90.25, time_ms=7))  # 95 × 0.95
    assert [r.client_order_id for r in reports if r.fill] == ["cx-o1-sl"]


def test_trailing_state_survives_a_checkpoint() -> None:
    rules = {SYMBOL: btc_rules(**FAQ_RULES)}
    ex = PaperExchange(rules, {"BTC": D("1"), "USDT": D("0")})
    ex.on_trade(trade(100.0, time_ms=1))
    ex.place_oco(trailing_oco(), now_ms=2)
    ex.on_trade(trade(120.0, time_ms=3))
    restored = PaperExchange.from_state(json.loads(json.dumps(ex.to_state())), rules)
    assert restored.get_order(SYMBOL, "cx-o1-sl") == ex.get_order(SYMBOL, "cx-o1-sl")
    assert [r.fill.price for r in restored.on_trade(trade(114.0, time_ms=4)) if r.fill] == [D("114")]


# ----- candles ------------------------------------------------------------------------------------------------


def candle_paper(delta: int = 1000) -> PaperExchange:
    ex = paper(btc="1", **FAQ_RULES)
    ex.close_bar(bar(100, 100, 100, 100, open_time_ms=0))
    ex.place_order(trailing("cx-c", Side.SELL, delta, price="50", quantity="1"), now_ms=299_999)  # tracks from 100
    return ex


def _fills(reports: list[ExecutionReport]) -> list[tuple[str, bool]]:
    return [(_text(r.fill.price), r.fill.is_maker) for r in reports if r.fill]


def test_candle_low_meets_the_trigger_from_before_the_bar_high() -> None:
    """Low first: a bar from 100 to 130 and down to 89 triggers at 90 (100 × 0.9), not at 117 (130 × 0.9)."""
    ex = candle_paper()
    reports = ex.open_bar(bar(100, 130, 89, 125)) + ex.close_bar(bar(100, 130, 89, 125))
    assert _fills(reports) == [("90", False)]


def test_candle_high_then_close_triggers_from_the_new_high() -> None:
    ex = candle_paper()
    assert ex.close_bar(bar(100, 130, 95, 118)) == []  # low 95 above 90; high 130: trigger 117; close above it
    assert ex.get_order(SYMBOL, "cx-c").trailing_time_ms == 299_999
    assert _fills(ex.close_bar(bar(118, 120, 116, 116.5, open_time_ms=600_000))) == [("117", False)]


def test_candle_close_below_the_new_trigger_triggers_within_the_bar() -> None:
    ex = candle_paper()
    assert _fills(ex.close_bar(bar(100, 130, 95, 110))) == [("117", False)]


def test_candle_gap_below_the_trigger_fills_at_the_open() -> None:
    ex = candle_paper()
    assert _fills(ex.close_bar(bar(80, 85, 70, 75))) == [("80", False)]


def test_candle_gap_below_the_limit_rests_and_fills_only_if_the_bar_trades_back_through_it() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.close_bar(bar(100, 100, 100, 100, open_time_ms=0))
    ex.place_order(trailing("cx-c", Side.SELL, 1000, price="85", quantity="1"), now_ms=299_999)
    assert ex.close_bar(bar(80, 85, 70, 75)) == []  # triggered at the open, 80 < 85: rests; 85 only touched
    assert ex.get_order(SYMBOL, "cx-c").status is OrderStatus.NEW
    assert _fills(ex.close_bar(bar(75, 86, 74, 86, open_time_ms=600_000))) == [("85", True)]


def test_candle_with_a_stop_price_activates_at_the_stop_on_the_way_down() -> None:
    ex = paper(btc="1", **FAQ_RULES)
    ex.close_bar(bar(100, 100, 100, 100, open_time_ms=0))
    ex.place_order(trailing("cx-c", Side.SELL, 1000, price="50", stop="95", quantity="1"), now_ms=299_999)
    assert ex.close_bar(bar(100, 120, 90, 110)) == []  # tracking from 95 (trigger 85.5); the high raises it to 108
    assert _fills(ex.close_bar(bar(110, 111, 85, 90, open_time_ms=600_000))) == [("108", False)]
