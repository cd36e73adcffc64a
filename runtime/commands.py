"""Requests from other processes (agent tools, the CLI) executed on the engine: one code path for every caller.

`execute` applies one command to an engine and drains what it produced through the pump (journal
write-ahead, then the exchange). `process_queue` is how whoever holds the engine answers the journal's
command queue: the `run` loop calls it every ~200 ms of wall time, and a tool that finds no engine running
becomes the engine for a moment (`DirectSession`: restore from the checkpoint under the single-writer lock,
reconcile, answer the queue, save). `submit` is the tool side: queue the request and wait for the running
engine's answer, or run it directly when no engine runs on the home. The idempotency key makes a retried
request the same command, so it is executed once and its stored result is returned again.

Fail closed: a request whose fate is unknown (the engine died while executing it, or did not answer in
time) is reported as unknown with how to check, never as done.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.config import ExecutorConfig
from core.engine import Engine
from core.errors import ExecutorError, InvalidArgument, UnknownSymbol
from core.filters import SymbolRules, rules_from_exchange_info
from core.review import EntryReview
from core.types import Advice, DecisionAction
from exchange.feeds.synthetic import SyntheticMarket
from memory.files import MemoryStore
from memory.home_state import check_journal_present, marker_path
from memory.journal import CommandRow, CommandStatus, FillRow, Journal, OrderRow
from memory.versions import VersionInvalid
from runtime.checkpoint import Checkpoint, load_checkpoint
from runtime.checkpoint_mode import checkpoint_mode
from runtime.home import Home
from runtime.learned_memory import resume
from runtime.lock import HomeLocked, SingleWriterLock
from runtime.pump import Pump
from runtime.session import restore_session
from runtime.sources import recorded_source
from runtime.state import leave_kill_flag, prepare_journal, publish_marker, reconcile_at_start
from runtime.strategy_loader import load_strategies, strategies_for_safety

MS_PER_MINUTE = 60_000
OPERATOR_REASON = "requested by the operator"
# Notices that mean a filled entry could not be protected (Invariant 6) and was, or is being, sold.
PROTECTION_FAILURES = frozenset({"PROTECTION_FAILED"})
EXIT_PREFIX = "cx-x-"
DIRECT_MODES = ("replay", "paper")  # modes whose exchange is the paper simulator in the checkpoint
# The analyzer of an engine restored for a moment, given the journal it writes to and the engine's mode
# (`runtime.analyzer.analyzer_factory`); None: no review.
ReviewFactory = Callable[[Journal, str], EntryReview | None]


# ----- errors --------------------------------------------------------------------------------------------


class CommandRefused(ExecutorError):
    """A request the engine refuses cleanly, changing nothing: its answer is stored as the command's result."""

    code = "COMMAND_REFUSED"


class NoPosition(CommandRefused):
    code = "NO_POSITION"

    def __init__(self, symbol: str, detail: str) -> None:
        super().__init__(f"{symbol}: nothing to sell ({detail})", symbol=symbol)


class SymbolNotWatched(CommandRefused):
    code = "SYMBOL_NOT_WATCHED"

    def __init__(self, symbol: str, watched: list[str]) -> None:
        super().__init__(f"{symbol} is not traded by this engine (it watches {', '.join(watched)})",
                         symbol=symbol, watched=watched)


class NotStarted(ExecutorError):
    code = "NOT_STARTED"

    def __init__(self, home: Path) -> None:
        super().__init__(f"no executor state in {home}: nothing to act on yet. Start one first, e.g. "
                         "`python executor.py run --mode replay --synthetic` (or --mode paper), then retry",
                         home=str(home), hint="python executor.py run --mode replay --synthetic")


class EngineNotRunning(ExecutorError):
    code = "ENGINE_NOT_RUNNING"

    def __init__(self, home: Path, mode: str) -> None:
        super().__init__(f"the {mode} engine on {home} is not running; only a running engine may act on a "
                         f"{mode} account: start `python executor.py run --mode {mode}` and retry",
                         home=str(home), mode=mode)


class StateUnreadable(ExecutorError):
    code = "STATE_UNREADABLE"


