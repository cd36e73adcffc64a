"""The Binance Spot adapter of the Exchange port (live and testnet), on the pinned `binance-sdk-spot`.

One module per concern: `config` (URLs, timeout, retries, recvWindow), `wire` (plain decimal strings out,
Binance documents in), `errors` (the SDK's exceptions to the port's typed errors), `limits` (request weight,
order counts, 429 and 418), `rest` (one signed request with server time and -1021 handling), `adapter` (the
`Exchange` port), `user_stream` (executionReport & co. over the WebSocket API, with catch-up after a drop).
"""

from exchange.binance.adapter import BinanceExchange
from exchange.binance.config import BinanceConfig, BinanceVenue
from exchange.binance.errors import ExchangeUnreachable, RateLimitBanned, RateLimited

__all__ = ["BinanceConfig", "BinanceExchange", "BinanceVenue", "ExchangeUnreachable", "RateLimitBanned",
           "RateLimited"]
