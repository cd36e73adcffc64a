"""A seeded synthetic market: the default demo data, runnable with no network and no files.

Model. One market-wide regime follows a Markov chain over three states: *trend* (a drift of random
sign), *range* (log prices pulled back towards where the regime began) and *volatile* (2.5× the
volatility, fat-tailed Student-t shocks); each regime lasts 20 minutes on average. Each symbol's
log price moves by `beta × market shock + idiosyncratic shock` (plus the regime's drift or pull),
so symbols are correlated through the common factor. Around each price the book has 10 levels a
side on the symbol's tick grid, a spread that widens with volatility, lognormal sizes and a
persistent bid/ask imbalance; trades (Poisson counts) hit the ask or the bid, buyers a little more
often when bids outweigh asks, and a one-minute `Bar` is built from them every 60 steps.

What it is for: it exercises the mechanics of the executor (feeds, books, filters, orders, risk,
accounting) deterministically for a seed. What it is not: a model of real returns. The imbalance
does not predict future prices, the regimes are made up, and any profit or loss a strategy shows on
this data says nothing about how it would do on a real market.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from core.events import Bar, Book, MarketEvent, TradePrint
from exchange.feeds.rules import offline_exchange_info, split_symbol, step_size_for, tick_size_for

REGIMES = ("trend", "range", "volatile")
BAR_STEPS = 60
LEVELS = 10
# Per-second volatility of the market factor (≈ 60 % a year) and how the regimes scale it.
MARKET_VOL = 0.6 / math.sqrt(365 * 86_400)
REGIME_VOL = {"trend": 1.0, "range": 0.6, "volatile": 2.5}
REGIME_SPREAD = {"trend": 1.0, "range": 0.8, "volatile": 2.5}
REGIME_TRADES = {"trend": 1.0, "range": 0.6, "volatile": 2.0}
TREND_DRIFT = 0.05  # market drift per step, in units of the step's volatility
RANGE_PULL = 1 / 300  # fraction of the distance to the regime's anchor closed each step
MEAN_REGIME_MS = 20 * 60_000
STUDENT_DF = 4
BLOCK_STEPS = 256  # steps drawn at once: numpy works on blocks, not on single steps


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    symbol: str
    price: float
    beta: float
    idio_vol: float  # idiosyncratic volatility relative to the market factor's
    spread_bps: float
    depth_quote: float  # typical quote value resting at one level
    trade_quote: float  # typical quote value of one trade


DEFAULT_UNIVERSE: tuple[SymbolSpec, ...] = (
    SymbolSpec("BTCUSDT", 65_000.0, 1.0, 0.3, 0.3, 60_000.0, 3_000.0),
    SymbolSpec("ETHUSDT", 3_400.0, 1.1, 0.4, 0.4, 40_000.0, 2_000.0),
    SymbolSpec("BNBUSDT", 580.0, 0.8, 0.5, 1.0, 10_000.0, 600.0),
    SymbolSpec("SOLUSDT", 150.0, 1.4, 0.6, 0.8, 15_000.0, 800.0),
    SymbolSpec("XRPUSDT", 0.55, 1.2, 0.6, 1.5, 8_000.0, 500.0),
    SymbolSpec("ADAUSDT", 0.45, 1.2, 0.6, 2.0, 5_000.0, 300.0),
    SymbolSpec("DOGEUSDT", 0.15, 1.5, 0.8, 1.5, 6_000.0, 400.0),
    SymbolSpec("LINKUSDT", 14.5, 1.3, 0.6, 2.0, 4_000.0, 250.0),
    SymbolSpec("LTCUSDT", 80.0, 1.0, 0.5, 1.5, 4_000.0, 250.0),
    SymbolSpec("DOTUSDT", 6.5, 1.3, 0.6, 2.0, 3_000.0, 200.0),
)


def _decimals(step: Decimal) -> int:
    return max(0, -int(step.as_tuple().exponent))


class SyntheticMarket:
    """Books, trades and bars for `symbols`, one step every `step_ms`, deterministic for `seed`."""

    def __init__(self, seed: int, symbols: Sequence[str] | None = None, start_ms: int = 1_700_000_000_000,
                 step_ms: int = 1_000, steps: int = 20_000) -> None:
        if step_ms <= 0 or steps < 0:
            raise ValueError("step_ms must be positive and steps non-negative")
        self.seed = seed
        self.start_ms = start_ms
        self.step_ms = step_ms
        self.steps = steps
        self.specs = self._specs(seed, symbols)
        self.symbols = [s.symbol for s in self.specs]
        self.regime_log: list[tuple[int, str]] = []
        self._ticks = [tick_size_for(s.price) for s in self.specs]
        self._lots = [step_size_for(s.price) for s in self.specs]

    @staticmethod
    def _specs(seed: int, symbols: Sequence[str] | None) -> tuple[SymbolSpec, ...]:
        if symbols is None:
            return DEFAULT_UNIVERSE
        known = {s.symbol: s for s in DEFAULT_UNIVERSE}
        rng = np.random.default_rng([seed, 1])
        specs = []
        for name in symbols:
            symbol = name.upper()
            if symbol in known:
                specs.append(known[symbol])
                continue
            price = float(10 ** rng.uniform(-1.0, 3.0))
            specs.append(SymbolSpec(symbol, price, float(rng.uniform(0.8, 1.5)), 0.6, 2.0, 4_000.0, 250.0))
        if len({s.symbol for s in specs}) != len(specs):
            raise ValueError("symbols must be distinct")
        for spec in specs:
            split_symbol(spec.symbol)  # an unknown quote asset fails here, not later in exchange_info()
        return tuple(specs)

    def exchange_info(self) -> dict[str, Any]:
        """A Binance-shaped exchangeInfo for the symbols, with filters that fit the generated prices."""
        return offline_exchange_info({s.symbol: s.price for s in self.specs}, server_time_ms=self.start_ms)

    def events(self) -> Iterator[MarketEvent]:
        """Each step: per symbol a Book (10 levels a side) then its TradePrints; every 60 steps a Bar
        per symbol. Starting again from the seed on every call."""
        rng = np.random.default_rng(self.seed)
        state = _PathState(self, rng)
        tick = np.array([float(t) for t in self._ticks])
        lot = np.array([float(q) for q in self._lots])
        # Ticks and lots are powers of ten: an integer count of them divided by 10**decimals is the
        # float nearest the decimal value (IEEE division rounds correctly), so prices sit on the grid.
        price_scale = np.array([10.0 ** _decimals(t) for t in self._ticks])
        qty_scale = np.array([10.0 ** _decimals(q) for q in self._lots])
        spread_bps = np.array([s.spread_bps for s in self.specs])
        depth_base = np.array([s.depth_quote for s in self.specs])
        trade_base = np.array([s.trade_quote for s in self.specs])
        level_growth = 1.0 + 0.15 * np.arange(LEVELS)
        first = (np.round(np.array([s.price for s in self.specs]) / tick) / price_scale).tolist()
        bars = _BarWindow(self.symbols, first)
        self.regime_log = [(self.start_ms, state.regime)]
        n = len(self.specs)

        for block_start in range(0, self.steps, BLOCK_STEPS):
            size = min(BLOCK_STEPS, self.steps - block_start)
            log_price, imbalance, regimes = state.advance(size, block_start, self.regime_log)
            spread_factor = np.array([REGIME_SPREAD[r] for r in regimes])[:, None]
            trade_rate = np.array([REGIME_TRADES[r] for r in regimes])[:, None]
            mid = np.exp(log_price)
            spread_ticks = np.maximum(1, np.round(mid * spread_bps * spread_factor / 1e4 / tick))
            best_bid = np.maximum(LEVELS + 1, np.floor(mid / tick - spread_ticks / 2))
            best_ask = best_bid + spread_ticks
            gaps = 1 + rng.integers(0, 2, size=(size, n, 2, LEVELS - 1))
            offsets = np.concatenate([np.zeros((size, n, 2, 1)), np.cumsum(gaps, axis=3)], axis=3)
            sizes = np.exp(rng.normal(0.0, 0.5, size=(size, n, 2, LEVELS))) * level_growth
            per_level = (depth_base / mid)[:, :, None]
            bid_px = ((best_bid[:, :, None] - offsets[:, :, 0, :]) / price_scale[:, None]).tolist()
            ask_px = ((best_ask[:, :, None] + offsets[:, :, 1, :]) / price_scale[:, None]).tolist()
            bid_sz = _lots(per_level * sizes[:, :, 0, :] * (1 + imbalance)[:, :, None], lot, qty_scale)
            ask_sz = _lots(per_level * sizes[:, :, 1, :] * (1 - imbalance)[:, :, None], lot, qty_scale)
            counts = rng.poisson(np.broadcast_to(trade_rate, (size, n)))
            flat_counts = counts.ravel()
            buys = (rng.random(int(flat_counts.sum()))
                    < 0.5 + 0.25 * np.repeat(imbalance.ravel(), flat_counts)).tolist()
            trade_lots = np.maximum(1, np.round(np.repeat((trade_base / mid / lot).ravel(), flat_counts)
                                                * np.exp(rng.normal(0.0, 0.8, size=len(buys)))))
            trade_qty = (trade_lots / np.repeat(np.tile(qty_scale, size), flat_counts)).tolist()
            count_list = counts.tolist()

            k = 0
            for j in range(size):
                step = block_start + j
                now = self.start_ms + step * self.step_ms
                for i, symbol in enumerate(self.symbols):
                    bids_j, asks_j = bid_px[j][i], ask_px[j][i]
                    yield Book(symbol, now, tuple(zip(bids_j, bid_sz[j][i], strict=True)),
                               tuple(zip(asks_j, ask_sz[j][i], strict=True)))
                    for _ in range(count_list[j][i]):
                        is_buy = buys[k]
                        price = asks_j[0] if is_buy else bids_j[0]
                        bars.add(i, price, trade_qty[k], is_buy)
                        yield TradePrint(symbol, now, price, trade_qty[k], not is_buy)
                        k += 1
                if (step + 1) % BAR_STEPS == 0:
                    yield from bars.close(now - (BAR_STEPS - 1) * self.step_ms, now + self.step_ms - 1)


class _PathState:
    """The sequential part of the model: the regime chain, log prices and book imbalance."""

    def __init__(self, market: SyntheticMarket, rng: np.random.Generator) -> None:
        self.rng = rng
        self.start_ms = market.start_ms
        self.step_ms = market.step_ms
        self.beta = np.array([s.beta for s in market.specs])
        self.idio = np.array([s.idio_vol for s in market.specs])
        self.log_price = np.log([s.price for s in market.specs])
        self.anchor = self.log_price.copy()
        self.imbalance = np.zeros(len(market.specs))
        self.regime = "range"
        self.trend_sign = 1.0
        self.leave_p = min(1.0, market.step_ms / MEAN_REGIME_MS)
        self.step_vol = MARKET_VOL * math.sqrt(market.step_ms / 1_000)

    def advance(self, size: int, first_step: int, regime_log: list[tuple[int, str]]) -> tuple[
            np.ndarray, np.ndarray, list[str]]:
        """Log prices and imbalances (size × symbols) and the regime of each of the next `size` steps."""
        rng, n = self.rng, len(self.beta)
        leave = rng.random(size)
        moves = rng.integers(1, 3, size=size)
        signs = rng.random(size)
        normal = rng.standard_normal((size, n + 1))
        student = rng.standard_t(STUDENT_DF, size=(size, n + 1)) / math.sqrt(STUDENT_DF / (STUDENT_DF - 2))
        noise = rng.standard_normal((size, n))
        prices = np.empty((size, n))
        imbalances = np.empty((size, n))
        regimes: list[str] = []
        for j in range(size):
            if leave[j] < self.leave_p:
                self.regime = REGIMES[(REGIMES.index(self.regime) + int(moves[j])) % 3]
                self.trend_sign = 1.0 if signs[j] < 0.5 else -1.0
                self.anchor = self.log_price.copy()
                regime_log.append((self.start_ms + (first_step + j) * self.step_ms, self.regime))
            vol = self.step_vol * REGIME_VOL[self.regime]
            shocks = student[j] if self.regime == "volatile" else normal[j]
            ret = self.beta * vol * shocks[0] + self.idio * vol * shocks[1:]
            if self.regime == "trend":
                ret += self.beta * self.trend_sign * TREND_DRIFT * vol
            elif self.regime == "range":
                ret -= RANGE_PULL * (self.log_price - self.anchor)
            self.log_price = self.log_price + ret
            self.imbalance = np.clip(0.97 * self.imbalance + 0.12 * noise[j], -0.8, 0.8)
            prices[j] = self.log_price
            imbalances[j] = self.imbalance
            regimes.append(self.regime)
        return prices, imbalances, regimes


def _lots(quantity: np.ndarray, lot: np.ndarray, scale: np.ndarray) -> list[list[list[float]]]:
    """Quantities (steps × symbols × levels) rounded to whole lots (at least one), as the floats
    nearest the decimal quantities."""
    count = np.maximum(1, np.round(quantity / lot[:, None]))
    result: list[list[list[float]]] = (count / scale[:, None]).tolist()
    return result


class _BarWindow:
    """OHLCV of the trades since the last bar; a window without trades is flat at the last price."""

    def __init__(self, symbols: list[str], first_prices: list[float]) -> None:
        self.symbols = symbols
        self.last = list(first_prices)
        self._reset()

    def _reset(self) -> None:
        n = len(self.symbols)
        self.open: list[float | None] = [None] * n
        self.high = [0.0] * n
        self.low = [0.0] * n
        self.volume = [0.0] * n
        self.taker_buy = [0.0] * n

    def add(self, i: int, price: float, qty: float, is_buy: bool) -> None:
        if self.open[i] is None:
            self.open[i] = price
            self.high[i] = self.low[i] = price
        else:
            self.high[i] = max(self.high[i], price)
            self.low[i] = min(self.low[i], price)
        self.last[i] = price
        self.volume[i] += qty
        if is_buy:
            self.taker_buy[i] += qty

    def close(self, open_ms: int, close_ms: int) -> Iterator[Bar]:
        for i, symbol in enumerate(self.symbols):
            first = self.open[i]
            if first is None:
                price = self.last[i]
                yield Bar(symbol, open_ms, close_ms, price, price, price, price, 0.0, 0.0)
            else:
                yield Bar(symbol, open_ms, close_ms, first, self.high[i], self.low[i], self.last[i],
                          self.volume[i], self.taker_buy[i])
        self._reset()
