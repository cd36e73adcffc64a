"""`report`: the daily or weekly report of a past period, from the archive or built on demand.

The report comes from `reports.archive.get_or_build` over the home's journal: a complete archived report
is reused as it is; a missing, partial or unreadable one is built and archived first (JSON, chat text
and, when the period has equity points, a PNG chart in `<home>/reports/<period>/`). The tool writes
only those report files; never the journal or the checkpoint.
"""

from __future__ import annotations

from datetime import date as Date
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.errors import ExecutorError, InvalidArgument
from reports.archive import get_or_build
from reports.model import Report
from reports.periods import period_bounds, utc_date
from tools.spec import ToolContext, ToolSpec
from tools.state import RUN_HINT, NoData, SavedEngine, money, read_journal, read_saved_engine

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class ReportInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    period: Literal["day", "week"] = Field(
        default="day", description="day: one UTC day; week: the Monday-based UTC week containing `date`")
    date: str | None = Field(
        default=None, pattern=DATE_PATTERN,
        description="a UTC date YYYY-MM-DD (not in the future); default: yesterday (UTC)")

    @field_validator("date")
    @classmethod
    def _real_date(cls, value: str | None) -> str | None:
        if value is not None:
            Date.fromisoformat(value)  # 2026-02-30 matches the pattern but is no date: ValueError
        return value


class ReportNumbers(BaseModel):
    """The figures a person reads first; the archived JSON has every one."""

    equity_start: str | None
    equity_end: str | None
    pnl: str | None
    pnl_pct: float | None
    realized_pnl: str
    fees: str
    fills: int
    trades: int
    win_rate: float | None
    profit_factor: float | None
    max_drawdown_pct: float | None
    sharpe: float | None
    sortino: float | None
    breaker_events: int
    errors: int
    llm_calls: int


class ReportOutput(BaseModel):
    period: Literal["day", "week"]
    date: str = Field(description="first day of the period (UTC)")
    partial: bool = Field(description="built before the period ended; rebuilt on the next request")
    numbers: ReportNumbers
    text: str = Field(description="the chat-ready report")
    notes: list[str]
    files: dict[Literal["json", "txt", "png"], str] = Field(
        description="paths of the archived files; no png when the period has no equity points to chart")


def handle(args: ReportInput, ctx: ToolContext) -> ReportOutput:
    now_ms = ctx.now_ms()
    day = _day(args.date, now_ms)
    open_positions = None
    marks = None
    rules = None
    quote_asset = "USDT"
    saved = _saved_engine_or_none(ctx)
    if saved is not None:
        portfolio = saved.engine.portfolio
        quote_asset = portfolio.quote_asset
        rules = saved.engine.rules  # the rules it traded under: they tell dust from an open position
        start_ms, end_ms = period_bounds(args.period, day)
        if start_ms <= saved.engine.now_ms < end_ms:  # the engine's positions and prices now belong to this period
            open_positions = portfolio.positions()
            marks = {symbol: Decimal(repr(price)) for symbol, price in portfolio.last_marks().items()}
    with read_journal(ctx.home, may_migrate=True) as journal:
        if journal is None:
            raise NoData(f"no journal in {ctx.home.root} yet, so nothing to report; {RUN_HINT}",
                         home=str(ctx.home.root), hint="python executor.py run")
        report, paths = get_or_build(ctx.home.root, journal, args.period, day, now_ms=now_ms,
                                     open_positions=open_positions, quote_asset=quote_asset, rules=rules,
                                     marks=marks)
    output = ReportOutput(
        period=report.period, date=report.date, partial=report.partial, numbers=_numbers(report),
        text=paths["txt"].read_text(encoding="utf-8").rstrip("\n"), notes=list(report.notes),
        files={kind: str(path) for kind, path in paths.items()})
    return output


def _day(text: str | None, now_ms: int) -> Date:
    today = utc_date(now_ms)
    if text is None:
        return today - timedelta(days=1)
    try:
        day = Date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"date {text!r} is not a YYYY-MM-DD date", field="date", value=text) from None
    if day > today:
        raise InvalidArgument(f"date {text} is in the future (today is {today.isoformat()} UTC)", field="date",
                              value=text)
    return day


def _saved_engine_or_none(ctx: ToolContext) -> SavedEngine | None:
    """The checkpoint's engine for the open positions; a report is still built without one."""
    try:
        return read_saved_engine(ctx.home, ctx.config)
    except ExecutorError:
        return None


def _numbers(report: Report) -> ReportNumbers:
    return ReportNumbers(
        equity_start=_text(report.equity_start), equity_end=_text(report.equity_end), pnl=_text(report.pnl),
        pnl_pct=report.pnl_pct, realized_pnl=money(report.realized_pnl), fees=money(report.fees), fills=report.fills,
        trades=report.trades.count, win_rate=report.trades.win_rate, profit_factor=report.trades.profit_factor,
        max_drawdown_pct=report.max_drawdown_pct, sharpe=report.sharpe, sortino=report.sortino,
        breaker_events=len(report.breaker_events), errors=sum(report.errors.values()), llm_calls=report.llm.calls)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else money(value)


SPEC = ToolSpec(
    name="report",
    description="The daily or weekly trading report (P&L, trades, drawdown, breakers, chat text, chart files) for "
                "a past UTC day or week; built on demand when not archived yet.",
    input_model=ReportInput,
    output_model=ReportOutput,
    handler=handle,
    read_only=True,
)
