"""Caps hold at the price paid (issue 10, item 5): entries are quote-amount market buys (quoteOrderQty), so a gap
to the next bar's open, slippage or a walked book can never make a position cost more than its caps allow.

Driven through the real pump, paper exchange and journal; the fill cost is read back from the journal's fills.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import ExecutorConfig
from core.engine import Engine
from core.events import Bar
from core.portfolio import Portfolio
from core.types import DecisionAction, OrderType
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.pump import Pump

FIVE_MIN = 300_000
START = 1_609_459_200_000  # 2021-01-01 00:00 UTC
SYMBOLS = ("AAAUSDT", "BBBUSDT", "CCCUSDT", "DDDUSDT", "EEEUSDT", "FFFUSDT")
HUNDRED = Decimal(100)


def _bar(symbol: str, open_ms: int, price: float) -> Bar:
    """A quiet bar at `price`: its range stays inside every stop and take-profit placed at that price."""
    return Bar(symbol, open_ms, open_ms + FIVE_MIN - 1, price, price * 1.0005, price * 0.9995, price, 1000.0)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prices=st.lists(st.sampled_from([0.0123, 0.9871, 3.21, 87.654, 1234.5, 41_234.56]) |
                       st.floats(0.05, 50_000.0), min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
       gaps_pct=st.lists(st.sampled_from([0.0, 0.3, 2.0, 9.0]) | st.floats(-3.0, 15.0),
                         min_size=len(SYMBOLS), max_size=len(SYMBOLS)),
       ask_pct=st.floats(5.0, 40.0), slippage_bps=st.sampled_from(["0", "7", "50"]),
       cash=st.sampled_from(["1000", "10000", "123456.78"]))
def test_property_no_entry_exceeds_the_position_or_exposure_cap_at_its_fill_cost(
        prices: list[float], gaps_pct: list[float], ask_pct: float, slippage_bps: str, cash: str) -> None:
    config = ExecutorConfig()
    rules = offline_rules(dict(zip(SYMBOLS, prices, strict=True)))
    balances = {"USDT": Decimal(cash)}
    engine = Engine(config, rules, Portfolio("USDT", balances), list(SYMBOLS), START)
    exchange = PaperExchange(rules, balances, fee_rate=config.risk.fee_rate, slippage_bps=Decimal(slippage_bps))
    position_pct = Decimal(repr(config.risk.max_position_size_pct))
    exposure_pct = Decimal(repr(config.risk.max_total_exposure_pct))
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "journal.db", durable=False)
        pump = Pump(engine, exchange, journal)
        for symbol, price in zip(SYMBOLS, prices, strict=True):
            pump.handle(_bar(symbol, START, price))
        now = START + FIVE_MIN
        for symbol, price, gap in zip(SYMBOLS, prices, gaps_pct, strict=True):
            ctx = engine.risk_context()
            asked = (ctx.equity * Decimal(repr(ask_pct)) / HUNDRED).quantize(Decimal("0.01"))
            decision = engine.request_entry(symbol, asked, Decimal("1.5"), Decimal("0.8"), now - 1)
            pump.flush()
            pump.handle(_bar(symbol, now, price * (1 + gap / 100)))  # the entry meets this bar's open
            if decision.action is not DecisionAction.ENTER:
                continue
            entries = [o for o in journal.orders() if o.client_order_id.startswith("cx-e-") and o.symbol == symbol]
            assert len(entries) == 1 and entries[0].type is OrderType.MARKET
            assert entries[0].quote_order_qty == decision.quote_amount and entries[0].quantity is None
            cost = sum((f.price * f.quantity for f in journal.fills()
                        if f.client_order_id == entries[0].client_order_id), Decimal(0))
            assert cost <= decision.quote_amount
            assert cost * HUNDRED <= ctx.equity * position_pct, (symbol, cost, ctx.equity)
            assert (ctx.exposure + cost) * HUNDRED <= ctx.equity * exposure_pct, (symbol, cost, ctx)
        journal.close()
