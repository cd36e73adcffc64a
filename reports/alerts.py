"""Alerts: the engine's typed records turned into messages a person reads in Telegram or Discord.

An alert is derived from a record the engine already produces (a Notice's `kind`, a BreakerEvent, a
ClosedTrade, an accepted protection order), never from parsing a message's text. Each one carries a key
derived from the event alone (kind, symbol, engine time, position), so the same event re-lived after a
restart yields the same key and the outbox stores it once.

Rendering is per service: Telegram in HTML parse mode (`<`, `>` and `&` escaped: Bot API "Formatting
options"), Discord as embeds (`reports.embeds`: markdown escaped, `@` defused, every embed limit respected).
A batch of alerts becomes one message, cut at an alert boundary so that it fits the service's limits.
The research webhook gets research items (`core.research.ResearchItem`) rendered the same way as embeds.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.clock import MS_PER_MINUTE
from core.display import percent, price, quantity, signed_money
from core.engine import Holding, Notice, Record
from core.errors import ExecutorError
from core.portfolio import ClosedTrade
from core.research import ResearchItem, ResearchKind, StrategyMixChange
from core.risk.breakers import BreakerEvent
from reports.embeds import Embed, batch_embeds
from reports.notify import RESEARCH_SERVICE, TELEGRAM_TEXT_LIMIT, truncate


class AlertKind(StrEnum):
    """What `ALERTS=` names: each alert belongs to exactly one kind."""

    ENTRY = "entry"  # an entry filled and its protection was accepted
    EXIT = "exit"  # a position closed, with its P&L
    PROTECTION = "protection"  # a gapped stop, a refused OCO, protection that could not be placed
    BREAKER = "breaker"  # a breaker tripped, expired or was reset
    KILL = "kill"  # the kill switch engaged or was reset
    OUTAGE = "outage"  # market data missing for longer than ALERT_OUTAGE_MIN
    ERROR = "error"  # a refused entry, exit or cancel; an entry that did not fill; an order not ours
    LLM = "llm"  # an LLM budget reached, DeepSeek's 402 (no balance), a key refused: the LLM advice stopped
    STRATEGY_MIX = "strategy_mix"  # the adaptive memory changed the strategies' shares of new entries


# Services that receive alerts (what `ALERTS=` routes); the research webhook (RESEARCH_SERVICE) gets research items.
ALERT_SERVICES = ("telegram", "discord")


# Notice kinds (core.engine) → alert kind. Notices not listed (trail steps, dust, data gaps) are not alerted.
NOTICE_KINDS: dict[str, AlertKind] = {
    "stop_gapped": AlertKind.PROTECTION,
    "protection_failed": AlertKind.PROTECTION,
    "oco_refused": AlertKind.PROTECTION,
    "kill": AlertKind.KILL,
    "kill_reset": AlertKind.KILL,
    "entry_rejected": AlertKind.ERROR,
    "exit_rejected": AlertKind.ERROR,
    "cancel_rejected": AlertKind.ERROR,
    "entry_not_filled": AlertKind.ERROR,
    "foreign_order": AlertKind.ERROR,
    "strategy_fault": AlertKind.ERROR,
}
_NOTICE_TITLES = {
    "stop_gapped": "Stop gapped", "protection_failed": "Protection failed", "oco_refused": "OCO refused",
    "kill": "Kill switch engaged", "kill_reset": "Kill switch reset", "entry_rejected": "Entry rejected",
    "exit_rejected": "Exit rejected", "cancel_rejected": "Cancel rejected", "entry_not_filled": "Entry not filled",
    "foreign_order": "Order not placed by the executor",
    "strategy_fault": "Strategy silenced after an error",
}


# Embed colours (Discord), by how much a person should care: red, amber, green, blue, grey.
_RED, _AMBER, _GREEN, _BLUE, _GREY = 0xD03030, 0xE0A020, 0x2EA043, 0x3B82F6, 0x808080
_COLORS = {AlertKind.ENTRY: _BLUE, AlertKind.EXIT: _GREEN, AlertKind.PROTECTION: _RED, AlertKind.BREAKER: _AMBER,
           AlertKind.KILL: _RED, AlertKind.OUTAGE: _AMBER, AlertKind.ERROR: _RED, AlertKind.LLM: _AMBER,
           AlertKind.STRATEGY_MIX: _GREY}
_RESEARCH_COLORS = {ResearchKind.INTEL: _BLUE, ResearchKind.VERDICT: _AMBER}


def _iso(time_ms: int) -> str:
    return datetime.fromtimestamp(time_ms / 1000, UTC).isoformat()


@dataclass(frozen=True, slots=True)
class Alert:
    kind: AlertKind
    key: str
    time_ms: int
    title: str
    symbol: str | None
    fields: tuple[tuple[str, str], ...]

    def payload(self) -> dict[str, Any]:
        return {"title": self.title, "symbol": self.symbol, "fields": [list(f) for f in self.fields],
                "color": _COLORS[self.kind], "timestamp": _iso(self.time_ms)}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def alerts_from_record(record: Record) -> list[Alert]:
    """The alerts one engine record stands for (most records stand for none)."""
    if isinstance(record, ClosedTrade):
        return [exit_alert(record)]
    if isinstance(record, BreakerEvent):
        return [Alert(AlertKind.BREAKER, f"breaker:{record.breaker}:{record.transition}:{record.time_ms}",
                      record.time_ms, f"Breaker {record.breaker} {record.transition}", None,
                      (("level", str(record.level)), ("value", f"{record.value_pct:.2f}%"),
                       ("limit", f"{record.limit_pct:.2f}%"), ("reason", record.message)))]
    if isinstance(record, Notice) and record.kind in NOTICE_KINDS:
        key = f"{record.kind}:{record.symbol or '-'}:{record.time_ms}:{_digest(record.message)}"
        fields = ((("symbol", record.symbol),) if record.symbol else ()) + (("reason", record.message),)
        return [Alert(NOTICE_KINDS[record.kind], key, record.time_ms, _NOTICE_TITLES[record.kind], record.symbol,
                      fields)]
    return []


def exit_alert(trade: ClosedTrade) -> Alert:
    return Alert(AlertKind.EXIT, f"exit:{trade.position_id}", trade.closed_ms, f"Exit {trade.symbol}", trade.symbol,
                 (("symbol", trade.symbol), ("quantity", quantity(trade.quantity)),
                  ("entry", price(trade.entry_price)), ("exit", price(trade.exit_price)),
                  ("P&L", f"{signed_money(trade.pnl)} ({percent(trade.pnl_pct, signed=True)})"),
                  ("strategy", trade.strategy.value if trade.strategy else "manual")))


def entry_alert(holding: Holding, filled: Decimal, equity: Decimal, time_ms: int) -> Alert:
    """An entry that filled and whose protection the exchange accepted. Keyed by position: a later replacement
    (a trailing step, a stop after a refused OCO) of the same position's protection adds nothing."""
    size_pct = (filled * holding.entry_price / equity * 100) if equity > 0 else Decimal(0)
    take_profit = price(holding.take_profit_price) if holding.protection_kind == "oco" else "none (stop only)"
    return Alert(AlertKind.ENTRY, f"entry:{holding.position_id}", time_ms, f"Entry {holding.symbol}", holding.symbol,
                 (("symbol", holding.symbol), ("quantity", quantity(filled)), ("price", price(holding.entry_price)),
                  ("take-profit", take_profit), ("stop", price(holding.stop_price)),
                  ("strategy", holding.strategy.value if holding.strategy else "manual"),
                  ("size", f"{percent(size_pct)} of equity")))


