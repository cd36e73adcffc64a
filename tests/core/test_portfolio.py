"""Portfolio accounting: fees in the cost basis, exact P&L, dust, refusals, persistence and position ids."""

from __future__ import annotations

import json
import math
from decimal import Context, Decimal

import pytest

from core.filters import SymbolRules
from core.portfolio import (
    ClosedTrade,
    Dust,
    InsufficientBalance,
    InvalidMark,
    InvalidSnapshot,
    NoPosition,
    Oversell,
    Portfolio,
    PortfolioError,
    new_position_id,
)
from core.types import Fill, Side, StrategyName

D = Decimal
_trade_ids = iter(range(1, 10**9))


def fill(side: Side, price: str, qty: str, fee: str = "0", fee_asset: str = "USDT", *, symbol: str = "BTCUSDT",
         time_ms: int = 1_000) -> Fill:
    return Fill(client_order_id="cx-t", symbol=symbol, side=side, price=D(price), quantity=D(qty),
                commission=D(fee), commission_asset=fee_asset, trade_id=next(_trade_ids), time_ms=time_ms)


def btc_rules(step: str = "0.00001", min_qty: str = "0.0001") -> SymbolRules:
    return SymbolRules(symbol="BTCUSDT", status="TRADING", base_asset="BTC", quote_asset="USDT",
                       step_size=D(step), min_qty=D(min_qty), tick_size=D("0.01"))


def test_buy_with_quote_fee_puts_the_fee_in_avg_entry() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    assert p.apply_fill(fill(Side.BUY, "100", "2", "0.2"), base_asset="BTC", strategy=StrategyName("momentum")) is None
    pos = p.position("BTCUSDT")
    assert pos is not None
    assert pos.quantity == D("2")
    assert pos.avg_entry == D("100.1")  # (200 + 0.2) / 2
    assert pos.strategy == StrategyName("momentum")
    assert p.cash == D("799.8")
    assert p.fees_paid == D("0.2")
    assert p.balances() == {"USDT": D("799.8"), "BTC": D("2")}


def test_buy_with_base_fee_shrinks_quantity_and_raises_avg_entry() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    p.apply_fill(fill(Side.BUY, "100", "1", "0.001", "BTC"), base_asset="BTC")
    pos = p.position("BTCUSDT")
    assert pos is not None
    assert pos.quantity == D("0.999")
    assert pos.avg_entry == Context(prec=34).divide(D(100), D("0.999"))
    assert p.cash == D("900")
    assert p.fees_paid == D("0.1")  # 0.001 BTC at the fill price


def test_third_asset_fee_is_debited_and_counted_at_its_mark() -> None:
    p = Portfolio("USDT", {"USDT": D("1000"), "BNB": D("1")})
    p.mark("BNBUSDT", 300.0)
    p.apply_fill(fill(Side.BUY, "100", "1", "0.0005", "BNB"), base_asset="BTC")
    pos = p.position("BTCUSDT")
    assert pos is not None
    assert pos.avg_entry == D("100.15")  # 100 + 0.0005 BNB × 300
    assert p.balances()["BNB"] == D("0.9995")
    assert p.fees_paid == D("0.15")
    assert p.unpriced_fees == {}


def test_third_asset_fee_without_a_mark_is_kept_unpriced_not_invented() -> None:
    p = Portfolio("USDT", {"USDT": D("1000"), "BNB": D("1")})
    p.apply_fill(fill(Side.BUY, "100", "1", "0.0005", "BNB"), base_asset="BTC")
    pos = p.position("BTCUSDT")
    assert pos is not None and pos.avg_entry == D("100")
    assert p.fees_paid == D(0)
    assert p.unpriced_fees == {"BNB": D("0.0005")}
    assert p.unpriced_assets() == ["BNB"]
    assert p.equity() == D("900") + D("1") * D("100")  # BNB left out, BTC at its fill price


def test_round_trip_pnl_is_proceeds_minus_costs_with_both_fees() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    p.apply_fill(fill(Side.BUY, "100", "1", "0.1", time_ms=10), base_asset="BTC", strategy=StrategyName("scalping"))
    closed = p.apply_fill(fill(Side.SELL, "110", "1", "0.11", time_ms=20), base_asset="BTC")
    assert isinstance(closed, ClosedTrade)
    assert closed.pnl == D("110") - D("0.11") - (D("100") + D("0.1"))
    assert closed.entry_price == D("100.1")
    assert closed.exit_price == D("109.89")
    assert closed.quantity == D("1")
    assert (closed.opened_ms, closed.closed_ms) == (10, 20)
    assert closed.strategy == StrategyName("scalping")
    assert math.isclose(closed.pnl_pct, 9.79 / 100.1 * 100)
    assert p.realized_pnl == closed.pnl
    assert p.position("BTCUSDT") is None
    assert p.cash == D("1000") + closed.pnl
    assert p.fees_paid == D("0.21")


