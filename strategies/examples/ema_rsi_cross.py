"""EMA/RSI cross: the strategy freqtrade's reference trade list was made with, as a plugin of this engine.

Long only, per symbol, on closes: EMA(fast) and EMA(slow) seeded like TA-Lib (the mean of the first N closes) and
RSI(rsi_period) with Wilder's smoothing (`core.indicators`), each updated in O(1) per bar in `on_bar`.

- Entry: on a bar where EMA(fast) crosses above EMA(slow) (above now, at or below on the previous bar), RSI below
  `rsi_below` and volume above 0. The engine decides on the bar's close; in a candle replay the market buy fills at
  the next bar's open (the paper simulator's candle mode, `exchange.paper.simulator`).
- Exit signal (`exit_reason`): EMA(fast) crosses below EMA(slow) (below now, at or above before) with volume above 0.
  The engine cancels the protective OCO and sells at market: the next bar's open in a candle replay.
- Protection: a fixed stop `stop_loss_pct` below the entry's fill (`Protection.trailing` off: freqtrade's
  `trailing_stop = False`) and a take-profit of `take_profit_pct` measured NET of both fees
  (`Protection.take_profit_net_of_fees`), freqtrade's "minimal ROI".
- Start-up: no signal before `startup_bars` bars have been seen (freqtrade's `startup_candle_count`): the first
  entry can fill at the open of bar number `startup_bars` (0-based), as freqtrade's first trade does.

Missing candles (exchange downtimes). freqtrade fills a hole in the candle data with flat candles (open = high =
low = close = the previous close, volume 0) before it computes indicators, so its EMAs and RSI move across a hole.
This plugin mirrors that for its own indicators only (`fill_gaps`, on by default): when a bar opens more than one
interval after the previous bar, it feeds the previous close once per missing bar before the bar itself, and a
filled bar, having no volume, gives no signal. The candle data the engine trades on is left as recorded: nothing
fabricates prices the engine could fill at (ARCHITECTURE.md, invariant 7), so a freqtrade trade that entered or
exited on a filled candle's open is one the engine takes at the next real bar; the parity comparison names that
class (`runtime.parity`).

Use it: `STRATEGIES=strategies.examples.ema_rsi_cross:EmaRsiCross executor.py backtest --data <candles> ...` with
the home's `strategies.json` taken from `ema_rsi_cross.strategies.json` beside this file (a fixed stake of 100 USDT
per trade, the built-ins given no allocation). The parity run's environment is `runtime.parity.parity_env()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from pydantic import Field

from core.events import Bar
from core.indicators import Ema, Rsi
from core.strategies.base import Protection, StrategySettings, SymbolStrategy, SymbolView
from core.strategies.scoring import long_signal
from core.types import Signal, StrategyName

EMA_RSI_CROSS = StrategyName("ema_rsi_cross")
CROSS_DOWN = "ema cross down"


class EmaRsiCrossConfig(StrategySettings):
    fast: int = Field(default=9, ge=1, le=1000, description="the fast EMA's period, in bars")
    slow: int = Field(default=21, ge=2, le=1000, description="the slow EMA's period, in bars")
    rsi_period: int = Field(default=14, ge=2, le=1000, description="RSI period (Wilder's smoothing), in bars")
    rsi_below: float = Field(default=70.0, gt=0, le=100, description="an entry needs RSI below this")
    stop_loss_pct: Decimal = Field(default=Decimal("2"), gt=0, lt=100, description="stop below the entry fill, %")
    take_profit_pct: Decimal = Field(default=Decimal("3"), gt=0, lt=100,
                                     description="take-profit, % of the stake net of both fees")
    startup_bars: int = Field(default=100, ge=0, le=100_000, description="bars seen before the first signal "
                              "(freqtrade's startup_candle_count)")
    fill_gaps: bool = Field(default=True, description="feed the previous close to the indicators for each missing "
                            "bar of a hole in the data, as freqtrade's flat gap-filling does")


class CrossTrack:
    """One symbol's indicators and the signals of its latest bar."""

    __slots__ = ("bars", "enter", "exit", "fast", "last_close", "last_open_ms", "prev_fast", "prev_slow", "rsi",
                 "slow")

    def __init__(self, cfg: EmaRsiCrossConfig) -> None:
        self.fast, self.slow, self.rsi = Ema(cfg.fast), Ema(cfg.slow), Rsi(cfg.rsi_period)
        self.prev_fast: float | None = None
        self.prev_slow: float | None = None
        self.bars = 0  # bars seen, filled ones included
        self.last_open_ms: int | None = None
        self.last_close = 0.0
        self.enter = False
        self.exit = False

    def step(self, close: float, volume: float, cfg: EmaRsiCrossConfig) -> None:
        fast, slow, rsi = self.fast.update(close), self.slow.update(close), self.rsi.update(close)
        prev_fast, prev_slow = self.prev_fast, self.prev_slow
        crossed = fast is not None and slow is not None and prev_fast is not None and prev_slow is not None
        live = crossed and volume > 0 and self.bars >= cfg.startup_bars - 1
        self.enter = live and fast > slow and prev_fast <= prev_slow and rsi is not None and rsi < cfg.rsi_below  # type: ignore[operator]
        self.exit = live and fast < slow and prev_fast >= prev_slow  # type: ignore[operator]
        self.prev_fast, self.prev_slow = fast, slow
        self.bars += 1
        self.last_close = close

    def to_dict(self) -> dict[str, Any]:
        return {"fast": self.fast.to_dict(), "slow": self.slow.to_dict(), "rsi": self.rsi.to_dict(),
                "prev": [self.prev_fast, self.prev_slow], "bars": self.bars, "last_open_ms": self.last_open_ms,
                "last_close": self.last_close, "signals": [self.enter, self.exit]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], cfg: EmaRsiCrossConfig) -> CrossTrack:
        track = cls(cfg)
        track.fast, track.slow, track.rsi = Ema.from_dict(d["fast"]), Ema.from_dict(d["slow"]), Rsi.from_dict(d["rsi"])
        if (track.fast.period, track.slow.period, track.rsi.period) != (cfg.fast, cfg.slow, cfg.rsi_period):
            raise ValueError(f"the saved indicators' periods ({track.fast.period}, {track.slow.period}, "
                             f"{track.rsi.period}) are not the configured ({cfg.fast}, {cfg.slow}, {cfg.rsi_period})")
        prev_fast, prev_slow = d["prev"]
        track.prev_fast = None if prev_fast is None else float(prev_fast)
        track.prev_slow = None if prev_slow is None else float(prev_slow)
        track.bars = int(d["bars"])
        track.last_open_ms = None if d["last_open_ms"] is None else int(d["last_open_ms"])
        track.last_close = float(d["last_close"])
        track.enter, track.exit = (bool(v) for v in d["signals"])
        return track