# The LLM client's stop records (scouts.llm.errors codes) → their alert titles.
LLM_STOP_TITLES: dict[str, str] = {
    "LLM_BUDGET_REACHED": "LLM budget reached",
    "LLM_NO_BALANCE": "LLM account out of balance (402)",
    "LLM_CONFIG": "LLM key refused",
}


def llm_alert(error: ExecutorError, time_ms: int) -> Alert:
    """The alert for an LLM stop the client journaled (a budget used up, a 402, a 401). The client journals one
    stop per budget per period and one per 401/402, so keying on the record's time queues each stop once."""
    title = LLM_STOP_TITLES.get(error.code)
    if title is None:
        raise ValueError(f"{error.code} is not an LLM stop; known: {', '.join(LLM_STOP_TITLES)}")
    details: Mapping[str, Any] = error.details
    subject = str(details.get("budget") or details.get("setting") or "-")
    fields = [("role", str(details.get("role", "-")))]
    if "budget" in details:
        fields += [("budget", subject), ("limit", str(details.get("limit"))), ("used", str(details.get("used")))]
    elif "setting" in details:
        fields += [("setting", subject)]
    fields += [("reason", error.message)]
    return Alert(AlertKind.LLM, f"llm:{error.code}:{subject}:{time_ms}", time_ms, title, None, tuple(fields))


def strategy_mix_alert(change: StrategyMixChange) -> Alert:
    """The strategies' shares of new entries before → after, one field per strategy that is in either."""
    before, after = dict(change.before), dict(change.after)
    names = sorted(set(before) | set(after))
    fields = tuple((name.value, f"{percent(before.get(name, Decimal(0)) * 100)} → "
                                f"{percent(after.get(name, Decimal(0)) * 100)}") for name in names)
    return Alert(AlertKind.STRATEGY_MIX, f"strategy_mix:{change.version}:{change.time_ms}", change.time_ms,
                 f"Strategy mix changed (v{change.version})", None, (*fields, ("reason", change.reason)))


