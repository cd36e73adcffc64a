"""offline_rules: approximate filters from a price level, usable by core.filters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.filters import conform_price, conform_quantity, rules_from_exchange_info
from exchange.feeds.errors import UnsupportedSymbol
from exchange.feeds.rules import offline_exchange_info, offline_rules, split_symbol


def test_familiar_pairs_get_binance_like_filters() -> None:
    rules = offline_rules({"BTCUSDT": 65_000.0, "DOGEUSDT": 0.15, "ADABTC": 0.00002854})
    assert rules["BTCUSDT"].tick_size == Decimal("0.01") and rules["BTCUSDT"].step_size == Decimal("0.00001")
    assert rules["DOGEUSDT"].tick_size == Decimal("0.00001") and rules["DOGEUSDT"].step_size == Decimal("1")
    assert rules["BTCUSDT"].min_notional == Decimal("5") and rules["BTCUSDT"].notional_filter == "NOTIONAL"
    assert rules["ADABTC"].quote_asset == "BTC" and rules["ADABTC"].min_notional == Decimal("0.0001")
    assert rules["ADABTC"].tick_size == Decimal("0.00000001")
    assert rules["BTCUSDT"].bid_up == Decimal("5") and rules["BTCUSDT"].max_num_algo_orders == 5


def test_the_document_is_exchange_info_shaped() -> None:
    doc = offline_exchange_info({"ETHUSDT": 3_400.0}, quote_min_notional=Decimal("10"))
    assert doc["rateLimits"][0]["limit"] == 6000
    assert rules_from_exchange_info(doc)["ETHUSDT"].min_notional == Decimal("10")


def test_split_symbol() -> None:
    assert split_symbol("ETHFDUSD") == ("ETH", "FDUSD")
    assert split_symbol("BNBETH") == ("BNB", "ETH")
    with pytest.raises(UnsupportedSymbol):
        split_symbol("FOOBAR")
    with pytest.raises(ValueError):
        offline_rules({"BTCUSDT": 0.0})


@given(st.floats(1e-6, 5e5, allow_nan=False), st.floats(0.5, 2.0))
def test_rules_fit_their_price_level(price: float, move: float) -> None:
    """At its price level (and after the price halves or doubles) the rules round sensibly: a tick is
    a small fraction of the price and the minimum notional is a handful of lots."""
    rules = offline_rules({"XYZUSDT": price})["XYZUSDT"]
    assert rules.tick_size <= Decimal("0.01") and rules.tick_size >= Decimal("1e-8")
    level = Decimal(repr(price * move))
    if level >= rules.tick_size * 100:
        rounded = conform_price(rules, "price", level, "down")
        assert (level - rounded) / level < Decimal("0.01")
    lot_value = rules.step_size * Decimal(repr(price))
    assert lot_value <= Decimal("1.0001") or rules.step_size == Decimal("1e-8")
    quantity = conform_quantity(rules, Decimal(10) / Decimal(repr(price)) + rules.step_size, market=False)
    assert quantity * Decimal(repr(price)) <= Decimal(10) + rules.step_size * Decimal(repr(price)) * 2


def test_offline_rules_allow_trailing_stops_within_the_documented_range() -> None:
    rules = offline_rules({"BTCUSDT": 65_000.0})["BTCUSDT"]
    assert rules.allow_trailing_stop
    assert rules.trailing_delta is not None
    assert (rules.trailing_delta.min_below, rules.trailing_delta.max_below) == (10, 2000)
