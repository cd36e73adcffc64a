"""`run`: the long-lived executor on one data directory.

Start-up: take the single-writer lock, open the journal once it is known to be the complete journal of the
home (`runtime.state`), restore the last checkpoint it holds (engine, paper exchange, feed position),
reconcile the journal with the exchange and make sure every open position is protected — only then trade.
On a real account (testnet/live) the checkpoint holds no venue state: the user-data stream is subscribed, the
account itself is reconciled with (`runtime.venue_reconcile`), the stream feeds the pump while running
(`runtime.venue_link`), and the checkpoint is saved before each order intent is made durable.
While running: checkpoint regularly, in the same journal transaction as the events it accounts for, watch
the kill flag file, answer SIGINT/SIGTERM by stopping cleanly (positions stay protected by their
exchange-side orders, state saved).
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from core.clock import utc_text
from core.config import ExecutorConfig
from core.display import fixed
from core.engine import Record
from core.errors import ExecutorError
from core.events import Bar
from core.strategies.registry import StrategySet
from memory.files import MemoryStore
from memory.versions import LearnedVersions
from reports.notify import Notifier
from reports.outbox import OutboxSender
from reports.periods import utc_date
from reports.schedule import DEFAULT_HOUR_UTC
from runtime.alerting import AlertQueue, ResearchQueue
from runtime.backtest import Tally, dust_summary, quote_places
from runtime.checkpoint import Checkpoint, load_checkpoint
from runtime.commands import complete_interrupted, process_queue, unrestorable_checkpoint
from runtime.home import Home
from runtime.learned_memory import alert_adjustment, publish_learned, resume, settle_learned
from runtime.pump import Pump
from runtime.reconcile import reconcile_orders
from runtime.reporting import REPLAY_HOUR_UTC, ReportSender
from runtime.run_mode import RunMode
from runtime.session import new_session, restore_session
from runtime.settings import DEFAULT_ALERT_OUTAGE_MIN, AlertRoutes, alert_routes
from runtime.sources import MarketSource
from runtime.state import (
    leave_kill_flag,
    open_journal_for_writing,
    publish_marker,
    reconcile_at_start,
)
from runtime.venue_reconcile import reconcile_with_venue
from runtime.venues import VenueKind, venue_for, venue_state
from runtime.view import LiveView
from tools.spec import wall_clock_ms

if TYPE_CHECKING:
    from exchange.binance import BinanceConfig
    from runtime.venue_link import VenueLink

QUOTE_ASSET = "USDT"
COMMAND_POLL_S = 0.2  # how often (wall time) the queue of requests from other processes is read
COMMAND_POLL_EVENTS = 256  # at full replay speed, the wall clock is only looked at every this many events
ALERT_DRAIN_S = 5.0  # at the end of a run, how long pending alerts may take to go out before they wait for the next
REPORT_IDLE_S = 5.0  # at the end of a run, how long the report sender may go without a delivery before it is left
BACKGROUND_STOP_S = 2.0  # at the end of a run, how long each background service may take to stop
REPORT_CLOCK_EVERY = 100  # paper: the wall clock is handed to the report sender every this many events


class Background(Protocol):
    """A service that runs beside the trading loop for the life of `run` (the Telegram command bot): started
    after the start-up reconciliation, stopped before the journal closes, never called from the loop."""

    def start(self) -> object: ...

    def stop(self, timeout_s: float) -> None: ...


class ReplayFinished(ExecutorError):
    code = "REPLAY_FINISHED"


class Runner:
    """One executor process on one home: the pump plus lifecycle (checkpoints, kill flag, signals)."""

    def __init__(self, home: Home, config: ExecutorConfig, source: MarketSource, source_id: str,
                 balance: Decimal, checkpoint_every: int, speed: float | None, view: LiveView | None,
                 accept_rollback: bool = False, notifiers: Sequence[Notifier] = (),
                 alerts: AlertRoutes | None = None, alert_outage_min: int = DEFAULT_ALERT_OUTAGE_MIN,
                 research: Notifier | None = None, background: Sequence[Background] = (),
                 confirmation_channel: str = "terminal", mode: RunMode | None = None,
                 account: BinanceConfig | None = None, strategies: StrategySet | None = None,
                 stop_at_ms: int | None = None) -> None:
        """`mode`: the run's mode (default: paper for a live source, replay otherwise); `account`: the Binance
        account of testnet/live (`runtime.settings.binance_account`); `strategies`: what the engine runs (None:
        the built-ins with `config.strategies`); `stop_at_ms`: a replay stops (unfinished, resumable from its
        home) before its first event at or after this time."""
        self.stop_at_ms = stop_at_ms
        self.home = home
        self.strategies = strategies
        self.background = list(background)
        self.confirmation_channel = confirmation_channel
        self.notifiers = list(notifiers)
        self.research_notifier = research
        self.config = config
        self.source = source
        self.source_id = source_id
        self.checkpoint_every = checkpoint_every
        self.speed = speed
        self.view = view
        self.mode = mode or (RunMode.PAPER if source.live else RunMode.REPLAY)
        self.venue = venue_for(self.mode)
        self.account = account
        self.link: VenueLink | None = None
        self.store = MemoryStore(home.root)
        self.versions = LearnedVersions(home.root)
        self.journal, self.warnings = open_journal_for_writing(home, accept_rollback=accept_rollback,
                                                               wall_ms=wall_clock_ms())
        try:
            # What it learned before, from the newest memory version that passes its checks (never a cold start
            # over a memory it has, never an edited file).
            config, self.memory_version, notices = resume(home, config)
            self.warnings.extend(notices)
            self.config = config
            self._restore(source, source_id, balance, config)
            self.warnings.extend(settle_learned(self.engine, self.memory_version, self.resumed_from is not None))
        except BaseException:
            self.journal.close()
            raise
        self.stop_reason: str | None = None
        self.tally = Tally()
        self.alerts = AlertQueue(self.journal, self.engine, self.notifiers,
                                 alert_routes({}) if alerts is None else alerts, alert_outage_min)
        self.research = ResearchQueue(self.journal, research)
        self.pump = Pump(self.engine, self.exchange, self.journal, on_record=self._on_record,
                         on_placed=self.alerts.on_sent, before_send=self.checkpoint)
        if self.venue is VenueKind.BINANCE:  # a real account: its user-data stream, catch-up, checks
            from exchange.binance import BinanceExchange
            from runtime.venue_link import VenueLink

            assert isinstance(self.exchange, BinanceExchange)
            self.link = VenueLink(self.exchange, self.exchange.user_stream(), self.journal, self.pump, wall_clock_ms)
        self.checkpoint_ms = self.engine.now_ms
        self._commands_polled = 0.0
        # Paper reports by the wall clock at 09:00 UTC; a replay by its engine's time, each day as it passes it.
        self.reports = ReportSender(home, self.notifiers, self.engine.rules,
                                    hour_utc=DEFAULT_HOUR_UTC if source.live else REPLAY_HOUR_UTC,
                                    first_day=None if source.live else utc_date(source.start_ms))

    def _restore(self, source: MarketSource, source_id: str, balance: Decimal, config: ExecutorConfig) -> None:
        """The engine and exchange from the journal's checkpoint of this run, or new ones for a new home."""
        self.cursor = 0
        self.resumed_from: int | None = None
        home = self.home
        stored = self.journal.checkpoint()
        checkpoint = stored.document if stored is not None else None
        if checkpoint is not None and checkpoint.get("source_id") == source_id:
            if checkpoint.get("finished"):
                raise ReplayFinished(f"this replay already finished on {home.root}; use another --home to run it "
                                     "again", home=str(home.root))
            saved = load_checkpoint(checkpoint, self.journal.path)
            if saved.venue is not self.venue:
                named = "no" if saved.venue is None else f"the {saved.venue}"
                raise ExecutorError(f"{home.root} holds the state of a run on {named} venue, and --mode "
                                    f"{self.mode} trades on {self.venue}; use another --home for this one",
                                    home=str(home.root), venue=None if saved.venue is None else saved.venue.value,
                                    mode=self.mode.value)
            try:
                session = restore_session(saved, config, source.rules, self.account, strategies=self.strategies)
            except (KeyError, TypeError, ValueError) as exc:
                raise unrestorable_checkpoint(home, exc) from None
            self.cursor = self.resumed_from = 0 if source.live else saved.cursor
        elif checkpoint is not None:
            raise ExecutorError(
                f"{home.root} holds the state of a different run ({checkpoint.get('source_id')}); "
                "use another --home for this one", home=str(home.root))
        else:
            session = new_session(self.mode, config, source.rules, source.symbols, source.start_ms, QUOTE_ASSET,
                                  balance, self.account, strategies=self.strategies)
        self.engine, self.exchange = session.engine, session.exchange

    def _on_record(self, record: Record) -> None:
        leave_kill_flag(self.home, record)
        self.alerts.on_record(record)
        self.tally(record)
        if self.view is not None:
            self.view.record(record)

    def start(self) -> None:
        """Reconcile before trading: journal ↔ exchange, then protection for every open position, then the kill
        switch as the `KILL` file and the journal record it; all of it saved with a checkpoint."""
        with self.journal.batch():
            complete_interrupted(self.journal, wall_clock_ms())
            if self.link is not None:
                self.link.start()  # subscribed first: nothing that happens during the reconciliation is missed
                report = reconcile_with_venue(self.home, self.journal, self.pump, self.link.exchange, wall_clock_ms())
                self.warnings.extend(report.notes())
            else:
                self.warnings.extend(reconcile_at_start(self.home, self.journal, self.pump,
                                                        replay_after_ms=None if self.source.live
                                                        else self.checkpoint_ms))
            # A new replay saves its first checkpoint at its first interval: one saved now, at the start time,
            # would make the orders of the replay's first moment look older than it after a crash.
            restarted = self.resumed_from is not None or self.source.live
            if restarted:
                self.checkpoint()
        if restarted:
            self.publish()

    def checkpoint(self, finished: bool = False) -> None:
        """Store the checkpoint in the journal: inside a batch, it commits with the rows it accounts for."""
        # A real account keeps no venue state (`paper` null): the exchange is the truth.
        self.journal.save_checkpoint(Checkpoint.model_validate({
            "source_id": self.source_id, "cursor": self.cursor, "finished": finished, "mode": self.mode,
            "venue": self.venue, "confirmation_channel": self.confirmation_channel,
            "rules": {s: self.source.rules[s] for s in self.engine.symbols}, "engine": self.engine.to_state(),
            "paper": venue_state(self.exchange)}).document(), written_ms=wall_clock_ms())

    def publish(self) -> None:
        """After a checkpoint committed: the marker, then the derived memory files."""
        publish_marker(self.home, self.journal)
        portfolio = self.engine.portfolio
        self.store.write_portfolio_state(portfolio.to_dict())
        self.store.write_performance_metrics(self.performance())
        written = publish_learned(self.versions, self.engine.learned)
        if written is not None:
            with self.journal.batch():
                alert_adjustment(self.alerts.outbox, written)

    def performance(self) -> dict[str, Any]:
        return {"time_ms": self.engine.now_ms, "equity": str(self.engine.portfolio.equity()),
                "realized_pnl": str(self.engine.portfolio.realized_pnl), "fees": str(self.engine.portfolio.fees_paid),
                "max_drawdown_pct": round(self.engine.max_drawdown_pct, 4),
                "per_strategy": {k: v.as_dict() for k, v in sorted(self.tally.per_strategy.items())}}

    def run(self, events: Iterable[object]) -> None:
        pump, journal, link = self.pump, self.journal, self.link
        index = 0
        last_view = 0.0
        wall_start = time.monotonic()
        first_event_ms: int | None = None
        activity_seen = (pump.orders_sent, pump.reports_seen)
        for event in events:
            index += 1
            if index <= self.cursor:
                continue  # already lived before the restart: the checkpoint holds its effects
            if self.stop_at_ms is not None and (event_time_ms(event, None) or 0) >= self.stop_at_ms:
                self.stop_reason = f"reached --stop-at {utc_text(self.stop_at_ms)}"
                break
            if self.speed is not None:
                first_event_ms = self._pace(event, first_event_ms, wall_start)
            learned = self.engine.learned
            with journal.batch():
                pump.handle(event)
                if link is not None:
                    link.poll()
                self.cursor = index
                activity = (pump.orders_sent, pump.reports_seen)
                # Live data will not re-run after a crash: save with every order sent or order update received.
                # An adjustment of the mix is saved and published at once, so that its memory version is written
                # at the same event however the run is cut into checkpoints (and restarts).
                save = (index % self.checkpoint_every == 0 or (self.source.live and activity != activity_seen)
                        or self.engine.learned is not learned)
                if save:
                    activity_seen = activity
                    self.checkpoint()
            if save:
                self.publish()
            if index % COMMAND_POLL_EVENTS == 0 or self.speed is not None or self.source.live:
                self.answer_commands()
            if not self.source.live:
                self.reports.advance(self.engine.now_ms)  # after the commit: the report sees all of its day
            elif index % REPORT_CLOCK_EVERY == 0:
                self.reports.advance(wall_clock_ms())
            if index % 500 == 0:
                if self.home.kill_flag.exists() and not self.engine.controls.killed:
                    with journal.batch():
                        self.engine.kill()
                        pump.flush()
                        self.checkpoint()
                    self.publish()
                now = time.monotonic()
                if self.view is not None and now - last_view > 0.25:
                    last_view = now
                    self.view.update(self.engine, index)
            if self.stop_reason is not None:
                break

    def _pace(self, event: object, first_ms: int | None, wall_start: float) -> int | None:
        """Wait until `event` is due at the requested speed, in short sleeps so a stop signal is honoured."""
        event_ms = event_time_ms(event, None)
        if event_ms is None:
            return first_ms
        if first_ms is None:
            return event_ms
        assert self.speed is not None
        due = wall_start + (event_ms - first_ms) / 1000.0 / self.speed
        while self.stop_reason is None:
            delay = due - time.monotonic()
            if delay <= 0:
                break
            time.sleep(min(delay, COMMAND_POLL_S))
            self.answer_commands()
        return first_ms

    def answer_commands(self) -> None:
        """Execute what other processes queued (trade, pause, resume, kill), at most every COMMAND_POLL_S.

        The checkpoint is saved inside the journal transaction that completes the commands, so a command
        recorded as done always has its effect in the checkpoint, and a checkpoint never holds the effect of
        a command the journal does not record as done."""
        now = time.monotonic()
        if now - self._commands_polled < COMMAND_POLL_S:
            return
        self._commands_polled = now
        with self.journal.batch():
            done = process_queue(self.journal, self.engine, self.pump, wall_clock_ms())
            if done:
                self.checkpoint()
        if done:
            self.publish()

    def run_to_end(self) -> dict[str, Any]:
        """Start (reconcile, protect), run until the data ends or SIGINT/SIGTERM, then save and summarise."""
        previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

        def stop(signum: int, _frame: object) -> None:
            self.stop_reason = f"signal {signal.Signals(signum).name}"

        for sig in previous:
            signal.signal(sig, stop)
        research = [self.research_notifier] if self.research_notifier is not None else []
        sender = OutboxSender(self.home.journal, [*self.notifiers, *research]).start()
        self.reports.start()
        try:
            self.start()
            for service in self.background:
                service.start()
            if self.view is not None:
                with self.view:
                    self.run(self.source.events)
                    self.view.update(self.engine, self.cursor)  # the last frame stays on screen: make it current
            else:
                self.run(self.source.events)
            return self.close(finished=self.stop_reason is None and not self.source.live)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            if self.link is not None:
                self.link.stop()
                self.link.close()
            for service in self.background:
                service.stop(BACKGROUND_STOP_S)
            self.reports.stop(REPORT_IDLE_S)
            sender.stop(ALERT_DRAIN_S)

    def close(self, finished: bool) -> dict[str, Any]:
        with self.journal.batch():
            self.pump.flush()
            if finished:
                # Nothing will be re-lived any more: an order journaled by a crashed run that this run never
                # re-decided (e.g. a manual trade shifted the sequence) is settled now, never left half-known.
                self.warnings.extend(reconcile_orders(self.journal, self.exchange, self.engine, replay_after_ms=None))
            self.checkpoint(finished=finished)
        self.publish()
        if finished:
            # The data is over: its last day (and week) ended with its last event, whatever the hour of it.
            self.reports.advance(self.engine.now_ms + 1)
        self.reports.stop(REPORT_IDLE_S)
        self.warnings.extend(self.reports.warnings)
        self.journal.close()
        engine = self.engine
        portfolio = engine.portfolio
        places = quote_places(self.source.rules, portfolio.quote_asset)
        return {
            "mode": self.mode.value,
            "source": self.source.description,
            "events": self.cursor,
            "resumed_from": self.resumed_from,
            "finished": finished,
            "stopped_because": self.stop_reason or ("data exhausted" if finished else None),
            "equity_end": fixed(portfolio.equity(), places),
            "cash": fixed(portfolio.cash, places),
            "realized_pnl": fixed(portfolio.realized_pnl, places),
            "dust": dust_summary(portfolio, places),
            "fees": fixed(portfolio.fees_paid, places),
            "max_drawdown_pct": round(engine.max_drawdown_pct, 4),
            "open_positions": {s: {"quantity": str(p.quantity), "stop": str(p.stop_price) if p.stop_price else None,
                                   "protected_by": p.protection_list_id}
                               for s, p in sorted(portfolio.positions().items())},
            "per_strategy": {k: v.as_dict(places) for k, v in sorted(self.tally.per_strategy.items())},
            "breaker_level": engine.breakers.level(engine.now_ms).value,
            "kill_switch": engine.controls.killed,
            "warnings": self.warnings,
            "journal": str(self.home.journal),
            "report": str(self.home.root / "performance_metrics.json"),
            "memory_version": _current_number(self.versions),
            "resumed_memory_version": self.memory_version.number if self.memory_version is not None else None,
        }


def event_time_ms(event: object, default: int | None) -> Any:
    """A market event's time (a bar's close), or `default` for an event without one."""
    return event.close_time_ms if isinstance(event, Bar) else getattr(event, "time_ms", default)


def _current_number(versions: LearnedVersions) -> int | None:
    current, _ = versions.current()
    return current.number if current is not None else None
