"""A Binance Spot of our own, on 127.0.0.1, for tests: REST, the WebSocket API and its user-data stream,
backed by the paper matching simulator (`exchange.paper`) so that matching, fills, fees and rejections mean
the same thing here as in paper trading. The real `binance-sdk-spot` talks to it over sockets.

What it checks as Binance does: the API key (`X-MBX-APIKEY`, or `apiKey` on the WebSocket API), the
signature over the percent-encoded payload (-1022): HMAC-SHA256 with `api_secret=`, or Ed25519 / RSA against
the public key registered for the API key with `public_key=` (PEM; generate a pair at test time with
`tests.fakes.binance_support.ed25519_key_pair`), `timestamp` and `recvWindow` (-1021),
decimals written as plain digits (`1e-05` is -1100), the symbol filters with Binance's codes and messages
(-1013, -2010, -1111, ...), request weight and order counts (`X-MBX-USED-WEIGHT-1M`,
`X-MBX-ORDER-COUNT-10S`, `X-MBX-ORDER-COUNT-1D`; 429 over a limit) and IP bans (418).

Start it in a test::

    from tests.fakes.binance import FakeBinance

    with FakeBinance(rules, {"USDT": Decimal(1000)}, api_key=KEY, api_secret=SECRET) as fake:
        client = Spot(config_rest_api=ConfigurationRestAPI(base_path=fake.rest_url, api_key=KEY,
                                                           api_secret=SECRET, timeout=2000, retries=0))
        # WebSocket API: ConfigurationWebSocketAPI(stream_url=fake.ws_api_url, ...)

`rules` are `core.filters.SymbolRules` (exchangeInfo is built from them; a test may read the real recorded
exchangeInfo from ../shared/fixtures/rest with `rules_from_exchange_info`). Or start it by hand, which prints
its URLs, with a BTCUSDT market and a funded account::

    python -m tests.fakes.binance --port 8765

Drive the market (in-process, or by POSTing JSON to the control API at `fake.control_url`):

- `set_book(symbol, bids, asks)` / `POST /fake/book`: the order book; a MARKET order walks it, a resting
  limit it crosses fills as a maker up to the depth shown (a thin book gives partial fills). Without a book
  a MARKET order waits for the next trade print, as in candle replay.
- `trade(symbol, price)` / `POST /fake/trade`: a trade print; it sets the last price (which the OCO price
  rule and stops use), triggers stops it reaches, fills limits it trades through.
- `adjust_balance(asset, delta)` / `POST /fake/balance`: a deposit or withdrawal (a `balanceUpdate` event).

Faults on demand (`inject(Fault(...))` / `POST /fake/fault`), each firing on the next matching request:
RATE_LIMITED (429 with Retry-After), BANNED (418 with Retry-After, and 418 to every request until it ends),
SERVER_ERROR (a bare 5XX) and STATUS_UNKNOWN (-1007 with 503) either before or after the request was carried
out (`accepted=True`: the order exists, the client cannot know), REJECT (any Binance code and message, e.g.
-2010 insufficient balance, -2013, -2011, even when the account would allow the request), NO_ANSWER (the
WebSocket API never answers; the SDK reports `{"error": "timeout"}` after its fixed 20 s). Acting at once:
`set_clock_offset(ms)` / `POST /fake/clock` skews the server's clock (-1021 for the client until it
resyncs with `/api/v3/time`), `drop_connections()` / `POST /fake/drop` cuts every WebSocket API connection,
`terminate_user_streams()` / `POST /fake/terminate` sends `eventStreamTerminated`.

Order history: `GET /api/v3/allOrders` (by creation time, `startTime`/`endTime` at most 24 hours apart, or from
`orderId` on, oldest first; without either, the most recent `limit`). `fake.requests` counts every request received,
by kind (`Op`), for tests that bound how many an operation sends.

User data: `userDataStream.subscribe.signature` on the WebSocket API, or (Ed25519 keys only) `session.logon`
then `userDataStream.subscribe` on the logged-on connection (`session_logons` counts the logons), then
`executionReport`, `listStatus`, `outboundAccountPosition`, `balanceUpdate` and `eventStreamTerminated` events
on that connection, until
`userDataStream.unsubscribe` (one `subscriptionId`, or all of the connection's).

The key's permissions: `GET /sapi/v1/account/apiRestrictions` (signed) reports `fake.api_restrictions`, a
careful key by default (reading and spot trading, no withdrawals, IP-restricted); change its flags with
`set_api_restrictions(enable_withdrawals=True, ...)` / `POST /fake/restrictions`.

Trailing stops (`trailingDelta` on a STOP_LOSS_LIMIT, an OCO's `belowTrailingDelta`) trail as the simulator
runs them (exchange/paper/trailing.py) where the rules' `allowTrailingStop` (published in exchangeInfo with the
TRAILING_DELTA filter) allows them; executionReports then carry `d` and, once tracking, `D` (trailingTime).

Not simulated, and refused with -2010 saying so rather than faked: BUY OCOs, OCO shapes other than LIMIT_MAKER
over STOP_LOSS_LIMIT (GTC), STOP_LOSS / TAKE_PROFIT(_LIMIT) orders and icebergs. Client order ids other than
the simulator's `cx-…` form are accepted and mapped to aliases.
"""

from tests.fakes.binance.faults import Fault, FaultKind, Transport
from tests.fakes.binance.limits import Limits, Op
from tests.fakes.binance.server import FakeBinance

__all__ = ["FakeBinance", "Fault", "FaultKind", "Limits", "Op", "Transport"]
