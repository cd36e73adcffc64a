"""build_report against a realistic journal: every number checked against a calculation done here by hand."""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.clock import MS_PER_DAY, MS_PER_HOUR
from core.types import Fill, OrderRequest, OrderStatus, OrderType, Position, RuleId, Side, StrategyName
from memory.journal import Journal
from memory.rows import FillRow
from reports.build import build_report
from reports.periods import day_start_ms
from reports.trades import replay_trades
from tests.reports.scenario import (
    EMPTY_DAY,
    MON_MS,
    MONDAY,
    TRADES,
    TUE_MS,
    TUESDAY,
    Trade,
    at,
    equity_value,
    populate,
    skip,
)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db", durable=False) as journal:
        populate(journal)
        yield journal


def _fee_in_quote(fill: Fill) -> Decimal:
    return fill.commission if fill.commission_asset == "USDT" else fill.commission * fill.price


def _hand_pnl(trade: Trade) -> Decimal:
    """Round-trip P&L by hand: proceeds net of sell fees minus the cost of what was bought, buy fees included."""
    cost = sum((f.price * f.quantity + (f.commission if f.commission_asset == "USDT" else 0)
                for f in trade.fills if f.side is Side.BUY), Decimal(0))
    proceeds = sum((f.price * f.quantity - f.commission for f in trade.fills if f.side is Side.SELL), Decimal(0))
    return proceeds - cost


def _max_drawdown(values: list[Decimal]) -> float:
    peak, worst = values[0], Decimal(0)
    for value in values:
        peak = max(peak, value)
        worst = max(worst, (peak - value) / peak * 100)
    return float(worst)


def test_monday_numbers_match_hand_calculations(journal: Journal) -> None:
    report = build_report(journal, "day", MONDAY)
    a = TRADES[0]
    assert (report.period, report.date, report.start_ms, report.end_ms) == ("day", "2026-11-16", MON_MS, TUE_MS)
    assert report.realized_pnl == _hand_pnl(a) == Decimal("8.99")
    monday_fills = [f for t in TRADES for f in t.fills if MON_MS <= f.time_ms < TUE_MS]
    assert report.fees == sum((_fee_in_quote(f) for f in monday_fills), Decimal(0)) == Decimal("2.51")
    assert report.trades.count == 1 and report.trades.wins == 1 and report.trades.win_rate == 1.0
    assert report.trades.best is not None and report.trades.best.pnl == Decimal("8.99")
    assert report.trades.profit_factor is None  # no losing trade: undefined, not infinite, not 0
    # No snapshot before Monday: it opens at its own 00:00 snapshot, and a note says so.
    assert report.equity_start == equity_value(0) and report.equity_end == equity_value(23)
    assert report.pnl == equity_value(23) - equity_value(0)
    assert report.pnl_pct == pytest.approx(float((equity_value(23) - equity_value(0)) / equity_value(0) * 100))
    assert any("no equity snapshot before the day" in note for note in report.notes)
    assert report.equity_points == 24
    assert report.max_drawdown_pct == pytest.approx(_max_drawdown([equity_value(h) for h in range(24)]))
    assert report.clamps == {"max_position_pct": 1}
    assert [(b.breaker, b.transition) for b in report.breaker_events] == [("daily_loss", "tripped"),
                                                                          ("daily_loss", "cleared")]
    assert report.errors == {"ORDER_REJECTED": 1}
    assert (report.llm.calls, report.llm.failures) == (3, 1)
    assert (report.decisions.entered, report.decisions.skipped, report.decisions.exited) == (3, 3, 0)
    assert [(r.rule, r.label, r.count) for r in report.decisions.top_skip_reasons] == [
        (RuleId.DATA_OUTAGE, "data outage", 2), (RuleId.ONE_POSITION_PER_SYMBOL, "one position per symbol", 1)]


