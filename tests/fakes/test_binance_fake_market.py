"""The loopback Binance's public market: its streams and depth snapshots feed the executor's own live feed (the
local book syncs from them), and its matching engine moves with the prices it streams."""

from __future__ import annotations

import asyncio
import contextlib
import time
from decimal import Decimal

from core.events import Book, BookTop, TradePrint
from core.types import OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.binance import BinanceConfig, BinanceExchange
from exchange.feeds.live import LiveFeed
from tests.fakes.binance import FakeBinance
from tests.fakes.binance.market import Market
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL

START = Decimal(100)


def market(seed: int = 5) -> Market:
    return Market({SYMBOL: RULES}, {SYMBOL: START}, seed=seed, volatility_bps=20.0)


def test_the_same_seed_streams_the_same_prices() -> None:
    first, second = market(), market()
    assert [s.trade_price for _ in range(50) for s in first.step(0)] == \
        [s.trade_price for _ in range(50) for s in second.step(0)]


def test_the_live_feed_syncs_its_book_from_the_fakes_streams_and_snapshots() -> None:
    with FakeBinance({SYMBOL: RULES}, {"USDT": Decimal(100)}, api_key=KEY, api_secret=SECRET, market=market(),
                     market_interval_s=0.02) as fake:
        seen: dict[type, int] = {Book: 0, BookTop: 0, TradePrint: 0}

        async def read() -> None:
            feed = LiveFeed([SYMBOL], ws_base=fake.stream_url, rest_base=fake.rest_url)
            async with contextlib.aclosing(feed.events()) as events:
                async for event in events:
                    if type(event) in seen:
                        seen[type(event)] += 1
                    if min(seen.values()) >= 5:
                        return

        asyncio.run(asyncio.wait_for(read(), timeout=30))
    assert min(seen.values()) >= 5  # synced books (diffs applied on the snapshot), tops and trades


def test_a_resting_order_fills_when_the_streamed_market_reaches_it() -> None:
    with FakeBinance({SYMBOL: RULES}, {"USDT": Decimal(1000)}, api_key=KEY, api_secret=SECRET,
                     market=market(seed=9), market_interval_s=0.01) as fake:
        exchange = BinanceExchange(BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=fake.rest_url,
                                                 ws_api_url=fake.ws_api_url))
        exchange.start()
        try:
            depth = fake.market.depth(SYMBOL, 1)  # type: ignore[union-attr]
            near = Decimal(depth["bids"][0][0]) - Decimal("0.05")
            exchange.place_order(OrderRequest(client_order_id="cx-l-9-1", symbol=SYMBOL, side=Side.BUY,
                                              type=OrderType.LIMIT, quantity=Decimal("0.1"), price=near,
                                              time_in_force=TimeInForce.GTC), 0)
            deadline = time.monotonic() + 30
            while True:
                view = exchange.get_order(SYMBOL, "cx-l-9-1")
                assert view is not None
                if view.status is OrderStatus.FILLED:
                    break
                assert time.monotonic() < deadline, "the market never reached the order"
                time.sleep(0.05)
        finally:
            exchange.close()
