"""Strategies over seven and a half months of recorded Binance 5m candles (BTC/USDT, ETH/USDT)."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal

import pytest

from core.config import StrategyConfig
from core.events import Bar
from core.features import PairSpread, SymbolFeatures
from core.strategies.momentum import MomentumConfig
from core.strategies.scalping import ScalpingConfig
from core.strategies.stat_arb import StatArbConfig, pair_reverted, pair_signal
from core.types import StrategyName
from tests.conftest import fixture_path
from tests.core.symbol_signals import symbol_signals

pytestmark = pytest.mark.fixtures

FIVE_MIN = 300_000


def load_bars(pair: str, symbol: str) -> list[Bar]:
    path = fixture_path("candles", "binance_spot_5m_nfi", f"{pair}-5m.json.gz")
    with gzip.open(path, "rt") as fh:
        rows = json.load(fh)
    return [Bar(symbol, int(r[0]), int(r[0]) + FIVE_MIN - 1, r[1], r[2], r[3], r[4], r[5]) for r in rows]


@pytest.fixture(scope="module")
def btc() -> list[Bar]:
    return load_bars("BTC_USDT", "BTCUSDT")


@pytest.fixture(scope="module")
def eth() -> list[Bar]:
    return load_bars("ETH_USDT", "ETHUSDT")


def test_candle_replay_fires_momentum_only_on_its_own_evidence(btc: list[Bar]) -> None:
    """No book in candles: scalping stays silent even with a limitless spread threshold."""
    config = StrategyConfig(scalping=ScalpingConfig(max_spread_bps=1e9))
    f = SymbolFeatures("BTCUSDT", MomentumConfig().window_bars)
    momentum = 0
    for b in btc:
        f.on_bar(b)
        for signal in symbol_signals(f, config, b.close_time_ms):
            assert signal.strategy == StrategyName("momentum")
            assert f.imbalance_source == "candle_close_location"
            assert f.imbalance is not None and f.imbalance > 0.12
            assert f.momentum_pct is not None and f.momentum_pct > 0.8
            assert signal.reference_price == Decimal(repr(b.close))
            assert "(candle_close_location)" in signal.reason
            momentum += 1
    assert momentum > 100


def test_pair_signals_on_real_btc_eth_buy_the_laggard(btc: list[Bar], eth: list[Bar]) -> None:
    config = StatArbConfig()
    pair = PairSpread(*config.pair, config.window_bars)
    a, b = SymbolFeatures("BTCUSDT", 12), SymbolFeatures("ETHUSDT", 12)
    eth_by_open = {e.open_time_ms: e for e in eth}
    bought: dict[str, int] = {"BTCUSDT": 0, "ETHUSDT": 0}
    reversions = 0
    for bar_a in btc:
        bar_b = eth_by_open.get(bar_a.open_time_ms)
        if bar_b is None:
            continue
        a.on_bar(bar_a)
        b.on_bar(bar_b)
        z = pair.update(bar_a.close, bar_b.close, bar_a.close_time_ms)
        signal = pair_signal(pair, a, b, config, bar_a.close_time_ms)
        if signal is not None:
            assert z is not None
            assert signal.symbol == ("ETHUSDT" if z > config.z_entry else "BTCUSDT")
            assert abs(z) > config.z_entry
            bought[signal.symbol] += 1
        reversions += pair_reverted(pair, config)
    assert bought["BTCUSDT"] > 0
    assert bought["ETHUSDT"] > 0
    assert reversions > 0
