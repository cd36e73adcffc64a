"""`status`: what the executor on this home is doing, from what it last saved. Read-only.

Everything comes from the home: the checkpoint (engine state and the paper exchange's orders), the
journal (equity points, LLM calls, errors), the lock file (is an executor running now) and the kill flag.
A home with no state yet is "not started", which is an answer, not an error. Times are the engine's
clock (a replay's is the replayed market's time); `checkpoint_written_ms` says when it was saved.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from core.clock import utc_day_start
from core.engine import Engine
from core.errors import ConfigError
from memory.journal import Journal
from reports.delivery import NotifyError
from reports.dispatch import last_sent
from reports.periods import utc_date
from runtime.analyzer import analyzer_status
from runtime.limits import HomeLimits
from runtime.venues import VenueKind, restore_exchange
from scouts.llm.budget import journal_spend
from scouts.llm.settings import LlmSettings, Provider, Role
from tools.spec import ToolContext, ToolSpec
from tools.state import (
    EngineProcess,
    JournalOutdated,
    RegimeView,
    SavedEngine,
    engine_process,
    money,
    read_journal,
    read_saved_engine,
    regime_view,
)

NOT_STARTED = "not started"
LAST_ERRORS = 5
HUNDRED = Decimal(100)


class StatusInput(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class PositionView(BaseModel):
    symbol: str
    strategy: str | None
    quantity: str
    avg_entry: str = Field(description="average entry price, buy fees included")
    mark: str | None = Field(description="last price the engine saw")
    unrealized_pnl: str | None
    opened_ms: int
    stop_price: str | None
    take_profit_price: str | None
    protection_id: str | None = Field(description="client id of the working OCO list or stop order")
    protection_kind: str | None = Field(description="oco or stop")
    protection_open: bool | None = Field(
        description="whether that id is an open order in the paper exchange; null when there is no paper state")
    exiting: bool


class DustView(BaseModel):
    symbol: str
    quantity: str = Field(description="units no order can sell on their own (below the lot step or min notional)")
    cost: str = Field(description="what those units cost, buy fees included")
    mark: str | None = Field(description="last price the engine saw")
    value: str | None = Field(description="quantity at mark (in equity); null without a mark")


class BreakersView(BaseModel):
    level: str
    entries_allowed: bool
    reason: str | None
    size_multiplier: float


class KillSwitchView(BaseModel):
    engaged: bool
    by: str | None = Field(description="manual, or the breaker that killed (drawdown_kill)")
    flag_file: bool = Field(description="a KILL file is present in the home")
    note: str | None = None


class PausesView(BaseModel):
    all_paused_until_ms: int | None = Field(description="every entry paused until then (null: not paused)")
    symbols: dict[str, int] = Field(description="symbol -> paused until (ms), pauses still in force")


class PnlToday(BaseModel):
    day: str | None = Field(description="the UTC day, by the engine's clock")
    pnl: str | None
    pnl_pct: float | None
    from_equity: str | None = Field(description="the journal's first equity point of the day")
    from_ms: int | None
    note: str | None = None


class StrategyLine(BaseModel):
    strategy: str
    allocation: float = Field(description="share of sizing given to the strategy by config")
    closed_trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None = Field(description="gross winning returns over gross losing returns (per unit "
                                        "staked, so position size does not weigh them)")
    payoff: float | None = Field(description="average winning return / average losing return")
    kelly_estimate: float | None = Field(description="full Kelly W − (1 − W)/payoff on returns, from closed trades")
    sizing_kelly: float = Field(description="fraction of equity its next signal starts from (before confidence, "
                                "allocation and breakers)")
    kelly_basis: str = Field(description="where sizing_kelly comes from: the prior, or the estimate aged toward it")
    drawdown_contribution: float = Field(description="largest fall of its own cumulative realized P&L, in quote")
    trades_by_regime: dict[str, int] = Field(description="closed trades by the regime of their symbol at entry")
    pnl: float = Field(description="sum of closed-trade P&Ls in the quote asset (analytics; `report` is exact)")


class DataHealthLine(BaseModel):
    symbol: str
    last_data_ms: int | None
    age_ms: int | None = Field(description="engine clock minus the time of the symbol's last data")
    outage: str | None = Field(description="DATA_OUTAGE reason while entries on the symbol are blocked")
    regime: RegimeView


class LlmRoleHealth(BaseModel):
    role: str = Field(description="scout or analyzer")
    model: str
    provider: str = Field(description="lmstudio (local, free) or deepseek (paid, budgeted)")
    configured: bool = Field(description="this process's settings (SCOUT_MODELS, DEEPSEEK_API_KEY) name it")
    calls: int
    failures: int
    last_call_ms: int | None = Field(description="wall time of its last call")
    last_ok: bool | None
    last_outcome: str | None = Field(description="ok, invalid, unavailable or refused")
    last_reason: str | None = Field(description="why the last call failed (deadline, connection, auth, budget, …)")
    stopped_by: str | None = Field(description="auth (HTTP 401: check the key) or no_balance (HTTP 402: top up): "
                                   "its last failure, with no call answered since")


class LlmSpend(BaseModel):
    provider: str
    today_usd: str
    month_usd: str
    today_tokens: int
    month_tokens: int
    daily_left_usd: str = Field(description="DEEPSEEK_DAILY_BUDGET_USD minus today's spend (UTC day), at least 0")
    monthly_left_usd: str = Field(description="DEEPSEEK_MONTHLY_BUDGET_USD minus this UTC month's spend, at least 0")
    daily_tokens_left: int
    monthly_tokens_left: int


class LlmHealth(BaseModel):
    calls: int
    failures: int
    last_call: dict[str, Any] | None
    roles: list[LlmRoleHealth] = Field(default_factory=list, description="per configured or journaled model")
    spend: LlmSpend | None = Field(default=None, description="the paid provider's spend and budget left")
    settings_error: str | None = Field(default=None, description="why the LLM settings could not be read")


class AnalyzerView(BaseModel):
    on: bool = Field(description="entries of this home's engine are reviewed by the DeepSeek analyzer")
    state: str = Field(description="on, no_key (DEEPSEEK_API_KEY unset), unreviewed_mode (replay, backtest), "
                       "not_started, invalid_settings")
    message: str = Field(description="why, in words")
    min_trade_pct: str | None = Field(description="ANALYZER_MIN_TRADE_PCT: entries above it are reviewed")
    fallback: str | None = Field(description="ANALYZER_FALLBACK: what a reviewed entry gets without an answer")
    deadline_s: float | None = Field(description="ANALYZER_DEADLINE_S: the longest an entry waits for a review")
    blocked: str | None = Field(default=None, description="on, but its calls are refused now (a 401 or 402 stop, "
                                "a budget used up): every reviewed entry gets the fallback")


class ErrorLine(BaseModel):
    time_ms: int
    code: str
    message: str
    details: dict[str, Any]


class DeliveryLine(BaseModel):
    service: str = Field(description="telegram, discord (the execution webhook) or discord_research")
    last_sent: dict[str, str] = Field(description="period (day, week) -> date of the last report it received")
    failures: int = Field(description="report deliveries to it that failed (journaled NOTIFY_FAILED errors)")
    last_failure_ms: int | None
    last_failure: str | None = Field(description="why the last failed delivery did not arrive")
    alerts_pending: int = Field(default=0, description="alerts in the outbox waiting to be sent to it")
    alerts_failed: int = Field(default=0, description="alerts given up on after repeated failed sends")
    last_alert_ms: int | None = Field(default=None, description="wall time of its last alert delivered")
    last_alert_error: str | None = Field(default=None, description="what it answered to the last failed alert send")


class LimitLine(BaseModel):
    setting: str = Field(description="environment name of the risk setting (field name when it has none)")
    field: str
    value: float | int | str = Field(description="the value this process trades with")
    source: str = Field(description="default, config set, run start, backtest start, or tightened by environment")
    ceiling: float | int | None = Field(description="the hard ceiling in code (null: none)")
    ignored: str | None = Field(default=None, description="an environment value that was not applied, and why")


class StatusOutput(BaseModel):
    mode: str = Field(description="replay, paper, testnet, live, or 'not started'")
    source_id: str | None
    finished: bool = Field(description="a replay that ran to the end of its data")
    running: bool = Field(description="an executor process holds this home's lock now")
    pid: int | None
    engine_time_ms: int | None
    checkpoint_written_ms: int | None
    quote_asset: str | None
    equity: str | None = Field(description="cash plus every holding (positions, dust, other balances) at mark")
    cash: str | None
    realized_pnl: str | None = Field(description="since the start, dust sold with later exits included")
    fees: str | None = Field(description="fees paid, valued in the quote asset")
    dust: list[DustView] = Field(description="the account's dust: in equity at mark, in no position nor strategy P&L")
    dust_value: str | None = Field(description="all dust at mark")
    dust_realized_pnl: str | None = Field(description="the part of realized_pnl from selling dust (no strategy's)")
    positions: list[PositionView]
    breakers: BreakersView | None
    kill_switch: KillSwitchView
    pauses: PausesView
    pnl_today: PnlToday
    strategy_mix: list[StrategyLine]
    data_health: list[DataHealthLine]
    llm: LlmHealth | None
    analyzer: AnalyzerView = Field(description="whether entries are reviewed by the analyzer, and if not, why")
    last_errors: list[ErrorLine]
    report_delivery: list[DeliveryLine] = Field(description="per notifier: the last reports it received and the "
                                                "deliveries that failed, so a report that never arrived is seen")
    limits: list[LimitLine] = Field(description="the effective risk limits and where each came from: the home's "
                                    "stored limits, tightened (never loosened) by this process's environment")
    notes: list[str]


def handle(args: StatusInput, ctx: ToolContext) -> StatusOutput:
    process = engine_process(ctx.home)
    strategies, problem = ctx.strategies_for_reading()
    saved = read_saved_engine(ctx.home, ctx.config, strategies)
    # A broken strategy configuration does not hide the state: it is the first note, and the tools that trade refuse.
    notes = [] if problem is None else [f"{problem.code}: {problem.message}. trade, run and backtest refuse and "
                                        "scan shows no signals until it is fixed; pause, resume, kill and status "
                                        "work"]
    try:
        with read_journal(ctx.home) as journal:
            output = _status(saved, process, journal, ctx, journal_note=None, notes=notes)
    except JournalOutdated as exc:
        output = _status(saved, process, None, ctx, journal_note=exc.message, notes=notes)
    return output


def _status(saved: SavedEngine | None, process: EngineProcess, journal: Journal | None, ctx: ToolContext,
            journal_note: str | None, notes: list[str]) -> StatusOutput:
    flag = ctx.home.kill_flag.exists()
    engine = saved.engine if saved is not None else None
    if saved is None:
        notes.append("no engine state in this home yet: python executor.py run starts one")
    elif saved.warning:
        notes.append(saved.warning)
    if journal is None:
        notes.append(journal_note or "no journal in this home yet")
    llm, errors = _journal_health(journal, ctx)
    analyzer = _analyzer(saved.mode if saved is not None and engine is not None else None, llm, ctx)
    common: dict[str, Any] = {
        "running": process.running, "pid": process.pid, "kill_switch": _kill_switch(engine, flag, process),
        "strategy_mix": _strategy_mix(engine, ctx), "llm": llm, "analyzer": analyzer, "last_errors": errors,
        "notes": notes,
        "report_delivery": _report_delivery(ctx, journal, notes),
        "limits": [LimitLine.model_validate(line) for line in (ctx.limits or HomeLimits(ctx.config.risk, {})).lines()],
    }
    if saved is None or engine is None:
        return StatusOutput(mode=NOT_STARTED, source_id=None, finished=False, engine_time_ms=None,
                            checkpoint_written_ms=None, quote_asset=None, equity=None, cash=None, realized_pnl=None,
                            fees=None, dust=[], dust_value=None, dust_realized_pnl=None, positions=[],
                            breakers=None, pauses=PausesView(all_paused_until_ms=None, symbols={}),
                            pnl_today=PnlToday(day=None, pnl=None, pnl_pct=None, from_equity=None, from_ms=None,
                                               note="the engine has not started"),
                            data_health=[], **common)
    portfolio = engine.portfolio
    return StatusOutput(
        mode=saved.mode, source_id=saved.source_id, finished=saved.finished, engine_time_ms=engine.now_ms,
        checkpoint_written_ms=saved.written_ms, quote_asset=portfolio.quote_asset, equity=money(portfolio.equity()),
        cash=money(portfolio.cash), realized_pnl=money(portfolio.realized_pnl), fees=money(portfolio.fees_paid),
        dust=_dust(engine), dust_value=money(portfolio.dust_value()),
        dust_realized_pnl=money(portfolio.dust_realized_pnl), positions=_positions(saved, notes),
        breakers=_breakers(engine),
        pauses=_pauses(engine), pnl_today=_pnl_today(engine, journal), data_health=_data_health(engine), **common)


def _positions(saved: SavedEngine, notes: list[str]) -> list[PositionView]:
    engine = saved.engine
    open_ids = _open_order_ids(saved, notes)
    marks = engine.portfolio.last_marks()
    lines = []
    for symbol, position in sorted(engine.portfolio.positions().items()):
        holding = engine.holdings.get(symbol)
        mark = marks.get(symbol)
        mark_d = None if mark is None else Decimal(repr(mark))
        protection_id = holding.protection_id if holding else position.protection_list_id
        lines.append(PositionView(
            symbol=symbol, strategy=position.strategy.value if position.strategy else None,
            quantity=money(position.quantity), avg_entry=money(position.avg_entry),
            mark=None if mark_d is None else money(mark_d),
            unrealized_pnl=None if mark_d is None else money(position.quantity * (mark_d - position.avg_entry)),
            opened_ms=position.opened_ms,
            stop_price=_text(holding.stop_price if holding else position.stop_price),
            take_profit_price=_text(holding.take_profit_price if holding else position.take_profit_price),
            protection_id=protection_id, protection_kind=holding.protection_kind if holding else None,
            protection_open=None if open_ids is None or protection_id is None else protection_id in open_ids,
            exiting=holding.exiting if holding else False))
    unprotected = [p.symbol for p in lines if p.protection_open is False or p.protection_id is None]
    if unprotected:
        notes.append(f"positions without a working protective order: {', '.join(unprotected)}")
    return lines


def _dust(engine: Engine) -> list[DustView]:
    marks = engine.portfolio.last_marks()
    lines = []
    for symbol, dust in sorted(engine.portfolio.dust_holdings().items()):
        mark = marks.get(symbol)
        mark_d = None if mark is None else Decimal(repr(mark))
        lines.append(DustView(symbol=symbol, quantity=money(dust.quantity), cost=money(dust.cost),
                              mark=None if mark_d is None else money(mark_d),
                              value=None if mark_d is None else money(dust.value(mark_d))))
    return lines


def _open_order_ids(saved: SavedEngine, notes: list[str]) -> set[str] | None:
    """Client ids of the paper exchange's open orders and of their OCO lists; None without paper state."""
    if saved.paper_state is None:
        return None
    try:
        paper = restore_exchange(VenueKind.PAPER, saved.paper_state, saved.engine.rules)
    except (KeyError, TypeError, ValueError) as exc:
        notes.append(f"paper exchange state unreadable ({type(exc).__name__}: {exc}); protection not checked")
        return None
    ids: set[str] = set()
    for order in paper.open_orders():
        ids.add(order.client_order_id)
        if order.list_client_id:
            ids.add(order.list_client_id)
    return ids