class CommandFailed(ExecutorError):
    """A command's stored error, raised again in the process that asked for it (same code, message, details)."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message, **details)
        self.code = code


class UnknownCommand(CommandRefused):
    """A queued kind this engine has no handler for (e.g. queued by a newer version): refused, nothing done."""

    code = "UNKNOWN_COMMAND"

    def __init__(self, kind: str) -> None:
        super().__init__(f"this engine does not know the command {kind!r}; nothing was done (is the running "
                         "executor older than the tool that asked?)", kind=kind, known=[k.value for k in CommandKind])


class RequestIdConflict(ExecutorError):
    """A request id already names a request with other parameters: answering it would answer another request."""

    code = "REQUEST_ID_CONFLICT"

    def __init__(self, request_id: str, kind: str, command_id: int) -> None:
        super().__init__(f"request id {request_id!r} was already used for a different {kind} request (command "
                         f"{command_id}); a request id names one request with exactly its parameters: use a new "
                         "request id for a new request", request_id=request_id, command_id=command_id, kind=kind)


class QueueTimeout(ExecutorError):
    code = "QUEUE_TIMEOUT"


class ResultUnknown(ExecutorError):
    code = "RESULT_UNKNOWN"


# ----- payloads ------------------------------------------------------------------------------------------

SymbolName = Annotated[str, Field(pattern=r"^[A-Z0-9]{2,20}$")]
Percent = Annotated[Decimal, Field(gt=0, lt=100, allow_inf_nan=False)]


class Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class TradePayload(Payload):
    """A trade as queued. `expires_ms` (wall clock) stops an engine from acting on a request nobody waits for."""

    symbol: SymbolName
    side: Literal["buy", "sell"]
    quote: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    pct: Annotated[Decimal, Field(gt=0, le=100, allow_inf_nan=False)] | None = None
    tp: Percent | None = None
    sl: Percent | None = None
    expires_ms: int | None = None


class PausePayload(Payload):
    symbol: SymbolName | None = None
    minutes: Annotated[int, Field(ge=1, le=10_080)]


class ResumePayload(Payload):
    symbol: SymbolName | None = None
    expires_ms: int | None = None


class EmptyPayload(Payload):
    expires_ms: int | None = None


class AdvicePayload(Payload):
    """Advice from a scout or the analyzer. Its own `issued_ms`/`expires_ms` bound its life by engine time; there
    is no delivery expiry: advice nobody waits for is still applied while it is live, and dropped after."""

    advice: Advice


class CommandKind(StrEnum):
    """What a queued command asks for; stored as its value in the journal's `commands.kind`."""

    TRADE = "trade"
    PREVIEW = "preview"
    PAUSE = "pause"
    RESUME = "resume"
    KILL = "kill"
    RESET_KILL = "reset_kill"
    ADVICE = "advice"


PAYLOADS: dict[str, type[Payload]] = {
    CommandKind.TRADE: TradePayload,
    CommandKind.PREVIEW: TradePayload,
    CommandKind.PAUSE: PausePayload,
    CommandKind.RESUME: ResumePayload,
    CommandKind.KILL: EmptyPayload,
    CommandKind.RESET_KILL: EmptyPayload,
    CommandKind.ADVICE: AdvicePayload,
}
# Payload fields that say how long somebody waits for the answer, not what is asked: a retry may differ in them.
DELIVERY_FIELDS = frozenset({"expires_ms"})


def parse_payload(kind: str, payload: dict[str, Any]) -> Payload:
    model = PAYLOADS.get(kind)
    if model is None:
        raise InvalidArgument(f"unknown command kind {kind!r}", kind=kind, known=sorted(PAYLOADS))
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or kind
        raise InvalidArgument(f"{kind}: {where}: {first.get('msg', 'invalid')}", kind=kind, field=where) from None


def request_fingerprint(kind: str, payload: dict[str, Any]) -> str:
    """A hash of what a request asks (its kind and parameters in canonical form, without the delivery fields):
    equal for a retry of the same request, different for any other request."""
    parameters = parse_payload(kind, payload).model_dump(exclude=set(DELIVERY_FIELDS))
    return _digest({"kind": str(kind), "parameters": parameters})


def same_request(command: CommandRow, kind: str, payload: dict[str, Any]) -> bool:
    """Whether a stored command is the request (kind, payload): what an idempotency key is bound to."""
    try:
        stored = request_fingerprint(command.kind, command.payload)
    except InvalidArgument:  # a payload this version cannot read is not ours to answer with
        return False
    return stored == request_fingerprint(kind, payload)


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":"), default=_canonical).encode()
                          ).hexdigest()


