"""Every figure agrees with the journal's raw fills: a real-candle backtest and a multi-day synthetic run.

The journal's fills are recomputed here independently (exact fractions, fees in the asset charged, average
cost, the symbols' filters deciding what is dust), without `reports.trades` or `core.portfolio`, and the
`report` tool (every day and every week), the run's summary and `status` must give the same figures.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import fixture_path
from tests.runtime.helpers import query, run_cli
from tests.tools.test_status import context
from tools.report import ReportInput, ReportOutput
from tools.report import handle as report_tool
from tools.status import StatusInput, StatusOutput
from tools.status import handle as status_tool

pytestmark = pytest.mark.slow
EIGHT_DP = Decimal("0.00000001")
DUST = "dust"


@dataclass
class Position:
    strategy: str
    quantity: Fraction
    cost: Fraction
    sold_cost: Fraction = Fraction(0)
    proceeds: Fraction = Fraction(0)


@dataclass
class Closed:
    strategy: str
    pnl: Fraction
    time_ms: int


@dataclass
class Books:
    """What the fills did: closed trades, realized P&L by fill time, and what is held at the end."""

    closed: list[Closed] = field(default_factory=list)
    realized: list[tuple[int, Fraction]] = field(default_factory=list)
    dust_realized: Fraction = Fraction(0)
    positions: dict[str, Position] = field(default_factory=dict)
    dust: dict[str, tuple[Fraction, Fraction]] = field(default_factory=dict)  # symbol -> (quantity, cost)

    def realized_between(self, start_ms: int, end_ms: int) -> Fraction:
        return sum((pnl for ms, pnl in self.realized if start_ms <= ms < end_ms), Fraction(0))

    def closed_between(self, start_ms: int, end_ms: int) -> list[Closed]:
        return [c for c in self.closed if start_ms <= c.time_ms < end_ms]


def sellable(rules: dict[str, Any], quantity: Fraction, price: Fraction) -> Fraction:
    """What one sell could take: whole steps, at least minQty and the minimum notional."""
    step = Fraction(rules["step_size"])
    units = quantity // step * step if step else quantity
    if units < Fraction(rules["min_qty"]) or units * price < Fraction(rules["min_notional"]):
        return Fraction(0)
    return units


def recompute(db: Path) -> Books:
    checkpoint = json.loads(query(db, "SELECT document FROM engine_checkpoint WHERE id = 1")[0][0])
    rules = checkpoint["rules"]
    strategy_of = dict(query(db, "SELECT client_order_id, strategy FROM orders"))
    books = Books()
    for symbol, cid, side, price_s, qty_s, fee_s, fee_asset, time_ms in query(
            db, "SELECT symbol, client_order_id, side, price, quantity, commission, commission_asset, time_ms "
                "FROM fills ORDER BY time_ms, rowid"):
        price, qty, fee = Fraction(price_s), Fraction(qty_s), Fraction(fee_s)
        base, quote = rules[symbol]["base_asset"], rules[symbol]["quote_asset"]
        assert fee_asset in (base, quote), "the paper exchange charges fees in the asset received"
        if side == "BUY":
            position = books.positions.setdefault(symbol, Position(strategy_of.get(cid) or "manual", Fraction(0),
                                                                   Fraction(0)))
            position.quantity += qty - (fee if fee_asset == base else 0)
            position.cost += price * qty + (fee if fee_asset == quote else 0)
            continue
        position = books.positions[symbol]
        removed = qty + (fee if fee_asset == base else 0)
        proceeds = price * qty - (fee if fee_asset == quote else 0)
        from_position = min(removed, position.quantity)
        from_dust = removed - from_position
        realized = Fraction(0)
        if from_dust:
            dust_qty, dust_cost = books.dust[symbol]
            assert from_dust <= dust_qty
            share_cost = dust_cost * from_dust / dust_qty
            dust_pnl = proceeds * from_dust / removed - share_cost
            books.dust[symbol] = (dust_qty - from_dust, dust_cost - share_cost)
            books.dust_realized += dust_pnl
            realized += dust_pnl
            proceeds = proceeds * from_position / removed
        cost_sold = position.cost * from_position / position.quantity
        position.quantity -= from_position
        position.cost -= cost_sold
        position.sold_cost += cost_sold
        position.proceeds += proceeds
        realized += proceeds - cost_sold
        books.realized.append((time_ms, realized))
        if sellable(rules[symbol], position.quantity, price) == 0:
            del books.positions[symbol]
            books.closed.append(Closed(position.strategy, position.proceeds - position.sold_cost, time_ms))
            dust_qty, dust_cost = books.dust.get(symbol, (Fraction(0), Fraction(0)))
            books.dust[symbol] = (dust_qty + position.quantity, dust_cost + position.cost)
    return books


def dec8(value: Fraction | Decimal | str) -> Decimal:
    """A figure at the summaries' precision, 8 decimals (exact fractions are rounded once, here)."""
    if isinstance(value, Fraction):
        return (Decimal(value.numerator) / Decimal(value.denominator)).quantize(EIGHT_DP)
    return Decimal(value).quantize(EIGHT_DP)


def profit_factor(closed: list[Closed]) -> float | None:
    wins = sum((c.pnl for c in closed if c.pnl > 0), Fraction(0))
    losses = -sum((c.pnl for c in closed if c.pnl < 0), Fraction(0))
    return float(wins / losses) if losses else None


