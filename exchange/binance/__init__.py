"""The Binance Spot adapter of the Exchange port (live and testnet), on the pinned `binance-sdk-spot`.

One module per concern: `config` (URLs, timeout, retries, recvWindow), `wire` (plain decimal strings out,
Binance documents in), `errors` (the SDK's exceptions to the port's typed errors), `limits` (request weight,
order counts, 429 and 418), `rest` (one signed request with server time and -1021 handling), `adapter` (the
`Exchange` port), `events` (user-data events, typed), `user_stream` (those events over the WebSocket API,
kept alive, with a gap marker after a drop for `BinanceExchange.catch_up`).

The names below are loaded on first use (PEP 562): importing `exchange.binance.config` runs this file, and the
settings reader does that in every command, a backtest included, where importing the SDK's REST and WebSocket
clients up front cost over a second of start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exchange.binance.adapter import BinanceExchange
    from exchange.binance.config import BinanceConfig, BinanceVenue
    from exchange.binance.errors import ExchangeUnreachable, RateLimitBanned, RateLimited
    from exchange.binance.events import StreamGap, UserEvent
    from exchange.binance.user_stream import UserStream

_HOMES = {"BinanceExchange": "adapter", "BinanceConfig": "config", "BinanceVenue": "config",
          "ExchangeUnreachable": "errors", "RateLimitBanned": "errors", "RateLimited": "errors",
          "StreamGap": "events", "UserEvent": "events", "UserStream": "user_stream"}


def __getattr__(name: str) -> Any:
    module = _HOMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = ["BinanceConfig", "BinanceExchange", "BinanceVenue", "ExchangeUnreachable", "RateLimitBanned",
           "RateLimited", "StreamGap", "UserEvent", "UserStream"]
