"""Raw Binance public REST payloads -> one immutable ``Snapshot`` the metrics work on.

Parsing is strict: a malformed payload raises ``ParseError`` (the caller decides whether that is the
exchange's fault, DATA_OUTAGE, or the user's, INVALID_REQUEST). Numbers arrive as decimal strings
from Binance; floats are fine here because everything downstream is analytics, not order sizing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from oracle.model import AsOfSource

Level = tuple[float, float]


class ParseError(ValueError):
    """A payload that does not have Binance's documented shape."""


@dataclass(frozen=True, slots=True)
class Trade:
    time_ms: int
    price: float
    qty: float
    buyer_is_maker: bool  # aggTrades "m": true means the aggressor sold


@dataclass(frozen=True, slots=True)
class Ticker24h:
    weighted_avg_price: float | None  # None when Binance reports 0 (no volume in the window)
    close_time_ms: int | None


@dataclass(frozen=True, slots=True)
class BookTicker:
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float


@dataclass(frozen=True, slots=True)
class Snapshot:
    symbol: str
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    last_update_id: int | None
    trades: tuple[Trade, ...] | None
    ticker: Ticker24h | None
    book_ticker: BookTicker | None
    received_ms: int
    as_of_ms: int | None
    as_of_source: AsOfSource


def resolve_as_of(
    ticker: Ticker24h | None,
    trades: Sequence[Trade] | None,
    fallback_ms: int | None,
    fallback_source: AsOfSource,
) -> tuple[int | None, AsOfSource]:
    """Exchange time of the data: the 24h ticker's closeTime, else the last trade, else the fallback.

    REST depth carries no timestamp of its own, so the freshest exchange-stamped payload fetched with
    it stands in for it; without any, the caller's fallback (HTTP Date, file mtime) is used, and
    "unknown" is reported rather than pretending the data is fresh.
    """
    if ticker is not None and ticker.close_time_ms is not None:
        return ticker.close_time_ms, "ticker_close_time"
    if trades:
        return trades[-1].time_ms, "last_trade"
    if fallback_ms is not None:
        return fallback_ms, fallback_source
    return None, "unknown"


def number(value: Any, what: str) -> float:
    """A finite, non-negative number from a Binance decimal string (or a JSON number)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ParseError(f"{what}: expected a decimal string, got {type(value).__name__}")
    try:
        out = float(value)
    except ValueError:
        raise ParseError(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(out) or out < 0:
        raise ParseError(f"{what}: {value!r} is not a finite non-negative number")
    return out


def integer(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ParseError(f"{what}: expected an integer, got {value!r}")
    return value


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ParseError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _plain_levels(value: list[Any]) -> tuple[Level, ...] | None:
    """The common case, cheaply: every level a list of two or more decimal strings, all finite and
    non-negative. None as soon as anything else shows up; ``_levels`` then checks level by level
    (same acceptance, but it can say what is wrong). A deep book is hundreds of levels, so this is
    most of a snapshot's parsing time."""
    out: list[Level] = []
    append = out.append
    try:
        for level in value:
            if type(level) is not list or len(level) < 2:
                return None
            price, qty = level[0], level[1]
            if type(price) is not str or type(qty) is not str:
                return None
            p, q = float(price), float(qty)
            if not (0.0 <= p < math.inf and 0.0 <= q < math.inf):  # NaN fails both comparisons
                return None
            append((p, q))
    except ValueError:
        return None
    return tuple(out)


def _levels(value: Any, side: str) -> tuple[Level, ...]:
    if not isinstance(value, list):
        raise ParseError(f"{side}: expected a list of [price, qty]")
    plain = _plain_levels(value)
    return plain if plain is not None else _checked_levels(value, side)


def _checked_levels(value: list[Any], side: str) -> tuple[Level, ...]:
    out: list[Level] = []
    for i, level in enumerate(value):
        if not isinstance(level, list | tuple) or len(level) < 2:
            raise ParseError(f"{side}[{i}]: expected [price, qty], got {level!r}")
        out.append((number(level[0], f"{side}[{i}].price"), number(level[1], f"{side}[{i}].qty")))
    return tuple(out)


