"""The Exchange port's value types and errors, and the paper adapter's conformance to it."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal

import pytest

from core.errors import ExecutorError
from core.types import OrderStatus, OrderType, Side
from exchange.paper import PaperExchange
from exchange.port import Exchange, ExchangeRejected, ExecutionReport, ExecutionStatusUnknown, ExecutionType, OrderView
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