def days(first_ms: int, last_ms: int) -> Iterator[date]:
    day = datetime.fromtimestamp(first_ms / 1000, UTC).date()
    last = datetime.fromtimestamp(last_ms / 1000, UTC).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def check_report(report: ReportOutput, books: Books, start_ms: int, end_ms: int) -> None:
    closed = books.closed_between(start_ms, end_ms)
    numbers = report.numbers
    where = f"{report.period} {report.date}"
    assert numbers.trades == len(closed), where
    assert dec8(numbers.realized_pnl) == dec8(books.realized_between(start_ms, end_ms)), where
    archived = json.loads(Path(report.files["json"]).read_text())
    assert archived["trades"]["wins"] == sum(1 for c in closed if c.pnl > 0), where
    expected_pf = profit_factor(closed)
    assert (numbers.profit_factor is None) == (expected_pf is None), where
    if expected_pf is not None:
        assert numbers.profit_factor == pytest.approx(expected_pf, rel=1e-12), where
    per_strategy: dict[str, Fraction] = {}
    for c in closed:
        per_strategy[c.strategy] = per_strategy.get(c.strategy, Fraction(0)) + c.pnl
    reported = {name: dec8(line["pnl"]) for name, line in archived["per_strategy"].items() if name != DUST}
    assert reported == {name: dec8(pnl) for name, pnl in per_strategy.items()}, where


def check_agreement(home: Path, summary: dict[str, Any], equity_start: Decimal) -> None:
    """`home` holds the run's journal and checkpoint: the summary, `status` and every report agree with it."""
    db = home / "journal.db"
    books = recompute(db)
    assert books.closed, "the run must close trades for the comparison to mean anything"
    assert set(summary["open_positions"]) == set(books.positions)
    # The summary.
    if "trades" in summary:
        assert summary["trades"] == len(books.closed)
    assert dec8(summary["realized_pnl"]) == dec8(sum((pnl for _, pnl in books.realized), Fraction(0)))
    assert dec8(summary["dust"]["realized_pnl"]) == dec8(books.dust_realized)
    dust_cost = sum((cost for _, cost in books.dust.values()), Fraction(0))
    assert dec8(summary["dust"]["cost"]) == dec8(dust_cost)
    # The cash identity: change of cash = realized P&L − change of the cost held in dust and open positions (no
    # third-asset fees here).
    realized = sum((pnl for _, pnl in books.realized), Fraction(0))
    open_cost = sum((p.cost for p in books.positions.values()), Fraction(0))
    assert dec8(summary["cash"]) == dec8(Fraction(equity_start) + realized - dust_cost - open_cost)
    for name, line in summary["per_strategy"].items():
        pnl = books.dust_realized if name == DUST else sum(
            (c.pnl for c in books.closed if c.strategy == name), Fraction(0))
        trades = [c for c in books.closed if c.strategy == name]
        assert (line["trades"], line["wins"], dec8(line["pnl"])) == (
            len(trades), sum(1 for c in trades if c.pnl > 0), dec8(pnl)), name
    assert sum(line["trades"] for line in summary["per_strategy"].values()) == len(books.closed)
    # `status`, from the checkpoint.
    now_ms = int(datetime(2100, 1, 1, tzinfo=UTC).timestamp() * 1000)
    status: StatusOutput = status_tool(StatusInput(), context(home, now_ms=now_ms))
    assert dec8(status.equity or "nan") == dec8(summary["equity_end"])
    assert dec8(status.cash or "nan") == dec8(summary["cash"])
    assert dec8(status.realized_pnl or "nan") == dec8(summary["realized_pnl"])
    assert dec8(status.dust_value or "nan") == dec8(summary["dust"]["value"])
    assert {d.symbol: Decimal(d.quantity) for d in status.dust} == {
        s: Decimal(q.numerator) / Decimal(q.denominator) for s, (q, _) in books.dust.items() if q}
    # The `report` tool, every day and every week the run traded in.
    first_ms, last_ms = books.realized[0][0], books.realized[-1][0]
    weeks = set()
    for day in days(first_ms, last_ms):
        start_ms = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
        report = report_tool(ReportInput(period="day", date=day.isoformat()), context(home, now_ms=now_ms))
        check_report(report, books, start_ms, start_ms + 86_400_000)
        weeks.add(day - timedelta(days=day.weekday()))
    for monday in sorted(weeks):
        start_ms = int(datetime(monday.year, monday.month, monday.day, tzinfo=UTC).timestamp() * 1000)
        report = report_tool(ReportInput(period="week", date=monday.isoformat()), context(home, now_ms=now_ms))
        check_report(report, books, start_ms, start_ms + 7 * 86_400_000)


def test_a_real_candle_backtest_agrees_with_its_fills(tmp_path: Path) -> None:
    candles = fixture_path("candles", "binance_spot_5m_nfi")
    code, envelope, stderr = run_cli(tmp_path, "backtest", "--data", str(candles))
    assert code == 0, (envelope, stderr[-3000:])
    summary = envelope["data"]
    check_agreement(Path(summary["journal"]).parent, summary, Decimal(summary["equity_start"]))


def test_a_multi_day_synthetic_run_agrees_with_its_fills(tmp_path: Path) -> None:
    code, envelope, stderr = run_cli(tmp_path, "run", "--synthetic", "--seed", "3", "--symbols", "BTCUSDT,ETHUSDT",
                                     "--steps", str(2 * 86_400 + 3_600), "--no-view", timeout=900)
    assert code == 0, (envelope, stderr[-3000:])
    summary = envelope["data"]
    books = recompute(tmp_path / "journal.db")
    assert len({c.time_ms // 86_400_000 for c in books.closed}) >= 2, "trades must close on several days"
    check_agreement(tmp_path, summary, Decimal(10_000))
