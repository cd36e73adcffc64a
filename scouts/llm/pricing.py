"""What a call costs, in exact dollars (Decimal), from its token usage and the time it was made.

DeepSeek's pricing page (checked 2026-11, ARCHITECTURE.md "Facts from outside"): per 1M tokens,
`deepseek-flash` $0.003 input on a cache hit, $0.15 on a miss, $0.60 output; `deepseek-v4-pro` $0.022 /
$0.66 / $1.98; both cost double in peak hours, Beijing time (UTC+8, no daylight saving) 09:00–12:00 and
14:00–18:00 on weekdays. Prices are configuration (`LLM_PRICES`): these are the defaults. Pure: the call's
time is passed in.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from scouts.llm.usage import TokenUsage

PER_TOKENS = Decimal(1_000_000)
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
# [start, end) hours, Beijing time, Monday to Friday.
PEAK_HOURS: tuple[tuple[int, int], ...] = ((9, 12), (14, 18))


class ModelPrice(BaseModel):
    """Dollars per 1M tokens, and the factor applied in DeepSeek's peak hours."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cache_hit: Decimal = Field(ge=0, allow_inf_nan=False)
    cache_miss: Decimal = Field(ge=0, allow_inf_nan=False)
    output: Decimal = Field(ge=0, allow_inf_nan=False)
    peak_multiplier: Decimal = Field(default=Decimal(2), ge=1, le=10, allow_inf_nan=False)


DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "deepseek-flash": ModelPrice(cache_hit=Decimal("0.003"), cache_miss=Decimal("0.15"), output=Decimal("0.60")),
    "deepseek-v4-pro": ModelPrice(cache_hit=Decimal("0.022"), cache_miss=Decimal("0.66"), output=Decimal("1.98")),
}
FREE = ModelPrice(cache_hit=Decimal(0), cache_miss=Decimal(0), output=Decimal(0), peak_multiplier=Decimal(1))


def is_peak(time_ms: int) -> bool:
    """Whether `time_ms` (epoch milliseconds) falls in DeepSeek's peak hours."""
    local = datetime.fromtimestamp(time_ms / 1000, UTC).astimezone(BEIJING)
    return local.weekday() < 5 and any(start <= local.hour < end for start, end in PEAK_HOURS)


def call_cost(usage: TokenUsage, price: ModelPrice, time_ms: int) -> Decimal:
    """Dollars for one answered attempt.

    Input is charged at the cache-hit price for `cache_hit_tokens` and at the miss price for the rest of
    `prompt_tokens` (a server that reports no cache split is charged all at the miss price; one whose split
    does not add up is charged for the larger of the two readings, never the smaller).
    """
    hit = usage.cache_hit_tokens or 0
    miss = max(usage.cache_miss_tokens or 0, usage.prompt_tokens - hit)
    base = (hit * price.cache_hit + miss * price.cache_miss + usage.completion_tokens * price.output) / PER_TOKENS
    return base * price.peak_multiplier if is_peak(time_ms) else base
