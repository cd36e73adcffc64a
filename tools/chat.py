"""Chat answers (`--format text`) of the tools whose data a generic flattening would bury: `status` and `scan`.

Each renderer reads the tool's JSON data (what the output model published) and returns `ChatText`: the lines
that must always be seen, then lines of detail in the order they matter. `tools.cli.render_text` fits them
into one message by dropping whole lines of detail from the end and saying how to see everything, so the
breakers, the kill switch and today's P&L can never be hidden behind detail, and no value is ever cut.
Numbers are rounded for reading by `core.display`; JSON keeps the exact values.

A status section is a function from the data to lines: adding one is adding it to `STATUS_ESSENTIAL` or
`STATUS_DETAIL`.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.display import age, money, percent, price, quantity, signed_money, utc_text

LINE_LIMIT = 180  # characters: the longest line a chat answer holds (see tools.cli)
Data = dict[str, Any]
Section = Callable[[Data], list[str]]


@dataclass(frozen=True)
class ChatText:
    essential: list[str]
    detail: list[str] = field(default_factory=list)


def wrapped(text: str, indent: str = "  ") -> list[str]:
    """Free text (a reason, a note) as whole-word lines of at most LINE_LIMIT characters, never cut."""
    return textwrap.wrap(text, LINE_LIMIT, subsequent_indent=indent, break_on_hyphens=False) or [""]


# -- status ----------------------------------------------------------------------------------------------


def _head(data: Data) -> list[str]:
    if data["mode"] == "not started":
        return ["not started: no engine state in this home yet (python executor.py run starts one)"]
    state = f"running (pid {data['pid']})" if data["running"] else ("finished" if data["finished"] else "stopped")
    clock = "" if data["engine_time_ms"] is None else f" · engine time {utc_text(data['engine_time_ms'])}"
    saved = "" if data["checkpoint_written_ms"] is None else f" · saved {utc_text(data['checkpoint_written_ms'])}"
    return [f"{data['mode']} · {state}{clock}{saved}"]


def _equity(data: Data) -> list[str]:
    if data["equity"] is None:
        return []
    quote = data["quote_asset"]
    return [f"Equity {money(data['equity'])} {quote} · cash {money(data['cash'])} {quote} · "
            f"{len(data['positions'])} open position(s)"]


def _pnl_today(data: Data) -> list[str]:
    today = data["pnl_today"]
    if today["pnl"] is None:
        return wrapped(f"Today's P&L: unknown ({today['note']})") if today["note"] else []
    pct = "" if today["pnl_pct"] is None else f" ({percent(today['pnl_pct'], signed=True)})"
    return [f"Today's P&L ({today['day']} UTC): {signed_money(today['pnl'])} {data['quote_asset']}{pct} since "
            f"{utc_text(today['from_ms'])}"]


def _breakers(data: Data) -> list[str]:
    breakers = data["breakers"]
    if breakers is None:
        return []
    entries = "entries allowed" if breakers["entries_allowed"] else "entries BLOCKED"
    size = "" if breakers["size_multiplier"] >= 1 else f" · sizes ×{breakers['size_multiplier']:g}"
    reason = f": {breakers['reason']}" if breakers["reason"] else ""
    return wrapped(f"Breakers: {breakers['level']} · {entries}{size}{reason}")


def _kill_switch(data: Data) -> list[str]:
    kill = data["kill_switch"]
    line = f"Kill switch: ON ({kill['by']})" if kill["engaged"] else "Kill switch: off"
    if kill["note"]:
        line += f" · {kill['note']}"
    return wrapped(line)


def _pauses(data: Data) -> list[str]:
    pauses = data["pauses"]
    parts = []
    if pauses["all_paused_until_ms"] is not None:
        parts.append(f"all entries until {utc_text(pauses['all_paused_until_ms'])}")
    parts += [f"{symbol} until {utc_text(until)}" for symbol, until in pauses["symbols"].items()]
    return wrapped("Paused: " + ", ".join(parts)) if parts else []


def _delivery_failures(data: Data) -> list[str]:
    lines = []
    for line in data["report_delivery"]:
        if line["failures"]:
            lines += wrapped(f"Reports to {line['service']}: {line['failures']} failed delivery(ies), last at "
                             f"{utc_text(line['last_failure_ms'])}: {line['last_failure']}")
        if line["alerts_pending"] or line["alerts_failed"]:
            error = f"; last error: {line['last_alert_error']}" if line["last_alert_error"] else ""
            lines += wrapped(f"Alerts to {line['service']}: {line['alerts_pending']} pending, "
                             f"{line['alerts_failed']} failed{error}")
    return lines


def _positions(data: Data) -> list[str]:
    lines = []
    for p in data["positions"]:
        mark = "mark n/a" if p["mark"] is None else (
            f"mark {price(p['mark'])} · uPnL {signed_money(p['unrealized_pnl'])}")
        exits = " / ".join(f"{name} {price(value)}" for name, value in
                           (("stop", p["stop_price"]), ("tp", p["take_profit_price"])) if value is not None)
        guarded = f"protected ({p['protection_kind'] or 'order'})" if p["protection_open"] is not False and \
            p["protection_id"] else "UNPROTECTED"
        lines.append(f"- {p['symbol']} {quantity(p['quantity'])} @ {price(p['avg_entry'])} · {mark}"
                     f"{' · ' + exits if exits else ''} · {guarded}{' · exiting' if p['exiting'] else ''}")
    return lines


def _data_health(data: Data) -> list[str]:
    parts = []
    for line in data["data_health"]:
        if line["outage"]:
            parts.append(f"{line['symbol']} OUTAGE ({line['outage']})")
        elif line["age_ms"] is not None and line["age_ms"] >= 60_000:
            parts.append(f"{line['symbol']} {age(line['age_ms'])} old")
    fresh = len(data["data_health"]) - len(parts)
    if not data["data_health"]:
        return []
    return wrapped("Data: " + ", ".join(parts + ([f"{fresh} symbol(s) fresh"] if fresh else [])))


def regime_text(regime: Data) -> str:
    """`volatile_trend 0.87 (ADX 41.2, ATR 2.10 %, band 9.8 %, 24 h −12.3 %)`, or that it is still warming up."""
    if regime["regime"] is None:
        return "warming up (needs about 27 hours of bars)"
    return (f"{regime['regime']} {regime['confidence']:.2f} (ADX {regime['adx']:.1f}, ATR {regime['atr_pct']:.2f} %, "
            f"band {regime['bollinger_width_pct']:.1f} %, 24 h {regime['momentum_pct']:+.1f} %)")


def _regimes(data: Data) -> list[str]:
    parts = [f"{line['symbol']} {line['regime']['regime'] or 'warming up'}" for line in data["data_health"]]
    return wrapped("Regimes: " + ", ".join(parts)) if parts else []


def _errors(data: Data) -> list[str]:
    lines = []
    for error in data["last_errors"]:
        lines += wrapped(f"Error {utc_text(error['time_ms'])} {error['code']}: {error['message']}")
    return lines


def _llm(data: Data) -> list[str]:
    analyzer = data.get("analyzer")
    lines = wrapped(analyzer["message"]) if analyzer else []
    if analyzer and analyzer.get("blocked"):
        lines += wrapped(f"  BLOCKED: {analyzer['blocked']}")
    llm = data["llm"]
    if not llm:
        return lines
    lines += [f"LLM: {llm['calls']} call(s), {llm['failures']} failed"] if llm["calls"] else []
    for role in llm.get("roles") or []:
        state = "configured" if role["configured"] else "not configured"
        last = "no call yet" if role["last_call_ms"] is None else (
            f"last call {'ok' if role['last_ok'] else 'failed (' + str(role['last_reason']) + ')'} "
            f"{utc_text(role['last_call_ms'])}")
        stopped = f" · STOPPED by {role['stopped_by']}" if role["stopped_by"] else ""
        lines.append(f"  {role['role']} {role['model']}: {state}, {last}{stopped}")
    spend = llm.get("spend")
    if spend and (spend["month_tokens"] or any(r["provider"] == spend["provider"] for r in llm.get("roles") or [])):
        lines.append(f"  {spend['provider']} spend: today ${money(spend['today_usd'])} "
                     f"(${money(spend['daily_left_usd'])} left), month ${money(spend['month_usd'])} "
                     f"(${money(spend['monthly_left_usd'])} left)")
    if llm.get("settings_error"):
        lines += wrapped(f"  LLM settings: {llm['settings_error']}")
    return lines


def _strategies(data: Data) -> list[str]:
    parts = [f"{s['strategy']} {percent(s['allocation'] * 100, 1)} of entries, {s['closed_trades']} trade(s)"
             + (f" {percent(s['win_rate'] * 100, 0)} won, {signed_money(s['pnl'])}" if s["closed_trades"] else "")
             + f", Kelly {s['sizing_kelly']:.4f}" for s in data["strategy_mix"]]
    source = f" (mix: {data['strategy_mix'][0]['allocation_source']})" if parts else ""
    return wrapped("Strategies: " + " · ".join(parts) + source) if parts else []


def _limits(data: Data) -> list[str]:
    parts = [f"{line['setting']} {line['value']:g}" if isinstance(line["value"], float) else
             f"{line['setting']} {line['value']}" for line in data["limits"]]
    return wrapped("Limits: " + ", ".join(parts)) if parts else []


def _notes(data: Data) -> list[str]:
    return [line for note in data["notes"] for line in wrapped(f"Note: {note}")]


def positions_lines(data: Data) -> list[str]:
    """One line per open position of a status answer (the bot's /positions)."""
    return _positions(data)


STATUS_ESSENTIAL: list[Section] = [_head, _equity, _pnl_today, _breakers, _kill_switch, _pauses,
                                   _delivery_failures, _notes]
STATUS_DETAIL: list[Section] = [_positions, _data_health, _regimes, _errors, _llm, _strategies, _limits]


def status_text(data: Data) -> ChatText:
    return ChatText(essential=[line for section in STATUS_ESSENTIAL for line in section(data)],
                    detail=[line for section in STATUS_DETAIL for line in section(data)])


# -- scan ------------------------------------------------------------------------------------------------


def _market(result: Data) -> str | None:
    oracle = result["oracle"]
    if oracle["ok"] and oracle["metrics"]:
        m = oracle["metrics"]
        data_age = "" if m["age_ms"] is None else f" · data {age(m['age_ms'])} old"
        return f"  market: mid {price(m['mid'])} · spread {m['spread_bps']:.1f} bps{data_age}"
    market = (result["strategies"] or {}).get("market")
    if market:
        return f"  engine's last price {price(market['last_price'])}"
    return None


def _signals(result: Data) -> list[str]:
    return [line for s in result["strategies"]["signals"] for line in wrapped(
        f"  signal: {s['strategy']} {s['confidence']:.2f} @ {price(s['reference_price'])} (tp {s['take_profit_pct']}% "
        f"/ sl {s['stop_loss_pct']}%): {s['reason']}", indent="    ")]


def _shared_blockers(results: list[Data]) -> list[Data]:
    """Blockers that every scanned symbol has (a breaker, the kill switch, no engine): said once, not per symbol."""
    if len(results) < 2:
        return []
    first, *others = (result["entry"]["blockers"] for result in results)
    return [blocker for blocker in first if all(blocker in other for other in others)]


def scan_text(data: Data) -> ChatText:
    """Per symbol: the decision an entry would get now (allowed, or refused with every blocker), then its market
    and signals. Decisions are essential; market and signal lines are detail."""
    essential = [f"{len(data['results'])} symbol(s) ({data['universe']}) · engine: {data['mode']}"]
    scanned = [result for result in data["results"] if result["ok"]]
    shared = _shared_blockers(scanned)
    if shared:
        essential.append(f"Every symbol is blocked by ({len(shared)}):")
        essential += [line for blocker in shared for line in wrapped(f"  - {blocker['message']}", indent="    ")]
    detail: list[str] = []
    for result in data["results"]:
        if not result["ok"]:
            error = result["error"]
            essential += wrapped(f"{result['symbol']}: not scanned: {error['code']}: {error['message']}")
            continue
        entry = result["entry"]
        own = [blocker for blocker in entry["blockers"] if blocker not in shared]
        if entry["allowed"]:
            essential.append(f"{result['symbol']}: entry would be ALLOWED now")
        else:
            also = f"{len(shared)} shared blocker(s) above" if shared else ""
            listed = f"{len(own)} blocker(s)" if own else ""
            essential.append(f"{result['symbol']}: entry would be REFUSED now "
                             f"({' + '.join(part for part in (listed, also) if part)}){':' if own else ''}")
        essential += [line for blocker in own for line in wrapped(f"  - {blocker['message']}", indent="    ")]
        market = _market(result)
        detail += [f"{result['symbol']}:" + (market[1:] if market else " no market data")]
        engine_market = (result["strategies"] or {}).get("market")
        if engine_market:
            detail.append(f"  regime: {regime_text(engine_market['regime'])}")
        detail += _signals(result)
    return ChatText(essential=essential, detail=detail)


RENDERERS: dict[str, Callable[[Data], ChatText]] = {"status": status_text, "scan": scan_text}