def test_partial_sells_realize_against_average_cost_and_sum_exactly() -> None:
    p = Portfolio("USDT", {"USDT": D("10000")})
    p.apply_fill(fill(Side.BUY, "100", "1", "0.1"), base_asset="BTC")
    p.apply_fill(fill(Side.BUY, "130", "2", "0.26"), base_asset="BTC")
    pos = p.position("BTCUSDT")
    assert pos is not None
    assert pos.avg_entry == (D("100.1") + D("260.26")) / 3
    assert p.apply_fill(fill(Side.SELL, "140", "1", "0.14"), base_asset="BTC") is None
    first = p.realized_pnl
    assert first == D("139.86") - D("120.12")
    closed = p.apply_fill(fill(Side.SELL, "90", "2", "0.18"), base_asset="BTC")
    assert closed is not None
    assert closed.pnl == p.realized_pnl == (D("139.86") + D("179.82")) - D("360.36")
    assert closed.quantity == D("3")


def test_dust_below_step_closes_the_position_and_stays_the_accounts() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")}, rules={"BTCUSDT": btc_rules()})
    p.apply_fill(fill(Side.BUY, "100", "0.001", "0.000001", "BTC"), base_asset="BTC", strategy=StrategyName("momentum"))
    assert p.sellable_quantity("BTCUSDT") == D("0.00099")
    closed = p.apply_fill(fill(Side.SELL, "100", "0.00099"), base_asset="BTC")
    assert closed is not None, "a remainder below the step must close the position"
    assert p.position("BTCUSDT") is None
    assert p.dust("BTCUSDT") == D("0.000009")
    sold_cost = Context(prec=34).divide(D("0.00099") * D("0.1"), D("0.000999"))
    dust_cost = Context(prec=100).subtract(D("0.1"), sold_cost)
    assert p.dust_holdings() == {"BTCUSDT": Dust("BTCUSDT", D("0.000009"), dust_cost)}
    assert p.exposure() == D(0)
    assert p.equity() == p.cash + D("0.000009") * D(100), "dust is still held and still in equity"
    assert p.dust_value() == D("0.000009") * D(100)
    # The dust's cost (0.0009 of the 0.1 paid) is not realized: the trade lost only the fee on what was sold.
    assert closed.pnl == Context(prec=100).subtract(D("0.099"), Context(prec=34).divide(D("0.000099"), D("0.000999")))


def test_dust_is_not_carried_into_the_next_position_of_another_strategy() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")}, rules={"BTCUSDT": btc_rules()})
    p.apply_fill(fill(Side.BUY, "100", "0.001", "0.000001", "BTC"), base_asset="BTC", strategy=StrategyName("momentum"))
    p.apply_fill(fill(Side.SELL, "100", "0.00099"), base_asset="BTC")
    dust = p.dust_holdings()["BTCUSDT"]
    p.apply_fill(fill(Side.BUY, "120", "0.002"), base_asset="BTC", strategy=StrategyName("stat_arb"))
    pos = p.position("BTCUSDT")
    assert pos is not None and pos.strategy == StrategyName("stat_arb")
    assert (pos.quantity, pos.avg_entry) == (D("0.002"), D("120")), "the new position holds only its own units"
    assert p.dust_holdings() == {"BTCUSDT": dust}
    # Its exit sells its own units (adding the dust would not reach another step), and its P&L is theirs alone.
    assert p.sellable_quantity("BTCUSDT") == D("0.002")
    closed = p.apply_fill(fill(Side.SELL, "130", "0.002"), base_asset="BTC")
    assert closed is not None and closed.strategy == StrategyName("stat_arb")
    assert closed.pnl == D("0.002") * (D("130") - D("120"))
    assert p.dust_holdings() == {"BTCUSDT": dust} and p.dust_realized_pnl == 0


