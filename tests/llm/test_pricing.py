"""Cost arithmetic: exact, additive, monotone, doubled in DeepSeek's peak hours and only then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from scouts.llm.pricing import BEIJING, DEFAULT_PRICES, FREE, ModelPrice, call_cost, is_peak
from scouts.llm.usage import TokenUsage
from tests.llm.support import OFF_PEAK_MS, PEAK_MS, utc_ms

FLASH = DEFAULT_PRICES["deepseek-flash"]
PRO = DEFAULT_PRICES["deepseek-v4-pro"]
counts = st.integers(min_value=0, max_value=10**9)
times = st.integers(min_value=utc_ms(2024, 1, 1, 0), max_value=utc_ms(2030, 1, 1, 0))
prices = st.builds(ModelPrice, cache_hit=st.decimals(0, 100, places=4), cache_miss=st.decimals(0, 100, places=4),
                   output=st.decimals(0, 100, places=4))


@st.composite
def usages(draw: st.DrawFn) -> TokenUsage:
    hit, miss, out = draw(counts), draw(counts), draw(counts)
    return TokenUsage(prompt_tokens=hit + miss, completion_tokens=out, cache_hit_tokens=hit, cache_miss_tokens=miss)


def test_the_issue_prices_are_the_defaults() -> None:
    assert (FLASH.cache_hit, FLASH.cache_miss, FLASH.output) == (Decimal("0.003"), Decimal("0.15"), Decimal("0.60"))
    assert (PRO.cache_hit, PRO.cache_miss, PRO.output) == (Decimal("0.022"), Decimal("0.66"), Decimal("1.98"))


def test_one_million_tokens_of_each_kind_cost_the_listed_price() -> None:
    million = 1_000_000
    assert call_cost(TokenUsage(prompt_tokens=million, completion_tokens=0, cache_hit_tokens=million,
                                cache_miss_tokens=0), PRO, OFF_PEAK_MS) == Decimal("0.022")
    assert call_cost(TokenUsage(prompt_tokens=million, completion_tokens=million, cache_hit_tokens=0,
                                cache_miss_tokens=million), PRO, OFF_PEAK_MS) == Decimal("0.66") + Decimal("1.98")
    assert call_cost(TokenUsage(prompt_tokens=million, completion_tokens=0), FLASH, PEAK_MS) == Decimal("0.30")


@given(usages(), prices, times)
def test_cost_is_the_exact_formula(usage: TokenUsage, price: ModelPrice, time_ms: int) -> None:
    base = (Decimal(usage.cache_hit_tokens or 0) * price.cache_hit + Decimal(usage.cache_miss_tokens or 0)
            * price.cache_miss + Decimal(usage.completion_tokens) * price.output) / Decimal(1_000_000)
    assert call_cost(usage, price, time_ms) == (base * 2 if is_peak(time_ms) else base)
    assert call_cost(usage, price, time_ms) >= 0


@given(usages(), usages(), prices, times)
def test_cost_is_additive_over_answers(a: TokenUsage, b: TokenUsage, price: ModelPrice, time_ms: int) -> None:
    both = TokenUsage(prompt_tokens=a.prompt_tokens + b.prompt_tokens,
                      completion_tokens=a.completion_tokens + b.completion_tokens,
                      cache_hit_tokens=(a.cache_hit_tokens or 0) + (b.cache_hit_tokens or 0),
                      cache_miss_tokens=(a.cache_miss_tokens or 0) + (b.cache_miss_tokens or 0))
    assert call_cost(both, price, time_ms) == call_cost(a, price, time_ms) + call_cost(b, price, time_ms)


@given(counts, counts, counts, times)
def test_a_cache_hit_never_costs_more_than_a_miss(hit: int, miss: int, out: int, time_ms: int) -> None:
    prompt = hit + miss
    split = TokenUsage(prompt_tokens=prompt, completion_tokens=out, cache_hit_tokens=hit, cache_miss_tokens=miss)
    unsplit = TokenUsage(prompt_tokens=prompt, completion_tokens=out)
    assert call_cost(split, FLASH, time_ms) <= call_cost(unsplit, FLASH, time_ms)


@given(counts, counts, counts, times)
def test_a_split_that_does_not_add_up_is_charged_the_larger_reading(hit: int, miss: int, prompt: int,
                                                                       time_ms: int) -> None:
    usage = TokenUsage(prompt_tokens=prompt, completion_tokens=0, cache_hit_tokens=hit, cache_miss_tokens=miss)
    as_reported = TokenUsage(prompt_tokens=hit + miss, completion_tokens=0, cache_hit_tokens=hit,
                             cache_miss_tokens=miss)
    counted_hit = min(hit, prompt)
    as_prompt = TokenUsage(prompt_tokens=prompt, completion_tokens=0, cache_hit_tokens=counted_hit,
                           cache_miss_tokens=prompt - counted_hit)
    cost = call_cost(usage, PRO, time_ms)
    assert cost >= call_cost(as_reported, PRO, time_ms)
    assert cost >= call_cost(as_prompt, PRO, time_ms)


@given(usages(), times)
def test_local_models_are_free(usage: TokenUsage, time_ms: int) -> None:
    assert call_cost(usage, FREE, time_ms) == 0


@given(times)
def test_peak_is_beijing_weekdays_nine_to_twelve_and_two_to_six(time_ms: int) -> None:
    local = datetime.fromtimestamp(time_ms / 1000, UTC).astimezone(BEIJING)
    minutes = local.hour * 60 + local.minute
    expected = local.weekday() < 5 and (9 * 60 <= minutes < 12 * 60 or 14 * 60 <= minutes < 18 * 60)
    assert is_peak(time_ms) == expected


def test_peak_boundaries() -> None:
    wednesday = datetime(2026, 3, 4, tzinfo=BEIJING)
    for hour, minute, peak in [(8, 59, False), (9, 0, True), (11, 59, True), (12, 0, False), (13, 59, False),
                               (14, 0, True), (17, 59, True), (18, 0, False)]:
        moment = wednesday + timedelta(hours=hour, minutes=minute)
        assert is_peak(int(moment.timestamp()) * 1000) is peak, (hour, minute)
    saturday_ten = datetime(2026, 3, 7, 10, tzinfo=BEIJING)
    assert not is_peak(int(saturday_ten.timestamp()) * 1000)
    # Friday 17:00 UTC is Saturday 01:00 in Beijing; Sunday 02:00 UTC is Sunday 10:00: neither is peak.
    assert not is_peak(utc_ms(2026, 3, 8, 2)) and is_peak(utc_ms(2026, 3, 9, 2))