def _canonical(value: Any) -> str:
    """One spelling per number: 10, 10.0 and 1E+1 are the same parameter."""
    if isinstance(value, Decimal):
        return format(value.normalize(), "f")
    raise TypeError(f"not a request parameter: {type(value).__name__}")


# ----- executing one command -----------------------------------------------------------------------------


def execute(engine: Engine, pump: Pump, kind: str, payload: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """Apply one command at engine time `now_ms`, drain its orders through the pump, and say what happened.

    Raises `CommandRefused` (or InvalidArgument / UnknownSymbol) for a clean refusal that changed nothing.
    The answer is plain JSON (money as exact strings): it is stored in the journal as the command's result.
    Every kind is matched with the payload type it must carry; anything else is refused (`UnknownCommand`)
    rather than falling through to some other action.
    """
    request = parse_payload(kind, payload)
    match kind, request:
        case CommandKind.PREVIEW, TradePayload():
            return _preview(engine, request, now_ms)
        case CommandKind.TRADE, TradePayload(side="buy"):
            return _buy(engine, pump, request, now_ms)
        case CommandKind.TRADE, TradePayload(side="sell"):
            return _sell(engine, pump, request, now_ms)
        case CommandKind.PAUSE, PausePayload():
            until = now_ms + request.minutes * MS_PER_MINUTE
            if request.symbol is not None:
                _check_watched(engine, request.symbol)
            engine.pause(request.symbol, until)
            return _controls(engine, request.symbol, paused_until_ms=until)
        case CommandKind.RESUME, ResumePayload():
            if request.symbol is not None:
                _check_watched(engine, request.symbol)
            engine.resume(request.symbol)
            return _controls(engine, request.symbol)
        case CommandKind.KILL, EmptyPayload():
            if not engine.controls.killed:
                engine.kill()
            pump.flush()
            return _controls(engine, None)
        case CommandKind.RESET_KILL, EmptyPayload():
            engine.reset_kill()
            pump.flush()
            return _controls(engine, None)
        case CommandKind.ADVICE, AdvicePayload():
            return _advice(engine, pump, request.advice, now_ms)
        case _:
            raise UnknownCommand(kind)


def _check_watched(engine: Engine, symbol: str) -> None:
    if symbol not in engine.rules:
        raise UnknownSymbol(symbol)
    if symbol not in engine.features:
        raise SymbolNotWatched(symbol, engine.symbols)


def _defaults(engine: Engine, request: TradePayload) -> tuple[Decimal, Decimal]:
    """Take-profit and stop percents: the request's, else the manual trade section's (`config.manual`)."""
    manual = engine.config.manual
    return (request.tp if request.tp is not None else manual.take_profit_pct,
            request.sl if request.sl is not None else manual.stop_loss_pct)


def requested_quote(engine: Engine, request: TradePayload) -> Decimal:
    """The quote amount asked for: given directly, or a percent of the engine's current equity."""
    if request.quote is not None:
        return request.quote
    if request.pct is None:
        raise InvalidArgument("a buy needs exactly one of quote or pct", field="quote")
    return engine.portfolio.equity() * request.pct / Decimal(100)


def _buy(engine: Engine, pump: Pump, request: TradePayload, now_ms: int) -> dict[str, Any]:
    symbol = request.symbol
    _check_watched(engine, symbol)
    take_profit_pct, stop_loss_pct = _defaults(engine, request)
    quote = requested_quote(engine, request)
    since_ms = engine.now_ms  # notices are journaled at engine time, which never goes back
    seen = {e["id"] for e in pump.journal.errors(since_ms)}
    decision = engine.request_entry(symbol, quote, take_profit_pct, stop_loss_pct, now_ms)
    pending = engine.pending.get(symbol)
    position_id = pending.position_id if decision.action is DecisionAction.ENTER and pending is not None else None
    pump.flush()
    answer: dict[str, Any] = {
        "action": "buy", "symbol": symbol, "requested_quote": _text(quote),
        "take_profit_pct": _text(take_profit_pct), "stop_loss_pct": _text(stop_loss_pct),
        "decision": decision.model_dump(mode="json"), "engine_time_ms": engine.now_ms,
        "orders": [], "fills": [], "protection": None, "protection_failed": None, "exit_order": None,
    }
    if position_id is not None:
        entry_id = decision.entry_client_order_id
        journaled = pump.journal.entry_decision(symbol, entry_id) if entry_id is not None else None
        if journaled is not None:  # with the prices of the protection sent, once the entry filled
            answer["decision"] = {k: v for k, v in journaled.items() if k != "id"}
        orders = pump.journal.orders_of_position(position_id)
        answer["orders"] = [_order(o) for o in orders]
        answer["fills"] = [_fill(f) for f in pump.journal.fills_of_position(position_id)]
        answer["protection"] = _protection(engine, symbol)
        failures = [e["message"] for e in pump.journal.errors(since_ms) if e["id"] not in seen
                    and e["code"] in PROTECTION_FAILURES and e["details"].get("symbol") == symbol]
        if failures:
            answer["protection_failed"] = "; ".join(failures)
            exits = [o for o in orders if o.client_order_id.startswith(EXIT_PREFIX)]
            answer["exit_order"] = _order(exits[-1]) if exits else None
    return answer


def _sell(engine: Engine, pump: Pump, request: TradePayload, now_ms: int) -> dict[str, Any]:
    symbol = request.symbol
    _check_watched(engine, symbol)
    holding = engine.holdings.get(symbol)
    if holding is None:
        detail = "an entry is still in flight" if symbol in engine.pending else "no open position"
        raise NoPosition(symbol, detail)
    if holding.exiting:
        raise NoPosition(symbol, "an exit is already in flight")
    position_id = holding.position_id
    journal = pump.journal
    # What this exit changed is told apart by state, not by time: a finished replay's clock no longer moves.
    statuses_before = {o.client_order_id: o.status for o in journal.orders_of_position(position_id)}
    fills_before = {f.trade_id for f in journal.fills_of_position(position_id)}
    engine.request_exit(symbol, now_ms, OPERATOR_REASON)
    pump.flush()
    return {
        "action": "sell", "symbol": symbol, "position_id": position_id, "engine_time_ms": engine.now_ms,
        "orders": [_order(o) for o in journal.orders_of_position(position_id)
                   if statuses_before.get(o.client_order_id) != o.status],
        "fills": [_fill(f) for f in journal.fills_of_position(position_id) if f.trade_id not in fills_before],
        "position_open": symbol in engine.holdings,
    }


def _preview(engine: Engine, request: TradePayload, now_ms: int) -> dict[str, Any]:
    """What the trade would do now, decided by the same code on a copy of the engine: nothing is placed."""
    symbol = request.symbol
    _check_watched(engine, symbol)
    if request.side == "sell":
        holding = engine.holdings.get(symbol)
        if holding is None or holding.exiting:
            raise NoPosition(symbol, "no open position" if holding is None else "an exit is already in flight")
        price = engine.features[symbol].last_price
        quantity = engine.portfolio.sellable_quantity(symbol)
        return {"action": "sell", "symbol": symbol, "position_id": holding.position_id, "quantity": _text(quantity),
                "last_price": None if price is None else repr(price), "engine_time_ms": engine.now_ms,
                "would_execute": True}
    copy = Engine.from_state(engine.to_state(), engine.config, engine.rules, engine.strategies)
    take_profit_pct, stop_loss_pct = _defaults(engine, request)
    quote = requested_quote(copy, request)
    decision = copy.request_entry(symbol, quote, take_profit_pct, stop_loss_pct, now_ms)
    return {"action": "buy", "symbol": symbol, "requested_quote": _text(quote),
            "take_profit_pct": _text(take_profit_pct), "stop_loss_pct": _text(stop_loss_pct),
            "decision": decision.model_dump(mode="json"), "engine_time_ms": copy.now_ms,
            "would_execute": decision.action is DecisionAction.ENTER}


def _advice(engine: Engine, pump: Pump, advice: Advice, now_ms: int) -> dict[str, Any]:
    """Apply advice: the engine keeps it while live (the clamp decides what it does); a notice journals it."""
    if advice.symbol is not None:
        _check_watched(engine, advice.symbol)
    applied = engine.on_advice(advice, now_ms)
    pump.flush()
    return {"applied": applied, "source": advice.source, "advice_action": advice.action.value,
            "expires_ms": advice.expires_ms, "live_advice": len(engine.advice),
            **_controls(engine, advice.symbol)}


def _controls(engine: Engine, symbol: str | None, paused_until_ms: int | None = None) -> dict[str, Any]:
    symbols = [symbol] if symbol is not None else engine.symbols
    controls = engine.controls
    return {
        "symbol": symbol,
        "paused_until_ms": paused_until_ms,
        "kill_switch": controls.killed,
        "paused_symbols": dict(sorted(controls.paused_symbols.items())),
        "all_paused_until_ms": controls.all_paused_until,
        "engine_time_ms": engine.now_ms,
        "entry_blockers": {s: [b.model_dump(mode="json") for b in engine.entry_blockers(s)] for s in symbols},
    }


def _protection(engine: Engine, symbol: str) -> dict[str, Any] | None:
    holding = engine.holdings.get(symbol)
    if holding is None or holding.protection_id is None:
        return None
    return {"kind": holding.protection_kind, "id": holding.protection_id, "stop_price": _text(holding.stop_price),
            "take_profit_price": _text(holding.take_profit_price) if holding.protection_kind == "oco" else None,
            "trailing_delta": holding.trailing_delta}


def _order(row: OrderRow) -> dict[str, Any]:
    return {"client_order_id": row.client_order_id, "list_client_id": row.list_client_id, "side": row.side.value,
            "type": row.type.value, "status": row.status.value, "quantity": _text(row.quantity),
            "quote_order_qty": _text(row.quote_order_qty), "price": _text(row.price),
            "stop_price": _text(row.stop_price), "trailing_delta": row.trailing_delta,
            "executed_qty": _text(row.executed_qty),
            "cum_quote": _text(row.cum_quote), "reason": row.reason}


def _fill(row: FillRow) -> dict[str, Any]:
    return {"client_order_id": row.client_order_id, "trade_id": row.trade_id, "side": row.side.value,
            "price": _text(row.price), "quantity": _text(row.quantity), "commission": _text(row.commission),
            "commission_asset": row.commission_asset, "time_ms": row.time_ms}


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


# ----- answering the queue -------------------------------------------------------------------------------


def process_queue(journal: Journal, engine: Engine, pump: Pump, wall_ms: int, engine_ms: int | None = None,
                  limit: int = 100) -> list[int]:
    """Claim queued commands, execute each on `engine` at `engine_ms` (default: the engine's own time), and
    complete it with its result. Returns the ids done. Errors other than clean refusals propagate: the
    command then stays claimed, and the next start-up completes it as interrupted."""
    done: list[int] = []
    if not journal.has_queued_commands():
        return done
    for command in journal.claim_commands(limit):
        journal.complete_command(command.id, _result(command, engine, pump, wall_ms, engine_ms), wall_ms)
        done.append(command.id)
    return done


def _result(command: CommandRow, engine: Engine, pump: Pump, wall_ms: int, engine_ms: int | None) -> dict[str, Any]:
    expires = command.payload.get("expires_ms")
    if isinstance(expires, int) and wall_ms > expires:
        return _error("REQUEST_EXPIRED", f"{command.kind} request {command.id} expired before an engine took it; "
                      "nothing was done", {"command_id": command.id, "expires_ms": expires})
    try:
        data = execute(engine, pump, command.kind, command.payload,
                       engine.now_ms if engine_ms is None else engine_ms)
    except (CommandRefused, InvalidArgument, UnknownSymbol) as exc:
        return {"ok": False, "error": exc.to_dict()}
    return {"ok": True, "data": data}


def complete_interrupted(journal: Journal, wall_ms: int) -> list[int]:
    """Commands a dead process claimed but never completed: their effect is unknown, and they say so."""
    ids = []
    for command in journal.claimed_commands():
        journal.complete_command(command.id, _error(
            "COMMAND_INTERRUPTED",
            f"the engine stopped while executing {command.kind} request {command.id}; whether it took effect is "
            "unknown: check `python executor.py status` and the journal before asking again",
            {"command_id": command.id, "kind": command.kind}), wall_ms)
        ids.append(command.id)
    return ids


def _error(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message, "details": details}}