def test_dust_is_sold_with_a_later_exit_when_that_passes_the_filters() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")}, rules={"BTCUSDT": btc_rules(step="0.001", min_qty="0.001")})
    p.apply_fill(fill(Side.BUY, "100", "0.01", "0.00001", "BTC"), base_asset="BTC", strategy=StrategyName("momentum"))
    p.apply_fill(fill(Side.SELL, "100", "0.009"), base_asset="BTC")
    dust = p.dust_holdings()["BTCUSDT"]
    assert dust.quantity == D("0.00099")
    p.apply_fill(fill(Side.BUY, "100", "0.003", "0.000003", "BTC"), base_asset="BTC", strategy=StrategyName("stat_arb"))
    # 0.002997 alone sells 0.002; with the dust's 0.00099 it sells 0.003: the exit takes the dust along.
    assert p.sellable_quantity("BTCUSDT") == D("0.003")
    closed = p.apply_fill(fill(Side.SELL, "110", "0.003"), base_asset="BTC")
    assert closed is not None and closed.quantity == D("0.002997")
    assert closed.pnl == D("0.002997") * 110 - D("0.3"), "the position's P&L: its own units only"
    from_dust = D("0.003") - D("0.002997")
    exact = Context(prec=100)
    dust_proceeds = from_dust * 110  # its share of the sale's proceeds
    dust_cost = Context(prec=34).divide(exact.multiply(dust.cost, from_dust), dust.quantity)
    assert p.dust_realized_pnl == exact.subtract(dust_proceeds, dust_cost)
    first_pnl = exact.subtract(D("0.9"), Context(prec=34).divide(D("0.009"), D("0.00999")))
    assert p.realized_pnl == exact.add(exact.add(first_pnl, closed.pnl), p.dust_realized_pnl)
    left = p.dust_holdings()["BTCUSDT"]
    assert left.quantity == dust.quantity - from_dust and left.cost == exact.subtract(dust.cost, dust_cost)


def test_a_remainder_below_the_minimum_notional_is_dust() -> None:
    rules = btc_rules().model_copy(update={"min_notional": D("5")})
    p = Portfolio("USDT", {"USDT": D("1000")}, rules={"BTCUSDT": rules})
    p.apply_fill(fill(Side.BUY, "100", "0.1"), base_asset="BTC")
    assert p.apply_fill(fill(Side.SELL, "100", "0.05"), base_asset="BTC") is None, "0.05 left is worth 5"
    closed = p.apply_fill(fill(Side.SELL, "100", "0.0401"), base_asset="BTC")
    assert closed is not None, "0.0099 left is worth 0.99, below the 5 minimum notional: no order can sell it"
    assert p.dust("BTCUSDT") == D("0.0099")


def test_a_position_the_engine_cannot_sell_becomes_dust() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")}, rules={"BTCUSDT": btc_rules()})
    p.apply_fill(fill(Side.BUY, "100", "0.0002"), base_asset="BTC", strategy=StrategyName("momentum"))
    assert p.to_dust("BTCUSDT", 2_000) is None, "nothing was sold: no trade closed"
    assert p.position("BTCUSDT") is None
    assert p.dust_holdings() == {"BTCUSDT": Dust("BTCUSDT", D("0.0002"), D("0.02"))}
    with pytest.raises(NoPosition):
        p.to_dust("BTCUSDT", 2_000)


def test_without_rules_only_zero_closes_a_position() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    p.apply_fill(fill(Side.BUY, "100", "0.001"), base_asset="BTC")
    assert p.apply_fill(fill(Side.SELL, "100", "0.00099"), base_asset="BTC") is None
    assert p.sellable_quantity("BTCUSDT") == D("0.00001")
    p.set_rules({"BTCUSDT": btc_rules()})
    assert p.sellable_quantity("BTCUSDT") == D(0)


def test_refused_fills_change_nothing() -> None:
    p = Portfolio("USDT", {"USDT": D("100"), "BNB": D("0.001")})
    p.mark("BNBUSDT", 300.0)
    before = p.to_dict()
    with pytest.raises(InsufficientBalance) as too_big:
        p.apply_fill(fill(Side.BUY, "100", "1", "0.1"), base_asset="BTC")
    assert too_big.value.details["asset"] == "USDT"
    with pytest.raises(InsufficientBalance):
        p.apply_fill(fill(Side.BUY, "10", "1", "0.01", "BNB"), base_asset="BTC")
    with pytest.raises(NoPosition):
        p.apply_fill(fill(Side.SELL, "10", "1"), base_asset="BTC")
    with pytest.raises(PortfolioError):
        p.apply_fill(fill(Side.BUY, "10", "1", symbol="ETHBTC"), base_asset="ETH")
    with pytest.raises(PortfolioError):
        p.apply_fill(fill(Side.BUY, "10", "1", "1", "BTC"), base_asset="BTC")
    assert p.to_dict() == before
    p.apply_fill(fill(Side.BUY, "10", "1"), base_asset="BTC")
    with pytest.raises(Oversell) as oversold:
        p.apply_fill(fill(Side.SELL, "10", "1.5"), base_asset="BTC")
    assert oversold.value.details == {"symbol": "BTCUSDT", "value": "1.5", "limit": "1"}


def test_sell_fee_in_base_takes_extra_units_and_their_cost() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    p.apply_fill(fill(Side.BUY, "100", "1"), base_asset="BTC")
    closed = p.apply_fill(fill(Side.SELL, "110", "0.999", "0.001", "BTC"), base_asset="BTC")
    assert closed is not None
    assert closed.pnl == D("109.89") - D("100")
    assert p.balances()["BTC"] == D(0)


