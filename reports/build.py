"""Journal rows in, a report model out. Reads the journal, never writes it, never reads the wall clock.

Statistics come from `core.analytics` (trade stats, drawdown, Sharpe/Sortino) and P&L from
`core.portfolio` (through `reports.trades`), so a report shows the numbers the engine acts on.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from datetime import date as Date
from decimal import Decimal
from typing import Any

from core import analytics
from core.clock import MS_PER_DAY
from core.filters import SymbolRules
from core.portfolio import ClosedTrade
from core.types import DecisionAction, Position, Reason, ReasonKind, RuleId
from memory.journal import Journal
from reports.model import (
    ACCOUNTING_VERSION,
    BreakerLine,
    DecisionSummary,
    DustLine,
    LlmSummary,
    OpenPositionLine,
    ReasonCount,
    Report,
    ReportPeriod,
    StrategySummary,
    TradeLine,
    TradeSummary,
)
from reports.periods import period_bounds, utc_date
from reports.rule_labels import RULE_LABELS
from reports.trades import PeriodTrades, replay_trades

__all__ = ["Report", "build_report"]

RATIO_WINDOW_DAYS = 30
DUST = "dust"  # the per-strategy line of dust sold with a later exit: the P&L of no strategy
TOP_SKIP_REASONS = 5
HUNDRED = Decimal(100)


def build_report(
    journal: Journal,
    period: ReportPeriod,
    date: Date,
    *,
    open_positions: Mapping[str, Position | Mapping[str, Any]] | None = None,
    quote_asset: str = "USDT",
    rules: Mapping[str, SymbolRules] | None = None,
    marks: Mapping[str, Decimal] | None = None,
    now_ms: int | None = None,
) -> Report:
    """The report of the UTC day (or Monday-based week) containing `date`.

    `open_positions` is the caller's latest state (symbol → Position, or its JSON form). `rules` (the ones the
    engine traded under) let the trade replay treat an unsellable remainder as dust, as the engine does:
    without them no position with dust ever closes, so the caller must pass them. `marks` (symbol → latest
    price, with `open_positions`) value the dust. With `now_ms` before the period's end, the report is marked
    partial.
    """
    start_ms, end_ms = period_bounds(period, date)
    notes: list[str] = []
    partial = now_ms is not None and now_ms < end_ms
    if now_ms is not None and partial:
        notes.append(f"the period is not over: figures up to {_clock(now_ms)} UTC")

    equity = _equity_section(journal, period, start_ms, end_ms, notes)
    traded = replay_trades(journal.fills(), journal.orders(), start_ms, end_ms, quote_asset=quote_asset, rules=rules)
    notes.extend(traded.notes)
    if traded.fills_in_period == 0:
        notes.append("no fills in this period")
    if traded.unpriced_fees:
        listed = ", ".join(f"{amount} {asset}" for asset, amount in sorted(traded.unpriced_fees.items()))
        notes.append(f"fees not valued in {quote_asset} (no price for the asset): {listed}")

    decisions = _decision_summary(journal, start_ms, end_ms)
    if decisions.entered + decisions.skipped + decisions.exited == 0:
        notes.append("no risk decisions journaled in this period")
    positions = None if open_positions is None else _open_positions(open_positions)
    dust = [DustLine(symbol=symbol, quantity=d.quantity, cost=d.cost,
                     value=None if marks is None or symbol not in marks else d.value(marks[symbol]))
            for symbol, d in sorted(traded.dust.items())]
    values = [line.value for line in dust]
    per_strategy = _per_strategy(traded.closed)
    if traded.dust_pnl:
        per_strategy[DUST] = StrategySummary(trades=0, wins=0, pnl=traded.dust_pnl)

    return Report(
        accounting=ACCOUNTING_VERSION,
        period=period,
        date=utc_date(start_ms).isoformat(),
        start_ms=start_ms,
        end_ms=end_ms,
        quote_asset=quote_asset,
        partial=partial,
        fills=traded.fills_in_period,
        realized_pnl=traded.realized_pnl,
        fees=traded.fees,
        unpriced_fees=traded.unpriced_fees,
        dust_pnl=traded.dust_pnl,
        dust=dust,
        dust_value=None if None in values else sum((v for v in values if v is not None), Decimal(0)),
        trades=_trade_summary(traded),
        per_strategy=per_strategy,
        breaker_events=[_breaker_line(row) for row in _within(journal.breaker_events(start_ms), end_ms)],
        clamps=dict(Counter(row["rule"] for row in _within(journal.clamps(start_ms), end_ms)).most_common()),
        decisions=decisions,
        open_positions=positions,
        errors=dict(Counter(row["code"] for row in _within(journal.errors(start_ms), end_ms)).most_common()),
        llm=_llm_summary(journal, start_ms, end_ms),
        notes=notes,
        **equity,
    )


def _equity_section(journal: Journal, period: ReportPeriod, start_ms: int, end_ms: int,
                    notes: list[str]) -> dict[str, Any]:
    """Equity at both ends, P&L, the period's drawdown and the trailing Sharpe/Sortino.

    The period opens at the last snapshot of the period before it (as `analytics.returns_by_period`
    does); when there is none, at its own first snapshot, and a note says so.
    """
    window_start = end_ms - RATIO_WINDOW_DAYS * MS_PER_DAY
    curve = journal.equity_curve(min(window_start, start_ms - (end_ms - start_ms)), end_ms - 1)
    before = [point for point in curve if start_ms - (end_ms - start_ms) <= point[0] < start_ms]
    inside = [point for point in curve if point[0] >= start_ms]
    section: dict[str, Any] = {
        "equity_points": len(inside),
        "equity_start": None,
        "equity_end": None,
        "pnl": None,
        "pnl_pct": None,
        "max_drawdown_pct": None,
        "sharpe": None,
        "sortino": None,
        "ratio_window_days": RATIO_WINDOW_DAYS,
    }
    try:
        daily = analytics.daily_returns([(ms, float(value)) for ms, value in curve if ms >= window_start])
    except analytics.AnalyticsInputError as exc:
        # An equity of 0 has no return to divide by: say so rather than fail the whole report.
        notes.append(f"Sharpe/Sortino n/a: {exc.message}")
    else:
        section.update(sharpe=analytics.sharpe(daily), sortino=analytics.sortino(daily))
        if section["sharpe"] is None:
                notes.append(f"Sharpe/Sortino n/a: {len(daily)} daily return(s) in the last {RATIO_WINDOW_DAYS} days"
                         " (need 2+ that vary)")
    if not inside:
        notes.append("no equity snapshots in this period: equity, P&L and drawdown unknown")
        return section
    if before:
        opening = before[-1]
    else:
        opening = inside[0]
        notes.append(f"no equity snapshot before the {period}; it opens at the first one ({_clock(opening[0])} UTC)")
    equity_start, equity_end = opening[1], inside[-1][1]
    pnl = equity_end - equity_start
    section.update(
        equity_start=equity_start,
        equity_end=equity_end,
        pnl=pnl,
        pnl_pct=float(pnl / equity_start * HUNDRED) if equity_start > 0 else None,
        max_drawdown_pct=analytics.max_drawdown_pct([float(value) for _, value in [opening, *inside]]),
    )
    return section


def _trade_summary(traded: PeriodTrades) -> TradeSummary:
    closed = traded.closed
    if not closed:
        return TradeSummary(count=0, wins=0, losses=0, win_rate=None, profit_factor=None, expectancy=None,
                            best=None, worst=None)
    stats = analytics.trade_stats([float(trade.pnl) for trade in closed])
    return TradeSummary(
        count=stats.count,
        wins=stats.wins,
        losses=stats.losses,
        win_rate=stats.win_rate,
        profit_factor=stats.profit_factor,
        expectancy=stats.expectancy,
        best=_trade_line(max(closed, key=lambda trade: trade.pnl)),
        worst=_trade_line(min(closed, key=lambda trade: trade.pnl)),
    )


def _trade_line(trade: ClosedTrade) -> TradeLine:
    return TradeLine(position_id=trade.position_id, symbol=trade.symbol,
                     strategy=None if trade.strategy is None else trade.strategy.value,
                     pnl=trade.pnl, pnl_pct=trade.pnl_pct, closed_ms=trade.closed_ms)


def _per_strategy(closed: list[ClosedTrade]) -> dict[str, StrategySummary]:
    """Closed trades per strategy; a position whose opening order named no strategy is 'unattributed'."""
    grouped: dict[str, list[ClosedTrade]] = {}
    for trade in closed:
        grouped.setdefault("unattributed" if trade.strategy is None else trade.strategy.value, []).append(trade)
    return {
        name: StrategySummary(trades=len(trades), wins=sum(1 for t in trades if t.pnl > 0),
                              pnl=sum((t.pnl for t in trades), Decimal(0)))
        for name, trades in sorted(grouped.items())
    }


def _decision_summary(journal: Journal, start_ms: int, end_ms: int) -> DecisionSummary:
    # `decisions` returns the latest `limit` rows after `since_ms`; asking for as many as the table holds
    # guarantees the period's rows are all there even when later periods added more.
    limit = max(1, journal.counts()["decisions"])
    rows = _within(journal.decisions(start_ms, limit=limit), end_ms)
    actions = Counter(row["action"] for row in rows)
    rules: Counter[RuleId] = Counter()
    for row in rows:
        if row["action"] == DecisionAction.SKIP.value:  # each rule that refused it, once per decision
            refusals = (Reason.model_validate(reason) for reason in row["reasons"])
            rules.update({reason.rule for reason in refusals if reason.kind is ReasonKind.REFUSAL})
    return DecisionSummary(
        entered=actions[DecisionAction.ENTER.value],
        skipped=actions[DecisionAction.SKIP.value],
        exited=actions[DecisionAction.EXIT.value],
        top_skip_reasons=[ReasonCount(rule=rule, label=RULE_LABELS[rule], count=n)
                          for rule, n in rules.most_common(TOP_SKIP_REASONS)],
    )


def _llm_summary(journal: Journal, start_ms: int, end_ms: int) -> LlmSummary:
    calls = _within(journal.llm_calls(start_ms), end_ms)
    return LlmSummary(calls=len(calls), failures=sum(1 for call in calls if not call["ok"]))


def _breaker_line(row: Mapping[str, Any]) -> BreakerLine:
    return BreakerLine(time_ms=row["time_ms"], breaker=row["breaker"], transition=row["transition"],
                       level=row["level"], value_pct=row["value_pct"], limit_pct=row["limit_pct"],
                       message=row["message"])


def _open_positions(positions: Mapping[str, Position | Mapping[str, Any]]) -> list[OpenPositionLine]:
    lines = []
    for symbol, raw in sorted(positions.items()):
        position = raw if isinstance(raw, Position) else Position.model_validate(raw)
        lines.append(OpenPositionLine(
            symbol=symbol, strategy=None if position.strategy is None else position.strategy.value,
            quantity=position.quantity, avg_entry=position.avg_entry, stop_price=position.stop_price,
            take_profit_price=position.take_profit_price))
    return lines


def _within(rows: list[dict[str, Any]], end_ms: int) -> list[dict[str, Any]]:
    """The journal reads from a start time onwards; a report stops at its period's end."""
    return [row for row in rows if row["time_ms"] < end_ms]


def _clock(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M")