def _breakers(engine: Engine) -> BreakersView:
    now = engine.now_ms
    allowed, reason = engine.breakers.entries_allowed(now)
    return BreakersView(level=engine.breakers.level(now).value, entries_allowed=allowed, reason=reason,
                        size_multiplier=engine.breakers.size_multiplier(now))


def _kill_switch(engine: Engine | None, flag: bool, process: EngineProcess) -> KillSwitchView:
    by: str | None = None
    if engine is not None and engine.controls.killed:
        by = "manual"
    elif engine is not None and engine.breakers.kill is not None:
        by = engine.breakers.kill.breaker
    note = None
    if flag and by is None:
        note = ("a KILL file is present: the running executor engages the kill switch within moments"
                if process.running else "a KILL file is present: the kill switch engages when the executor starts")
    return KillSwitchView(engaged=by is not None, by=by, flag_file=flag, note=note)


def _pauses(engine: Engine) -> PausesView:
    now = engine.now_ms
    controls = engine.controls
    return PausesView(all_paused_until_ms=controls.all_paused_until if controls.all_paused_until > now else None,
                      symbols={s: until for s, until in sorted(controls.paused_symbols.items()) if until > now})


def _pnl_today(engine: Engine, journal: Journal | None) -> PnlToday:
    start = utc_day_start(engine.now_ms)
    day = _iso_day(start)
    if journal is None:
        return PnlToday(day=day, pnl=None, pnl_pct=None, from_equity=None, from_ms=None, note="no journal yet")
    curve = journal.equity_curve(start, engine.now_ms)
    if not curve:
        return PnlToday(day=day, pnl=None, pnl_pct=None, from_equity=None, from_ms=None,
                        note="no equity point journaled yet this UTC day (one is taken every hour)")
    first_ms, first = curve[0]
    pnl = engine.portfolio.equity() - first
    pct = float(pnl * HUNDRED / first) if first > 0 else None
    return PnlToday(day=day, pnl=money(pnl), pnl_pct=pct, from_equity=money(first), from_ms=first_ms)


