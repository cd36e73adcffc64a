"""The seeded synthetic market: deterministic, sane books and prices, filters that fit its numbers."""

from __future__ import annotations

import itertools
from collections import Counter
from decimal import Decimal

import numpy as np
import pytest

from core.events import Bar, Book, TradePrint
from core.filters import rules_from_exchange_info
from exchange.feeds.errors import UnsupportedSymbol
from exchange.feeds.synthetic import REGIMES, SyntheticMarket


def _take(market: SyntheticMarket, n: int) -> list:  # type: ignore[type-arg]
    return list(itertools.islice(market.events(), n))


def test_same_seed_same_stream_and_a_different_seed_differs() -> None:
    a = SyntheticMarket(7, steps=300)
    assert list(a.events()) == list(SyntheticMarket(7, steps=300).events())
    assert list(a.events()) == list(a.events()), "events() must start again from the seed"
    assert _take(SyntheticMarket(8, steps=300), 500) != _take(a, 500)


@pytest.fixture(scope="module")
def run() -> tuple[SyntheticMarket, list]:  # type: ignore[type-arg]
    market = SyntheticMarket(11, steps=1_800)
    return market, list(market.events())


def test_stream_shape(run) -> None:  # type: ignore[no-untyped-def]
    market, events = run
    assert len(market.symbols) == 10 and all(s.endswith("USDT") for s in market.symbols)
    counts = Counter(type(e) for e in events)
    assert counts[Book] == 10 * 1_800
    assert counts[Bar] == 10 * (1_800 // 60)
    assert counts[TradePrint] > 0
    times = [e.time_ms if not isinstance(e, Bar) else e.close_time_ms for e in events]
    assert times == sorted(times)
    for book in (e for e in events if isinstance(e, Book)):
        assert len(book.bids) == 10 and len(book.asks) == 10


def test_books_never_cross_and_prices_are_positive(run) -> None:  # type: ignore[no-untyped-def]
    _, events = run
    for event in events:
        if isinstance(event, Book):
            bids = [p for p, _ in event.bids]
            asks = [p for p, _ in event.asks]
            assert bids[0] < asks[0]
            assert bids == sorted(bids, reverse=True) and len(set(bids)) == 10
            assert asks == sorted(asks) and len(set(asks)) == 10
            assert min(bids) > 0 and all(q > 0 for _, q in event.bids + event.asks)
        elif isinstance(event, TradePrint):
            assert event.price > 0 and event.quantity > 0
        elif isinstance(event, Bar):
            assert 0 < event.low <= min(event.open, event.close) <= max(event.open, event.close) <= event.high
            assert event.close_time_ms - event.open_time_ms + 1 == 60_000
            assert 0 <= (event.taker_buy_volume or 0) <= event.volume


def test_exchange_info_parses_and_every_number_fits_its_filters(run) -> None:  # type: ignore[no-untyped-def]
    market, events = run
    rules = rules_from_exchange_info(market.exchange_info())
    assert sorted(rules) == sorted(market.symbols)
    for symbol_rules in rules.values():
        assert symbol_rules.trading and symbol_rules.tick_size > 0 and symbol_rules.step_size > 0
        assert symbol_rules.min_notional == Decimal("5")
    for event in events[:20_000]:
        if isinstance(event, Book):
            r = rules[event.symbol]
            for price, qty in event.bids + event.asks:
                assert Decimal(repr(price)) % r.tick_size == 0, (event.symbol, price)
                assert Decimal(repr(qty)) % r.step_size == 0, (event.symbol, qty)
        elif isinstance(event, TradePrint):
            r = rules[event.symbol]
            assert Decimal(repr(event.price)) % r.tick_size == 0
            assert Decimal(repr(event.quantity)) % r.step_size == 0


def test_trades_happen_at_the_touch(run) -> None:  # type: ignore[no-untyped-def]
    _, events = run
    touch: dict[str, tuple[float, float]] = {}
    for event in events:
        if isinstance(event, Book):
            touch[event.symbol] = (event.bids[0][0], event.asks[0][0])
        elif isinstance(event, TradePrint):
            bid, ask = touch[event.symbol]
            assert event.price == (bid if event.buyer_is_maker else ask)


def test_regimes_switch_and_symbols_move_together() -> None:
    market = SyntheticMarket(3, step_ms=5_000, steps=4_000)
    closes: dict[str, list[float]] = {}
    for event in market.events():
        if isinstance(event, Bar):
            closes.setdefault(event.symbol, []).append(event.close)
    assert {regime for _, regime in market.regime_log} == set(REGIMES)
    returns = {s: np.diff(np.log(c)) for s, c in closes.items()}
    corr = np.corrcoef(returns["BTCUSDT"], returns["ETHUSDT"])[0, 1]
    assert corr > 0.5, "the common market factor should correlate symbols"


def test_custom_symbols() -> None:
    market = SyntheticMarket(5, symbols=["btcusdt", "FOOUSDT"], steps=61)
    events = list(market.events())
    assert market.symbols == ["BTCUSDT", "FOOUSDT"]
    assert {e.symbol for e in events} == {"BTCUSDT", "FOOUSDT"}
    assert sorted(rules_from_exchange_info(market.exchange_info())) == ["BTCUSDT", "FOOUSDT"]
    with pytest.raises(ValueError):
        SyntheticMarket(5, symbols=["BTCUSDT", "btcusdt"])
    with pytest.raises(UnsupportedSymbol):
        SyntheticMarket(5, symbols=["FOOBAR"])
