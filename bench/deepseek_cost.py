"""What the DeepSeek analyzer costs a month at the default settings, from the journal of a replay.

    .venv/bin/python bench/deepseek_cost.py [--seed N] [--steps N] [--data PATH] [--balance USDT]

Runs a replay (the synthetic market by default, or recorded data with --data) through the real engine, pump,
paper exchange and journal with the analyzer on: every entry above ANALYZER_MIN_TRADE_PCT of equity is reviewed
by `scouts.analyzer.Analyzer` through the real client, over a socket, by the loopback DeepSeek
(`tests/fakes/openai_compat`) answering realistic verdicts with DeepSeek's `usage`: prompt tokens from the prompt
sent, the part that repeats an earlier prompt's start served from the context cache
(`prompt_cache_hit_tokens`, in 64-token units), the rest a miss. Each call is priced by the client at the
replay's time (peak hours, Beijing 09–12 and 14–18 on weekdays, cost double) and journaled in `llm_calls`.

The figure is then read back from the journal's `llm_calls` rows: dollars per day of replayed market time,
extrapolated to a 30.44-day month, both as priced at the replay's own times and re-priced at the share of peak
hours in a whole week (35 of 168 hours), and set against DEEPSEEK_MONTHLY_BUDGET_USD and
DEEPSEEK_DAILY_BUDGET_USD. Scouts run on LM Studio and cost nothing. Conflict reviews (scout advice against an
entry) need live scouts, which a replay has none of: the figure counts the reviews of large entries only.
This is a benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.config import ExecutorConfig  # noqa: E402
from core.engine import Engine  # noqa: E402
from memory.journal import Journal  # noqa: E402
from runtime.pump import Pump  # noqa: E402
from runtime.run_mode import RunMode  # noqa: E402
from runtime.session import new_session  # noqa: E402
from runtime.settings import analyzer_settings  # noqa: E402
from runtime.sources import MarketSource, recorded_source, synthetic_source  # noqa: E402
from scouts.analyzer import Analyzer  # noqa: E402
from scouts.llm.client import LlmClient  # noqa: E402
from scouts.llm.pricing import call_cost, is_peak  # noqa: E402
from scouts.llm.settings import LlmSettings  # noqa: E402
from scouts.llm.usage import TokenUsage  # noqa: E402
from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply  # noqa: E402

KEY = "sk-bench-0123456789abcdef0123456789ab"
DAYS_PER_MONTH = Decimal("30.44")
PEAK_SHARE = Decimal(35) / Decimal(168)  # 7 peak hours on each of 5 weekdays, of a week's 168 hours
MS_PER_DAY = 86_400_000
RULES = ["risk.max_position_size_pct", "sizing.kelly", "breaker.daily_loss", "risk.max_exposure_pct"]
REASONS = ["the spread is wide for this size and the book is thin on the ask side",
           "momentum is strong but the last three bars closed below their highs; keep the size modest",
           "fine: the stop is close, the position is small against equity and nothing else is open",
           "two losses today already on this strategy; halve it"]


class EngineClock:
    """The replay's time: calls are priced and budgeted at the market time they are made."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def now_ms(self) -> int:
        return self.engine.now_ms


def verdicts(count: int, seed: int) -> list[Reply]:
    """Realistic answers: mostly approve, some reduce, a few veto, each with a sentence of reason."""
    draw = random.Random(seed)
    replies = []
    for _ in range(count):
        roll = draw.random()
        answer: dict[str, object] = {"verdict": "approve" if roll < 0.6 else "reduce" if roll < 0.9 else "veto",
                                     "rule_ids": draw.sample(RULES, draw.randint(1, 2)), "reason": draw.choice(REASONS)}
        if answer["verdict"] == "reduce":
            answer["size_quote"] = str(draw.randint(50, 400))
        replies.append(Reply.json(answer))
    return replies


def source_of(args: argparse.Namespace) -> MarketSource:
    if args.data is not None:
        return recorded_source(args.data)
    return synthetic_source(args.seed, None, args.steps)


