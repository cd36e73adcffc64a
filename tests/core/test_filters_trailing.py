"""Trailing stops in the symbol rules: `allowTrailingStop`, the TRAILING_DELTA filter, and orders that trail.

The document is the post-2023 shape of tests/core/test_filters.py, whose TRAILING_DELTA filter is the one
binance-spot-api-docs (filters.md) shows: 10-2000 BIPS both ways. The recorded exchangeInfo documents predate
trailing stops (tests/core/test_filters_real_data.py checks that they parse as "not allowed").
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from core.errors import FilterRejected, TrailingStopNotAllowed
from core.filters import SymbolRules, TrailingDeltaBounds, check_trailing_delta, conform_oco, conform_order
from core.types import OcoRequest, OrderRequest, OrderType, Side, TimeInForce
from tests.core.test_filters import post_2023_symbol, rules

D = Decimal


def _with_filter(**bounds: Any) -> dict[str, Any]:
    info = post_2023_symbol()
    info["filters"] = [f for f in info["filters"] if f["filterType"] != "TRAILING_DELTA"]
    info["filters"].append({"filterType": "TRAILING_DELTA", **bounds})
    return info


def trailing_stop(delta: int, *, side: Side = Side.SELL, stop: str | None = None) -> OrderRequest:
    return OrderRequest(client_order_id="cx-t", symbol="BTCUSDT", side=side, type=OrderType.STOP_LOSS_LIMIT,
                        quantity=D("0.01"), price=D("37500"), stop_price=None if stop is None else D(stop),
                        time_in_force=TimeInForce.GTC, trailing_delta=delta)


def test_the_documented_filter_and_flag_are_parsed() -> None:
    r = rules()
    assert r.allow_trailing_stop is True
    assert r.trailing_delta == TrailingDeltaBounds(min_above=10, max_above=2000, min_below=10, max_below=2000)


def test_above_and_below_bounds_are_kept_apart() -> None:
    r = SymbolRules.from_symbol_info(_with_filter(minTrailingAboveDelta=20, maxTrailingAboveDelta=3000,
                                                  minTrailingBelowDelta=15, maxTrailingBelowDelta=1500))
    assert r.trailing_delta is not None
    assert r.trailing_delta.for_order(Side.SELL, OrderType.STOP_LOSS_LIMIT) == (15, 1500)
    assert r.trailing_delta.for_order(Side.BUY, OrderType.STOP_LOSS_LIMIT) == (20, 3000)


def test_a_symbol_without_the_flag_takes_no_trailing_stop() -> None:
    info = post_2023_symbol()
    del info["allowTrailingStop"]
    r = SymbolRules.from_symbol_info(info)
    assert r.allow_trailing_stop is False
    with pytest.raises(TrailingStopNotAllowed) as refused:
        check_trailing_delta(r, Side.SELL, OrderType.STOP_LOSS_LIMIT, 100)
    assert refused.value.details == {"symbol": "BTCUSDT", "setting": "allowTrailingStop", "trailing_delta": 100}


@pytest.mark.parametrize("bounds, reason", [
    ({"minTrailingAboveDelta": 0, "maxTrailingAboveDelta": 10, "minTrailingBelowDelta": 10,
      "maxTrailingBelowDelta": 20}, "greater than or equal to 1"),
    ({"minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 20, "minTrailingBelowDelta": 30,
      "maxTrailingBelowDelta": 20}, "minTrailingBelowDelta 30 exceeds maxTrailingBelowDelta 20"),
    ({"minTrailingAboveDelta": 10, "maxTrailingAboveDelta": 20, "minTrailingBelowDelta": 10,
      "maxTrailingBelowDelta": 10000}, "less than 10000"),
])
def test_the_value_object_refuses_bounds_that_cannot_be(bounds: dict[str, int], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        SymbolRules.from_symbol_info(_with_filter(**bounds))


@pytest.mark.parametrize("delta, passes", [(9, False), (10, True), (2000, True), (2001, False)])
def test_trailing_delta_filter_bounds_are_inclusive(delta: int, passes: bool) -> None:
    if passes:
        assert conform_order(rules(), trailing_stop(delta), reference_price=D("40000")).trailing_delta == delta
        return
    with pytest.raises(FilterRejected) as refused:
        conform_order(rules(), trailing_stop(delta), reference_price=D("40000"))
    assert (refused.value.filter_name, refused.value.details["value"]) == ("TRAILING_DELTA", delta)


def test_allowed_without_a_filter_means_no_bound() -> None:
    r = rules().model_copy(update={"trailing_delta": None})
    assert conform_order(r, trailing_stop(5000), reference_price=D("40000")).trailing_delta == 5000


def test_order_shapes_with_a_trailing_delta() -> None:
    assert trailing_stop(250).stop_price is None  # Binance: stopPrice is optional for a trailing stop
    assert trailing_stop(250, stop="39000").stop_price == D("39000")
    with pytest.raises(ValidationError, match="takes no trailing_delta"):
        OrderRequest(client_order_id="cx-t", symbol="BTCUSDT", side=Side.SELL, type=OrderType.LIMIT,
                     quantity=D("1"), price=D("1"), time_in_force=TimeInForce.GTC, trailing_delta=100)
    with pytest.raises(ValidationError, match="needs stop_price, trailing_delta or both"):
        OrderRequest(client_order_id="cx-t", symbol="BTCUSDT", side=Side.SELL, type=OrderType.STOP_LOSS_LIMIT,
                     quantity=D("1"), price=D("1"), time_in_force=TimeInForce.GTC)
    with pytest.raises(ValidationError, match="below 10000 BIPS"):
        trailing_stop(10_000)
    assert trailing_stop(10_000, side=Side.BUY).trailing_delta == 10_000
    with pytest.raises(ValidationError):
        trailing_stop(0)


def test_an_oco_stop_leg_may_trail_with_or_without_a_stop_price() -> None:
    oco = OcoRequest(list_client_id="cx-o", symbol="BTCUSDT", quantity=D("0.01"), take_profit_price=D("42000"),
                     stop_limit_price=D("37000"), trailing_delta=300)
    _tp, stop = oco.legs()
    assert (stop.stop_price, stop.trailing_delta, stop.price) == (None, 300, D("37000"))
    conformed = conform_oco(rules(), oco, last_price=D("40000"))
    assert (conformed.stop_price, conformed.trailing_delta) == (None, 300)
    with pytest.raises(ValidationError, match="needs stop_price, trailing_delta or both"):
        OcoRequest(list_client_id="cx-o", symbol="BTCUSDT", quantity=D("0.01"), take_profit_price=D("42000"),
                   stop_limit_price=D("37000"))
    with pytest.raises(FilterRejected) as too_tight:
        conform_oco(rules(), oco.model_copy(update={"trailing_delta": 5}), last_price=D("40000"))
    assert too_tight.value.filter_name == "TRAILING_DELTA"
    with pytest.raises(TrailingStopNotAllowed):
        conform_oco(rules().model_copy(update={"allow_trailing_stop": False}), oco, last_price=D("40000"))
    with pytest.raises(FilterRejected) as stop_above_last:
        conform_oco(rules(), oco.model_copy(update={"stop_price": D("40500")}), last_price=D("40000"))
    assert stop_above_last.value.filter_name == "OCO"
