"""`python -m tests.fakes.binance --port N`: the fake Binance by hand, until Ctrl-C.

It lists one symbol, BTCUSDT (tick 0.01, step 0.00001, min notional 5, OCO allowed), funds the account and
prints its URLs and keys. Drive it through the control API described in the package docstring.
"""

from __future__ import annotations

import argparse
import json
from decimal import Decimal

from core.filters import SymbolRules
from tests.fakes.binance.server import FakeBinance
from tests.fakes.loop_thread import serve_until_signalled

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
    args = parser.parse_args(argv)
    fake = FakeBinance({"BTCUSDT": BTCUSDT}, {"USDT": Decimal(10_000), "BTC": Decimal(1)},
                       api_key=args.api_key, api_secret=args.api_secret).start(args.port)
    print(json.dumps({"rest": fake.rest_url, "ws_api": fake.ws_api_url, "control": fake.control_url,
                      "api_key": args.api_key, "api_secret": args.api_secret}), flush=True)
    serve_until_signalled(fake.stop)


if __name__ == "__main__":
    main()
