"""A loopback Binance public-data server with the real recorded payloads, shared per module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import fixture_path
from tests.oracle.binance_public_server import BinancePublicServer, MarketData, recorded_markets


@pytest.fixture(scope="module")
def _server() -> Iterator[BinancePublicServer]:
    markets = recorded_markets(fixture_path())
    fixture_path("ws_captures", "cryptofeed_2021-10-12", "BINANCE.http.0.0")
    markets["EMPTYUSDT"] = MarketData(depth={"lastUpdateId": 1, "bids": [], "asks": []})
    with BinancePublicServer(markets) as server:
        yield server


@pytest.fixture
def server(_server: BinancePublicServer) -> Iterator[BinancePublicServer]:
    """The module's server with no faults, no latency and no recorded hits."""
    _server.clear()
    yield _server
    _server.clear()