# ----- the checkpoint ------------------------------------------------------------------------------------


def unrestorable_checkpoint(home: Home, exc: Exception) -> StateUnreadable:
    """The error for a checkpoint that parses as JSON but lacks a part, or holds one that is not a state."""
    path = home.journal
    problem = f"no {exc.args[0]!r} in it" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
    return StateUnreadable(f"the engine checkpoint stored in {path} cannot be restored ({problem}); put back a backup "
                           "of the journal (`python executor.py backup` makes one), or use another --home",
                           file=str(path), problem=problem)


def checkpoint_rules(checkpoint: dict[str, Any]) -> dict[str, SymbolRules]:
    """The exchange rules the checkpointed engine traded under: stored in the checkpoint, or rebuilt from its
    source (the seeded synthetic market, or the offline rules of recorded data)."""
    stored = checkpoint.get("rules")
    if isinstance(stored, dict):
        return {symbol: SymbolRules.model_validate(raw) for symbol, raw in stored.items()}
    source_id = str(checkpoint.get("source_id", ""))
    if source_id.startswith("synthetic:"):
        seed, symbols = source_id.split(":")[1:3]
        market = SyntheticMarket(seed=int(seed), symbols=symbols.split(",") if symbols else None)
        return rules_from_exchange_info(market.exchange_info())
    if source_id.startswith("data:"):
        path, symbols = source_id[len("data:"):].rsplit(":", 1)
        return recorded_source(Path(path), symbols.split(",") if symbols else None).rules
    raise StateUnreadable(f"cannot tell the exchange rules of the checkpoint (source {source_id!r})",
                          source_id=source_id)


