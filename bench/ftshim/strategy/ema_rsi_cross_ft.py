"""The EMA/RSI cross of `../shared/parity/README.md`, written as a freqtrade strategy (runs in freqtrade's venv only).

Entry when EMA(9) crosses above EMA(21) (above now, at or below on the previous candle) with RSI(14) < 70;
exit signal when EMA(9) crosses below EMA(21) (below now, at or above before); both need volume > 0. Stop −2 %,
minimal ROI +3 %, no trailing stop. The indicators are TA-Lib's, as in the recorded freqtrade run.
"""

from __future__ import annotations

from typing import ClassVar

import talib
from freqtrade.strategy import IStrategy
from pandas import DataFrame


class EmaRsiCrossFt(IStrategy):
    """Long-only EMA(9)/EMA(21) cross with an RSI(14) < 70 filter on 5-minute candles."""

    INTERFACE_VERSION = 3
    timeframe = "5m"
    can_short = False
    minimal_roi: ClassVar[dict[str, float]] = {"0": 0.03}
    stoploss = -0.02
    trailing_stop = False
    process_only_new_candles = True
    use_exit_signal = True
    exit_profit_only = False
    ignore_roi_if_entry_signal = False
    startup_candle_count = 100

    def populate_indicators(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        close = dataframe["close"]
        dataframe["ema_fast"] = talib.EMA(close, timeperiod=9)
        dataframe["ema_slow"] = talib.EMA(close, timeperiod=21)
        dataframe["rsi"] = talib.RSI(close, timeperiod=14)
        return dataframe

    def populate_entry_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast, slow = dataframe["ema_fast"], dataframe["ema_slow"]
        crossed_up = (fast > slow) & (fast.shift(1) <= slow.shift(1))
        dataframe.loc[crossed_up & (dataframe["rsi"] < 70) & (dataframe["volume"] > 0), "enter_long"] = 1
        return dataframe

    def populate_exit_trend(self, dataframe: DataFrame, metadata: dict) -> DataFrame:
        fast, slow = dataframe["ema_fast"], dataframe["ema_slow"]
        crossed_down = (fast < slow) & (fast.shift(1) >= slow.shift(1))
        dataframe.loc[crossed_down & (dataframe["volume"] > 0), "exit_long"] = 1
        return dataframe
