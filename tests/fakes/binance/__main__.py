"""`python -m tests.fakes.binance --port N`: the fake Binance by hand, until Ctrl-C.

It lists one symbol, BTCUSDT (tick 0.01, step 0.00001, min notional 5, OCO allowed), funds the account, streams a
seeded random-walk market for it (from 60000 USDT; `--seed`, `--interval`) and prints its URLs and keys: point
`run --mode testnet` at it with BINANCE_BASE_URL, BINANCE_WS_API_URL and BINANCE_STREAM_URL (CONFIGURATION.md).
Drive it further through the control API described in the package docstring.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal
from pathlib import Path

from core.filters import SymbolRules
from tests.fakes.binance.market import Market
from tests.fakes.binance.server import FakeBinance
from tests.fakes.loop_thread import serve_until_signalled

START_PRICE = Decimal(60_000)
BTCUSDT = SymbolRules(
    symbol="BTCUSDT", status="TRADING", base_asset="BTC", quote_asset="USDT",
    order_types=frozenset({"LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT"}), oco_allowed=True,
    tick_size=Decimal("0.01"), min_price=Decimal("0.01"), max_price=Decimal("1000000"),
    step_size=Decimal("0.00001"), min_qty=Decimal("0.00001"), max_qty=Decimal("9000"),
    min_notional=Decimal("5"), max_num_orders=200, max_num_algo_orders=5,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.binance", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--api-key", default="fake-api-key")
    parser.add_argument("--api-secret", default="fake-api-secret")
    parser.add_argument("--public-key", metavar="PEM_FILE",
                        help="the Ed25519 (or RSA) public key registered for the API key, instead of a secret")
    parser.add_argument("--seed", type=int, default=7, help="seed of the streamed market")
    parser.add_argument("--interval", type=float, default=0.1, help="seconds between market moves")
    parser.add_argument("--btc", default="1", help="BTC the account starts with (0: only USDT)")
    args = parser.parse_args(argv)
    public_key = Path(args.public_key).read_text(encoding="ascii") if args.public_key else None
    market = Market({"BTCUSDT": BTCUSDT}, {"BTCUSDT": START_PRICE}, seed=args.seed)
    fake = FakeBinance({"BTCUSDT": BTCUSDT}, {"USDT": Decimal(10_000), "BTC": Decimal(args.btc)},
                       api_key=args.api_key, api_secret=None if public_key else args.api_secret,
                       public_key=public_key, market=market,
                       market_interval_s=args.interval).start(args.port)
    print(json.dumps({"rest": fake.rest_url, "ws_api": fake.ws_api_url, "stream": fake.stream_url,
                      "control": fake.control_url, "api_key": args.api_key,
                      "api_secret": None if public_key else args.api_secret}),
          flush=True)
    serve_until_signalled(fake.stop)


if __name__ == "__main__":
    main()
