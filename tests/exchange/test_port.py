"""The Exchange port's value types and errors, and the paper adapter's conformance to it."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from core.errors import ExecutorError
from core.exchange_port import (
    Exchange,
    ExchangeRejected,
    ExecutionReport,
    ExecutionStatusUnknown,
    ExecutionType,
    OrderView,
    SimulatedVenue,
)
from core.types import OrderStatus, OrderType, Side
from exchange.paper import PaperExchange
from tests.exchange.test_paper_support import SYMBOL, btc_rules


def test_exchange_rejected_carries_binance_code_message_symbol_and_client_id() -> None:
    refused = ExchangeRejected(-2010, "Duplicate order sent.", symbol="BTCUSDT", client_order_id="cx-1")
    assert isinstance(refused, ExecutorError)
    assert (refused.code, refused.binance_code, refused.binance_msg) == ("EXCHANGE_REJECTED", -2010,
                                                                        "Duplicate order sent.")
    assert (refused.symbol, refused.client_order_id) == ("BTCUSDT", "cx-1")
    document = refused.to_dict()
    assert document["details"] == {"binance_code": -2010, "binance_msg": "Duplicate order sent.",
                                   "symbol": "BTCUSDT", "client_order_id": "cx-1"}
    json.dumps(document)


def test_execution_status_unknown_names_the_order_to_query() -> None:
    unknown = ExecutionStatusUnknown("-1007 timeout", symbol="BTCUSDT", client_order_id="cx-9")
    assert isinstance(unknown, ExecutorError) and unknown.code == "EXECUTION_STATUS_UNKNOWN"
    assert unknown.client_order_id == "cx-9" and "query by client order id" in unknown.message


def test_reports_and_views_are_frozen_values() -> None:
    report = ExecutionReport(client_order_id="cx-1", symbol=SYMBOL, side=Side.BUY, order_type=OrderType.LIMIT,
                             status=OrderStatus.NEW, price=Decimal("1"), stop_price=None, orig_qty=Decimal("1"),
                             executed_qty=Decimal(0), cum_quote=Decimal(0), time_ms=1)
    assert report.execution_type is ExecutionType.NEW and report.fill is None and report.list_client_id is None
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.status = OrderStatus.FILLED  # type: ignore[misc]
    view = OrderView(client_order_id="cx-1", symbol=SYMBOL, side=Side.BUY, order_type=OrderType.LIMIT,
                     status=OrderStatus.NEW, price=Decimal("1"), stop_price=None, orig_qty=Decimal("1"),
                     executed_qty=Decimal(0), cum_quote=Decimal(0), list_client_id=None, time_ms=1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.status = OrderStatus.FILLED  # type: ignore[misc]


def test_paper_exchange_implements_the_port() -> None:
    paper = PaperExchange({SYMBOL: btc_rules()}, {"USDT": Decimal("1")})
    assert isinstance(paper, Exchange)
    assert paper.exchange_rules() == {SYMBOL: btc_rules()}
    assert paper.balances() == {"USDT": (Decimal("1"), Decimal("0"))}
    assert paper.open_orders() == []


def test_the_simulator_is_a_simulated_venue_and_a_plain_exchange_is_not() -> None:
    """The pump feeds market data only to a declared simulated venue: a real adapter matches on its own."""
    paper = PaperExchange({SYMBOL: btc_rules()}, {"USDT": Decimal("1")})

    class Remote:  # the port's methods only, as a live adapter has them
        remote = True
        exchange_rules = paper.exchange_rules
        place_order = paper.place_order
        place_oco = paper.place_oco
        cancel_order = paper.cancel_order
        cancel_order_list = paper.cancel_order_list
        get_order = paper.get_order
        open_orders = paper.open_orders
        balances = paper.balances

    assert isinstance(paper, SimulatedVenue)
    assert isinstance(Remote(), Exchange) and not isinstance(Remote(), SimulatedVenue)
