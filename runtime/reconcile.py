"""Start-up reconciliation: the journal and the exchange agree, and every open position is protected.

Runs before the engine trades (Invariant 5). Each order the journal does not know to be finished is
looked up on the exchange by its client order id. Known there: the journal takes the exchange's state.
Unknown there: it never reached the exchange (a crash between journaling and sending) and is marked
EXPIRED with that reason — unless it lies after the restored checkpoint of a replay, whose deterministic
re-run will decide it again under the same id.
"""

from __future__ import annotations

from decimal import Decimal

from core.engine import Engine
from core.types import OrderStatus
from exchange.port import Exchange
from memory.journal import Journal

NEVER_SENT = "never reached the exchange (found unsent at start-up)"


def reconcile_orders(journal: Journal, exchange: Exchange, engine: Engine, replay_after_ms: int | None) -> list[str]:
    notes: list[str] = []
    for row in journal.open_orders():
        view = exchange.get_order(row.symbol, row.client_order_id)
        if view is not None:
            if view.status != row.status:
                journal.update_order(row.client_order_id, status=view.status, executed_qty=view.executed_qty,
                                     cum_quote=view.cum_quote, time_ms=engine.now_ms, reason="reconciled at start-up")
                notes.append(f"{row.client_order_id} {row.symbol}: journal {row.status} → exchange {view.status}")
            continue
        if replay_after_ms is not None and row.time_ms > replay_after_ms:
            continue
        journal.update_order(row.client_order_id, status=OrderStatus.EXPIRED, executed_qty=Decimal(0),
                             cum_quote=Decimal(0), time_ms=engine.now_ms, reason=NEVER_SENT)
        notes.append(f"{row.client_order_id} {row.symbol}: {NEVER_SENT}")
    return notes


def ensure_protected(engine: Engine, exchange: Exchange) -> list[str]:
    """Every held position must have a working exit order on the exchange; re-protect any that has none."""
    working: set[str] = set()
    for order in exchange.open_orders():
        working.add(order.client_order_id)
        if order.list_client_id is not None:
            working.add(order.list_client_id)
    notes = []
    for symbol, holding in sorted(engine.holdings.items()):
        if holding.exiting or (holding.protection_id is not None and holding.protection_id in working):
            continue
        notes.append(f"{symbol}: no working exit order, placing protection again")
        engine.reprotect(symbol)
    return notes
