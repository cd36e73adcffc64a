"""The seeds' strategies (regime_atr, pattern_echo) over real 5-minute candles, through the real engine, paper
exchange, pump and journal: each fires and trades; no decision depends on a bar after it (a replay cut at a bar
decides the same up to the cut); a checkpoint restored mid-run decides as the uninterrupted run; the regime
strategy's stops and sizes stay within their caps."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.clock import MS_PER_DAY, MS_PER_HOUR
from core.config import ExecutorConfig, load_config
from core.engine import Engine, Record
from core.events import Bar
from core.portfolio import ClosedTrade, Portfolio
from core.strategies.base import ReadOnlySymbol
from core.strategies.pattern_echo import PatternEcho
from core.strategies.registry import StrategySet
from core.types import MAX_SIGNAL_SIZE_MULTIPLIER, Decision, DecisionAction, RuleId
from exchange.feeds.rules import offline_rules
from memory.journal import Journal
from runtime.pump import Pump
from runtime.run_mode import RunMode
from runtime.session import new_session
from runtime.venues import restore_exchange, venue_for
from tests.conftest import fixture_path

pytestmark = pytest.mark.fixtures

FIVE_MIN = 300_000
PAIRS = {"BTCUSDT": "BTC_USDT", "ETHUSDT": "ETH_USDT", "SOLUSDT": "SOL_USDT"}
DAYS = 90
SEEDS = ("regime_atr", "pattern_echo")


@pytest.fixture(scope="module")
def bars() -> list[Bar]:
    """The first DAYS days of three pairs, in time order (symbols in a fixed order within a close time)."""
    merged: list[Bar] = []
    for symbol, pair in PAIRS.items():
        with gzip.open(fixture_path("candles", "binance_spot_5m_nfi", f"{pair}-5m.json.gz"), "rt") as fh:
            rows = json.load(fh)
        end = int(rows[0][0]) + DAYS * MS_PER_DAY
        merged += [Bar(symbol, int(r[0]), int(r[0]) + FIVE_MIN - 1, r[1], r[2], r[3], r[4], r[5])
                   for r in rows if int(r[0]) < end]
    return sorted(merged, key=lambda b: (b.close_time_ms, b.symbol))


def _config(name: str) -> ExecutorConfig:
    return load_config({"strategies": {"allocation": {name: 1.0}}})


@dataclass
class Run:
    records: list[Record] = field(default_factory=list)

    def decisions(self, name: str) -> list[Decision]:
        return [r for r in self.records if isinstance(r, Decision) and r.strategy == name]

    def entries(self, name: str) -> list[Decision]:
        return [d for d in self.decisions(name) if d.action is DecisionAction.ENTER]

    def closed(self, name: str) -> list[ClosedTrade]:
        return [r for r in self.records if isinstance(r, ClosedTrade) and r.strategy == name]

    def trace(self, name: str, until_ms: int | None = None) -> list[tuple[Any, ...]]:
        """What the strategy decided and what came of it, comparable across runs."""
        out: list[tuple[Any, ...]] = []
        for r in self.records:
            if isinstance(r, Decision) and r.strategy == name:
                row: tuple[Any, ...] = ("decision", r.time_ms, r.symbol, r.action.value, r.quote_amount,
                                        r.stop_price, r.take_profit_price)
                t = r.time_ms
            elif isinstance(r, ClosedTrade) and r.strategy == name:
                row, t = ("closed", r.closed_ms, r.symbol, r.pnl), r.closed_ms
            else:
                continue
            if until_ms is None or t <= until_ms:
                out.append(row)
        return out


def replay(name: str, bars: list[Bar], tmp: Path, *, restart_at: int | None = None, forget: bool = False) -> Run:
    """Every bar through the engine, paper exchange and pump; at `restart_at` the engine and the simulator are
    saved to JSON and rebuilt from it, as a restart from a checkpoint does (`forget`: without the strategies' own
    state, a control that shows the comparison can fail)."""
    config = _config(name)
    symbols = list(PAIRS)
    rules = offline_rules({s: next(b.close for b in bars if b.symbol == s) for s in symbols})
    session = new_session(RunMode.REPLAY, config, rules, symbols, bars[0].open_time_ms, "USDT", Decimal(10_000),
                          strategies=StrategySet.resolve(config.strategies))
    run = Run()
    journal = Journal(tmp / "journal.db", durable=False)
    pump = Pump(session.engine, session.exchange, journal, on_record=run.records.append)
    try:
        for i, bar in enumerate(bars):
            if i == restart_at:
                pump.flush()
                engine_state = json.loads(json.dumps(pump.engine.to_state()))
                paper_state = json.loads(json.dumps(pump.exchange.to_state()))  # type: ignore[attr-defined]
                if forget:
                    engine_state.pop("strategy_state")
                engine = Engine.from_state(engine_state, config, rules, StrategySet.resolve(config.strategies))
                exchange = restore_exchange(venue_for(RunMode.REPLAY), paper_state, rules)
                pump = Pump(engine, exchange, journal, on_record=run.records.append)
            pump.handle(bar)
        pump.flush()
    finally:
        journal.close()
    return run


@pytest.fixture(scope="module")
def whole(bars: list[Bar], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    return {name: replay(name, bars, tmp_path_factory.mktemp(name)) for name in SEEDS}


@pytest.mark.parametrize("name", SEEDS)
def test_each_seed_strategy_fires_and_trades_on_real_candles(name: str, whole: dict[str, Run]) -> None:
    run = whole[name]
    assert len(run.entries(name)) >= 10
    assert len(run.closed(name)) >= 10
    assert {d.symbol for d in run.entries(name)} == set(PAIRS)


@pytest.mark.parametrize("name", SEEDS)
def test_a_replay_cut_at_a_bar_decides_the_same_up_to_the_cut(name: str, bars: list[Bar], whole: dict[str, Run],
                                                               tmp_path: Path) -> None:
    """No look-ahead: the future is not there, and nothing decided before the cut changes."""
    cut = len(bars) * 3 // 5
    cut_ms = bars[cut - 1].close_time_ms
    truncated = replay(name, bars[:cut], tmp_path)
    expected = whole[name].trace(name, cut_ms)
    assert len([row for row in expected if row[0] == "decision"]) >= 5
    assert truncated.trace(name) == expected


@pytest.mark.parametrize("name", SEEDS)
def test_a_checkpoint_restored_mid_run_decides_as_the_uninterrupted_run(name: str, bars: list[Bar],
                                                                        whole: dict[str, Run], tmp_path: Path) -> None:
    resumed = replay(name, bars, tmp_path, restart_at=len(bars) // 2)
    assert resumed.trace(name) == whole[name].trace(name)


@pytest.mark.parametrize("name", SEEDS)
def test_a_restart_without_the_strategy_state_would_decide_otherwise(name: str, bars: list[Bar],
                                                                     whole: dict[str, Run], tmp_path: Path) -> None:
    """The checkpoint test above can fail: the indicators and the pattern library live only in the strategy's own
    state, and a restart that lost it decides differently."""
    restart_at = len(bars) // 2
    if name == "regime_atr":  # its indicators warm up again within an hour: restart just before an entry
        entry_ms = next(d.time_ms for d in whole[name].entries(name) if d.time_ms > bars[restart_at].close_time_ms)
        restart_at = next(i for i, b in enumerate(bars) if b.close_time_ms >= entry_ms) - 3 * len(PAIRS)
    forgetful = replay(name, bars, tmp_path, restart_at=restart_at, forget=True)
    assert forgetful.trace(name) != whole[name].trace(name)
    assert replay(name, bars, tmp_path / "kept", restart_at=restart_at).trace(name) == whole[name].trace(name)


def test_strategies_read_the_last_completed_hours_regime_through_the_read_only_view(bars: list[Bar]) -> None:
    config = _config("regime_atr")
    rules = offline_rules({s: next(b.close for b in bars if b.symbol == s) for s in PAIRS})
    engine = Engine(config, rules, Portfolio("USDT", {"USDT": Decimal(10_000)}), list(PAIRS), bars[0].open_time_ms,
                    StrategySet.resolve(config.strategies))
    seen = 0
    for bar in bars[: 3 * 288 * 4]:
        engine.on_market(bar)
        reading = engine.features[bar.symbol].regime_reading
        view = ReadOnlySymbol(engine.features[bar.symbol])
        if reading is None:
            assert view.regime is None and view.regime_confidence is None
            continue
        seen += 1
        assert reading.hour_ms + MS_PER_HOUR <= bar.close_time_ms + 1, "an hour is read only once it has closed"
        assert view.regime is reading.regime and view.regime_confidence == reading.confidence
        assert reading is engine.regimes[bar.symbol].reading
    assert seen > 1000


def test_regime_atr_stops_sizes_and_regimes_stay_within_their_rules(whole: dict[str, Run]) -> None:
    entries = whole["regime_atr"].entries("regime_atr")
    for decision in entries:
        assert decision.reference_price is not None and decision.stop_price is not None
        distance = (1 - decision.stop_price / decision.reference_price) * 100
        assert Decimal("0.49") <= distance <= Decimal("5.01"), distance  # the tick rounds the stop up
    multipliers = [r for d in entries for r in d.reasons if r.rule is RuleId.SIZING_STRATEGY_MULTIPLIER]
    assert multipliers, "the regime's size multiplier is applied and said"
    assert all(f"at most ×{MAX_SIGNAL_SIZE_MULTIPLIER:g}" in r.message for r in multipliers)


def test_pattern_echo_learns_a_day_only_once_it_closed(bars: list[Bar]) -> None:
    """A day's pending shape joins the library at the first bar of the next day, never earlier."""
    config = _config("pattern_echo")
    strategies = StrategySet.resolve(config.strategies)
    echo = strategies.by_name["pattern_echo"].strategy
    assert isinstance(echo, PatternEcho)
    cfg = strategies.config_of("pattern_echo")
    grew: list[int] = []
    for bar in (b for b in bars if b.symbol == "BTCUSDT"):
        before = len(echo.echoes["BTCUSDT"].library) if "BTCUSDT" in echo.echoes else 0
        echo.on_bar(bar, cfg)  # type: ignore[arg-type]
        if len(echo.echoes["BTCUSDT"].library) > before:
            grew.append(bar.open_time_ms)
    assert len(grew) >= 5
    assert all(t % MS_PER_DAY == 0 for t in grew), "the library grows only on a day's first bar"
