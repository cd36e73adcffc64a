"""A realistic two-day journal (Mon 2026-11-16 and Tue 2026-11-17, UTC), written through Journal's public API.

Trades (money by hand, so the tests can check the report against sums they do themselves):

* A  BTCUSDT momentum: buy 0.01 @ 50000 (fee 0.5 USDT) Mon 10:00, sell 0.01 @ 51000 (fee 0.51 USDT) Mon 14:00.
* B  ETHUSDT scalping: buy 0.5 @ 3000 (fee 0.0005 ETH) Mon 20:00, sell 0.4995 @ 2950 (fee 1.473525 USDT) Tue 03:00.
* C  BTCUSDT scalping: buy 0.02 @ 50500 (fee 1.01 USDT) Tue 09:00, sell half @ 50800 (fee 0.508 USDT) Tue 12:00;
     the other half is still open at the end of Tuesday.
* D  SOLUSDT stat_arb: two buy fills 1 @ 150 and 1 @ 151 (fees 0.15 and 0.151 USDT) Tue 15:00,
     sell 2 @ 155 (fee 0.31 USDT) Tue 18:00.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from core.clock import MS_PER_HOUR
from core.types import (
    ClampEvent,
    Decision,
    DecisionAction,
    Fill,
    OrderRequest,
    OrderStatus,
    OrderType,
    Reason,
    ReasonKind,
    RuleId,
    Side,
    StrategyName,
)
from memory.journal import Journal
from reports.periods import day_start_ms

MONDAY = date(2026, 11, 16)
TUESDAY = date(2026, 11, 17)
MON_MS = day_start_ms(MONDAY)
TUE_MS = day_start_ms(TUESDAY)
EMPTY_DAY = date(2026, 11, 20)


def at(day_ms: int, hour: int, minute: int = 0) -> int:
    return day_ms + hour * MS_PER_HOUR + minute * 60_000


def equity_value(hour_index: int) -> Decimal:
    """Hourly equity: a rise, a dip in the Monday afternoon, a recovery and a Tuesday slide."""
    path = [0, 5, 12, 20, 18, 25, 31, 40, 38, 44, 50, 61, 70, 64, 52, 45, 58, 66, 73, 80, 78, 85, 91, 96]
    tuesday = [96, 90, 84, 88, 95, 101, 99, 93, 87, 80, 84, 89, 95, 102, 110, 104, 98, 91, 96, 100, 103, 99, 94, 90]
    cents = (path + tuesday)[hour_index]
    return Decimal(10_000) + Decimal(cents) + Decimal("0.25")


@dataclass(frozen=True)
class Trade:
    symbol: str
    strategy: StrategyName
    position_id: str
    fills: tuple[Fill, ...]


def _order(cid: str, symbol: str, side: Side, quantity: str) -> OrderRequest:
    return OrderRequest(client_order_id=cid, symbol=symbol, side=side, type=OrderType.MARKET,
                        quantity=Decimal(quantity))


def _fill(cid: str, symbol: str, side: Side, price: str, qty: str, fee: str, fee_asset: str, trade_id: int,
          time_ms: int) -> Fill:
    return Fill(client_order_id=cid, symbol=symbol, side=side, price=Decimal(price), quantity=Decimal(qty),
                commission=Decimal(fee), commission_asset=fee_asset, trade_id=trade_id, time_ms=time_ms)


TRADES = (
    Trade("BTCUSDT", StrategyName("momentum"), "BTCUSDT-a", (
        _fill("cx-a-buy", "BTCUSDT", Side.BUY, "50000", "0.01", "0.5", "USDT", 1, at(MON_MS, 10)),
        _fill("cx-a-sell", "BTCUSDT", Side.SELL, "51000", "0.01", "0.51", "USDT", 2, at(MON_MS, 14)),
    )),
    Trade("ETHUSDT", StrategyName("scalping"), "ETHUSDT-b", (
        _fill("cx-b-buy", "ETHUSDT", Side.BUY, "3000", "0.5", "0.0005", "ETH", 3, at(MON_MS, 20)),
        _fill("cx-b-sell", "ETHUSDT", Side.SELL, "2950", "0.4995", "1.473525", "USDT", 4, at(TUE_MS, 3)),
    )),
    Trade("BTCUSDT", StrategyName("scalping"), "BTCUSDT-c", (
        _fill("cx-c-buy", "BTCUSDT", Side.BUY, "50500", "0.02", "1.01", "USDT", 5, at(TUE_MS, 9)),
        _fill("cx-c-sell", "BTCUSDT", Side.SELL, "50800", "0.01", "0.508", "USDT", 6, at(TUE_MS, 12)),
    )),
    Trade("SOLUSDT", StrategyName("stat_arb"), "SOLUSDT-d", (
        _fill("cx-d-buy", "SOLUSDT", Side.BUY, "150", "1", "0.15", "USDT", 7, at(TUE_MS, 15)),
        _fill("cx-d-buy", "SOLUSDT", Side.BUY, "151", "1", "0.151", "USDT", 8, at(TUE_MS, 15, 1)),
        _fill("cx-d-sell", "SOLUSDT", Side.SELL, "155", "2", "0.31", "USDT", 9, at(TUE_MS, 18)),
    )),
)


def refusal(rule: RuleId, message: str) -> Reason:
    return Reason(rule=rule, message=message, kind=ReasonKind.REFUSAL)


def skip(symbol: str, time_ms: int, *reasons: Reason, clamps: tuple[ClampEvent, ...] = ()) -> Decision:
    return Decision(symbol=symbol, strategy=StrategyName("scalping"), action=DecisionAction.SKIP, reasons=reasons,
                    clamps=clamps, time_ms=time_ms)


def enter(symbol: str, strategy: StrategyName, time_ms: int, clamps: tuple[ClampEvent, ...] = ()) -> Decision:
    return Decision(symbol=symbol, strategy=strategy, action=DecisionAction.ENTER, quote_amount=Decimal(100),
                    quantity=Decimal("0.002"), reference_price=Decimal(50_000), reasons=(SIZED,), clamps=clamps,
                    time_ms=time_ms)


SIZED = Reason(rule=RuleId.SIZING_KELLY, message="size: fractional Kelly 0.0500 (prior, 0 closed trades) × "
               "confidence 0.70 × allocation 0.50 × breaker 1.00 = 1.7500% of equity 10000", kind=ReasonKind.NOTE)


def size_clamp(symbol: str) -> ClampEvent:
    return ClampEvent(rule="max_position_pct", field="quote_amount", requested="250", applied="100",
                      source="config", symbol=symbol)


def populate(journal: Journal) -> None:
    """Everything the report reads, for Monday and Tuesday."""
    for hour in range(48):
        value = equity_value(hour)
        journal.record_equity(at(MON_MS, hour), value, value - Decimal(500), Decimal(500))
    for trade in TRADES:
        cids = dict.fromkeys(f.client_order_id for f in trade.fills)
        for cid in cids:
            fills = [f for f in trade.fills if f.client_order_id == cid]
            side = fills[0].side
            quantity = sum((f.quantity for f in fills), Decimal(0))
            journal.record_order_intent(_order(cid, trade.symbol, side, str(quantity)), time_ms=fills[0].time_ms - 5,
                                        strategy=trade.strategy.value, position_id=trade.position_id, reason="signal")
            journal.update_order(cid, status=OrderStatus.FILLED, executed_qty=quantity,
                                 cum_quote=sum((f.notional for f in fills), Decimal(0)), time_ms=fills[-1].time_ms)
            for fill in fills:
                journal.record_fill(fill, position_id=trade.position_id)
        journal.record_decision(enter(trade.symbol, trade.strategy, trade.fills[0].time_ms - 10))
    # Monday: two data outages on different symbols, one "already in a position", one clamp on an entry.
    journal.record_decision(skip("ETHUSDT", at(MON_MS, 2),
                                 refusal(RuleId.DATA_OUTAGE, "DATA_OUTAGE: no market price for ETHUSDT yet")))
    journal.record_decision(skip("SOLUSDT", at(MON_MS, 3),
                                 refusal(RuleId.DATA_OUTAGE, "DATA_OUTAGE: no market price for SOLUSDT yet")))
    journal.record_decision(skip("BTCUSDT", at(MON_MS, 11), refusal(
        RuleId.ONE_POSITION_PER_SYMBOL, "one position per symbol: BTCUSDT already has an open position")))
    journal.record_decision(enter("XRPUSDT", StrategyName("momentum"), at(MON_MS, 16), (size_clamp("XRPUSDT"),)))
    # Tuesday: the same "already in" reason on two symbols, one skip that a clamp turned into a refusal.
    journal.record_decision(skip("ETHUSDT", at(TUE_MS, 1), refusal(
        RuleId.ONE_POSITION_PER_SYMBOL, "one position per symbol: ETHUSDT already has an open position")))
    journal.record_decision(skip("SOLUSDT", at(TUE_MS, 16), refusal(
        RuleId.ONE_POSITION_PER_SYMBOL, "one position per symbol: an entry on SOLUSDT is already in flight")))
    # Sized (a note, never a skip reason), capped (a clamp), then refused: only the refusal is a skip reason.
    journal.record_decision(skip("BTCUSDT", at(TUE_MS, 10), SIZED,
                                 Reason(rule=RuleId.MAX_POSITION_SIZE, kind=ReasonKind.CLAMP,
                                        message="risk.max_position_size_pct: quote_amount 250 -> 0.4"),
                                 refusal(RuleId.SIZE_ZERO, "size is zero (requested 0.4)"),
                                 clamps=(size_clamp("BTCUSDT"),)))
    journal.record_breaker_event(at(MON_MS, 14, 30), "daily_loss", "tripped", "pause", 2.3, 2.0,
                                 "daily loss 2.30% over 2.00%")
    journal.record_breaker_event(at(MON_MS, 16, 30), "daily_loss", "cleared", "active", 0.0, 2.0, "cleared")
    journal.record_error(at(MON_MS, 5), "ORDER_REJECTED", "rejected -2010", {"symbol": "BTCUSDT"})
    journal.record_error(at(TUE_MS, 5), "DATA_OUTAGE", "feed stale", {})
    journal.record_error(at(TUE_MS, 6), "DATA_OUTAGE", "feed stale", {})
    for minute, ok in ((1, True), (2, False), (3, True)):
        journal.record_llm_call(at(MON_MS, 8, minute), "scout", "gemma-2-2b", 100, 20, 900, ok, "intel")
    journal.record_llm_call(at(TUE_MS, 8), "analyzer", "deepseek-chat", 400, 80, 2500, False, "timeout")