def test_marks_equity_exposure_and_drawdown() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    assert p.high_water_mark == 1000.0
    p.apply_fill(fill(Side.BUY, "100", "2"), base_asset="BTC")
    p.mark("BTCUSDT", 150.0)
    assert p.equity() == D("1100")
    assert p.exposure() == D("300")
    assert p.equity({"BTCUSDT": D("50.5")}) == D("901")
    assert p.unrealized_pnl() == D("100")
    assert p.equity_float() == 1100.0
    assert p.high_water_mark == 1100.0
    p.mark("BTCUSDT", 45.0)
    assert p.high_water_mark == 1100.0
    assert p.drawdown_pct == pytest.approx((1100 - 890) / 1100 * 100)
    for bad in (0.0, -1.0, math.nan, math.inf):
        with pytest.raises(InvalidMark):
            p.mark("BTCUSDT", bad)


def test_set_protection_records_and_refuses_without_a_position() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    with pytest.raises(NoPosition):
        p.set_protection("BTCUSDT", D("90"), D("120"), "cx-l")
    p.apply_fill(fill(Side.BUY, "100", "1"), base_asset="BTC")
    p.set_protection("BTCUSDT", D("90"), D("120"), "cx-l")
    pos = p.position("BTCUSDT")
    assert pos is not None
    assert (pos.stop_price, pos.take_profit_price, pos.protection_list_id) == (D("90"), D("120"), "cx-l")
    with pytest.raises(PortfolioError):
        p.set_protection("BTCUSDT", D("-1"), None, None)
    p.set_protection("BTCUSDT", None, None, None)
    assert p.position("BTCUSDT") == pos.model_copy(update={"stop_price": None, "take_profit_price": None,
                                                             "protection_list_id": None})


def test_constructor_refuses_bad_balances() -> None:
    with pytest.raises(PortfolioError):
        Portfolio("USDT", {"USDT": D("-1")})
    with pytest.raises(PortfolioError):
        Portfolio("USDT", {"USDT": 1.5})  # type: ignore[dict-item]
    with pytest.raises(PortfolioError):
        Portfolio("USDT", {"USDT": D("NaN")})


# ----- bug class: colliding position ids -----

def test_two_positions_opened_in_the_same_ms_get_different_ids() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    p.apply_fill(fill(Side.BUY, "100", "1", time_ms=5), base_asset="BTC")
    first = p.position("BTCUSDT")
    p.apply_fill(fill(Side.SELL, "100", "1", time_ms=5), base_asset="BTC")
    p.apply_fill(fill(Side.BUY, "100", "1", time_ms=5), base_asset="BTC")
    second = p.position("BTCUSDT")
    assert first is not None and second is not None
    assert first.opened_ms == second.opened_ms == 5
    assert first.position_id != second.position_id


def test_position_ids_do_not_repeat_across_a_restart() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    p.apply_fill(fill(Side.BUY, "100", "1", time_ms=5), base_asset="BTC")
    first = p.position("BTCUSDT")
    p.apply_fill(fill(Side.SELL, "100", "1", time_ms=5), base_asset="BTC")
    restarted = Portfolio.from_dict(json.loads(json.dumps(p.to_dict())))
    restarted.apply_fill(fill(Side.BUY, "100", "1", time_ms=5), base_asset="BTC")
    second = restarted.position("BTCUSDT")
    assert first is not None and second is not None
    assert first.position_id != second.position_id


def test_reserved_ids_are_unique_and_used_by_the_opening_fill() -> None:
    p = Portfolio("USDT", {"USDT": D("1000")})
    reserved = [p.next_position_id("BTCUSDT", 7) for _ in range(3)]
    assert len(set(reserved)) == 3
    p.apply_fill(fill(Side.BUY, "100", "1", time_ms=7), base_asset="BTC", position_id=reserved[1])
    pos = p.position("BTCUSDT")
    assert pos is not None and pos.position_id == reserved[1]
    restarted = Portfolio.from_dict(p.to_dict())
    assert restarted.next_position_id("BTCUSDT", 7) not in reserved


def test_new_position_id_is_injective_in_its_parts() -> None:
    ids = {new_position_id(s, ms, seq) for s in ("BTCUSDT", "ETHUSDT") for ms in (0, 1, 11) for seq in (0, 1, 11)}
    assert len(ids) == 18
    with pytest.raises(ValueError):
        new_position_id("BTCUSDT", 1, -1)


def test_from_dict_refuses_a_broken_snapshot() -> None:
    snapshot = Portfolio("USDT", {"USDT": D("1")}).to_dict()
    with pytest.raises(InvalidSnapshot):
        Portfolio.from_dict({**snapshot, "version": 99})
    with pytest.raises(InvalidSnapshot):
        Portfolio.from_dict({**snapshot, "realized_pnl": 1.5})
    with pytest.raises(InvalidSnapshot):
        Portfolio.from_dict({k: v for k, v in snapshot.items() if k != "balances"})
