"""The fake Binance's public market: a seeded random walk per symbol that moves the matching engine and is
streamed to clients as Binance's combined streams (`/stream?streams=<sym>@bookTicker/<sym>@depth@100ms/
<sym>@aggTrade`) with `GET /api/v3/depth` snapshots, so a `run --mode testnet` can trade entirely against it.

Each step sets the venue's order book (resting limits it crosses fill, a MARKET order walks it) and prints one
trade at the new mid (stops trigger on it, and it is the last price the OCO price rule reads), then sends the
same book and trade on the streams. Depth diffs carry consecutive update ids (`U` = `u` = the book's update id)
and name every level that changed, a removed level with quantity 0, so a client syncing a local book from the
snapshot (`lastUpdateId`) sees what Binance's rule expects.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.filters import SymbolRules
from tests.fakes.binance.render import num

Levels = list[tuple[Decimal, Decimal]]
LEVELS = 5  # price levels per side
LEVEL_QTY = Decimal(2)  # base quantity at each level: deep enough that test orders fill whole

@dataclass(slots=True)
class SymbolMarket:
    rules: SymbolRules
    mid: Decimal
    update_id: int = 1
    trade_id: int = 1
    bids: Levels = field(default_factory=list)
    asks: Levels = field(default_factory=list)

@dataclass(frozen=True, slots=True)
class MarketStep:
    """What one step changed: the messages for the streams, by stream name, and the book to set on the venue."""

    symbol: str
    bids: Levels
    asks: Levels
    trade_price: Decimal
    messages: dict[str, dict[str, Any]]

class Market:
    """Seeded prices for the listed symbols. `step(now_ms)` moves every symbol once; `depth(symbol)` is the
    REST snapshot of its current book."""

    def __init__(self, rules: dict[str, SymbolRules], start_prices: dict[str, Decimal], *, seed: int = 7,
                 volatility_bps: float = 5.0) -> None:
        self._rng = random.Random(seed)
        self._volatility = volatility_bps / 10_000
        self.symbols = {s: SymbolMarket(rules[s], start_prices[s]) for s in sorted(start_prices)}
        for market in self.symbols.values():
            market.bids, market.asks = _book(market)

    def depth(self, symbol: str, limit: int) -> dict[str, Any]:
        market = self.symbols[symbol]
        return {"lastUpdateId": market.update_id, "bids": [[num(p), num(q)] for p, q in market.bids[:limit]],
                "asks": [[num(p), num(q)] for p, q in market.asks[:limit]]}

    def step(self, now_ms: int) -> list[MarketStep]:
        return [self._move(market, now_ms) for market in self.symbols.values()]

    def _move(self, market: SymbolMarket, now_ms: int) -> MarketStep:
        tick = market.rules.tick_size
        change = Decimal(repr(self._rng.gauss(0.0, self._volatility)))
        market.mid = max(tick * 100, (market.mid * (1 + change)).quantize(tick))
        old_bids, old_asks = dict(market.bids), dict(market.asks)
        market.bids, market.asks = _book(market)
        first = market.update_id + 1
        market.update_id = first
        symbol, low = market.rules.symbol, market.rules.symbol.lower()
        trade_qty = market.rules.step_size * 10 if market.rules.step_size > 0 else Decimal(1)
        market.trade_id += 1
        messages = {
            f"{low}@bookTicker": {"u": market.update_id, "s": symbol, "b": num(market.bids[0][0]),
                                  "B": num(market.bids[0][1]), "a": num(market.asks[0][0]),
                                  "A": num(market.asks[0][1])},
            f"{low}@depth@100ms": {"e": "depthUpdate", "E": now_ms, "s": symbol, "U": first, "u": market.update_id,
                                   "b": _diff(old_bids, market.bids), "a": _diff(old_asks, market.asks)},
            f"{low}@aggTrade": {"e": "aggTrade", "E": now_ms, "s": symbol, "a": market.trade_id,
                                "p": num(market.mid), "q": num(trade_qty), "f": market.trade_id,
                                "l": market.trade_id, "T": now_ms, "m": False, "M": True},
        }
        return MarketStep(symbol, list(market.bids), list(market.asks), market.mid, messages)

def _book(market: SymbolMarket) -> tuple[Levels, Levels]:
    tick = market.rules.tick_size
    best_bid, best_ask = market.mid - tick, market.mid + tick
    bids = [(best_bid - tick * i, LEVEL_QTY) for i in range(LEVELS)]
    asks = [(best_ask + tick * i, LEVEL_QTY) for i in range(LEVELS)]
    return bids, asks

def _diff(old: dict[Decimal, Decimal], new: Levels) -> list[list[str]]:
    """The levels that changed: the new ones with their quantity, the gone ones with quantity 0."""
    fresh = dict(new)
    changed = [[num(p), num(q)] for p, q in new if old.get(p) != q]
    changed += [[num(p), "0"] for p in old if p not in fresh]
    return changed

