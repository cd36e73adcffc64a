"""A backtest: one market source through the full engine (strategies, risk, simulator, journal), as fast as it goes.

The result is deterministic: the same inputs and seed give the same document byte for byte, apart from
`elapsed_s`. Its journal and report land in `<home>/backtests/<run id>/`, where the run id is a digest of
the inputs, so re-running the same backtest replaces its own previous output and nothing else. The journal
ends with the finished engine's checkpoint (and the rules it traded under), so that folder is a home that
`status` and `report` read like any other (`--home <home>/backtests/<run id>`).
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.config import ExecutorConfig
from core.display import fixed
from core.engine import Record
from core.filters import SymbolRules
from core.portfolio import ClosedTrade, Portfolio
from core.strategies.registry import StrategySet
from memory.files import write_json_atomic
from memory.journal import Journal
from runtime.checkpoint import Checkpoint
from runtime.pump import Pump
from runtime.run_mode import RunMode
from runtime.session import new_session
from runtime.sources import MarketSource
from runtime.venues import venue_for
from tools.spec import wall_clock_ms

Progress = Callable[[int], None]
DEFAULT_QUOTE_PLACES = 8  # Binance's quoteAssetPrecision of USDT
DUST = "dust"  # the per-strategy line of dust sold with later exits: no strategy's P&L


@dataclass
class StrategyTally:
    trades: int = 0
    wins: int = 0
    pnl: Decimal = Decimal(0)

    def as_dict(self, places: int = DEFAULT_QUOTE_PLACES) -> dict[str, Any]:
        return {"trades": self.trades, "wins": self.wins, "pnl": fixed(self.pnl, places),
                "win_rate": round(self.wins / self.trades, 4) if self.trades else None}


@dataclass
class Tally:
    per_strategy: dict[str, StrategyTally] = field(default_factory=dict)
    notices: dict[str, int] = field(default_factory=dict)

    def __call__(self, record: Record) -> None:
        if isinstance(record, ClosedTrade):
            name = "manual" if record.strategy is None else str(record.strategy)
            tally = self.per_strategy.setdefault(name, StrategyTally())
            tally.trades += 1
            tally.wins += record.pnl > 0
            tally.pnl += record.pnl
        elif hasattr(record, "kind"):
            kind = record.kind  # type: ignore[union-attr]
            self.notices[kind] = self.notices.get(kind, 0) + 1


def quote_places(rules: Mapping[str, SymbolRules], quote_asset: str) -> int:
    """The quote asset's precision for amounts in a summary: exchangeInfo's quoteAssetPrecision of the symbols
    quoted in it (DEFAULT_QUOTE_PLACES without one)."""
    return max((r.quote_precision for r in rules.values() if r.quote_asset == quote_asset),
               default=DEFAULT_QUOTE_PLACES)


def dust_summary(portfolio: Portfolio, places: int) -> dict[str, Any]:
    """The account's dust for a summary, at the engine's latest marks: it is in `equity_end`, in no position and in
    no strategy's P&L. `realized_pnl` is what dust sold with later exits made (part of the total realized P&L)."""
    marks = {s: Decimal(repr(p)) for s, p in portfolio.last_marks().items()}
    holdings = {symbol: {"quantity": str(d.quantity), "cost": fixed(d.cost, places),
                         "value": fixed(d.value(marks[symbol]), places) if symbol in marks else None}
                for symbol, d in sorted(portfolio.dust_holdings().items())}
    return {"value": fixed(portfolio.dust_value(), places),
            "cost": fixed(sum((d.cost for d in portfolio.dust_holdings().values()), Decimal(0)), places),
            "realized_pnl": fixed(portfolio.dust_realized_pnl, places), "holdings": holdings}


def run_id(parts: dict[str, Any]) -> str:
    text = "|".join(f"{k}={parts[k]}" for k in sorted(parts))
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def run_backtest(source: MarketSource, config: ExecutorConfig, out_dir: Path, *, quote_balance: Decimal,
                 quote_asset: str = "USDT", progress: Progress | None = None,
                 progress_every: int = 50_000, strategies: StrategySet | None = None) -> dict[str, Any]:
    started = time.perf_counter()
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    session = new_session(RunMode.REPLAY, config, source.rules, source.symbols, source.start_ms, quote_asset,
                          quote_balance, strategies=strategies)
    engine, exchange = session.engine, session.exchange
    portfolio = engine.portfolio
    journal = Journal(out_dir / "journal.db", durable=False)  # a derived artifact: rebuilt by re-running
    tally = Tally()
    pump = Pump(engine, exchange, journal, on_record=tally)
    equity_start = portfolio.equity()
    events = 0
    handle = pump.handle
    try:
        with journal.batch():
            for events, event in enumerate(source.events, 1):
                handle(event)
                if progress is not None and events % progress_every == 0:
                    progress(events)
            journal.save_checkpoint(Checkpoint.model_validate({
                "source_id": f"backtest:{out_dir.name}", "cursor": events, "finished": True, "mode": RunMode.REPLAY,
                "venue": venue_for(RunMode.REPLAY), "rules": {s: source.rules[s] for s in engine.symbols},
                "engine": engine.to_state(), "paper": exchange.to_state()}).document(), written_ms=wall_clock_ms())
    finally:
        journal.close()
    marks = {s: Decimal(repr(f.last_price)) for s, f in engine.features.items() if f.last_price is not None}
    equity_end = portfolio.equity(marks)
    places = quote_places(source.rules, quote_asset)
    per_strategy = {k: v.as_dict(places) for k, v in sorted(tally.per_strategy.items())}
    if portfolio.dust_realized_pnl:
        per_strategy[DUST] = StrategyTally(pnl=portfolio.dust_realized_pnl).as_dict(places)
    summary: dict[str, Any] = {
        "source": source.description,
        "rules": source.rules_origin,
        "symbols": source.symbols,
        "bars": pump.bars,
        "events": events,
        "orders": pump.orders_sent,
        "rejections": pump.rejections,
        "trades": pump.trades_closed,
        "equity_start": str(equity_start),
        "equity_end": fixed(equity_end, places),
        "return_pct": round(float((equity_end / equity_start - 1) * 100), 4) if equity_start else None,
        "cash": fixed(portfolio.cash, places),
        "realized_pnl": fixed(portfolio.realized_pnl, places),
        "fees": fixed(portfolio.fees_paid, places),
        "dust": dust_summary(portfolio, places),
        "open_positions": {s: {"quantity": str(p.quantity), "avg_entry": str(p.avg_entry),
                               "stop": str(p.stop_price) if p.stop_price else None,
                               "protected_by": p.protection_list_id}
                           for s, p in sorted(portfolio.positions().items())},
        "max_drawdown_pct": round(engine.max_drawdown_pct, 4),
        "per_strategy": per_strategy,
        "notices": dict(sorted(tally.notices.items())),
        "breaker_level": engine.breakers.level(engine.now_ms).value,
        "journal": str(out_dir / "journal.db"),
        "report": str(out_dir / "report.json"),
    }
    write_json_atomic(out_dir / "report.json", summary)
    summary["elapsed_s"] = round(time.perf_counter() - started, 3)
    return summary
