"""The report model: what a daily or weekly report says, as validated, JSON-ready values.

Missing data stays missing: a figure that the journal cannot support (no equity snapshot, no closed trade)
is None and a note says why, rather than a zero that reads like a fact.
"""

from __future__ import annotations

from datetime import date as Date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from core.types import RuleId

ReportPeriod = Literal["day", "week"]
# Raised when the figures a report holds change meaning: an archived report of another version fails validation
# and is rebuilt. 2: dust is the account's (closed trades counted with the symbols' rules).
ACCOUNTING_VERSION: Literal[2] = 2


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class TradeLine(_Frozen):
    """One closed trade, as shown for the best and the worst of a period."""

    position_id: str
    symbol: str
    strategy: str | None
    pnl: Decimal
    pnl_pct: float
    closed_ms: int


class TradeSummary(_Frozen):
    """Positions closed in the period. Ratios are None when there is no trade to compute them from."""

    count: int = Field(ge=0)
    wins: int = Field(ge=0)
    losses: int = Field(ge=0)
    win_rate: float | None
    profit_factor: float | None
    expectancy: float | None
    best: TradeLine | None
    worst: TradeLine | None


class StrategySummary(_Frozen):
    trades: int = Field(ge=0)
    wins: int = Field(ge=0)
    pnl: Decimal


class BreakerLine(_Frozen):
    time_ms: int
    breaker: str
    transition: str
    level: str
    value_pct: float
    limit_pct: float
    message: str


class ReasonCount(_Frozen):
    """How many skipped decisions one rule refused (a decision counts once per rule)."""

    rule: RuleId
    label: str
    count: int = Field(ge=1)


class DecisionSummary(_Frozen):
    entered: int = Field(ge=0)
    skipped: int = Field(ge=0)
    exited: int = Field(ge=0)
    top_skip_reasons: list[ReasonCount]


class OpenPositionLine(_Frozen):
    symbol: str
    strategy: str | None
    quantity: Decimal
    avg_entry: Decimal
    stop_price: Decimal | None
    take_profit_price: Decimal | None


class DustLine(_Frozen):
    """The account's dust of one symbol at the end of the period: units no order could sell on their own."""

    symbol: str
    quantity: Decimal
    cost: Decimal = Field(description="what those units cost, buy fees included")
    value: Decimal | None = Field(description="at the latest market price the engine had; None when not known")


class LlmSummary(_Frozen):
    calls: int = Field(ge=0)
    failures: int = Field(ge=0)


class Report(_Frozen):
    """A daily or weekly report over [start_ms, end_ms), UTC; `date` is the period's first day.

    `pnl` is the change of equity over the period (from the last snapshot before it, or its first one);
    `realized_pnl` and `fees` come from replaying the journal's fills through the portfolio accounting.
    `sharpe`/`sortino` are annualized over the daily returns of the `ratio_window_days` ending with the
    period, because a single day holds one daily return and would never have a ratio at all.
    `partial` marks a report built before its period ended.

    Dust (units left below the lot step or the minimum notional) belongs to no strategy: `dust_pnl` is the
    realized P&L of dust sold with a later exit (part of `realized_pnl`, shown under `per_strategy["dust"]`,
    in no trade), `dust` what is left at the end of the period. `dust_value` is its market value when the
    report covers the engine's present (None otherwise); equity values it at market either way.
    """

    accounting: Literal[2] = Field(description="ACCOUNTING_VERSION of the build; another one is rebuilt")
    period: ReportPeriod
    date: str
    start_ms: int
    end_ms: int
    quote_asset: str
    partial: bool = False
    equity_start: Decimal | None
    equity_end: Decimal | None
    equity_points: int = Field(ge=0)
    pnl: Decimal | None
    pnl_pct: float | None
    fills: int = Field(ge=0)
    realized_pnl: Decimal
    fees: Decimal
    unpriced_fees: dict[str, Decimal] = Field(default_factory=dict)
    dust_pnl: Decimal = Decimal(0)
    dust: list[DustLine] = Field(default_factory=list)
    dust_value: Decimal | None = None
    trades: TradeSummary
    per_strategy: dict[str, StrategySummary]
    max_drawdown_pct: float | None
    sharpe: float | None
    sortino: float | None
    ratio_window_days: int = Field(ge=1)
    breaker_events: list[BreakerLine]
    clamps: dict[str, int]
    decisions: DecisionSummary
    open_positions: list[OpenPositionLine] | None = None
    errors: dict[str, int]
    llm: LlmSummary
    notes: list[str]

    @property
    def day(self) -> Date:
        return Date.fromisoformat(self.date)