def test_tuesday_counts_trades_closed_today_and_partial_exits(journal: Journal) -> None:
    report = build_report(journal, "day", TUESDAY)
    b, c, d = TRADES[1], TRADES[2], TRADES[3]
    c_buy, c_sell = c.fills
    c_realized = (c_sell.price * c_sell.quantity - c_sell.commission) - (
        (c_buy.price * c_buy.quantity + c_buy.commission) * c_sell.quantity / c_buy.quantity)
    assert report.realized_pnl == _hand_pnl(b) + c_realized + _hand_pnl(d)
    assert report.realized_pnl == Decimal("-17.572525")
    assert report.trades.count == 2 and report.trades.wins == 1 and report.trades.losses == 1
    assert report.trades.worst is not None and report.trades.worst.symbol == "ETHUSDT"
    assert report.trades.worst.pnl == _hand_pnl(b)
    assert report.trades.profit_factor == pytest.approx(float(_hand_pnl(d) / -_hand_pnl(b)))
    assert report.trades.expectancy == pytest.approx(float((_hand_pnl(b) + _hand_pnl(d)) / 2))
    assert set(report.per_strategy) == {"scalping", "stat_arb"}
    assert report.per_strategy["scalping"].pnl == _hand_pnl(b)
    assert report.per_strategy["stat_arb"].trades == 1 and report.per_strategy["stat_arb"].wins == 1
    tuesday_fills = [f for t in TRADES for f in t.fills if f.time_ms >= TUE_MS]
    assert report.fees == sum((_fee_in_quote(f) for f in tuesday_fills), Decimal(0))
    # Tuesday opens at Monday's last snapshot: the P&L covers the whole day.
    assert report.equity_start == equity_value(23) and report.equity_end == equity_value(47)
    assert report.max_drawdown_pct == pytest.approx(_max_drawdown([equity_value(h) for h in range(23, 48)]))
    assert not any("no equity snapshot before" in note for note in report.notes)
    assert report.errors == {"DATA_OUTAGE": 2}
    assert [(r.rule, r.label, r.count) for r in report.decisions.top_skip_reasons] == [
        (RuleId.ONE_POSITION_PER_SYMBOL, "one position per symbol", 2), (RuleId.SIZE_ZERO, "nothing left to spend", 1)]


def test_week_covers_both_days(journal: Journal) -> None:
    report = build_report(journal, "week", TUESDAY)
    assert report.date == "2026-11-16" and report.end_ms - report.start_ms == 7 * MS_PER_DAY
    assert report.realized_pnl == Decimal("8.99") + Decimal("-17.572525")
    assert report.trades.count == 3
    assert report.clamps == {"max_position_pct": 2}
    assert report.decisions.entered == 5 and report.decisions.skipped == 6
    assert report.equity_start == equity_value(0) and report.equity_end == equity_value(47)


def test_a_day_without_data_says_so_instead_of_reporting_zeros(journal: Journal) -> None:
    report = build_report(journal, "day", EMPTY_DAY)
    assert report.equity_start is None and report.equity_end is None and report.pnl is None
    assert report.pnl_pct is None and report.max_drawdown_pct is None
    assert report.trades.count == 0 and report.trades.win_rate is None and report.trades.expectancy is None
    assert report.trades.best is None
    joined = " | ".join(report.notes)
    assert "no equity snapshots in this period" in joined
    assert "no fills in this period" in joined
    assert "no risk decisions journaled" in joined


def test_decisions_of_a_past_day_are_all_counted_even_when_later_days_have_many(journal: Journal) -> None:
    # Journal.decisions returns the *latest* `limit` rows: 150 later decisions must not hide Monday's.
    for n in range(150):
        journal.record_decision(skip("BTCUSDT", at(TUE_MS + 2 * MS_PER_DAY, 0) + n, "spread 12.0bps above 8.0bps"))
    assert build_report(journal, "day", MONDAY).decisions.skipped == 3


