"""`report`: the daily or weekly report of a past period, from the archive or built on demand.

The report comes from `reports.archive.get_or_build` over the home's journal: a complete archived report
is reused as it is; a missing, partial or unreadable one is built and archived first (JSON, chat text
and, when the period has equity points, a PNG chart in `<home>/reports/daily/` or `weekly/`). The tool writes
only those report files; never the journal or the checkpoint.

Periods are judged by the home's own time (`HomeTime`): a replay's engine time, not the wall clock, so a
replay of 2023 reports on 2023 by default, and a report of the replay's current day is partial.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date as Date
from datetime import timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from core.clock import utc_text
from core.errors import ExecutorError, InvalidArgument
from memory.journal import Journal
from reports.archive import get_or_build
from reports.model import Report, ReportPeriod
from reports.periods import latest_complete, period_bounds, utc_date
from tools.spec import ToolContext, ToolSpec
from tools.state import RUN_HINT, NoData, SavedEngine, money, read_journal, read_saved_engine

DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


class ReportInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    period: Literal["day", "week"] = Field(
        default="day", description="day: one UTC day; week: the Monday-based UTC week containing `date`")
    date: str | None = Field(
        default=None, pattern=DATE_PATTERN,
        description="a UTC date YYYY-MM-DD, not after the home's time; default: the latest complete UTC day or week "
                    "of the home's time (a replay's engine time, else the wall clock)")

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


class HomeClock(StrEnum):
    """Whose time decides which periods are over."""

    WALL = "wall"  # paper, testnet, live: the engine runs on the wall clock
    ENGINE = "engine"  # a replay: the market time its engine has reached
    JOURNAL = "journal"  # no checkpoint (a backtest's journal): the time of its last equity point


class PeriodChoice(StrEnum):
    REQUESTED = "requested"  # the date asked for
    LATEST_COMPLETE = "latest_complete"  # no date: the latest period that ended by the home's time
    RUN_END = "run_end"  # no date, a finished run: the period its data ends in, the last it will ever have


@dataclass(frozen=True)
class HomeTime:
    clock: HomeClock
    seen_ms: int  # the latest instant the home has seen, inclusive (a candle's close time is its last ms)
    finished: bool  # a replay that ran to its end: its time will not advance

    def describe(self) -> str:
        when = utc_text(self.seen_ms)
        if self.clock is HomeClock.WALL:
            return f"the wall clock ({when})"
        if self.clock is HomeClock.JOURNAL:
            return f"this journal's last equity point ({when})"
        return f"this {'finished ' if self.finished else ''}replay's time ({when})"


class ChosenPeriod(BaseModel):
    by: PeriodChoice
    clock: HomeClock
    home_time_ms: int = Field(description="the latest instant the home has seen: a replay's engine time, else now")
    start_ms: int
    end_ms: int = Field(description="exclusive")
    summary: str = Field(description="which period this is and why, for people")


class ReportOutput(BaseModel):
    period: Literal["day", "week"]
    date: str = Field(description="first day of the period (UTC)")
    chosen: ChosenPeriod = Field(description="the period reported and how it was picked")
    partial: bool = Field(description="built before the period ended; rebuilt on the next request")
    numbers: ReportNumbers
    text: str = Field(description="the chat-ready report")
    notes: list[str]
    files: dict[Literal["json", "txt", "png"], str] = Field(
        description="paths of the archived files; no png when the period has no equity points to chart")


def handle(args: ReportInput, ctx: ToolContext) -> ReportOutput:
    open_positions = None
    marks = None
    rules = None
    quote_asset = "USDT"
    saved = _saved_engine_or_none(ctx)
    if saved is not None:
        portfolio = saved.engine.portfolio
        quote_asset = portfolio.quote_asset
        rules = saved.engine.rules  # the rules it traded under: they tell dust from an open position
    with read_journal(ctx.home, may_migrate=True) as journal:
        if journal is None:
            raise NoData(f"no journal in {ctx.home.root} yet, so nothing to report; {RUN_HINT}",
                         home=str(ctx.home.root), hint="python executor.py run")
        wall_ms = ctx.now_ms()
        home_time = _home_time(saved, journal, wall_ms)
        day, chosen = _choose(args.period, args.date, home_time)
        if saved is not None and chosen.start_ms <= saved.engine.now_ms < chosen.end_ms:
            # the engine's positions and prices now belong to this period
            open_positions = saved.engine.portfolio.positions()
            marks = {symbol: Decimal(repr(price)) for symbol, price in saved.engine.portfolio.last_marks().items()}
        # A running replay's current period is partial (rebuilt when asked again); a finished run's journal no
        # longer changes, so every report of it is final.
        report, paths = get_or_build(ctx.home.root, journal, args.period, day,
                                     now_ms=max(wall_ms, home_time.seen_ms + 1) if home_time.finished
                                     else home_time.seen_ms + 1,
                                     open_positions=open_positions, quote_asset=quote_asset, rules=rules,
                                     marks=marks)
    output = ReportOutput(
        period=report.period, date=report.date, chosen=chosen, partial=report.partial, numbers=_numbers(report),
        text=paths["txt"].read_text(encoding="utf-8").rstrip("\n"), notes=list(report.notes),
        files={kind: str(path) for kind, path in paths.items()})
    return output


def archive_days(ctx: ToolContext, first: Date, progress: Callable[[int], None] | None = None) -> list[ReportOutput]:
    """The daily report of every UTC day from `first` to the day the home's time is in (`backtest --reports`),
    each built and archived exactly as `report --date` would; `progress(days done)` after each one."""
    saved = _saved_engine_or_none(ctx)
    if saved is None:
        raise NoData(f"no checkpoint in {ctx.home.root}, so no days to report; {RUN_HINT}", home=str(ctx.home.root))
    outputs = []
    for n in range((utc_date(saved.engine.now_ms) - first).days + 1):
        outputs.append(handle(ReportInput(period="day", date=(first + timedelta(days=n)).isoformat()), ctx))
        if progress is not None:
            progress(n + 1)
    return outputs


def _home_time(saved: SavedEngine | None, journal: Journal, wall_ms: int) -> HomeTime:
    """The home's own time: a replay's engine time; the wall clock for paper, testnet and live (their engine
    follows it); for a journal without a checkpoint (a backtest's), the time of its last equity point."""
    if saved is not None:
        if saved.mode == "replay":
            return HomeTime(HomeClock.ENGINE, saved.engine.now_ms, saved.finished)
        return HomeTime(HomeClock.WALL, wall_ms, finished=False)
    curve = journal.equity_curve()
    if curve:
        return HomeTime(HomeClock.JOURNAL, curve[-1][0], finished=True)
    return HomeTime(HomeClock.WALL, wall_ms, finished=False)


def _choose(period: ReportPeriod, text: str | None, home: HomeTime) -> tuple[Date, ChosenPeriod]:
    """The period to report: the requested date's, or by default the latest complete one by the home's time (for
    a finished run, the one its data ends in: nothing later will ever come)."""
    today = utc_date(home.seen_ms)
    if text is None:
        by = PeriodChoice.LATEST_COMPLETE
        day = latest_complete(period, home.seen_ms + 1)
        if home.finished and period_bounds(period, today)[1] > home.seen_ms + 1:
            by, day = PeriodChoice.RUN_END, today
    else:
        by, day = PeriodChoice.REQUESTED, _requested(text, today, home)
    start_ms, end_ms = period_bounds(period, day)
    name = f"{period} {utc_date(start_ms).isoformat()}" if period == "day" else \
        f"week {utc_date(start_ms).isoformat()} to {utc_date(end_ms - 1).isoformat()}"
    why = {PeriodChoice.REQUESTED: "as requested",
           PeriodChoice.LATEST_COMPLETE: f"the latest complete {period} by {home.describe()}",
           PeriodChoice.RUN_END: f"the last {period} with data, by {home.describe()}"}[by]
    return day, ChosenPeriod(by=by, clock=home.clock, home_time_ms=home.seen_ms, start_ms=start_ms, end_ms=end_ms,
                             summary=f"{name} (UTC): {why}")


def _requested(text: str, today: Date, home: HomeTime) -> Date:
    try:
        day = Date.fromisoformat(text)
    except ValueError:
        raise InvalidArgument(f"date {text!r} is not a YYYY-MM-DD date", field="date", value=text) from None
    if day > today:
        raise InvalidArgument(f"date {text} is after {home.describe()}", field="date", value=text)
    return day


def _saved_engine_or_none(ctx: ToolContext) -> SavedEngine | None:
    """The checkpoint's engine for the open positions; a report is still built without one."""
    try:
        return read_saved_engine(ctx.home, ctx.config, ctx.strategies())
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
    title="Trading report",
)
