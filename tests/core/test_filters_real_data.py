"""`core.filters` on real exchangeInfo documents recorded from Binance (see ../shared/fixtures/PROVENANCE.md)."""

from __future__ import annotations

import gzip
import json
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest

from core.errors import FilterRejected, SymbolNotTrading, TrailingStopNotAllowed
from core.filters import SymbolRules, conform_oco, conform_order, lookup, rules_from_exchange_info
from core.types import OcoRequest, OrderRequest, OrderType, Side, TimeInForce
from tests.conftest import fixture_path
from tests.core.test_filters_properties import violations

D = Decimal
pytestmark = pytest.mark.fixtures


def load_testnet_2021() -> dict[str, Any]:
    return json.loads(fixture_path("rest", "chrisleekr_testnet_2021-04", "binance-exchange-info.json").read_text())


def load_nautilus_2021() -> dict[str, Any]:
    return json.loads(fixture_path("rest", "nautilus_btcusdt_2021-10", "http_spot_market_exchange_info.json")
                      .read_text())


def load_cryptofeed_2021() -> dict[str, Any]:
    """Line 1 of the capture is `URL -> <epoch>: <JSON>`: the full spot exchangeInfo of 2021-10-12."""
    path = fixture_path("ws_captures", "cryptofeed_2021-10-12", "BINANCE.0.gz")
    with gzip.open(path, "rt", encoding="utf-8") as capture:
        line = capture.readline()
    url, _, rest = line.partition(" -> ")
    assert url == "https://api.binance.com/api/v3/exchangeInfo"
    _epoch, _, body = rest.partition(": ")
    return json.loads(body)


DOCUMENTS = {"testnet_2021-04": load_testnet_2021, "nautilus_2021-10": load_nautilus_2021,
             "cryptofeed_2021-10": load_cryptofeed_2021}


@pytest.fixture(params=sorted(DOCUMENTS), scope="module")
def document(request: pytest.FixtureRequest) -> dict[str, Any]:
    return DOCUMENTS[request.param]()


def sample_limit_order(rules: SymbolRules, side: Side) -> tuple[OrderRequest, Decimal] | None:
    """A LIMIT order worth twice minNotional at a price well inside PRICE_FILTER, or None if none fits."""
    price = max(rules.min_price * 1000, rules.tick_size)
    if rules.max_price and price > rules.max_price:
        price = rules.max_price
    qty = (rules.min_notional * 2 / price / rules.step_size).to_integral_value(ROUND_CEILING) * rules.step_size
    qty = max(qty, rules.min_qty)
    if rules.max_qty and qty > rules.max_qty:
        return None
    order = OrderRequest(client_order_id="cx-real", symbol=rules.symbol, side=side, type=OrderType.LIMIT,
                         quantity=qty, price=price, time_in_force=TimeInForce.GTC)
    return order, price


def test_every_trading_symbol_parses_into_complete_rules(document: dict[str, Any]) -> None:
    table = rules_from_exchange_info(document)
    raw = {s["symbol"]: s for s in document["symbols"]}
    assert set(table) == set(raw)
    trading = [r for r in table.values() if r.trading]
    assert len(trading) == sum(1 for s in raw.values() if s["status"] == "TRADING") > 0
    for r in trading:
        info = raw[r.symbol]
        assert r.base_asset + r.quote_asset == r.symbol
        assert r.tick_size > 0 and r.step_size > 0 and r.min_qty > 0 and r.max_qty >= r.min_qty
        assert r.min_notional > 0 and r.notional_filter == "MIN_NOTIONAL"
        assert r.percent_up is not None and r.percent_down is not None and r.percent_down < 1 < r.percent_up
        assert r.max_num_orders is not None and r.max_num_algo_orders is not None
        assert r.order_types == frozenset(info["orderTypes"])
        assert r.oco_allowed == info["ocoAllowed"]
        if not any(f["filterType"] == "MARKET_LOT_SIZE" for f in info["filters"]):
            assert (r.market_step_size, r.market_max_qty) == (0, 0)


def test_every_trading_symbol_conforms_a_plausible_order(document: dict[str, Any]) -> None:
    table = rules_from_exchange_info(document)
    checked = 0
    for r in table.values():
        if not r.trading:
            continue
        for side in (Side.BUY, Side.SELL):
            sample = sample_limit_order(r, side)
            if sample is None:
                continue
            order, price = sample
            result = conform_order(r, order, reference_price=price)
            assert result == order, f"{r.symbol}: an order already on the filters must pass unchanged"
            assert violations(r, result, price) == []
            # Off the grid by a third of a step/tick, on the side from which rounding comes back to the order.
            off_tick = r.tick_size / 3 if side is Side.BUY else -r.tick_size / 3
            nudged = order.model_copy(update={"quantity": order.quantity + r.step_size / 3, "price": price + off_tick})
            rounded = conform_order(r, nudged, reference_price=price)
            assert violations(r, rounded, price) == []
            assert rounded == order
            checked += 1
    assert checked >= sum(1 for r in table.values() if r.trading) * 2 * 0.95