def _strategy_mix(engine: Engine | None, ctx: ToolContext) -> list[StrategyLine]:
    allocation = ctx.config.strategies.allocation
    lines = []
    # The registered strategies, then any whose trades the engine still remembers but that is not registered now.
    names = list(allocation) if engine is None else [
        *engine.strategies.names, *(n for n in engine.outcomes if n not in engine.strategies.by_name)]
    for name in names:
        if engine is None:
            lines.append(StrategyLine(strategy=str(name), allocation=allocation.get(name, 0.0), closed_trades=0,
                                      wins=0, losses=0, win_rate=None, profit_factor=None, payoff=None,
                                      kelly_estimate=None, sizing_kelly=0.0, kelly_basis="no engine state",
                                      drawdown_contribution=0.0, trades_by_regime={}, pnl=0.0))
            continue
        record, kelly = engine.performance(name), engine.kelly(name)
        stats = record.returns
        lines.append(StrategyLine(strategy=str(name), allocation=allocation.get(name, 0.0),
                                  closed_trades=stats.count, wins=stats.wins, losses=stats.losses,
                                  win_rate=stats.win_rate if stats.count else None,
                                  profit_factor=stats.profit_factor, payoff=record.payoff,
                                  kelly_estimate=stats.kelly if stats.count else None, sizing_kelly=kelly.fraction,
                                  kelly_basis=f"{kelly.source.value}: {kelly.message}",
                                  drawdown_contribution=record.drawdown_contribution,
                                  trades_by_regime=record.trades_by_regime, pnl=math.fsum(engine.pnls.get(name, []))))
    return lines


