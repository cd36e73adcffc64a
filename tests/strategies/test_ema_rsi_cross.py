"""The EMA/RSI cross example plugin: its cross rules on the indicators of `core.indicators`, the start-up period,
freqtrade's flat gap-filling mirrored in its indicators, its checkpointed state, and the fee arithmetic of a
take-profit net of both fees."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.events import Bar
from core.indicators import Ema, Rsi
from core.strategies.base import gross_take_profit_pct
from strategies.examples.ema_rsi_cross import CROSS_DOWN, EmaRsiCross, EmaRsiCrossConfig

SYMBOL = "AAAUSDT"
FIVE_MIN = 300_000
START = 1_609_459_200_000


class View:
    def __init__(self, price: float) -> None:
        self.symbol = SYMBOL
        self.last_price = price


def wave(n: int) -> list[float]:
    """Closes that cross up and down many times (two sines of different periods)."""
    return [100.0 + 3.0 * math.sin(i / 7.0) + 1.5 * math.sin(i / 2.3) for i in range(n)]


def bar(i: int, close: float, volume: float = 1e3) -> Bar:
    t = START + i * FIVE_MIN
    return Bar(SYMBOL, t, t + FIVE_MIN - 1, close, close, close, close, volume)


def reference(closes: list[float], startup: int) -> tuple[list[bool], list[bool]]:
    """The rules written out plainly over the whole series (freqtrade's vectorised form)."""
    fast, slow, rsi = Ema(9), Ema(21), Rsi(14)
    f = [fast.update(c) for c in closes]
    s = [slow.update(c) for c in closes]
    r = [rsi.update(c) for c in closes]
    enter, exit_ = [False] * len(closes), [False] * len(closes)
    for i in range(1, len(closes)):
        if None in (f[i], s[i], f[i - 1], s[i - 1]) or i < startup - 1:
            continue
        enter[i] = f[i] > s[i] and f[i - 1] <= s[i - 1] and r[i] is not None and r[i] < 70
        exit_[i] = f[i] < s[i] and f[i - 1] >= s[i - 1]
    return enter, exit_


def run(plugin: EmaRsiCross, config: EmaRsiCrossConfig, bars: list[Bar]) -> tuple[list[bool], list[bool]]:
    enter, exit_ = [], []
    for b in bars:
        plugin.on_bar(b, config)
        enter.append(plugin.fires(View(b.close), config))  # type: ignore[arg-type]
        exit_.append(plugin.exit_reason(View(b.close), config) == CROSS_DOWN)  # type: ignore[arg-type]
    return enter, exit_


def test_entries_and_exits_are_the_crosses_of_the_plain_rules_after_the_start_up() -> None:
    closes = wave(600)
    config = EmaRsiCrossConfig()
    enter, exit_ = run(EmaRsiCross(), config, [bar(i, c) for i, c in enumerate(closes)])
    assert (enter, exit_) == reference(closes, 100)
    assert sum(enter) >= 5 and sum(exit_) >= 5
    assert not any(enter[:99]) and not any(exit_[:99])


def test_a_hole_in_the_data_feeds_flat_closes_to_the_indicators_as_freqtrade_fills_it() -> None:
    closes = wave(600)
    hole = range(300, 306)  # six bars missing: freqtrade's flat candles carry the close before the hole
    filled = [closes[299] if i in hole else c for i, c in enumerate(closes)]
    config = EmaRsiCrossConfig()
    bars = [bar(i, c) for i, c in enumerate(filled) if i not in hole]
    enter, exit_ = run(EmaRsiCross(), config, bars)
    expected_enter, expected_exit = reference(filled, 100)
    kept = [i for i in range(600) if i not in hole]
    assert enter == [expected_enter[i] for i in kept] and exit_ == [expected_exit[i] for i in kept]
    unfilled, _ = run(EmaRsiCross(), config.model_copy(update={"fill_gaps": False}), bars)
    assert unfilled != enter  # without the filling the indicators, and the crosses after the hole, differ


def test_a_bar_without_volume_gives_no_signal() -> None:
    closes = wave(600)
    config = EmaRsiCrossConfig()
    enter, exit_ = run(EmaRsiCross(), config, [bar(i, c) for i, c in enumerate(closes)])
    signal_bars = {i for i, (a, b) in enumerate(zip(enter, exit_, strict=True)) if a or b}
    quiet, quiet_exit = run(EmaRsiCross(), config, [bar(i, c, 0.0 if i in signal_bars else 1e3)
                                                    for i, c in enumerate(closes)])
    assert not any(quiet) and not any(quiet_exit)


def test_a_restored_state_decides_as_the_uninterrupted_run() -> None:
    closes = wave(600)
    config = EmaRsiCrossConfig()
    whole = run(EmaRsiCross(), config, [bar(i, c) for i, c in enumerate(closes)])
    first = EmaRsiCross()
    head = run(first, config, [bar(i, c) for i, c in enumerate(closes[:250])])
    saved = json.loads(json.dumps(first.state()))
    resumed = EmaRsiCross()
    resumed.restore(saved, config)
    tail = run(resumed, config, [bar(i, c) for i, c in enumerate(closes) if i >= 250])
    assert (head[0] + tail[0], head[1] + tail[1]) == whole
    with pytest.raises(ValueError, match="periods"):
        EmaRsiCross().restore(saved, config.model_copy(update={"fast": 8}))


def test_a_signal_carries_the_configured_stop_and_a_net_take_profit() -> None:
    closes = wave(600)
    config = EmaRsiCrossConfig()
    plugin = EmaRsiCross()
    for i, c in enumerate(closes):
        plugin.on_bar(bar(i, c), config)
        if plugin.fires(View(c), config):  # type: ignore[arg-type]
            signal = plugin.signal(View(c), config, bar(i, c).close_time_ms)  # type: ignore[arg-type]
            break
    assert signal is not None and signal.stop_loss_pct == Decimal("2") and signal.take_profit_pct == Decimal("3")
    protection = plugin.protection(config)
    assert protection.take_profit_net_of_fees and not protection.trailing


def test_three_percent_net_of_two_tenth_percent_fees_is_freqtrades_roi_price() -> None:
    gross = gross_take_profit_pct(Decimal("3"), Decimal("0.001"))
    open_rate = Decimal("59820.39")  # freqtrade's BTC/USDT 2021-03-13 17:00 trade closed by ROI at 61738.36
    assert abs(open_rate * (1 + gross / 100) - Decimal("61738.36")) < Decimal("0.01")


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("50"), places=4),
       st.decimals(min_value=Decimal("0"), max_value=Decimal("0.01"), places=5),
       st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal("100000"), places=8))
def test_a_round_trip_at_the_gross_take_profit_nets_the_target(net: Decimal, fee: Decimal, price: Decimal) -> None:
    sell = price * (1 + gross_take_profit_pct(net, fee) / 100)
    assert abs(sell * (1 - fee) / (price * (1 + fee)) - 1 - net / 100) < Decimal("1e-20")
    assert gross_take_profit_pct(net, fee) >= net
