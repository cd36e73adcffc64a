"""Binance spot combined-stream messages → events, and the stream names to subscribe to.

Message shapes (binance-spot-api-docs, web-socket-streams.md): a combined stream wraps each payload
as `{"stream": "<name>", "data": {...}}`. `bookTicker` carries no event time (its `time_ms` is the
receive time); `aggTrade` has the trade time `T` and `m` = buyer is the maker; `kline` has `k.x`
true when the candle closed; `depthUpdate` is returned raw for `BookSync`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.events import Bar, Book, BookTop, TradePrint


@dataclass(frozen=True, slots=True)
class DepthDiff:
    """A depthUpdate payload, kept raw: only a synced LocalBook can turn it into a Book."""

    symbol: str
    time_ms: int
    data: Mapping[str, Any]


Decoded = BookTop | TradePrint | Bar | DepthDiff


def stream_names(symbols: Sequence[str], kline_interval: str | None = None) -> list[str]:
    """bookTicker, 100 ms diff depth and aggTrade per symbol (lowercase, as Binance requires)."""
    names: list[str] = []
    for symbol in symbols:
        low = symbol.lower()
        names += [f"{low}@bookTicker", f"{low}@depth@100ms", f"{low}@aggTrade"]
        if kline_interval:
            names.append(f"{low}@kline_{kline_interval}")
    return names


def combined_url(ws_base: str, streams: Sequence[str]) -> str:
    return f"{ws_base.rstrip('/')}/stream?streams={'/'.join(streams)}"


def _imbalance(bid_qty: float, ask_qty: float) -> float | None:
    total = bid_qty + ask_qty
    return (bid_qty - ask_qty) / total if total > 0 else None


def decode_message(message: Mapping[str, Any], recv_ms: int) -> Decoded | None:
    """One combined-stream message as an event; None for messages that carry no market data
    (subscription acknowledgements, open klines). Raises KeyError/ValueError/TypeError on a payload
    that claims a known type but lacks its fields."""
    data = message.get("data")
    stream = str(message.get("stream", ""))
    if not isinstance(data, Mapping):
        return None
    kind = data.get("e")
    if kind == "depthUpdate":
        return DepthDiff(str(data["s"]), int(data["E"]), data)
    if kind == "aggTrade" or kind == "trade":
        return TradePrint(str(data["s"]), int(data["T"]), float(data["p"]), float(data["q"]), bool(data["m"]))
    if kind == "kline":
        k = data["k"]
        if not k.get("x"):
            return None
        return Bar(str(k["s"]), int(k["t"]), int(k["T"]), float(k["o"]), float(k["h"]), float(k["l"]),
                   float(k["c"]), float(k["v"]), float(k["V"]))
    if stream.endswith("@bookTicker") or (kind is None and {"b", "B", "a", "A", "s"} <= data.keys()):
        bid_qty, ask_qty = float(data["B"]), float(data["A"])
        return BookTop(str(data["s"]), recv_ms, float(data["b"]), bid_qty, float(data["a"]), ask_qty,
                       _imbalance(bid_qty, ask_qty))
    return None


def book_from_snapshot(symbol: str, snapshot: Mapping[str, Any], time_ms: int, depth: int) -> Book | None:
    """The best `depth` levels a side of a REST depth snapshot (Binance lists them best first).

    None for an empty or crossed snapshot: neither is a usable picture of the market.
    """
    bids = tuple((float(p), float(q)) for p, q in snapshot["bids"][:depth])
    asks = tuple((float(p), float(q)) for p, q in snapshot["asks"][:depth])
    if not bids or not asks or bids[0][0] >= asks[0][0]:
        return None
    return Book(symbol, time_ms, bids, asks)
