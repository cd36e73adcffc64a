"""Alerts from the running engine into the journal's outbox, in the transaction of the event they report.

The runner hands every engine record to `on_record` and every protection order the exchange accepted to
`on_sent`, both inside the journal batch that holds the event, so an alert commits exactly when its event
does. Which kinds go to which service is `ALERTS` (`runtime.settings.alert_routes`); a service without a
notifier gets nothing queued, so a home without Telegram or Discord grows no outbox.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.clock import MS_PER_MINUTE
from core.engine import Command, Engine, PlaceOco, PlaceOrder, Record
from memory.journal import Journal
from reports.alerts import Alert, OutageWatch, alerts_from_record, entry_alert
from reports.notify import Notifier
from runtime.settings import AlertRoutes


class AlertQueue:
    def __init__(self, journal: Journal, engine: Engine, notifiers: Sequence[Notifier], routes: AlertRoutes,
                 outage_min: int) -> None:
        self.journal = journal
        self.engine = engine
        services = {n.service for n in notifiers}
        self.routes = {service: kinds for service, kinds in routes.items() if service in services and kinds}
        self.outages = OutageWatch(outage_min * MS_PER_MINUTE)

    def on_record(self, record: Record) -> None:
        if self.routes:
            for alert in alerts_from_record(record) + self.outages.on_record(record):
                self.queue(alert)

    def on_sent(self, command: Command) -> None:
        """A protection order the exchange accepted: the first one of a position is its entry alert."""
        if not self.routes:
            return
        if isinstance(command, PlaceOco):
            symbol, quantity = command.oco.symbol, command.oco.quantity
        elif isinstance(command, PlaceOrder) and command.purpose == "stop" and command.order.quantity is not None:
            symbol, quantity = command.order.symbol, command.order.quantity
        else:
            return
        holding = self.engine.holdings.get(symbol)
        if holding is not None and holding.position_id == command.position_id:
            self.queue(entry_alert(holding, quantity, self.engine.portfolio.equity(), self.engine.now_ms))

    def queue(self, alert: Alert) -> None:
        services = sorted(s for s, kinds in self.routes.items() if alert.kind in kinds)
        self.journal.outbox.add(alert.key, services, alert.kind.value, alert.time_ms, alert.payload())