def replay(args: argparse.Namespace, fake: FakeOpenAI, journal_path: Path) -> tuple[int, int, int]:
    """Run the replay with the analyzer on; (first, last) market time and the entries sent."""
    env = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": fake.base_url,
           # Budgets out of the way: the point is what the calls would cost, set against the budgets afterwards.
           "DEEPSEEK_DAILY_BUDGET_USD": "1000", "DEEPSEEK_MONTHLY_BUDGET_USD": "1000",
           "DEEPSEEK_DAILY_BUDGET_TOKENS": "1000000000", "DEEPSEEK_MONTHLY_BUDGET_TOKENS": "1000000000"}
    llm, review = LlmSettings.from_env(env), analyzer_settings({})
    source = source_of(args)
    session = new_session(RunMode.REPLAY, ExecutorConfig(), source.rules, source.symbols, source.start_ms, "USDT",
                          Decimal(args.balance))
    engine = session.engine
    journal = Journal(journal_path, durable=False)
    role = llm.analyzer().model_copy(update={"deadline_s": review.deadline_s,
                                             "deadline_variable": "ANALYZER_DEADLINE_S"})
    engine.review = Analyzer(LlmClient(role, llm, journal, clock=EngineClock(engine)), review.min_trade_pct,
                             review.fallback)
    pump = Pump(engine, session.exchange, journal)
    first = last = None
    for event in source.events:
        pump.handle(event)
        first = engine.now_ms if first is None else first
        last = engine.now_ms
    entries = pump.orders_sent
    journal.close()
    return first or source.start_ms, last or source.start_ms, entries


def budget_cap(usd_per_month: Decimal, tokens_per_month: Decimal, llm: LlmSettings) -> tuple[Decimal, str]:
    """The month's spend once the default budgets stop calls, and the budget that stops them first (each budget
    turned into dollars a month at this replay's dollars per token; a budget can be passed by one call)."""
    if tokens_per_month <= 0:
        return usd_per_month, "no call"
    per_token = usd_per_month / tokens_per_month
    caps = {"no budget reached": usd_per_month,
            "DEEPSEEK_MONTHLY_BUDGET_USD": llm.monthly_budget_usd,
            "DEEPSEEK_DAILY_BUDGET_USD": llm.daily_budget_usd * DAYS_PER_MONTH,
            "DEEPSEEK_MONTHLY_BUDGET_TOKENS": llm.monthly_budget_tokens * per_token,
            "DEEPSEEK_DAILY_BUDGET_TOKENS": llm.daily_budget_tokens * DAYS_PER_MONTH * per_token}
    binding = min(caps, key=lambda name: caps[name])
    return caps[binding], binding