class DirectSession:
    """The engine of a home restored from its checkpoint by a process holding the single-writer lock.

    Open it (restore, then reconcile exactly as `run` does at start-up), `process` the queue, `save`.
    """

    def __init__(self, home: Home, config: ExecutorConfig, journal: Journal, wall_ms: int,
                 review: ReviewFactory | None = None, safety_control: bool = False) -> None:
        """`safety_control`: the session only executes a pause, resume or kill, which a broken strategy
        configuration must not block (`runtime.strategy_loader.strategies_for_safety`); anything else loads the
        strategies strictly."""
        self.home = home
        self.journal = journal
        self.store = MemoryStore(home.root)
        prepare_journal(home, journal, accept_rollback=False, wall_ms=wall_ms)
        complete_interrupted(journal, wall_ms)
        stored = journal.checkpoint()
        if stored is None:
            raise NotStarted(home.root)
        checkpoint = stored.document
        self.mode = checkpoint_mode(checkpoint)
        if self.mode not in DIRECT_MODES:
            raise EngineNotRunning(home.root, self.mode)
        self.checkpoint = load_checkpoint(checkpoint, journal.path)
        rules = checkpoint_rules(checkpoint)
        # The same learned mix `run` resumes from; a skipped version is journaled so that `status` shows it.
        config, _, notices = resume(home, config)
        for notice in notices:
            journal.record_error(wall_ms, VersionInvalid.code, notice, {})
        if safety_control:
            strategies, problem = strategies_for_safety(home, os.environ, config.strategies)
            if problem is not None:
                journal.record_error(wall_ms, problem.code, f"a safety control ran with the built-in strategies: "
                                     f"{problem.message}", problem.details)
        else:
            strategies = load_strategies(home, os.environ, config.strategies).strategies
        try:
            session = restore_session(self.checkpoint, config, rules, strategies=strategies)
        except (KeyError, TypeError, ValueError) as exc:
            raise unrestorable_checkpoint(home, exc) from None
        self.engine, self.exchange = session.engine, session.exchange
        # The analyzer reviews a large manual entry here as it would in `run` (None: replay, no key, no factory).
        self.engine.review = None if review is None else review(journal, self.mode)
        self.pump = Pump(self.engine, self.exchange, journal, on_record=lambda record: leave_kill_flag(home, record))
        replay = self.mode == "replay"
        reconcile_at_start(home, journal, self.pump, replay_after_ms=self.engine.now_ms if replay else None)

    def engine_ms(self, wall_ms: int) -> int:
        """A replay acts at its own market time; a live-data engine that was stopped catches up to the wall clock."""
        return self.engine.now_ms if self.mode == "replay" else max(self.engine.now_ms, wall_ms)

    def process(self, wall_ms: int) -> list[int]:
        return process_queue(self.journal, self.engine, self.pump, wall_ms, self.engine_ms(wall_ms))

    def save(self, wall_ms: int) -> None:
        """Store the checkpoint in the journal: call it inside the batch that completed the commands."""
        self.pump.flush()
        self.journal.save_checkpoint(Checkpoint.model_validate({
            **self.checkpoint.document(), "engine": self.engine.to_state(), "paper": self.exchange.to_state()
        }).document(), written_ms=wall_ms)

    def publish(self) -> None:
        """After the checkpoint committed: the marker, then the derived portfolio file."""
        publish_marker(self.home, self.journal)
        self.store.write_portfolio_state(self.engine.portfolio.to_dict())