class EmaRsiCross(SymbolStrategy[EmaRsiCrossConfig]):
    """EMA(fast) crosses above EMA(slow) with RSI below a bound: buy; crosses below: sell."""

    name: ClassVar[StrategyName] = EMA_RSI_CROSS
    config_model = EmaRsiCrossConfig
    summary: ClassVar[str] = "EMA(9) crosses above EMA(21) with RSI(14) < 70: buy; crosses below: sell"

    def __init__(self) -> None:
        self.tracks: dict[str, CrossTrack] = {}

    def on_bar(self, bar: Bar, config: EmaRsiCrossConfig) -> None:
        track = self.tracks.get(bar.symbol)
        if track is None:
            track = self.tracks[bar.symbol] = CrossTrack(config)
        last = track.last_open_ms
        if config.fill_gaps and last is not None:
            interval = bar.close_time_ms + 1 - bar.open_time_ms
            for _ in range(last + interval, bar.open_time_ms, interval):
                track.step(track.last_close, 0.0, config)  # freqtrade's flat candle for a missing bar
        track.step(bar.close, bar.volume, config)
        track.last_open_ms = bar.open_time_ms

    def fires(self, features: SymbolView, config: EmaRsiCrossConfig) -> bool:
        track = self.tracks.get(features.symbol)
        return track is not None and track.enter

    def signal(self, features: SymbolView, config: EmaRsiCrossConfig, now_ms: int) -> Signal | None:
        track = self.tracks.get(features.symbol)
        if track is None or not track.enter or features.last_price is None:
            return None
        reason = (f"EMA({config.fast}) {track.prev_fast:.8g} crossed above EMA({config.slow}) {track.prev_slow:.8g}"
                  f", RSI({config.rsi_period}) {track.rsi.value:.2f} < {config.rsi_below:g}")
        return long_signal(features.symbol, self.name, 1.0, features.last_price, config.take_profit_pct,
                           config.stop_loss_pct, now_ms, reason)

    def exit_reason(self, features: SymbolView, config: EmaRsiCrossConfig) -> str | None:
        track = self.tracks.get(features.symbol)
        return CROSS_DOWN if track is not None and track.exit else None

    def protection(self, config: EmaRsiCrossConfig) -> Protection:
        return Protection(take_profit_pct=config.take_profit_pct, stop_loss_pct=config.stop_loss_pct,
                          take_profit_net_of_fees=True, trailing=False)

    def state(self) -> dict[str, Any]:
        return {"tracks": {symbol: track.to_dict() for symbol, track in sorted(self.tracks.items())}}

    def restore(self, state: Mapping[str, Any], config: EmaRsiCrossConfig) -> None:
        self.tracks = {symbol: CrossTrack.from_dict(d, config) for symbol, d in state["tracks"].items()}