def test_open_positions_come_from_the_callers_state(journal: Journal) -> None:
    position = Position(position_id="BTCUSDT-c", symbol="BTCUSDT", strategy=StrategyName("scalping"),
                        quantity=Decimal("0.01"), avg_entry=Decimal("50550.5"), opened_ms=at(TUE_MS, 9),
                        stop_price=Decimal("50000"))
    report = build_report(journal, "day", TUESDAY,
                          open_positions={"BTCUSDT": position, "SOLUSDT": {**position.model_dump(), "symbol": "SOLUSDT",
                                                                           "avg_entry": "150"}})
    assert report.open_positions is not None
    assert [(p.symbol, p.quantity, p.avg_entry) for p in report.open_positions] == [
        ("BTCUSDT", Decimal("0.01"), Decimal("50550.5")), ("SOLUSDT", Decimal("0.01"), Decimal("150"))]
    assert build_report(journal, "day", TUESDAY).open_positions is None


def test_partial_when_built_before_the_period_ends(journal: Journal) -> None:
    report = build_report(journal, "day", TUESDAY, now_ms=at(TUE_MS, 13))
    assert report.partial and any("not over" in note for note in report.notes)
    assert not build_report(journal, "day", TUESDAY, now_ms=TUE_MS + MS_PER_DAY).partial