def test_break_symbols_are_refused(document: dict[str, Any]) -> None:
    table = rules_from_exchange_info(document)
    for r in table.values():
        if not r.trading:
            with pytest.raises(SymbolNotTrading):
                lookup(table, r.symbol)


def test_cryptofeed_document_has_break_symbols_and_max_position() -> None:
    doc = load_cryptofeed_2021()
    table = rules_from_exchange_info(doc)
    assert len(table) == 1695
    assert sum(r.trading for r in table.values()) == 1262
    assert any(f["filterType"] == "MAX_POSITION" for s in doc["symbols"] for f in s["filters"])
    assert table["BTCUSDT"].market_max_qty == D("100.05381873")


def test_nautilus_btcusdt_values() -> None:
    r = rules_from_exchange_info(load_nautilus_2021())["BTCUSDT"]
    assert (r.tick_size, r.min_price, r.max_price) == (D("0.01"), D("0.01"), D("1000000"))
    assert (r.step_size, r.min_qty, r.max_qty) == (D("0.00001"), D("0.00001"), D("9000"))
    assert (r.market_step_size, r.market_min_qty, r.market_max_qty) == (D(0), D(0), D("112.21108820"))
    assert (r.min_notional, r.apply_min_to_market, r.notional_filter) == (D(10), True, "MIN_NOTIONAL")
    assert (r.percent_up, r.percent_down) == (D(5), D("0.2"))
    assert (r.max_num_orders, r.max_num_algo_orders) == (200, 5)


def test_testnet_btcusdt_orders_round_and_refuse_like_binance() -> None:
    r = rules_from_exchange_info(load_testnet_2021())["BTCUSDT"]
    assert (r.step_size, r.max_qty, r.market_max_qty) == (D("0.000001"), D("900"), D("100"))
    market = OrderRequest(client_order_id="cx-real", symbol="BTCUSDT", side=Side.SELL, type=OrderType.MARKET,
                          quantity=D("150.1234567"))
    assert conform_order(r, market, reference_price=D("58000")).quantity == D("100"), "MARKET_LOT_SIZE maxQty"
    tiny = OrderRequest(client_order_id="cx-real", symbol="BTCUSDT", side=Side.BUY, type=OrderType.MARKET,
                        quantity=D("0.0001"))
    with pytest.raises(FilterRejected) as below:
        conform_order(r, tiny, reference_price=D("58000"))  # 5.8 USDT < 10, applyToMarket true
    assert below.value.filter_name == "MIN_NOTIONAL"
    far = OrderRequest(client_order_id="cx-real", symbol="BTCUSDT", side=Side.SELL, type=OrderType.LIMIT,
                       quantity=D("0.001"), price=D("300000"), time_in_force=TimeInForce.GTC)
    with pytest.raises(FilterRejected) as percent:
        conform_order(r, far, reference_price=D("58000"))
    assert percent.value.filter_name == "PERCENT_PRICE"
    protect = OcoRequest(list_client_id="cx-real-oco", symbol="BTCUSDT", quantity=D("0.0012345678"),
                         take_profit_price=D("60900.004"), stop_price=D("56840.001"), stop_limit_price=D("56800"))
    result = conform_oco(r, protect, last_price=D("58000"))
    assert (result.quantity, result.take_profit_price, result.stop_price) == (
        D("0.001234"), D("60900.01"), D("56840.01"))


def test_recorded_documents_predate_trailing_stops_so_none_is_allowed(document: dict[str, Any]) -> None:
    """Binance added `allowTrailingStop` on 2022-02-28 and TRAILING_DELTA on 2022-04-13 (CHANGELOG.md); every
    recorded document is older, and a symbol that does not say it allows trailing stops must not take them."""
    rules = rules_from_exchange_info(document)
    assert not any("allowTrailingStop" in info for info in document["symbols"])
    assert rules and all(not r.allow_trailing_stop and r.trailing_delta is None for r in rules.values())
    symbol = next(s for s, r in sorted(rules.items()) if r.trading and "STOP_LOSS_LIMIT" in r.order_types)
    r = rules[symbol]
    price = max(r.min_price * 1000, r.tick_size * 1000)
    order = OrderRequest(client_order_id="cx-real", symbol=symbol, side=Side.SELL, type=OrderType.STOP_LOSS_LIMIT,
                         quantity=max(r.min_qty, r.step_size) * 1000, price=price, time_in_force=TimeInForce.GTC,
                         trailing_delta=100)
    with pytest.raises(TrailingStopNotAllowed):
        conform_order(r, order, reference_price=price * 2)