# ----- the tool side -------------------------------------------------------------------------------------


ExecutedBy = Literal["running engine", "this process", "stored answer"]


@dataclass(frozen=True)
class Outcome:
    """A command's successful answer and who gave it ("stored answer": a retry of a request already done).

    `replayed`: the request id already named this request before the call, so this call executed nothing
    new: the answer is that of the first attempt (stored, or awaited when it was still running)."""

    command_id: int
    data: dict[str, Any]
    executed_by: ExecutedBy
    replayed: bool


def has_state(home: Home) -> bool:
    """Whether an engine ever saved state here (a journal, an older version's checkpoint file, or the marker of a
    journal that has since gone missing, which `check_journal_present` then reports)."""
    return any(path.exists() for path in (home.journal, home.root / MemoryStore.ENGINE_CHECKPOINT,
                                          marker_path(home.root)))


def _try_lock(home: Home) -> SingleWriterLock | None:
    try:
        return SingleWriterLock(home.lock).acquire()
    except HomeLocked:
        return None


def home_is_held(home: Home) -> bool:
    """Whether a process (a running `run`, or a tool acting on the home) holds the home's single-writer lock now."""
    lock = _try_lock(home)
    if lock is None:
        return True
    lock.release()
    return False


def submit(home: Home, config: ExecutorConfig, kind: str, payload: dict[str, Any], idempotency_key: str,
           wall_ms: Callable[[], int], wait_s: float = 30.0, poll_s: float = 0.05,
           review: ReviewFactory | None = None, safety_control: bool = False) -> Outcome:
    """Have the home's engine execute one command exactly once and return its answer.

    If `run` holds the home, the command is queued and its answer awaited (up to `wait_s` seconds); if not,
    this process takes the lock and runs the same code path itself, its entries reviewed by `review`'s analyzer
    as `run`'s are. `safety_control` (pause, resume, kill): executed here even when the home's strategy configuration
    is broken (see `DirectSession`). A key already answered returns the
    stored answer and executes nothing; a key is bound to the request's kind and parameters (`same_request`),
    so a key that names another request raises RequestIdConflict instead of answering for it. Raises
    CommandFailed with the command's own error, QueueTimeout (not executed, withdrawn), ResultUnknown (taken
    but not answered in time), or NotStarted.
    """
    parse_payload(kind, payload)
    if not has_state(home):
        raise NotStarted(home.root)
    check_journal_present(home.root, home.journal, accept_rollback=False)
    with Journal(home.journal) as journal:
        existing = journal.command_by_key(idempotency_key)
        if existing is not None and not same_request(existing, kind, payload):
            raise RequestIdConflict(idempotency_key, existing.kind, existing.id)
        if existing is not None and existing.status is CommandStatus.DONE:
            return _outcome(journal, existing.id, "stored answer", replayed=True)
        replayed = existing is not None
        lock = _try_lock(home)
        if lock is not None:
            try:
                return _run_directly(home, config, journal, kind, payload, idempotency_key, wall_ms, replayed,
                                     review, safety_control)
            finally:
                lock.release()
        command_id = _enqueue(journal, kind, payload, idempotency_key, wall_ms())
        return _await(home, config, journal, command_id, wall_ms, wait_s, poll_s, replayed, review)


