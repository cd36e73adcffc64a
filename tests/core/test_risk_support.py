"""Builders shared by the risk tests (no tests here). Real objects only: our core is never mocked."""

from __future__ import annotations

from decimal import Decimal

from core.filters import SymbolRules
from core.risk.breakers import BreakerState
from core.risk.gate import RiskContext
from core.risk.sizing import KellyBasis
from core.types import Decision, DecisionAction, Signal, StrategyName

SCALPING = StrategyName("scalping")
# 2024-01-01 was a Monday: 00:00 UTC starts a day and a week.
MONDAY_MS = 1_704_067_200_000


def btc_rules(**overrides: object) -> SymbolRules:
    values: dict[str, object] = {
        "symbol": "BTCUSDT", "status": "TRADING", "base_asset": "BTC", "quote_asset": "USDT",
        "tick_size": Decimal("0.01"), "min_price": Decimal("0.01"), "max_price": Decimal("1000000"),
        "step_size": Decimal("0.00001"), "min_qty": Decimal("0.00001"), "max_qty": Decimal("9000"),
        "min_notional": Decimal("5"),
    }
    values.update(overrides)
    return SymbolRules.model_validate(values)


def context(equity: str = "10000", free: str | None = None, exposure: str = "0",
            open_symbols: frozenset[str] = frozenset(), pending_symbols: frozenset[str] = frozenset(),
            breakers: BreakerState | None = None, now_ms: int = MONDAY_MS,
            stats: dict[StrategyName, tuple[int, float | None]] | None = None,
            paused: dict[str, int] | None = None, outages: dict[str, str] | None = None,
            all_paused_until: int = 0) -> RiskContext:
    return RiskContext(
        equity=Decimal(equity),
        free_quote=Decimal(free if free is not None else equity),
        exposure=Decimal(exposure),
        open_symbols=open_symbols,
        pending_symbols=pending_symbols,
        breakers=breakers or BreakerState.initial(float(equity), now_ms),
        # (closed trades, estimate) with the last close now: the estimate as it stands, not aged
        strategy_stats={k: KellyBasis(n, e, now_ms) for k, (n, e) in (stats or {}).items()},
        paused_symbols=paused or {},
        data_outages=outages or {},
        all_paused_until=all_paused_until,
    )


def signal(symbol: str = "BTCUSDT", confidence: float = 1.0, price: str = "40000",
           strategy: StrategyName = SCALPING, tp: str = "1.5", sl: str = "0.8",
           time_ms: int = MONDAY_MS) -> Signal:
    return Signal(symbol=symbol, strategy=strategy, confidence=confidence, reference_price=Decimal(price),
                  take_profit_pct=Decimal(tp), stop_loss_pct=Decimal(sl), time_ms=time_ms, reason="test")


def enter_decision(quantity: str = "0.05000", price: str = "40000", stop: str = "39680.00",
                   take_profit: str = "40600.00") -> Decision:
    qty, ref = Decimal(quantity), Decimal(price)
    return Decision(symbol="BTCUSDT", strategy=StrategyName("scalping"), action=DecisionAction.ENTER,
                    quote_amount=qty * ref, quantity=qty, reference_price=ref, take_profit_price=Decimal(take_profit),
                    stop_price=Decimal(stop), time_ms=MONDAY_MS)