def budget_ceiling(usd_per_token: Decimal, llm: LlmSettings) -> tuple[Decimal, str]:
    """The most the default budgets let a month cost however many entries are reviewed, at these dollars per
    token (plus at most one call past it: the check runs before each call)."""
    caps = {"DEEPSEEK_MONTHLY_BUDGET_USD": llm.monthly_budget_usd,
            "DEEPSEEK_DAILY_BUDGET_USD": llm.daily_budget_usd * DAYS_PER_MONTH,
            "DEEPSEEK_MONTHLY_BUDGET_TOKENS": llm.monthly_budget_tokens * usd_per_token,
            "DEEPSEEK_DAILY_BUDGET_TOKENS": llm.daily_budget_tokens * DAYS_PER_MONTH * usd_per_token}
    binding = min(caps, key=lambda name: caps[name])
    return caps[binding], binding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--steps", type=int, default=86_400, help="synthetic steps of one second (default a day)")
    parser.add_argument("--data", type=Path, default=None, help="recorded events or candles instead")
    parser.add_argument("--balance", default="10000")
    args = parser.parse_args()
    llm = LlmSettings.from_env({})
    price = llm.price_of(llm.deepseek_model)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch, FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        fake.script(*verdicts(20_000, args.seed))
        path = Path(scratch) / "journal.db"
        first, last, orders = replay(args, fake, path)
        with Journal(path) as journal:
            calls = [row for row in journal.llm_calls() if row["role"] == "analyzer"]
    days = Decimal(max(last - first, 1)) / MS_PER_DAY
    priced = sum((row["cost_usd"] for row in calls), Decimal(0))
    usages = [TokenUsage(prompt_tokens=row["prompt_tokens"] or 0, completion_tokens=row["completion_tokens"] or 0,
                         cache_hit_tokens=row["cache_hit_tokens"], cache_miss_tokens=row["cache_miss_tokens"])
              for row in calls]
    off_peak = sum((call_cost(u, price, 0) for u in usages), Decimal(0))  # 1970-01-01 00:00 UTC: off-peak
    week_average = off_peak * (1 + PEAK_SHARE * (price.peak_multiplier - 1))
    per_month = priced / days * DAYS_PER_MONTH
    per_month_week = week_average / days * DAYS_PER_MONTH
    tokens = sum((row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0) for row in calls)
    capped, binding = budget_cap(per_month_week, Decimal(tokens) / days * DAYS_PER_MONTH, llm)
    ceiling, ceiling_budget = budget_ceiling(week_average / tokens if tokens else Decimal(0), llm)
    hits = sum(row["cache_hit_tokens"] or 0 for row in calls)
    prompts = sum(row["prompt_tokens"] or 0 for row in calls)
    figures = {
        "market_days": round(float(days), 3), "orders": orders, "reviews": len(calls),
        "reviews_per_day": round(len(calls) / float(days), 2), "peak_calls": sum(is_peak(r["time_ms"]) for r in calls),
        "tokens": tokens, "tokens_per_review": round(tokens / len(calls)) if calls else 0,
        "cache_hit_share": round(hits / prompts, 3) if prompts else 0,
        "usd_priced": str(priced.quantize(Decimal("0.000001"))),
        "usd_per_month_at_replay_times": str(per_month.quantize(Decimal("0.0001"))),
        "usd_per_month_week_average_peak": str(per_month_week.quantize(Decimal("0.0001"))),
        "tokens_per_month": round(tokens / float(days) * float(DAYS_PER_MONTH)),
        "usd_per_month_with_default_budgets": str(capped.quantize(Decimal("0.0001"))), "binding_budget": binding,
        "usd_per_month_ceiling_of_default_budgets": str(ceiling.quantize(Decimal("0.0001"))),
        "ceiling_budget": ceiling_budget,
        "monthly_budget_usd": str(llm.monthly_budget_usd), "daily_budget_usd": str(llm.daily_budget_usd),
        "monthly_budget_tokens": llm.monthly_budget_tokens, "model": llm.deepseek_model,
        "elapsed_s": round(time.monotonic() - started, 1),
    }
    source = f"recorded data {args.data}" if args.data else f"synthetic market seed {args.seed}, {args.steps} steps"
    print(f"replay of {source}: {figures['market_days']} market days, {orders} orders, {len(calls)} reviews "
          f"({figures['reviews_per_day']} a day, {figures['peak_calls']} in peak hours)")
    print(f"  {tokens} tokens ({figures['tokens_per_review']} a review, {figures['cache_hit_share']:.0%} of prompt "
          f"tokens from the cache), ${figures['usd_priced']} as priced")
    print(f"  per month: ${figures['usd_per_month_at_replay_times']} at the replay's times, "
          f"${figures['usd_per_month_week_average_peak']} with a whole week's share of peak hours; "
          f"{figures['tokens_per_month']} tokens")
    print(f"  default budgets: ${llm.monthly_budget_usd} and {llm.monthly_budget_tokens} tokens a month, "
          f"${llm.daily_budget_usd} and {llm.daily_budget_tokens} tokens a day: at most "
          f"${figures['usd_per_month_with_default_budgets']} a month ({binding})")
    if tokens:
        print(f"  however many entries are reviewed, the default budgets stop a month at "
              f"${figures['usd_per_month_ceiling_of_default_budgets']} at these dollars per token ({ceiling_budget})")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