def _data_health(engine: Engine) -> list[DataHealthLine]:
    lines = []
    for symbol in engine.symbols:
        features = engine.features.get(symbol)
        seen = features is not None and features.last_price is not None
        last = features.time_ms if seen and features is not None else None
        lines.append(DataHealthLine(symbol=symbol, last_data_ms=last,
                                    age_ms=None if last is None else max(0, engine.now_ms - last),
                                    outage=engine.outages.get(symbol), regime=regime_view(engine, symbol)))
    return lines


def _journal_health(journal: Journal | None, ctx: ToolContext) -> tuple[LlmHealth | None, list[ErrorLine]]:
    if journal is None:
        return None, []
    calls = journal.llm_calls()
    last = calls[-1] if calls else None
    llm = LlmHealth(calls=len(calls), failures=sum(1 for c in calls if not c["ok"]),
                    last_call=None if last is None else {k: last[k] for k in
                                                         ("time_ms", "role", "model", "ok", "latency_ms", "summary")},
                    **llm_health(journal, calls, ctx))
    errors = [ErrorLine(time_ms=e["time_ms"], code=e["code"], message=e["message"], details=e["details"])
              for e in journal.errors()[-LAST_ERRORS:]]
    return llm, errors


def _analyzer(mode: str | None, llm: LlmHealth | None, ctx: ToolContext) -> AnalyzerView:
    """`runtime.analyzer.analyzer_status` for the home's mode, and what stops an analyzer that is on from answering
    (then every reviewed entry gets its fallback)."""
    status = analyzer_status(ctx.env, mode)
    settings = status.settings
    blocked = None
    if status.on and llm is not None:
        stops = [role.stopped_by for role in llm.roles if role.role == Role.ANALYZER.value and role.stopped_by]
        spend = llm.spend
        if stops:
            blocked = f"DeepSeek calls stopped by {stops[0]}: reviewed entries get the fallback until a restart"
        elif spend is not None and (Decimal(spend.daily_left_usd) <= 0 or Decimal(spend.monthly_left_usd) <= 0
                                    or spend.daily_tokens_left <= 0 or spend.monthly_tokens_left <= 0):
            blocked = "a DeepSeek budget is used up: reviewed entries get the fallback until it renews"
    return AnalyzerView(on=status.on, state=status.state.value, message=status.message,
                        min_trade_pct=None if settings is None else str(settings.min_trade_pct),
                        fallback=None if settings is None else settings.fallback.value,
                        deadline_s=None if settings is None else settings.deadline_s, blocked=blocked)


