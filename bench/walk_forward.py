"""Walk-forward evidence for the adaptive strategy mix and the Kelly recovery rule, over real candles.

    .venv/bin/python bench/walk_forward.py [CANDLES] [--json]

CANDLES defaults to ../shared/fixtures/candles/binance_spot_5m_nfi (8 USDT pairs, 5-minute bars, Dec 2020 –
Jul 2021). Four runs of the full engine (strategies, risk, paper simulator, journal) over the same bars:

- fixed mix, recovery on: the configured allocations all along (ADAPT off), Kelly ageing toward the prior;
- adaptive mix, recovery on: the defaults (the mix adjusted once per UTC day from the trades closed so far);
- fixed mix, recovery off, and adaptive mix, recovery off: the same with a Kelly estimate that never ages (an
  infinite half-life, built here around validation: the setting itself is bounded), i.e. the rule before the
  recovery existed: a strategy whose estimate reaches 0 never trades again.

Walk-forward by construction: each day's adjustment uses only the trades closed before it, and sizing only the
trades closed before each signal; nothing is fitted on the whole period. Prints per run the closed trades, the
realized P&L, the end equity, the maximum drawdown and the adjustments made, then trades, wins and P&L per
regime at entry (core.regime) and per strategy. A benchmark, not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from core.config import AdaptConfig, ExecutorConfig, RiskConfig  # noqa: E402
from core.engine import Notice, Record  # noqa: E402
from memory.journal import Journal  # noqa: E402
from runtime.pump import Pump  # noqa: E402
from runtime.run_mode import RunMode  # noqa: E402
from runtime.session import new_session  # noqa: E402
from runtime.sources import recorded_source  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "fixtures" / "candles" / "binance_spot_5m_nfi"
BALANCE = Decimal(10_000)


@dataclass(frozen=True)
class Variant:
    name: str
    adaptive: bool
    recovery: bool

    def config(self) -> ExecutorConfig:
        risk = RiskConfig()
        if not self.recovery:  # no ageing: bypasses the setting's bound on purpose, to measure the old rule
            risk = RiskConfig.model_construct(**{**risk.model_dump(), "kelly_recovery_half_life_hours": math.inf})
        return ExecutorConfig(risk=risk, adapt=AdaptConfig(enabled=self.adaptive))


VARIANTS = (Variant("fixed mix, recovery on", False, True), Variant("adaptive mix, recovery on", True, True),
            Variant("fixed mix, recovery off", False, False), Variant("adaptive mix, recovery off", True, False))


def run(variant: Variant, data: Path, cache: Path, scratch: Path) -> dict[str, Any]:
    source = recorded_source(data, cache_dir=cache)
    config = variant.config()
    session = new_session(RunMode.REPLAY, config, source.rules, source.symbols, source.start_ms, "USDT", BALANCE)
    engine = session.engine
    adjustments: list[str] = []

    def on_record(record: Record) -> None:
        if isinstance(record, Notice) and record.kind == "strategy_mix":
            adjustments.append(record.message)

    journal = Journal(scratch / f"{variant.name.replace(' ', '_').replace(',', '')}.db", durable=False)
    pump = Pump(engine, session.exchange, journal, on_record=on_record)
    started = time.perf_counter()
    try:
        with journal.batch():
            for event in source.events:
                pump.handle(event)
    finally:
        journal.close()
    by_regime: dict[str, list[float]] = defaultdict(list)
    by_strategy: dict[str, list[float]] = defaultdict(list)
    for name, outcomes in engine.outcomes.items():
        for outcome in outcomes:
            by_regime["warming_up" if outcome.regime is None else outcome.regime.value].append(outcome.pnl)
            by_strategy[str(name)].append(outcome.pnl)
    portfolio = engine.portfolio
    marks = {s: Decimal(repr(f.last_price)) for s, f in engine.features.items() if f.last_price is not None}
    return {"variant": variant.name, "trades": sum(len(v) for v in by_strategy.values()),
            "realized_pnl": float(portfolio.realized_pnl), "equity_end": float(portfolio.equity(marks)),
            "max_drawdown_pct": round(engine.max_drawdown_pct, 4), "adjustments": len(adjustments),
            "final_mix": {str(k): round(v, 4) for k, v in sorted(engine.config.strategies.allocation.items())},
            "by_regime": _groups(by_regime), "by_strategy": _groups(by_strategy),
            "elapsed_s": round(time.perf_counter() - started, 1)}


def _groups(groups: dict[str, list[float]]) -> dict[str, dict[str, Any]]:
    return {k: {"trades": len(v), "wins": sum(p > 0 for p in v), "pnl": round(math.fsum(v), 2)}
            for k, v in sorted(groups.items())}


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| run | trades | realized P&L (USDT) | end equity (USDT) | max drawdown | mix adjustments | final mix |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        mix = ", ".join(f"{k} {v:.2f}" for k, v in r["final_mix"].items() if v)
        lines.append(f"| {r['variant']} | {r['trades']} | {r['realized_pnl']:+.2f} | {r['equity_end']:.2f} | "
                     f"{r['max_drawdown_pct']:.2f}% | {r['adjustments']} | {mix} |")
    lines += ["", *_breakdown(results, "by_regime", "{trades} / {wins} won / {pnl:+.2f}")]
    lines += ["", *_breakdown(results, "by_strategy", "{trades} / {pnl:+.2f}")]
    return "\n".join(lines)


def _breakdown(results: list[dict[str, Any]], key: str, cell: str) -> list[str]:
    """One row per run, one column per group of `key` (a regime, a strategy), each cell formatted by `cell`."""
    groups = sorted({k for r in results for k in r[key]})
    lines = ["| run | " + " | ".join(groups) + " |", "| --- |" + " ---: |" * len(groups)]
    for r in results:
        cells = [cell.format(**r[key][k]) if k in r[key] else "–" for k in groups]
        lines.append(f"| {r['variant']} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("data", nargs="?", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        cache = Path(scratch) / "cache"
        results = [run(variant, args.data.resolve(), cache, Path(scratch)) for variant in VARIANTS]
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
