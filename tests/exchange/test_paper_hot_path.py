"""The per-bar path: with no open orders for a symbol, market events do nothing but note the price.

A replay calls open_bar/close_bar/on_trade for every bar of every symbol (about 500k calls), so that path
must be a dict lookup. Checked by tracing which functions it calls, never by timing it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from core.events import Bar
from core.types import Side
from tests.exchange.test_paper_support import SYMBOL, bar, limit, paper, trade


def _python_calls_during(action: Callable[[], object]) -> list[str]:
    calls: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        if event == "call":
            calls.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return [c for c in calls if "test_paper_hot_path" not in c]


def test_market_events_for_a_symbol_without_orders_call_nothing() -> None:
    ex = paper()
    candle, print_ = bar(100, 101, 99, 100), trade(100.0)
    for name, action in (("open_bar", lambda: ex.open_bar(candle)), ("close_bar", lambda: ex.close_bar(candle)),
                         ("on_trade", lambda: ex.on_trade(print_))):
        assert _names(_python_calls_during(action)) == [name]


def test_orders_on_another_symbol_do_not_slow_this_one() -> None:
    ex = paper()
    ex.on_trade(trade(100.0))
    ex.place_order(limit("cx-l1", Side.BUY, "1", "90"), now_ms=1)
    other = Bar("ETHUSDT", 0, 299_999, 100.0, 101.0, 99.0, 100.0, volume=1.0)
    assert _names(_python_calls_during(lambda: ex.close_bar(other))) == ["close_bar"]
    assert ex.open_orders(SYMBOL)[0].client_order_id == "cx-l1"


def _names(calls: list[str]) -> list[str]:
    """Function names called, so a pydantic validator or a Decimal conversion would show up here."""
    return [c.rsplit(":", 1)[1] for c in calls]


def test_a_bar_for_a_symbol_without_orders_only_notes_its_close() -> None:
    ex = paper()
    delivered: list[object] = []
    candle = bar(100, 101, 99, 100.5)
    assert _names(_python_calls_during(lambda: ex.on_bar(candle, delivered.append))) == ["on_bar"]
    assert delivered == []
    assert ex.to_state()["last_prices"] == {SYMBOL: 100.5}
