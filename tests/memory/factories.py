"""Builders of valid domain objects for the journal tests (real core types, never mocks)."""

from __future__ import annotations

from decimal import Decimal

from core.types import (
    ClampEvent,
    Decision,
    DecisionAction,
    Fill,
    OcoRequest,
    OrderRequest,
    OrderType,
    Reason,
    ReasonKind,
    RuleId,
    Side,
    StrategyName,
    TimeInForce,
)


def limit_buy(n: int, *, quantity: str = "0.00100000", price: str = "50000.01") -> OrderRequest:
    return OrderRequest(
        client_order_id=f"cx-test-{n}",
        symbol="BTCUSDT",
        side=Side.BUY,
        type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        price=Decimal(price),
        time_in_force=TimeInForce.GTC,
    )


def market_buy_quote(n: int, quote: str = "25.5") -> OrderRequest:
    return OrderRequest(
        client_order_id=f"cx-mkt-{n}",
        symbol="ETHUSDT",
        side=Side.BUY,
        type=OrderType.MARKET,
        quote_order_qty=Decimal(quote),
    )


def protective_oco(n: int) -> OcoRequest:
    return OcoRequest(
        list_client_id=f"cx-oco-{n}",
        symbol="BTCUSDT",
        quantity=Decimal("0.001"),
        take_profit_price=Decimal("52000.00"),
        stop_price=Decimal("49000.00"),
        stop_limit_price=Decimal("48950.00"),
    )


def fill(trade_id: int, *, client_order_id: str = "cx-test-1", price: str = "50000.01", time_ms: int = 1_000) -> Fill:
    return Fill(
        client_order_id=client_order_id,
        symbol="BTCUSDT",
        side=Side.BUY,
        price=Decimal(price),
        quantity=Decimal("0.0005"),
        commission=Decimal("0.00000050"),
        commission_asset="BTC",
        trade_id=trade_id,
        time_ms=time_ms,
        is_maker=True,
    )


def decision(time_ms: int, *, clamps: int = 0) -> Decision:
    return Decision(
        symbol="BTCUSDT",
        strategy=StrategyName("momentum"),
        action=DecisionAction.ENTER,
        quote_amount=Decimal("100.00"),
        quantity=Decimal("0.002"),
        reference_price=Decimal("50000"),
        reasons=(Reason(rule=RuleId.SIZING_KELLY, message="size: fractional Kelly 0.0500 (prior)",
                        kind=ReasonKind.NOTE),
                 Reason(rule=RuleId.MAX_POSITION_SIZE, message="risk.max_position_size_pct: quote_amount 250 -> 100",
                        kind=ReasonKind.CLAMP)),
        clamps=tuple(
            ClampEvent(rule=f"max_position_pct_{i}", field="quote_amount", requested="250", applied="100",
                       source="scout:gemma")
            for i in range(clamps)
        ),
        time_ms=time_ms,
    )
