"""The adaptive mix across a restart, over the real 5-minute candles: a replay stopped mid-day (`stop_at_ms`, the
CLI's `run --stop-at`) and resumed from its home gives the same mix and the same memory versions as one
uninterrupted run; and a rollback restores an earlier mix exactly, which the next start then trades with."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import pytest

from core.clock import MS_PER_DAY
from core.config import AdaptConfig, ExecutorConfig, StrategyConfig
from core.strategies.base import StrategySettings, SymbolStrategy, SymbolView
from core.strategies.registry import Candidate, Origin, OriginKind, StrategySet
from core.strategies.scoring import long_signal
from core.types import Signal, StrategyName
from memory.versions import LearnedVersions
from runtime.home import Home
from runtime.learned_memory import learned_mix, rollback
from runtime.runner import Runner
from runtime.sources import recorded_source
from tests.conftest import fixture_path

SYMBOLS = ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
FROM_MS = int(dt.datetime(2021, 1, 4, tzinfo=dt.UTC).timestamp() * 1000)
TO_MS = FROM_MS + 18 * MS_PER_DAY
# Mid-day and between checkpoints (every 3000 events: more than a day of 3 symbols), so that the first run stops
# with a day's adjustment behind it that no periodic checkpoint published.
STOP_MS = FROM_MS + 9 * MS_PER_DAY + 7 * 3_600_000 + 35 * 60_000


class DipConfig(StrategySettings):
    min_fall_pct: float = 1.0


class Dip(SymbolStrategy[DipConfig]):
    """Buys a fall over the momentum window (a second strategy that trades on candles: scalping needs a book, and
    stat-arb trades rarely, so without it momentum would be the only strategy with evidence to weigh)."""

    name: ClassVar[StrategyName] = StrategyName("dip")
    config_model = DipConfig
    summary: ClassVar[str] = "a fall over the momentum window"

    def fires(self, features: SymbolView, config: DipConfig) -> bool:
        fall = features.momentum_pct
        return fall is not None and fall < -config.min_fall_pct and features.last_price is not None

    def signal(self, features: SymbolView, config: DipConfig, now_ms: int) -> Signal | None:
        if not self.fires(features, config) or features.last_price is None:
            return None
        return long_signal(features.symbol, self.name, 0.5, features.last_price, Decimal("1"), Decimal("1"), now_ms,
                           "dip")


# A few closed trades are enough evidence here, so that adjustments happen within the window.
CONFIG = ExecutorConfig(strategies=StrategyConfig(allocation={"scalping": 0.0, "momentum": 0.5, "dip": 0.45,
                                                              "stat_arb": 0.05}),
                        adapt=AdaptConfig(min_trades=4, max_step=0.05))
STRATEGIES = StrategySet.resolve(CONFIG.strategies, [Candidate(Dip, Origin(OriginKind.IMPORT_PATH, __name__))])


@pytest.fixture(scope="module")
def candles() -> Path:
    return fixture_path("candles", "binance_spot_5m_nfi")


def replay(root: Path, candles: Path, stop_at_ms: int | None = None, config: ExecutorConfig = CONFIG) -> tuple[
        dict[str, Any], dict[str, float]]:
    home = Home(root).ensure()
    source = recorded_source(candles, SYMBOLS, FROM_MS, TO_MS, cache_dir=home.candle_cache)
    runner = Runner(home, config, source, "two-halves", Decimal(10_000), checkpoint_every=3_000, speed=None,
                    view=None, stop_at_ms=stop_at_ms, strategies=STRATEGIES)
    summary = runner.run_to_end()
    return summary, dict(runner.engine.config.strategies.allocation)


def versions_of(root: Path) -> list[tuple[int, int, str, dict[str, Any]]]:
    versions = LearnedVersions(root)
    return [(v.number, v.written_ms, v.reason, v.learned) for v in map(versions.read, versions.numbers())]


@pytest.fixture(scope="module")
def whole(candles: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], dict[str, float]]:
    root = tmp_path_factory.mktemp("whole")
    summary, mix = replay(root, candles)
    assert summary["finished"], summary
    return root, summary, mix


def test_two_halves_with_a_restart_give_the_same_mix_and_versions(
        candles: Path, tmp_path: Path, whole: tuple[Path, dict[str, Any], dict[str, float]]) -> None:
    whole_root, whole_summary, whole_mix = whole
    first, _ = replay(tmp_path, candles, stop_at_ms=STOP_MS)
    assert not first["finished"] and "stop-at" in first["stopped_because"], first
    second, halves_mix = replay(tmp_path, candles)
    assert second["finished"] and second["resumed_from"] == first["events"], second

    expected = versions_of(whole_root)
    changed = [v for v in expected if v[3].get("adaptation") and v[3]["adaptation"]["changed"]]
    days = {v[1] // MS_PER_DAY for v in changed}
    assert len(changed) >= 3 and len(days) >= 3, "the window must hold adjustments on several days"
    assert any(v[1] < STOP_MS for v in changed) and any(v[1] > STOP_MS for v in changed)
    assert halves_mix == whole_mix != dict(CONFIG.strategies.allocation)
    assert versions_of(tmp_path) == expected
    assert second["equity_end"] == whole_summary["equity_end"]


def test_rollback_restores_an_earlier_mix_exactly_and_the_engine_uses_it(candles: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    replay(home, candles, stop_at_ms=STOP_MS)
    versions = LearnedVersions(home)
    adjusted = [n for n in versions.numbers() if (versions.read(n).learned.get("adaptation") or {}).get("changed")]
    target = versions.read(adjusted[0])
    assert learned_mix(target.learned) != learned_mix(versions.current()[0].learned)  # type: ignore[union-attr]
    written = rollback(Home(home), target.number, wall_ms=1)
    assert versions.read(written["version"]).learned == target.learned
    # The restarted engine trades with the restored mix from its first event (stopped again at once to look).
    _, mix = replay(home, candles, stop_at_ms=STOP_MS + 1)
    assert {k: v for k, v in mix.items() if v} == {k: v for k, v in learned_mix(target.learned).items() if v}
