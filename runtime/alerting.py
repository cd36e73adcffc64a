"""Alerts and research items into the journal's outbox, in the transaction of the event they report.

The runner hands every engine record to `on_record` and every protection order the exchange accepted to
`on_sent`, both inside the journal batch that holds the event, so an alert commits exactly when its event
does. Which kinds go to which service is `ALERTS` (`runtime.settings.alert_routes`); a service without a
notifier gets nothing queued, so a home without Telegram or Discord grows no outbox.

Producers outside the engine queue through the same outbox: the LLM client's stops (`llm_stop_hook`, called
by `scouts.llm.client.LlmClient` inside the batch that journals the stop), the adaptive memory's strategy-mix
changes (`AlertOutbox.strategy_mix`), and research items for the research webhook (`ResearchQueue.publish`).
Rows queued by a process that does not send (a `scouts --once`) go out from the running `run`'s sender.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from core.clock import MS_PER_MINUTE
from core.engine import Command, Engine, PlaceOco, PlaceOrder, Record
from core.errors import ExecutorError
from core.research import ResearchItem, StrategyMixChange
from memory.journal import Journal
from reports.alerts import (
    Alert,
    OutageWatch,
    alerts_from_record,
    entry_alert,
    llm_alert,
    research_payload,
    strategy_mix_alert,
)
from reports.notify import RESEARCH_SERVICE, Notifier
from runtime.settings import AlertRoutes


class AlertOutbox:
    """Queues alerts for the services that have a notifier and whose `ALERTS` route takes the alert's kind."""

    def __init__(self, journal: Journal, notifiers: Sequence[Notifier], routes: AlertRoutes) -> None:
        self.journal = journal
        services = {n.service for n in notifiers}
        self.routes = {service: kinds for service, kinds in routes.items() if service in services and kinds}

    def queue(self, alert: Alert) -> int:
        """Rows added (0: no service takes this kind, or the alert was queued before)."""
        services = sorted(s for s, kinds in self.routes.items() if alert.kind in kinds)
        return self.journal.outbox.add(alert.key, services, alert.kind.value, alert.time_ms, alert.payload())

    def strategy_mix(self, change: StrategyMixChange) -> int:
        """The adaptive memory changed the strategy mix: call inside the batch that saves the new mix."""
        return self.queue(strategy_mix_alert(change))


def llm_stop_hook(outbox: AlertOutbox) -> Callable[[ExecutorError, int], None]:
    """What `LlmClient(on_stop=…)` calls with a stop it journals (budget reached, 402, 401) and its time. The
    outbox must write through the client's own journal: the hook runs inside that journal's batch."""

    def on_stop(error: ExecutorError, time_ms: int) -> None:
        outbox.queue(llm_alert(error, time_ms))

    return on_stop


class AlertQueue:
    """The running engine's alerts: its records, and the entries whose protection the exchange accepted."""

    def __init__(self, journal: Journal, engine: Engine, notifiers: Sequence[Notifier], routes: AlertRoutes,
                 outage_min: int) -> None:
        self.outbox = AlertOutbox(journal, notifiers, routes)
        self.engine = engine
        self.outages = OutageWatch(outage_min * MS_PER_MINUTE)

    def on_record(self, record: Record) -> None:
        if self.outbox.routes:
            for alert in alerts_from_record(record) + self.outages.on_record(record):
                self.outbox.queue(alert)

    def on_sent(self, command: Command) -> None:
        """A protection order the exchange accepted: the first one of a position is its entry alert."""
        if not self.outbox.routes:
            return
        if isinstance(command, PlaceOco):
            symbol, quantity = command.oco.symbol, command.oco.quantity
        elif isinstance(command, PlaceOrder) and command.purpose == "stop" and command.order.quantity is not None:
            symbol, quantity = command.order.symbol, command.order.quantity
        else:
            return
        holding = self.engine.holdings.get(symbol)
        if holding is not None and holding.position_id == command.position_id:
            self.outbox.queue(entry_alert(holding, quantity, self.engine.portfolio.equity(), self.engine.now_ms))


class ResearchQueue:
    """Research items (scout intel, analyzer verdicts) for the research webhook, through the outbox: sent at
    least once, deduplicated by the item's key, never blocking the caller. Without DISCORD_WEBHOOK_RESEARCH set,
    nothing is queued."""

    def __init__(self, journal: Journal, research: Notifier | None) -> None:
        self.journal = journal
        self.enabled = research is not None and research.service == RESEARCH_SERVICE

    def publish(self, item: ResearchItem) -> bool:
        """Queue `item`; False when there is no research webhook or the item's key was queued before."""
        if not self.enabled:
            return False
        key = f"{item.kind.value}:{item.key}"
        return self.journal.outbox.add(key, [RESEARCH_SERVICE], item.kind.value, item.time_ms,
                                       research_payload(item)) > 0
