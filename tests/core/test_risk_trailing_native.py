"""Exchange-native trailing: the delta the engine sends (`native_trailing_delta`) and the stop it makes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.filters import SymbolRules, TrailingDeltaBounds, check_trailing_delta
from core.risk import InvalidRiskInput
from core.risk.trailing import native_trailing_delta, trailing_trigger
from core.types import OrderType, Side
from exchange.paper.trailing import Trail

D = Decimal
BASE = SymbolRules(symbol="AAAUSDT", status="TRADING", base_asset="AAA", quote_asset="USDT",
                   allow_trailing_stop=True)
PCTS = st.decimals(min_value=D("0.01"), max_value=D("25"), places=2)


def _rules(min_below: int, max_below: int, allowed: bool = True) -> SymbolRules:
    bounds = TrailingDeltaBounds(min_above=10, max_above=2000, min_below=min_below, max_below=max_below)
    return BASE.model_copy(update={"trailing_delta": bounds, "allow_trailing_stop": allowed})


@pytest.mark.parametrize(("stop_loss", "start", "expected"), [
    ("0.7", 1.0, 70),     # the stop distance is tighter than the ladder's
    ("3", 1.0, 100),      # the ladder's 1 % is tighter
    ("0.555", 1.0, 55),   # rounded down to a whole BIPS: tighter
    ("0.005", 1.0, None),  # under 1 BIPS: no trailing stop can be that tight
])
def test_the_rule(stop_loss: str, start: float, expected: int | None) -> None:
    assert native_trailing_delta(BASE, D(stop_loss), start) == expected


def test_symbols_without_trailing_stops_or_bounds_below_the_delta_get_none() -> None:
    assert native_trailing_delta(BASE.model_copy(update={"allow_trailing_stop": False}), D("1"), 1.0) is None
    assert native_trailing_delta(_rules(150, 2000), D("1"), 1.0) is None
    assert native_trailing_delta(_rules(10, 40), D("1"), 1.0) == 40


def test_a_non_positive_stop_distance_is_refused() -> None:
    with pytest.raises(InvalidRiskInput):
        native_trailing_delta(BASE, D(0), 1.0)


@given(stop_loss=PCTS, start=st.floats(0.01, 50.0), low=st.integers(1, 9_999), high=st.integers(1, 9_999))
def test_property_the_delta_sits_inside_the_filter_and_never_loosens(stop_loss: Decimal, start: float, low: int,
                                                                     high: int) -> None:
    assume(low <= high)
    rules = _rules(low, high)
    delta = native_trailing_delta(rules, stop_loss, start)
    if delta is None:
        return
    assert low <= delta <= high
    check_trailing_delta(rules, Side.SELL, OrderType.STOP_LOSS_LIMIT, delta)  # the exchange's own check passes
    # Never looser than the stop distance nor the ladder's trailing distance.
    assert D(delta) <= stop_loss * 100 and D(delta) <= D(repr(start)) * 100


@given(stop_loss=PCTS, last=st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4),
       path=st.lists(st.decimals(min_value=D("0.0001"), max_value=D("200000"), places=4), max_size=40))
def test_property_the_exchange_trigger_starts_at_the_stop_or_above_and_only_rises(
        stop_loss: Decimal, last: Decimal, path: list[Decimal]) -> None:
    """The trigger Binance (and the simulator) keeps for the leg: at placement at or above the fixed stop the
    position asked for, then never lower, on any path of trades, until it fires."""
    delta = native_trailing_delta(BASE, stop_loss, 1.0)
    assume(delta is not None)
    assert delta is not None
    trail = Trail(delta=delta, selling=True, stop_price=None)
    trail.start(last, 0)
    trigger = trail.trigger_price()
    assert trigger == trailing_trigger(last, delta) >= last * (1 - stop_loss / 100)
    for i, price in enumerate(path, start=1):
        fired = trail.on_trade(price, i)
        now = trail.trigger_price()
        assert now is not None and trigger is not None and now >= trigger
        if fired:
            assert price <= now
            break
        trigger = now
