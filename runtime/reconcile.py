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
from core.exchange_port import Exchange
from core.types import OrderStatus
from memory.home_state import StateDiverged
from memory.journal import Journal

NEVER_SENT = "never reached the exchange (found unsent at start-up)"
CLIENT_ID_PREFIX = "cx-"
ZERO = Decimal(0)


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


def compare_with_exchange(journal: Journal, exchange: Exchange, engine: Engine) -> list[str]:
    """The exchange's own view, not only the journal's open orders: every open order of ours on the exchange is
    in the journal, and the engine's balances are the exchange's, asset by asset.

    A `cx-` order the journal does not know, or a balance that differs, means the engine's state is not the
    account's (a journal or checkpoint that went back in time): StateDiverged, and nothing trades until a person
    looks. Orders without our prefix were placed by someone else: noted, and left alone.
    """
    notes: list[str] = []
    unknown: list[str] = []
    for order in exchange.open_orders():
        if journal.order(order.client_order_id) is not None:
            continue
        if order.client_order_id.startswith(CLIENT_ID_PREFIX):
            unknown.append(f"{order.symbol} {order.side} {order.order_type} {order.client_order_id}")
        else:
            notes.append(f"{order.symbol} order {order.client_order_id} on the exchange is not ours; left alone")
    held = engine.portfolio.balances()
    on_exchange = {asset: free + locked for asset, (free, locked) in exchange.balances().items()}
    differences = {asset: {"engine": format(held.get(asset, ZERO), "f"),
                           "exchange": format(on_exchange.get(asset, ZERO), "f")}
                   for asset in sorted(set(held) | set(on_exchange))
                   if held.get(asset, ZERO) != on_exchange.get(asset, ZERO)}
    if unknown or differences:
        parts: list[str] = []
        if unknown:
            parts.append(f"open orders of ours on the exchange that the journal {journal.path} does not know: "
                         f"{', '.join(unknown)}")
        if differences:
            parts.append("balances differ: " + ", ".join(f"{a} engine {d['engine']} / exchange {d['exchange']}"
                                                         for a, d in differences.items()))
        raise StateDiverged(f"the engine's state does not match the exchange ({'; '.join(parts)}); nothing trades "
                            "until a person reconciles it: restore the journal from a backup, or close the orders "
                            "and positions on the exchange by hand", file=str(journal.path), unknown_orders=unknown,
                            balances=differences)
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