def _enqueue(journal: Journal, kind: str, payload: dict[str, Any], key: str, now_ms: int) -> int:
    """Queue the request under `key` (or find the command it already is), refusing a key that another process
    bound to other parameters between our look-up and the insert."""
    command_id = journal.enqueue_command(kind, payload, key, now_ms)
    command = journal.command(command_id)
    if command is not None and not same_request(command, kind, payload):
        raise RequestIdConflict(key, command.kind, command.id)
    return command_id


def _run_directly(home: Home, config: ExecutorConfig, journal: Journal, kind: str, payload: dict[str, Any],
                  key: str, wall_ms: Callable[[], int], replayed: bool, review: ReviewFactory | None,
                  safety_control: bool) -> Outcome:
    with journal.batch():  # the command, its effects and the checkpoint that holds them: all saved, or none
        session = DirectSession(home, config, journal, wall_ms(), review, safety_control)
        command_id = _enqueue(journal, kind, payload, key, wall_ms())
        while _status(journal, command_id) is CommandStatus.QUEUED and session.process(wall_ms()):
            pass
        session.save(wall_ms())
    session.publish()
    return _outcome(journal, command_id, "this process", replayed)


def _await(home: Home, config: ExecutorConfig, journal: Journal, command_id: int, wall_ms: Callable[[], int],
           wait_s: float, poll_s: float, replayed: bool, review: ReviewFactory | None) -> Outcome:
    deadline = time.monotonic() + wait_s
    while True:
        if _status(journal, command_id) is CommandStatus.DONE:
            return _outcome(journal, command_id, "running engine", replayed)
        lock = _try_lock(home)
        if lock is not None:  # the engine stopped: answer it here (or learn that it was interrupted)
            try:
                session = _session_or_withdraw(home, config, journal, command_id, wall_ms(), review)
                with journal.batch():
                    session.process(wall_ms())
                    session.save(wall_ms())
                session.publish()
            finally:
                lock.release()
            return _outcome(journal, command_id, "this process", replayed)
        if time.monotonic() >= deadline:
            break
        time.sleep(poll_s)
    if journal.withdraw_command(command_id, _error(
            "QUEUE_TIMEOUT", f"no engine took request {command_id} within {wait_s:g} s; it was withdrawn and "
            "nothing was done", {"command_id": command_id}), wall_ms()):
        raise QueueTimeout(f"the running engine did not take request {command_id} within {wait_s:g} s; it was "
                           "withdrawn and nothing was done. Check `python executor.py status`, then retry with a new "
                           "request_id", command_id=command_id, waited_s=wait_s)
    if _status(journal, command_id) is CommandStatus.DONE:
        return _outcome(journal, command_id, "running engine", replayed)
    raise ResultUnknown(f"the running engine took request {command_id} but did not answer within {wait_s:g} s: its "
                        "outcome is unknown. Check `python executor.py status` before retrying (a retry with the same "
                        "request_id returns the answer once it exists and never executes twice)",
                        command_id=command_id, waited_s=wait_s)


