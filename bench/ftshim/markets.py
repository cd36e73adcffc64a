"""An offline market list for freqtrade: `GET /api/v3/exchangeInfo` answered on 127.0.0.1 from a recording.

freqtrade loads the exchange's markets through ccxt at start-up, even to backtest, and there is no network here.
ccxt takes its endpoints from its config (`urls`), which freqtrade passes through from `exchange.ccxt_config`, so
pointing Binance's public REST base at this server is enough: no freqtrade or ccxt code is patched.

The recorded exchangeInfo (`../shared/fixtures/rest/nautilus_btcusdt_2021-10/`, real spot, Oct 2021) holds only
BTCUSDT and ETHUSDT, so each pair of the candle set gets a copy of the recorded BTCUSDT entry with its own
symbol and assets, and two figures that decide freqtrade's fills:
- the price tick: 10^-d for the most decimals d any of the pair's candle prices has (0.01 for BTC, 0.00001 for
  ADA), which is Binance's tick for these pairs in that period;
- the amount step: 10^-baseAssetPrecision (1e-8), which is how the recorded freqtrade trade list
  (`../shared/parity/`) sized its trades: every amount there carries 8 decimals.
The recording is read at run time and never copied into the repository.
"""

from __future__ import annotations

import copy
import gzip
import json
import re
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
TEMPLATE_SYMBOL = "BTCUSDT"
_DECIMALS = re.compile(r"\.(\d+)")


class MarketShimError(Exception):
    """The market list cannot be built: a missing recording, template symbol or candle file."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(f"{message}: {path}")
        self.path = path


def price_decimals(candle_file: Path) -> int:
    """The most decimals any open/high/low/close in a freqtrade `.json.gz` candle file is written with."""
    if not candle_file.is_file():
        raise MarketShimError("no candle file", candle_file)
    rows = json.loads(gzip.decompress(candle_file.read_bytes()), parse_float=str)
    most = 0
    for row in rows:
        for price in row[1:5]:
            found = _DECIMALS.search(str(price))
            if found is not None:
                most = max(most, len(found.group(1).rstrip("0")))
    return most


def _step(decimals: int) -> str:
    return format(Decimal(1).scaleb(-decimals), "f")


def symbol_entry(template: dict[str, Any], base: str, quote: str, tick_decimals: int) -> dict[str, Any]:
    """The template symbol's entry renamed to BASE+QUOTE, with its price tick and an amount step of the
    base asset's precision."""
    entry = copy.deepcopy(template)
    entry.update(symbol=f"{base}{quote}", baseAsset=base, quoteAsset=quote)
    tick = _step(tick_decimals)
    amount_step = _step(int(entry["baseAssetPrecision"]))
    for rule in entry["filters"]:
        if rule["filterType"] == "PRICE_FILTER":
            rule.update(minPrice=tick, tickSize=tick)
        elif rule["filterType"] == "LOT_SIZE":
            rule.update(minQty=amount_step, stepSize=amount_step)
    return entry


def exchange_info(recorded: Path, candles: Path, pairs: Sequence[str], timeframe: str) -> dict[str, Any]:
    """exchangeInfo for `pairs` ("BASE/QUOTE"), built from the recording and the pairs' candle files."""
    if not recorded.is_file():
        raise MarketShimError("no recorded exchangeInfo", recorded)
    document = json.loads(recorded.read_text())
    template = next((s for s in document["symbols"] if s["symbol"] == TEMPLATE_SYMBOL), None)
    if template is None:
        raise MarketShimError(f"no {TEMPLATE_SYMBOL} in the recorded exchangeInfo", recorded)
    symbols = []
    for pair in pairs:
        base, quote = pair.split("/")
        decimals = price_decimals(candles / f"{base}_{quote}-{timeframe}.json.gz")
        symbols.append(symbol_entry(template, base, quote, decimals))
    return {**document, "symbols": symbols}


@contextmanager
def serve(payload: dict[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """Serve `payload` at EXCHANGE_INFO_PATH on 127.0.0.1; yields the base URL and the list of any other paths
    asked for (each answered 404), so a caller can say what freqtrade wanted that the shim does not have."""
    body = json.dumps(payload).encode()
    unexpected: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == EXCHANGE_INFO_PATH:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            unexpected.append(self.path)
            self.send_error(404)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="freqtrade-market-shim", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", unexpected
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