def llm_health(journal: Journal, calls: list[dict[str, Any]], ctx: ToolContext) -> dict[str, Any]:
    """Per role and model: configured?, its last call, stopped by 401/402?; the paid provider's spend against its
    budgets (UTC day and month, wall time, as the client checks them)."""
    try:
        settings: LlmSettings | None = LlmSettings.from_env(ctx.env)
    except ConfigError as exc:
        settings, error = None, exc.message
    else:
        error = None
    configured: dict[tuple[str, str], str] = {}
    if settings is not None:
        roles = settings.scouts() + ([settings.analyzer()] if settings.deepseek_api_key is not None else [])
        configured = {(r.role.value, r.model): r.provider.value for r in roles}
    by_role: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in configured}
    for call in calls:
        by_role.setdefault((call["role"], call["model"]), []).append(call)
    lines = [_role_health(role, model, configured.get((role, model)), rows) for (role, model), rows in by_role.items()]
    spend = None if settings is None else _spend(journal, settings, ctx.now_ms())
    return {"roles": sorted(lines, key=lambda line: (line.role, line.model)), "spend": spend, "settings_error": error}


# A 401 or 402 stops the role in the process that met it; later failures (a restart's deadline) do not lift it.
_STOPPING_REASONS = frozenset({"auth", "no_balance"})