def _session_or_withdraw(home: Home, config: ExecutorConfig, journal: Journal, command_id: int,
                         wall_ms: int, review: ReviewFactory | None) -> DirectSession:
    """Restore the engine to answer a queued command; if it cannot be restored, the command is withdrawn with
    that error, so it never waits in the queue for an engine that may only start much later."""
    try:
        return DirectSession(home, config, journal, wall_ms, review)
    except ExecutorError as exc:
        journal.withdraw_command(command_id, {"ok": False, "error": exc.to_dict()}, wall_ms)
        raise


def _status(journal: Journal, command_id: int) -> CommandStatus | None:
    row = journal.command(command_id)
    return None if row is None else row.status


def _outcome(journal: Journal, command_id: int, executed_by: ExecutedBy, replayed: bool) -> Outcome:
    row = journal.command(command_id)
    if row is None or row.status is not CommandStatus.DONE:
        raise ResultUnknown(f"request {command_id} has no answer yet; check `python executor.py status`",
                            command_id=command_id)
    result = row.result or {}
    if result.get("ok"):
        return Outcome(row.id, dict(result.get("data") or {}), executed_by, replayed)
    error = result.get("error") or {}
    details = dict(error.get("details") or {})
    if replayed:
        details["replayed"] = True
    raise CommandFailed(str(error.get("code", "COMMAND_FAILED")), str(error.get("message", "the command failed")),
                        details)
