"""User-data events parsed as Binance sends them (shapes from user-data-stream.md)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from core.exchange_port import ExecutionReport, ExecutionType
from core.types import OrderStatus
from exchange.binance.events import ListStatus, UnknownUserEvent, parse_user_event

D = Decimal


def _report(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "e": "executionReport", "E": 2, "s": "BTCUSDT", "c": "cx-own", "S": "SELL", "o": "STOP_LOSS_LIMIT",
        "f": "GTC", "q": "0.50000000", "p": "94.00000000", "P": "95.00000000", "F": "0.00000000", "g": 7, "C": "",
        "x": "NEW", "X": "NEW", "r": "NONE", "i": 11, "l": "0.00000000", "z": "0.00000000", "L": "0.00000000",
        "n": "0", "N": None, "T": 2, "t": -1, "I": 1, "w": False, "m": False, "M": False, "O": 1,
        "Z": "0.00000000", "Y": "0.00000000", "Q": "0.00000000", "W": 1, "V": "NONE", "d": 500,
    }
    return doc | changes


def test_a_cancel_event_names_the_order_by_C_not_by_the_cancel_requests_id() -> None:
    event = parse_user_event({"subscriptionId": 0, "event": _report(
        c="web_8a1b2c", C="cx-own", x="CANCELED", X="CANCELED")}, {7: "cx-list"})
    assert isinstance(event, ExecutionReport)
    assert (event.client_order_id, event.status, event.execution_type) == (
        "cx-own", OrderStatus.CANCELED, ExecutionType.CANCELED)
    assert event.list_client_id == "cx-list" and event.trailing_delta == 500 and event.trailing_time_ms is None
    assert (event.price, event.stop_price) == (D("94"), D("95"))


def test_self_trade_prevention_expires_the_order() -> None:
    event = parse_user_event(_report(x="TRADE_PREVENTION", X="EXPIRED_IN_MATCH"), {})
    assert isinstance(event, ExecutionReport) and event.execution_type is ExecutionType.EXPIRED


def test_list_status_carries_the_list_client_id_and_legs() -> None:
    event = parse_user_event({"e": "listStatus", "E": 3, "s": "BTCUSDT", "g": 7, "c": "OCO", "l": "ALL_DONE",
                              "L": "ALL_DONE", "r": "NONE", "C": "cx-list", "T": 3,
                              "O": [{"s": "BTCUSDT", "i": 11, "c": "cx-list-sl"},
                                    {"s": "BTCUSDT", "i": 12, "c": "cx-list-tp"}]}, {})
    assert event == ListStatus("BTCUSDT", 7, "cx-list", "ALL_DONE", "ALL_DONE", ("cx-list-sl", "cx-list-tp"), 3)


@pytest.mark.parametrize("doc", [_report(x="REPLACED"), {"e": "externalLockUpdate", "E": 1}])
def test_what_is_not_understood_is_refused_not_dropped(doc: dict[str, Any]) -> None:
    with pytest.raises(UnknownUserEvent):
        parse_user_event(doc, {})
