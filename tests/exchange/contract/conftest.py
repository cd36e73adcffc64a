"""The two venues of the contract suite, each with a driver that moves its market.

`paper`: the simulator in process, its market moved through its simulated-venue hooks. `binance`: the
Binance adapter against the loopback Binance (tests/fakes/binance), its market moved through the fake's
driver. A test sees only the `Exchange` port and the `Driver`, so both must behave alike.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import pytest

from core.events import Book, TradePrint
from core.exchange_port import Exchange
from exchange.binance import BinanceConfig, BinanceExchange, BinanceVenue
from exchange.paper import PaperExchange
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL

FUNDS = {"USDT": Decimal("1000"), "BTC": Decimal("0.5")}
Levels = list[tuple[str, str]]


class Driver(Protocol):
    def trade(self, price: str) -> None: ...

    def book(self, bids: Levels, asks: Levels) -> None: ...


class PaperDriver:
    def __init__(self, exchange: PaperExchange) -> None:
        self._exchange = exchange
        self._time_ms = 1_000

    def _tick(self) -> int:
        self._time_ms += 1
        return self._time_ms

    def trade(self, price: str) -> None:
        self._exchange.on_trade(TradePrint(symbol=SYMBOL, time_ms=self._tick(), price=float(price), quantity=1.0,
                                           buyer_is_maker=False))

    def book(self, bids: Levels, asks: Levels) -> None:
        self._exchange.on_book(Book(symbol=SYMBOL, time_ms=self._tick(),
                                    bids=tuple((float(p), float(q)) for p, q in bids),
                                    asks=tuple((float(p), float(q)) for p, q in asks)))


class FakeDriver:
    def __init__(self, fake: FakeBinance) -> None:
        self._fake = fake

    def trade(self, price: str) -> None:
        self._fake.trade(SYMBOL, Decimal(price))

    def book(self, bids: Levels, asks: Levels) -> None:
        self._fake.set_book(SYMBOL, [(Decimal(p), Decimal(q)) for p, q in bids],
                            [(Decimal(p), Decimal(q)) for p, q in asks])


@dataclass
class Venue:
    exchange: Exchange
    market: Driver


@pytest.fixture(params=["paper", "binance"])
def venue(request: pytest.FixtureRequest) -> Iterator[Venue]:
    if request.param == "paper":
        paper = PaperExchange({SYMBOL: RULES}, FUNDS)
        yield Venue(paper, PaperDriver(paper))
        return
    with FakeBinance({SYMBOL: RULES}, FUNDS, api_key=KEY, api_secret=SECRET) as fake:
        adapter = BinanceExchange(BinanceConfig.for_venue(BinanceVenue.TESTNET, KEY, SECRET, rest_url=fake.rest_url,
                                                          ws_api_url=fake.ws_api_url))
        adapter.start()
        try:
            yield Venue(adapter, FakeDriver(fake))
        finally:
            adapter.close()
