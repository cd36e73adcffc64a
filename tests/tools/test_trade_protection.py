"""Issue 9, Protection item 3 through the trade tool: wide stops are refused, a failed protection is told."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tests.tools.test_trade_support import checkpoint, context
from tools.trade import TradeInput, handle


def test_item3_trade_pct_12_sl_95_is_refused_not_bought_and_sold(home: Path) -> None:
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", pct=Decimal("12"), sl=Decimal("95")), context(home))
    assert out.status == "skipped" and out.orders == [] and out.fills == []
    assert "MAX_STOP_LOSS_PCT=10" in out.message and "95" in out.message
    assert "ETHUSDT" not in checkpoint(home)["engine"]["holdings"]


def test_item3_a_protection_that_fails_after_the_fill_is_said_with_the_exit(home: Path) -> None:
    """A stop 0.01 % under the reference price passes the gate, but the fill (at the ask, plus the fee) puts it
    above the last price: no OCO can be placed and the position is sold. The answer must say so, not
    "executed … stop X" with protection null."""
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10"), sl=Decimal("0.01")), context(home))
    assert out.status == "executed" and out.protection is None
    assert out.protection_failed is not None and "cannot place an OCO" in out.protection_failed
    assert out.exit_order is not None and out.exit_order.side == "SELL" and out.exit_order.type == "MARKET"
    assert "NOT PROTECTED" in out.message and out.exit_order.client_order_id in out.message
    assert "ETHUSDT" not in checkpoint(home)["engine"]["holdings"]


def test_item3_a_protected_buy_has_no_failure_fields(home: Path) -> None:
    out = handle(TradeInput(symbol="ETHUSDT", side="buy", quote=Decimal("10")), context(home))
    assert out.protection is not None and out.protection_failed is None and out.exit_order is None
    assert "NOT PROTECTED" not in out.message