def test_a_sell_without_a_journaled_buy_is_left_out_with_a_note(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db", durable=False) as journal:
        order = OrderRequest(client_order_id="cx-orphan", symbol="BTCUSDT", side=Side.SELL, type=OrderType.MARKET,
                             quantity=Decimal("0.01"))
        journal.record_order_intent(order, time_ms=MON_MS, strategy=None, position_id=None, reason="manual")
        journal.update_order("cx-orphan", status=OrderStatus.FILLED, executed_qty=Decimal("0.01"),
                             cum_quote=Decimal(500), time_ms=MON_MS + 1)
        journal.record_fill(Fill(client_order_id="cx-orphan", symbol="BTCUSDT", side=Side.SELL,
                                 price=Decimal(50000), quantity=Decimal("0.01"), commission=Decimal("0.5"),
                                 commission_asset="USDT", trade_id=1, time_ms=MON_MS + 1), position_id=None)
        report = build_report(journal, "day", MONDAY)
    assert report.realized_pnl == 0 and report.trades.count == 0
    assert any("BTCUSDT#1 left out of P&L" in note for note in report.notes)


def test_bnb_fees_are_valued_at_bnbs_price_or_reported_unvalued(tmp_path: Path) -> None:
    def fill(cid: str, symbol: str, side: Side, price: str, qty: str, fee: str, asset: str, tid: int, t: int) -> Fill:
        return Fill(client_order_id=cid, symbol=symbol, side=side, price=Decimal(price), quantity=Decimal(qty),
                    commission=Decimal(fee), commission_asset=asset, trade_id=tid, time_ms=t)

    with Journal(tmp_path / "j.db", durable=False) as journal:
        journal.record_fill(fill("cx-x1", "BTCUSDT", Side.BUY, "50000", "0.01", "0.001", "BNB", 1, at(MON_MS, 1)),
                            position_id="p1")
        unvalued = build_report(journal, "day", MONDAY)
        journal.record_fill(fill("cx-x2", "BNBUSDT", Side.BUY, "600", "1", "0.001", "BNB", 2, at(MON_MS, 2)),
                            position_id="p2")
        journal.record_fill(fill("cx-x3", "BTCUSDT", Side.SELL, "50000", "0.01", "0.001", "BNB", 3, at(MON_MS, 3)),
                            position_id="p1")
        valued = build_report(journal, "day", MONDAY)
    assert unvalued.unpriced_fees == {"BNB": Decimal("0.001")} and unvalued.fees == 0
    assert any("not valued" in note for note in unvalued.notes)
    # After BNBUSDT traded at 600, later BNB fees are valued at 600 and enter the trade's P&L.
    assert valued.fees == Decimal("0.001") * 600 * 2
    assert valued.trades.count == 1 and valued.trades.best is not None
    assert valued.trades.best.pnl == -Decimal("0.001") * 600


def test_sharpe_and_sortino_over_the_trailing_window_match_an_independent_calculation(tmp_path: Path) -> None:
    closes = [Decimal(v) for v in ("1000", "1010", "1005", "1020", "1018", "1030", "1025", "1040", "1035", "1050")]
    first = date(2026, 11, 1)
    with Journal(tmp_path / "j.db", durable=False) as journal:
        for n, value in enumerate(closes):
            journal.record_equity(day_start_ms(first) + n * MS_PER_DAY + 23 * MS_PER_HOUR, value, value, Decimal(0))
        report = build_report(journal, "day", date(2026, 11, 10))
    returns = [float(b / a - 1) for a, b in itertools.pairwise(closes)]
    expected_sharpe = statistics.mean(returns) / statistics.stdev(returns) * math.sqrt(365)
    downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
    assert report.sharpe == pytest.approx(expected_sharpe)
    assert report.sortino == pytest.approx(statistics.mean(returns) / downside * math.sqrt(365))
    assert report.equity_start == closes[-2] and report.equity_end == closes[-1]


def _row(n: int, side: Side, price: Decimal, qty: Decimal, fee: Decimal, asset: str) -> FillRow:
    return FillRow(symbol="ETHUSDT", trade_id=n, client_order_id=f"cx-{n}", side=side, price=price, quantity=qty,
                   commission=fee, commission_asset=asset, is_maker=False, time_ms=MON_MS + n, position_id="p")


def test_an_equity_of_zero_leaves_the_ratios_undefined_instead_of_failing(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db", durable=False) as journal:
        for n, value in enumerate(("100", "50", "0", "10")):
            journal.record_equity(MON_MS + n * MS_PER_DAY, Decimal(value), Decimal(value), Decimal(0))
        report = build_report(journal, "day", date(2026, 11, 19))
    assert report.sharpe is None and any("must be above 0" in note for note in report.notes)
    assert report.equity_start == 0 and report.pnl_pct is None and report.equity_end == 10


@given(st.lists(st.tuples(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(1000), places=2),
                          st.decimals(min_value=Decimal(1), max_value=Decimal(100_000), places=2),
                          st.booleans()), min_size=1, max_size=6),
       st.decimals(min_value=Decimal(1), max_value=Decimal(100_000), places=2))
def test_round_trip_pnl_is_proceeds_minus_costs_with_fees(buys: list[tuple[Decimal, Decimal, bool]],
                                                         sell_price: Decimal) -> None:
    """Whatever the fill sizes, prices and fee assets, a closed trade's realized P&L is exactly what the
    quote balance gained: proceeds net of the sell fee minus every quote spent on the buys."""
    rows, held, spent = [], Decimal(0), Decimal(0)
    for n, (qty, price, fee_in_base) in enumerate(buys, start=1):
        if fee_in_base:  # Binance takes a buy's fee from the asset bought unless BNB pays
            rows.append(_row(n, Side.BUY, price, qty, qty / 1000, "ETH"))
            held += qty - qty / 1000
            spent += qty * price
        else:
            fee = (qty * price / 1000).quantize(Decimal("0.00000001"))
            rows.append(_row(n, Side.BUY, price, qty, fee, "USDT"))
            held += qty
            spent += qty * price + fee
    sell_fee = (held * sell_price / 1000).quantize(Decimal("0.00000001"))
    rows.append(_row(len(buys) + 1, Side.SELL, sell_price, held, sell_fee, "USDT"))
    traded = replay_trades(rows, [], MON_MS, TUE_MS, quote_asset="USDT")
    assert len(traded.closed) == 1 and traded.fills_in_period == len(rows)
    assert traded.realized_pnl == traded.closed[0].pnl == held * sell_price - sell_fee - spent
