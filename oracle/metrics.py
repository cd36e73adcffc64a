"""Pure order-book and trade-flow metrics. No I/O, no clock; inputs are plain floats.

Books are ``(price, qty)`` tuples, bids best-first (descending), asks best-first (ascending);
``check_book`` enforces that before any metric runs, so the functions below may assume it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from oracle.snapshot import Level, Trade

Grade = Literal["A", "B", "C", "D", "F"]

# Liquidity grade: the best grade whose spread ceiling AND depth floor both hold. Depth is the
# thinner side's quote notional within +/-50 bps of mid. The floors assume a USD-stable quote asset;
# for other quotes only the spread ceilings are applied (notional in BTC or EUR is not comparable).
GRADE_THRESHOLDS: tuple[tuple[Grade, float, float], ...] = (
    # grade, max spread (bps), min thinner-side notional within 50 bps
    ("A", 2.0, 500_000.0),
    ("B", 10.0, 100_000.0),
    ("C", 30.0, 20_000.0),
    ("D", 100.0, 2_000.0),
)
USD_QUOTES = ("USDT", "USDC", "FDUSD", "TUSD", "BUSD", "USDP", "DAI")


class BookError(ValueError):
    """A book no metric can be computed from (empty, crossed, unordered, zero levels)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def check_book(bids: Sequence[Level], asks: Sequence[Level]) -> None:
    """Raise ``BookError`` unless both sides are non-empty, strictly ordered, positive and uncrossed."""
    if not bids or not asks:
        raise BookError("empty_book", f"order book has {len(bids)} bid and {len(asks)} ask levels")
    for side, levels, descending in (("bids", bids, True), ("asks", asks, False)):
        for i, (price, qty) in enumerate(levels):
            if price <= 0 or qty <= 0:
                raise BookError("non_positive_level", f"{side}[{i}] = ({price}, {qty}) is not positive")
            if i and (price >= levels[i - 1][0] if descending else price <= levels[i - 1][0]):
                raise BookError("unordered_book", f"{side} are not strictly best-first at level {i}")
    if bids[0][0] >= asks[0][0]:
        raise BookError("crossed_book", f"best bid {bids[0][0]} >= best ask {asks[0][0]}")


def mid(bid: float, ask: float) -> float:
    return (bid + ask) / 2.0


def spread_bps(bid: float, ask: float) -> float:
    """(ask - bid) / mid * 1e4."""
    return (ask - bid) / mid(bid, ask) * 1e4


def microprice(bid: float, bid_qty: float, ask: float, ask_qty: float) -> float:
    """Size-weighted mid (bid*ask_qty + ask*bid_qty)/(bid_qty + ask_qty): leans toward the side with
    LESS resting size, the likely next move. Written as bid + spread*weight (and clamped) so float
    rounding cannot push it outside [bid, ask]."""
    return min(ask, max(bid, bid + (ask - bid) * (bid_qty / (bid_qty + ask_qty))))


def imbalance(bid_total: float, ask_total: float) -> float:
    """(bid - ask) / (bid + ask) clamped to [-1, 1] against rounding; callers ensure a positive total."""
    total = bid_total + ask_total
    return max(-1.0, min(1.0, (bid_total - ask_total) / total))


def side_totals(levels: Sequence[Level], n: int) -> tuple[float, float]:
    """(sum qty, sum price*qty) over the best ``n`` levels of one side."""
    top = levels[:n]
    return math.fsum(q for _, q in top), math.fsum(p * q for p, q in top)


def depth_within(levels: Sequence[Level], mid_price: float, bps: float, is_bid: bool) -> tuple[float, bool]:
    """Quote notional resting within ``bps`` of mid on one side, and whether the band is fully seen.

    The band is complete when the fetched book reaches past its edge; otherwise the notional is
    only a lower bound (the snapshot was too shallow).
    """
    edge = mid_price * (1 - bps / 1e4) if is_bid else mid_price * (1 + bps / 1e4)
    total: list[float] = []
    for price, qty in levels:
        if (price < edge) if is_bid else (price > edge):
            return math.fsum(total), True
        total.append(price * qty)
    return math.fsum(total), False


def bps_from(price: float, reference: float) -> float:
    """(price - reference) / reference * 1e4."""
    return (price - reference) / reference * 1e4


def vwap(trades: Sequence[Trade]) -> float | None:
    qty = math.fsum(t.qty for t in trades)
    if qty <= 0:
        return None
    return math.fsum(t.price * t.qty for t in trades) / qty


@dataclass(frozen=True, slots=True)
class Flow:
    buy_qty: float
    sell_qty: float
    buy_notional: float
    sell_notional: float


def trade_flow(trades: Sequence[Trade]) -> Flow:
    """Aggressor volumes: ``buyer_is_maker`` (aggTrades ``m: true``) means the aggressor SOLD."""
    sells = [t for t in trades if t.buyer_is_maker]
    buys = [t for t in trades if not t.buyer_is_maker]
    return Flow(
        buy_qty=math.fsum(t.qty for t in buys),
        sell_qty=math.fsum(t.qty for t in sells),
        buy_notional=math.fsum(t.price * t.qty for t in buys),
        sell_notional=math.fsum(t.price * t.qty for t in sells),
    )


@dataclass(frozen=True, slots=True)
class RealizedVol:
    returns: int
    window_ms: int
    window_bps: float
    per_minute_bps: float


def realized_volatility(trades: Sequence[Trade], interval_ms: int) -> RealizedVol | None:
    """Previous-tick sampled realized volatility (definition in ``oracle.model.VOLATILITY_DEFINITION``).

    Sampling on a fixed grid instead of using every trade keeps bid-ask bounce between consecutive
    prints from inflating the figure. ``trades`` must be sorted by time.
    """
    if not trades:
        return None
    t0 = trades[0].time_ms
    n = (trades[-1].time_ms - t0) // interval_ms
    if n < 2:
        return None
    samples: list[float] = []
    j = 0
    for i in range(n + 1):
        grid = t0 + i * interval_ms
        while j + 1 < len(trades) and trades[j + 1].time_ms <= grid:
            j += 1
        samples.append(trades[j].price)
    sum_sq = math.fsum(math.log(b / a) ** 2 for a, b in itertools.pairwise(samples))
    window = 1e4 * math.sqrt(sum_sq)
    return RealizedVol(
        returns=n,
        window_ms=n * interval_ms,
        window_bps=window,
        per_minute_bps=window * math.sqrt(60_000 / (n * interval_ms)),
    )


def quote_is_usd(symbol: str) -> bool:
    return symbol.endswith(USD_QUOTES)


def liquidity_grade(spread: float, min_side_depth_50bps: float | None) -> Grade:
    """Best grade whose thresholds hold; ``None`` depth means grade on spread only."""
    for grade, max_spread, min_depth in GRADE_THRESHOLDS:
        if spread <= max_spread and (min_side_depth_50bps is None or min_side_depth_50bps >= min_depth):
            return grade
    return "F"