def research_payload(item: ResearchItem) -> dict[str, Any]:
    """A research item as the outbox stores it, rendered as an embed for the research webhook."""
    symbol = (("symbol", item.symbol),) if item.symbol else ()
    return {"title": item.title, "description": item.summary, "symbol": item.symbol,
            "fields": [list(f) for f in symbol + item.fields], "footer": f"{item.kind.value} · {item.source}",
            "color": _RESEARCH_COLORS[item.kind], "timestamp": _iso(item.time_ms)}


def outage_alert(symbol: str, since_ms: int, now_ms: int, reason: str) -> Alert:
    minutes = (now_ms - since_ms) // MS_PER_MINUTE
    return Alert(AlertKind.OUTAGE, f"outage:{symbol}:{since_ms}", now_ms, f"Data outage {symbol}", symbol,
                 (("symbol", symbol), ("for", f"{minutes} min, entries blocked"), ("reason", reason)))


class OutageWatch:
    """Outages by symbol since their first notice (engine time); one alert per outage once it lasts `min_ms`."""

    def __init__(self, min_ms: int) -> None:
        self.min_ms = min_ms
        self._open: dict[str, tuple[int, str]] = {}

    def on_record(self, record: Record) -> list[Alert]:
        if isinstance(record, Notice) and record.symbol:
            if record.kind == "data_outage":
                self._open.setdefault(record.symbol, (record.time_ms, record.message))
            elif record.kind == "data_restored":
                self._open.pop(record.symbol, None)
        now = record.closed_ms if isinstance(record, ClosedTrade) else record.time_ms  # a trade's time: its close
        due = [(s, since, reason) for s, (since, reason) in self._open.items() if now - since >= self.min_ms]
        for symbol, _, _ in due:
            self._open[symbol] = (self._open[symbol][0], "")
        return [outage_alert(s, since, now, reason) for s, since, reason in due if reason]


# -- rendering ---------------------------------------------------------------------------------------


def telegram_html(payload: dict[str, Any]) -> str:
    lines = [f"<b>{html.escape(str(payload['title']), quote=False)}</b>"]
    if payload.get("description"):
        lines.append(html.escape(str(payload["description"]), quote=False))
    lines += [f"{html.escape(str(n), quote=False)}: {html.escape(str(v), quote=False)}" for n, v in payload["fields"]]
    return "\n".join(lines)


AlertBody = str | tuple[Embed, ...]  # Telegram: one HTML text; Discord: the embeds of one message


@dataclass(frozen=True, slots=True)
class AlertFormat:
    batch: Callable[[Sequence[dict[str, Any]]], tuple[AlertBody, int]]


def telegram_batch(payloads: Sequence[dict[str, Any]]) -> tuple[str, int]:
    """One HTML message for the first alerts of `payloads` that fit 4096 characters, and how many it holds
    (at least one: an alert alone over the limit is cut)."""
    blocks: list[str] = []
    size = 0
    for payload in payloads:
        block = telegram_html(payload)
        added = len(block) + (2 if blocks else 0)
        if blocks and size + added > TELEGRAM_TEXT_LIMIT:
            break
        blocks.append(block)
        size += added
    if len(blocks) == 1 and size > TELEGRAM_TEXT_LIMIT:
        return _cut_html(payloads[0]), 1
    return "\n\n".join(blocks), len(blocks)


FORMATS: dict[str, AlertFormat] = {
    "telegram": AlertFormat(telegram_batch),
    "discord": AlertFormat(batch_embeds),
    RESEARCH_SERVICE: AlertFormat(batch_embeds),
}


def batch_message(service: str, payloads: Sequence[dict[str, Any]]) -> tuple[AlertBody, int]:
    """One message of `service` for the first payloads that fit its limits, and how many it holds (at least one)."""
    fmt = FORMATS.get(service)
    if fmt is None:
        raise ValueError(f"no alert format for service {service!r}; known: {', '.join(FORMATS)}")
    return fmt.batch(payloads)


def _cut_html(payload: dict[str, Any]) -> str:
    """An alert over the limit, cut. In HTML a cut could split a tag or an entity (`&am`), which Telegram
    refuses: the text goes without markup, and a trailing partial entity is dropped."""
    plain = "\n".join([str(payload["title"]), *([str(payload["description"])] if payload.get("description") else []),
                       *(f"{n}: {v}" for n, v in payload["fields"])])
    cut = truncate(html.escape(plain, quote=False), TELEGRAM_TEXT_LIMIT)
    return re.sub(r"&[a-z]*…$", "…", cut)
