"""The Binance Spot adapter of the Exchange port (live and testnet), on the pinned `binance-sdk-spot`.

One module per concern: `config` (URLs, timeout, retries, recvWindow), `wire` (plain decimal strings out,
Binance documents in), `errors` (the SDK's exceptions to the port's typed errors), `limits` (request weight,
order counts, 429 and 418), `rest` (one signed request with server time and -1021 handling), `adapter` (the
`Exchange` port), `events` (user-data events, typed), `user_stream` (those events over the WebSocket API,
kept alive, with a gap marker after a drop for `BinanceExchange.catch_up`).
"""

from exchange.binance.adapter import BinanceExchange
from exchange.binance.config import BinanceConfig, BinanceVenue
from exchange.binance.errors import ExchangeUnreachable, RateLimitBanned, RateLimited
from exchange.binance.events import StreamGap, UserEvent
from exchange.binance.user_stream import UserStream

__all__ = ["BinanceConfig", "BinanceExchange", "BinanceVenue", "ExchangeUnreachable", "RateLimitBanned",
           "RateLimited", "StreamGap", "UserEvent", "UserStream"]