def parse_depth(payload: Any) -> tuple[int | None, tuple[Level, ...], tuple[Level, ...]]:
    """GET /api/v3/depth: ``{"lastUpdateId": n, "bids": [[p, q], ...], "asks": [...]}``."""
    body = _mapping(payload, "depth")
    if "bids" not in body or "asks" not in body:
        raise ParseError("depth: missing 'bids' or 'asks'")
    update_id = body.get("lastUpdateId")
    return (
        None if update_id is None else integer(update_id, "lastUpdateId"),
        _levels(body["bids"], "bids"),
        _levels(body["asks"], "asks"),
    )


def parse_agg_trades(payload: Any) -> tuple[Trade, ...]:
    """GET /api/v3/aggTrades: a list of ``{"a","p","q","f","l","T","m","M"}``; sorted by time here."""
    if not isinstance(payload, list):
        raise ParseError("aggTrades: expected a list")
    trades = []
    for i, raw in enumerate(payload):
        row = _mapping(raw, f"aggTrades[{i}]")
        maker = row.get("m")
        if not isinstance(maker, bool):
            raise ParseError(f"aggTrades[{i}].m: expected true/false")
        trade = Trade(
            time_ms=integer(row.get("T"), f"aggTrades[{i}].T"),
            price=number(row.get("p"), f"aggTrades[{i}].p"),
            qty=number(row.get("q"), f"aggTrades[{i}].q"),
            buyer_is_maker=maker,
        )
        if trade.price <= 0 or trade.qty <= 0:
            raise ParseError(f"aggTrades[{i}]: price and quantity must be positive")
        trades.append(trade)
    return tuple(sorted(trades, key=lambda t: t.time_ms))


def parse_ticker_24h(payload: Any) -> Ticker24h:
    """GET /api/v3/ticker/24hr (single symbol). Only the fields the oracle uses are required."""
    body = _mapping(payload, "ticker")
    vwap = number(body.get("weightedAvgPrice"), "ticker.weightedAvgPrice")
    close = body.get("closeTime")
    return Ticker24h(
        weighted_avg_price=vwap if vwap > 0 else None,
        close_time_ms=None if close is None else integer(close, "ticker.closeTime"),
    )


def parse_book_ticker(payload: Any) -> BookTicker | None:
    """GET /api/v3/ticker/bookTicker (single symbol). None when a side is empty (Binance sends 0s)."""
    body = _mapping(payload, "bookTicker")
    ticker = BookTicker(
        bid=number(body.get("bidPrice"), "bookTicker.bidPrice"),
        bid_qty=number(body.get("bidQty"), "bookTicker.bidQty"),
        ask=number(body.get("askPrice"), "bookTicker.askPrice"),
        ask_qty=number(body.get("askQty"), "bookTicker.askQty"),
    )
    return ticker if min(ticker.bid, ticker.bid_qty, ticker.ask, ticker.ask_qty) > 0 else None


def from_document(
    payload: Any,
    symbol: str,
    received_ms: int,
    fallback_as_of_ms: int | None = None,
    fallback_source: AsOfSource = "unknown",
) -> Snapshot:
    """The ``--input`` / inline shape: a REST depth object, optionally with "trades" and "ticker" beside."""
    body = _mapping(payload, "input")
    update_id, bids, asks = parse_depth(body)
    raw_trades, raw_ticker = body.get("trades"), body.get("ticker")
    trades = None if raw_trades is None else parse_agg_trades(raw_trades)
    ticker = None if raw_ticker is None else parse_ticker_24h(raw_ticker)
    as_of_ms, as_of_source = resolve_as_of(ticker, trades, fallback_as_of_ms, fallback_source)
    return Snapshot(
        symbol=symbol,
        bids=bids,
        asks=asks,
        last_update_id=update_id,
        trades=trades,
        ticker=ticker,
        book_ticker=None,
        received_ms=received_ms,
        as_of_ms=as_of_ms,
        as_of_source=as_of_source,
    )