def _role_health(role: str, model: str, provider: str | None, rows: list[dict[str, Any]]) -> LlmRoleHealth:
    last = rows[-1] if rows else None
    stopped = None
    for row in reversed(rows):
        if row["ok"]:
            break
        if row["reason"] in _STOPPING_REASONS:
            stopped = row["reason"]
            break
    return LlmRoleHealth(role=role, model=model, provider=provider or (last or {}).get("provider") or "unknown",
                         configured=provider is not None, calls=len(rows),
                         failures=sum(1 for row in rows if not row["ok"]),
                         last_call_ms=None if last is None else last["time_ms"],
                         last_ok=None if last is None else last["ok"],
                         last_outcome=None if last is None else last["outcome"],
                         last_reason=None if last is None else last["reason"], stopped_by=stopped)


def _spend(journal: Journal, settings: LlmSettings, now_ms: int) -> LlmSpend:
    provider = Provider.DEEPSEEK.value
    spent = journal_spend(journal, provider, now_ms)
    return LlmSpend(provider=provider, today_usd=money(spent.day.usd), month_usd=money(spent.month.usd),
                    today_tokens=spent.day.tokens, month_tokens=spent.month.tokens,
                    daily_left_usd=money(max(Decimal(0), settings.daily_budget_usd - spent.day.usd)),
                    monthly_left_usd=money(max(Decimal(0), settings.monthly_budget_usd - spent.month.usd)),
                    daily_tokens_left=max(0, settings.daily_budget_tokens - spent.day.tokens),
                    monthly_tokens_left=max(0, settings.monthly_budget_tokens - spent.month.tokens))


def _report_delivery(ctx: ToolContext, journal: Journal | None, notes: list[str]) -> list[DeliveryLine]:
    sent, warning = last_sent(ctx.home.root)
    if warning:
        notes.append(warning)
    failed: dict[str, list[dict[str, Any]]] = {}
    for error in journal.errors() if journal is not None else []:
        if error["code"] == NotifyError.code:
            failed.setdefault(str(error["details"].get("service")), []).append(error)
    outbox = {s.service: s for s in journal.outbox.summary()} if journal is not None else {}
    lines = []
    for service in sorted(set(sent) | set(failed) | set(outbox)):
        failures = failed.get(service, [])
        last = failures[-1] if failures else None
        alerts = outbox.get(service)
        lines.append(DeliveryLine(service=service, last_sent=sent.get(service, {}), failures=len(failures),
                                  last_failure_ms=None if last is None else last["time_ms"],
                                  last_failure=None if last is None else last["message"],
                                  alerts_pending=alerts.pending if alerts else 0,
                                  alerts_failed=alerts.failed if alerts else 0,
                                  last_alert_ms=alerts.last_sent_ms if alerts else None,
                                  last_alert_error=alerts.last_error if alerts else None))
    return lines


def _text(value: Decimal | None) -> str | None:
    """A price, or None when unset (a Holding keeps 0 for a price it does not have yet)."""
    return None if value is None or value == 0 else money(value)


def _iso_day(ms: int) -> str:
    return utc_date(ms).isoformat()


SPEC = ToolSpec(
    name="status",
    description="Executor status: mode, whether it is running, equity and cash, positions with their protective "
                "orders, breakers, kill switch, pauses, today's P&L, strategy mix, data and LLM health, last errors.",
    input_model=StatusInput,
    output_model=StatusOutput,
    handler=handle,
    read_only=True, needs_strategy_settings=False,
    title="Executor status",
)
