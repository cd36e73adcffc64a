"""The paid provider's budgets: dollars and tokens per UTC day and per UTC month, read from the journal.

A call is refused before it is sent once any budget is used up (spent >= limit; a limit of 0 refuses every
call). The check runs before the call, so the call that crosses a limit completes: a budget can be exceeded
by at most one call's cost. Pure apart from `journal_spend`, which reads the journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from core.clock import utc_day_start
from memory.journal import Journal
from scouts.llm.errors import BudgetReached
from scouts.llm.settings import VARIABLE_OF, LlmSettings


@dataclass(frozen=True, slots=True)
class Spend:
    usd: Decimal
    tokens: int


@dataclass(frozen=True, slots=True)
class PeriodSpend:
    day: Spend
    month: Spend


def period_starts(now_ms: int) -> tuple[int, int]:
    """Epoch milliseconds of the start of `now_ms`'s UTC day and UTC month."""
    day = utc_day_start(now_ms)
    month = datetime.fromtimestamp(day / 1000, UTC).replace(day=1)
    return day, int(month.timestamp()) * 1000


def journal_spend(journal: Journal, provider: str, now_ms: int) -> PeriodSpend:
    day_start, month_start = period_starts(now_ms)
    return PeriodSpend(day=Spend(*journal.llm_spend(provider, day_start)),
                       month=Spend(*journal.llm_spend(provider, month_start)))


def budget_reached(role: str, spend: PeriodSpend, settings: LlmSettings) -> BudgetReached | None:
    """The first budget used up (in the order day dollars, day tokens, month dollars, month tokens), or None."""
    checks: tuple[tuple[str, Decimal | int, Decimal | int], ...] = (
        ("daily_budget_usd", settings.daily_budget_usd, spend.day.usd),
        ("daily_budget_tokens", settings.daily_budget_tokens, spend.day.tokens),
        ("monthly_budget_usd", settings.monthly_budget_usd, spend.month.usd),
        ("monthly_budget_tokens", settings.monthly_budget_tokens, spend.month.tokens),
    )
    for field, limit, used in checks:
        if used >= limit:
            return BudgetReached(role, VARIABLE_OF[field], limit, used)
    return None
