"""Strategies: each fires just past its thresholds and not at them, with the configured exits."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import StrategyConfig
from core.events import Bar, Book, TradePrint
from core.features import FeatureError, PairSpread, SymbolFeatures
from core.strategies.momentum import MomentumConfig, momentum_fires, momentum_signal
from core.strategies.scalping import ScalpingConfig, scalping_fires, scalping_signal
from core.strategies.stat_arb import StatArbConfig, pair_laggard, pair_reverted, pair_signal
from core.types import StrategyName
from tests.core.symbol_signals import symbol_signals

CONFIG = StrategyConfig()
SCALP = ScalpingConfig()
MOMENTUM = MomentumConfig()
STAT_ARB = StatArbConfig()
FIVE_MIN = 300_000
NOW = 1_700_000_000_000


def above(x: float) -> float:
    return math.nextafter(x, math.inf)


def below(x: float) -> float:
    return math.nextafter(x, -math.inf)


def features(imbalance: float | None = None, spread: float | None = None, momentum: float | None = None,
             price: float | None = 100.1, source: str | None = "book", symbol: str = "BTCUSDT",
             window: int = MOMENTUM.window_bars) -> SymbolFeatures:
    """Real SymbolFeatures with their public fields set, to hit a threshold exactly."""
    f = SymbolFeatures(symbol, window)
    f.imbalance, f.imbalance_source, f.spread_bps, f.momentum_pct, f.last_price = (
        imbalance, source, spread, momentum, price)
    return f


# --- scalping ---------------------------------------------------------------------------------------------


def test_scalping_fires_just_past_both_thresholds_with_its_exits() -> None:
    signal = scalping_signal(features(above(0.10), below(8.0)), SCALP, NOW)
    assert signal is not None
    assert signal.strategy == StrategyName("scalping")
    assert (signal.take_profit_pct, signal.stop_loss_pct) == (Decimal("0.3"), Decimal("0.5"))
    assert signal.reference_price == Decimal("100.1")
    assert signal.time_ms == NOW
    assert 0.0 <= signal.confidence <= 1.0


@pytest.mark.parametrize(
    ("imbalance", "spread"),
    [(0.10, 3.0), (below(0.10), 3.0), (0.3, 8.0), (0.3, above(8.0)), (None, 3.0), (0.3, None), (-0.5, 1.0)],
)
def test_scalping_does_not_fire_at_or_before_a_threshold(imbalance: float | None, spread: float | None) -> None:
    assert scalping_signal(features(imbalance, spread), SCALP, NOW) is None


def test_scalping_reason_names_the_numbers() -> None:
    signal = scalping_signal(features(0.23, 3.1), SCALP, NOW)
    assert signal is not None
    assert signal.reason == "imbalance 0.230 > 0.1 (book), spread 3.10 bps < 8"


def test_scalping_from_a_real_book_and_trade() -> None:
    f = SymbolFeatures("BTCUSDT", MOMENTUM.window_bars)
    f.on_book(Book("BTCUSDT", NOW, ((60_000.00, 3.0), (59_999.99, 1.0)), ((60_000.01, 2.0), (60_000.02, 1.0))))
    f.on_trade(TradePrint("BTCUSDT", NOW + 1, 60_000.01, 0.1, buyer_is_maker=False))
    signals = symbol_signals(f, CONFIG, NOW + 2)
    assert [s.strategy for s in signals] == [StrategyName("scalping")]
    assert signals[0].reference_price == Decimal("60000.01")
    assert "imbalance 0.143 > 0.1 (book)" in signals[0].reason


def test_scalping_never_fires_on_candle_data_even_with_loose_thresholds() -> None:
    """Candles carry no book, so no spread: scalping must stay silent, while momentum can fire."""
    loose = StrategyConfig(scalping=ScalpingConfig(min_imbalance=0.0, max_spread_bps=1e9),
                           momentum=MomentumConfig(min_imbalance=0.0, min_rise_pct=0.1, window_bars=3))
    f = SymbolFeatures("BTCUSDT", 3)
    fired: list[StrategyName] = []
    for i, close in enumerate([100.0, 100.5, 101.0, 101.5, 102.0, 102.5]):
        f.on_bar(Bar("BTCUSDT", i * FIVE_MIN, (i + 1) * FIVE_MIN - 1, close - 0.5, close, close - 1.0, close, 10.0))
        assert f.spread_bps is None
        fired += [s.strategy for s in symbol_signals(f, loose, NOW)]
    assert fired == [StrategyName("momentum")] * 3


# --- momentum ---------------------------------------------------------------------------------------------


def test_momentum_fires_just_past_both_thresholds_with_its_exits() -> None:
    signal = momentum_signal(features(above(0.12), None, above(0.8), source="trade_flow"), MOMENTUM, NOW)
    assert signal is not None
    assert signal.strategy == StrategyName("momentum")
    assert (signal.take_profit_pct, signal.stop_loss_pct) == (Decimal("1.5"), Decimal("0.8"))
    assert signal.reason.startswith("imbalance 0.120 > 0.12 (trade_flow), rise 0.80% > 0.8% over 12 bars")


@pytest.mark.parametrize(
    ("imbalance", "rise"),
    [(0.12, 2.0), (below(0.12), 2.0), (0.5, 0.8), (0.5, below(0.8)), (None, 2.0), (0.5, None), (0.5, -3.0)],
)
def test_momentum_does_not_fire_at_or_before_a_threshold(imbalance: float | None, rise: float | None) -> None:
    assert momentum_signal(features(imbalance, None, rise), MOMENTUM, NOW) is None


def test_momentum_refuses_features_measured_over_another_window() -> None:
    with pytest.raises(FeatureError, match="window_bars=12"):
        momentum_signal(features(0.5, None, 2.0, window=5), MOMENTUM, NOW)


def test_momentum_from_bars_fires_only_once_the_window_has_risen() -> None:
    """Closes climb 0.1% a bar, each closing at its high (close location +1)."""
    f = SymbolFeatures("BTCUSDT", MOMENTUM.window_bars)
    fired_at = []
    for i in range(20):
        close = 100.0 * 1.001**i
        f.on_bar(Bar("BTCUSDT", i * FIVE_MIN, (i + 1) * FIVE_MIN - 1, close * 0.999, close, close * 0.998, close, 5.0))
        if symbol_signals(f, CONFIG, (i + 1) * FIVE_MIN):
            fired_at.append(i)
    # The rise over 12 bars is 1.001**12 − 1 = 1.2% > 0.8%: first possible at bar 12 (13 closes).
    assert fired_at == list(range(12, 20))


# --- stat arb -----------------------------------------------------------------------------------------------


def pair_with(z: float | None) -> tuple[PairSpread, SymbolFeatures, SymbolFeatures]:
    pair = PairSpread("BTCUSDT", "ETHUSDT", STAT_ARB.window_bars)
    pair.z = z
    return pair, features(symbol="BTCUSDT", price=40_000.0), features(symbol="ETHUSDT", price=2_500.0)


def test_rich_a_buys_b_just_past_plus_z_entry() -> None:
    signal = pair_signal(*pair_with(above(2.0)), STAT_ARB, NOW)
    assert signal is not None
    assert (signal.symbol, signal.strategy) == ("ETHUSDT", StrategyName("stat_arb"))
    assert signal.reference_price == Decimal("2500.0")
    assert (signal.take_profit_pct, signal.stop_loss_pct) == (Decimal("1.0"), Decimal("1.0"))
    assert "BTCUSDT rich, buy the laggard ETHUSDT" in signal.reason


def test_cheap_a_buys_a_just_past_minus_z_entry() -> None:
    signal = pair_signal(*pair_with(below(-2.0)), STAT_ARB, NOW)
    assert signal is not None
    assert signal.symbol == "BTCUSDT"
    assert signal.reason.startswith("z -2.00 < -2 on log(BTCUSDT/ETHUSDT) over 288 bars")


@pytest.mark.parametrize("z", [2.0, -2.0, 0.0, 1.99, None])
def test_stat_arb_does_not_fire_inside_the_band(z: float | None) -> None:
    assert pair_signal(*pair_with(z), STAT_ARB, NOW) is None


@pytest.mark.parametrize(("z", "reverted"), [(below(0.5), True), (0.5, False), (-0.2, True), (-0.5, False),
                                             (3.0, False), (None, False)])
def test_reversion_exit_is_strictly_inside_z_exit(z: float | None, reverted: bool) -> None:
    pair, _, _ = pair_with(z)
    assert pair_reverted(pair, STAT_ARB) is reverted


def test_stat_arb_end_to_end_on_a_moving_ratio() -> None:
    """A quiet ratio, then A jumps (buy B), then A collapses (buy A), then the ratio comes back."""
    config = StatArbConfig(window_bars=20)
    pair = PairSpread("BTCUSDT", "ETHUSDT", 20)
    btc, eth = SymbolFeatures("BTCUSDT", 12), SymbolFeatures("ETHUSDT", 12)

    def step(t: int, a: float, b: float) -> str | None:
        btc.on_trade(TradePrint("BTCUSDT", t, a, 1.0, False))
        eth.on_trade(TradePrint("ETHUSDT", t, b, 1.0, False))
        pair.update(a, b, t)
        signal = pair_signal(pair, btc, eth, config, t)
        return None if signal is None else signal.symbol

    wiggle = [1.0, 1.001, 0.999, 1.0005, 0.9995]
    bought = [step(t, 40_000.0 * wiggle[t % 5], 2_500.0) for t in range(20)]
    assert bought == [None] * 20
    assert pair.z is not None and abs(pair.z) < 2
    assert step(20, 40_000.0 * 1.02, 2_500.0) == "ETHUSDT"
    assert step(21, 40_000.0 * 0.96, 2_500.0) == "BTCUSDT"
    assert not pair_reverted(pair, config)
    for t in range(22, 61):  # the jumps leave the window; the last step is at the wiggle's mean
        step(t, 40_000.0 * wiggle[t % 5], 2_500.0)
    assert pair_reverted(pair, config)


def test_stat_arb_refuses_miswired_inputs() -> None:
    pair, btc, eth = pair_with(3.0)
    with pytest.raises(FeatureError, match="features"):
        pair_signal(pair, eth, btc, STAT_ARB, NOW)
    other = PairSpread("SOLUSDT", "ETHUSDT", STAT_ARB.window_bars)
    with pytest.raises(FeatureError, match="pair"):
        pair_reverted(other, STAT_ARB)
    with pytest.raises(FeatureError, match="window_bars=288"):
        pair_reverted(PairSpread("BTCUSDT", "ETHUSDT", 50), STAT_ARB)


def test_no_price_no_signal() -> None:
    assert scalping_signal(features(0.5, 1.0, price=None), SCALP, NOW) is None
    assert momentum_signal(features(0.5, None, 5.0, price=None), MOMENTUM, NOW) is None
    pair, btc, _ = pair_with(5.0)
    assert pair_signal(pair, btc, features(symbol="ETHUSDT", price=None), STAT_ARB, NOW) is None


# --- confidence ---------------------------------------------------------------------------------------------

evidence = st.floats(min_value=-2.0, max_value=50.0, allow_nan=False)


@given(i1=evidence, i2=evidence, s1=st.floats(0.0, 20.0), s2=st.floats(0.0, 20.0))
def test_scalping_confidence_is_monotone_and_bounded(i1: float, i2: float, s1: float, s2: float) -> None:
    (lo_i, hi_i), (lo_s, hi_s) = sorted((i1, i2)), sorted((s1, s2))
    weak = scalping_signal(features(lo_i, hi_s), SCALP, NOW)
    strong = scalping_signal(features(hi_i, lo_s), SCALP, NOW)
    if weak is not None:
        assert strong is not None
        assert 0.0 <= weak.confidence <= strong.confidence <= 1.0


@given(i1=evidence, i2=evidence, r1=evidence, r2=evidence)
def test_momentum_confidence_is_monotone_and_bounded(i1: float, i2: float, r1: float, r2: float) -> None:
    (lo_i, hi_i), (lo_r, hi_r) = sorted((i1, i2)), sorted((r1, r2))
    weak = momentum_signal(features(lo_i, None, lo_r), MOMENTUM, NOW)
    strong = momentum_signal(features(hi_i, None, hi_r), MOMENTUM, NOW)
    if weak is not None:
        assert strong is not None
        assert 0.0 <= weak.confidence <= strong.confidence <= 1.0


@given(z1=st.floats(-50.0, 50.0), z2=st.floats(-50.0, 50.0))
def test_stat_arb_confidence_grows_with_distance_from_the_mean(z1: float, z2: float) -> None:
    near, far = sorted((z1, z2), key=abs)
    weak = pair_signal(*pair_with(near), STAT_ARB, NOW)
    strong = pair_signal(*pair_with(far), STAT_ARB, NOW)
    if weak is not None:
        assert strong is not None
        assert 0.0 <= weak.confidence <= strong.confidence <= 1.0


def test_confidence_reaches_one_at_the_documented_scale() -> None:
    full_scalp = scalping_signal(features(0.40, 0.0), SCALP, NOW)
    full_momentum = momentum_signal(features(0.42, None, 1.6), MOMENTUM, NOW)
    full_pair = pair_signal(*pair_with(-4.0), STAT_ARB, NOW)
    assert full_scalp is not None and full_momentum is not None and full_pair is not None
    assert full_scalp.confidence == full_momentum.confidence == full_pair.confidence == 1.0


# --- the engine's cheap rules agree with the Signal builders -------------------------------------------------

# What SymbolFeatures can produce: imbalance in [-1, 1], spread >= 0, a rise above -100 %; None when unknown.
maybe_imbalance = st.none() | st.just(math.nan) | st.floats(min_value=-1.0, max_value=1.0)
maybe_spread = st.none() | st.just(math.nan) | st.floats(min_value=0.0, max_value=50.0)
maybe_rise = st.none() | st.just(math.nan) | st.floats(min_value=-99.0, max_value=50.0)
maybe_price = st.none() | st.floats(min_value=1e-6, max_value=1e6)


@given(maybe_imbalance, maybe_spread, maybe_rise, maybe_price)
def test_symbol_rules_fire_exactly_when_a_signal_is_built(imbalance: float | None, spread: float | None,
                                                          rise: float | None, price: float | None) -> None:
    """The engine decides episodes with `*_fires` and builds the Signal only when one starts: if the two ever
    disagreed, an episode would start with no Signal (an assertion in the engine) or a Signal would be missed."""
    f = features(imbalance, spread, rise, price)
    assert scalping_fires(f, SCALP) is (scalping_signal(f, SCALP, NOW) is not None)
    assert momentum_fires(f, MOMENTUM) is (momentum_signal(f, MOMENTUM, NOW) is not None)


@given(st.none() | st.just(math.nan) | st.floats(min_value=-10.0, max_value=10.0), maybe_price, maybe_price)
def test_pair_rule_picks_the_leg_the_signal_buys(z: float | None, price_a: float | None,
                                                 price_b: float | None) -> None:
    pair, btc, eth = pair_with(z)
    btc.last_price, eth.last_price = price_a, price_b
    laggard = pair_laggard(pair, btc, eth, STAT_ARB)
    signal = pair_signal(pair, btc, eth, STAT_ARB, NOW)
    assert (None if laggard is None else laggard.symbol) == (None if signal is None else signal.symbol)
