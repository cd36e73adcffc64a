"""A running `run --mode testnet|live`'s link to its Binance account, beside the market feed.

- The user-data stream's executionReports go to the pump as they arrive (fills deduplicated by trade id, so
  a report already taken from an order's REST answer is applied once).
- After a gap in the stream (`StreamGap`: a dropped connection, `eventStreamTerminated`, the 24-hour limit;
  the stream reconnects by itself), the missed trades are fetched (`myTrades` after the last journaled trade
  id) and every order the journal holds open is looked up (`runtime.venue_reconcile.settle`).
- Every `RECONCILE_EVERY_S` seconds (wall time) the same settlement runs even without a gap, and the balances
  the engine counts are compared with the account's: a difference is journaled (once per distinct value).

`poll` is called from the runner's thread, inside its journal batch, after each market event or tick.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from core.errors import ExecutorError
from core.exchange_port import ExecutionReport
from exchange.binance.events import ForeignOrder, StreamGap, UserEvent
from memory.journal import Journal
from runtime.pump import Pump
from runtime.venue_reconcile import (
    BalanceDifference,
    NoteKind,
    RemoteVenue,
    balance_differences,
    describe_difference,
    settle,
)

RECONCILE_EVERY_S = 60.0  # the periodic reconciliation's interval, wall time (CONFIGURATION.md)
FOREIGN_ORDER = "FOREIGN_ORDER"
STREAM_GAP = "USER_STREAM_GAP"
RECONCILE_FAILED = "RECONCILE_FAILED"


class EventStream(Protocol):
    """The user-data stream as the link uses it (`exchange.binance.UserStream`)."""

    def start(self, timeout_s: float = 10.0) -> None: ...

    def stop(self) -> None: ...

    def drain(self) -> list[UserEvent | StreamGap]: ...


class VenueLink:
    def __init__(self, exchange: RemoteVenue, stream: EventStream, journal: Journal, pump: Pump,
                 wall_ms: Callable[[], int], *, reconcile_every_s: float = RECONCILE_EVERY_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.exchange = exchange
        self.stream = stream
        self.journal = journal
        self.pump = pump
        self._wall_ms = wall_ms
        self._every_s = reconcile_every_s
        self._monotonic = monotonic
        self._last_reconcile = monotonic()
        self._reported: set[BalanceDifference] = set()
        self.gaps = 0
        self.reconciliations = 0

    def start(self) -> None:
        """Subscribe before the start-up reconciliation reads the account: nothing after it can be missed."""
        self.stream.start()

    def stop(self) -> None:
        self.stream.stop()

    def close(self) -> None:
        """Release the adapter's connections (after `stop`)."""
        self.exchange.close()

    def poll(self) -> int:
        """Deliver what the stream brought, catch up after a gap, reconcile when due. Returns how many
        events were handled (the runner checkpoints when anything was)."""
        handled = 0
        reports: list[ExecutionReport] = []
        for event in self.stream.drain():
            handled += 1
            if isinstance(event, ExecutionReport):
                reports.append(event)
            elif isinstance(event, StreamGap):
                self.pump.deliver(reports)
                reports = []
                self.gaps += 1
                self.journal.record_error(self._wall_ms(), STREAM_GAP, f"user-data stream was down since "
                                          f"{event.since_ms} ({event.reason}); catching up from the exchange",
                                          {"since_ms": event.since_ms})
                self._reconcile_or_note(balances=False)
            elif isinstance(event, ForeignOrder):
                self.journal.record_error(event.time_ms, FOREIGN_ORDER,
                                          f"{event.symbol} order {event.client_order_id} is not ours: {event.status}",
                                          {"symbol": event.symbol, "client_order_id": event.client_order_id})
            # listStatus, account positions and balance updates: the order reports and the periodic balance check
            # carry what matters; eventStreamTerminated is followed by the stream's own reconnect and a gap.
        if reports:
            self.pump.deliver(reports)
        if self._monotonic() - self._last_reconcile >= self._every_s:
            self._reconcile_or_note(balances=True)
            handled += 1
        return handled

    def _reconcile_or_note(self, *, balances: bool) -> None:
        """A reconciliation the exchange cannot answer now (unreachable, rate limited) is journaled and tried
        again at the next interval; the run goes on (exits and protection are never held back by it)."""
        try:
            self.reconcile(balances=balances)
        except ExecutorError as failed:
            self.journal.record_error(self._wall_ms(), RECONCILE_FAILED, failed.message, failed.details)

    def reconcile(self, *, balances: bool) -> None:
        """Settle with the exchange (missed trades, open orders); with `balances`, compare them too."""
        self._last_reconcile = self._monotonic()
        self.reconciliations += 1
        now = self._wall_ms()
        settle(self.journal, self.pump, self.exchange, self.pump.engine.symbols, now)
        if not balances:
            return
        differences = set(balance_differences(self.pump.engine, self.exchange))
        for difference in sorted(differences - self._reported, key=lambda d: d.asset):
            self.journal.record_error(now, NoteKind.BALANCE_DIFFERENCE, describe_difference(difference),
                                      {"asset": difference.asset, "engine": format(difference.engine, "f"),
                                       "exchange": format(difference.exchange, "f")})
        self._reported = differences
