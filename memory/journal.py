"""The write-ahead journal (invariant 5): every order is recorded here before it is sent.

Orders are keyed by their deterministic client order id, so a replay that re-decides an order after a
restart finds it already journaled instead of sending it twice; fills are keyed by the exchange's
(symbol, trade id). `open_orders` is what start-up reconciliation walks: every order not in a final
state, including intents that may or may not have reached the exchange (PENDING_SEND).

The command queue is how other processes (agent tools, the CLI) ask the running engine to act exactly
once: an idempotency key makes a retried request the same command, and a claim is one atomic UPDATE
under the write lock, so two claimers never get the same command.

Times are supplied by the caller (the runtime's clock): nothing here reads the wall clock. Error texts
and LLM summaries are redacted before they are stored (invariant 9).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any

from core.types import Decision, Fill, OcoRequest, OrderRequest, OrderStatus
from memory.bot_store import BotStore
from memory.database import Database, read_since
from memory.journal_errors import (
    ClientIdConflict,
    CommandStateError,
    JournalError,
    JournalTooNew,
    JournalUnreadable,
    JournalWriteError,
    OrderNotJournaled,
)
from memory.outbox import Outbox
from memory.redact import redact, redact_text
from memory.rows import CommandRow, CommandStatus, FillRow, OrderRow, command_row, fill_row, order_row
from memory.schema import RISK_SETTINGS_VERSION
from memory.strategy_trust import TrustStore

__all__ = [
    "ClientIdConflict",
    "CommandRow",
    "CommandStateError",
    "CommandStatus",
    "ConfirmationRow",
    "FillRow",
    "Journal",
    "JournalError",
    "JournalIdentity",
    "JournalTooNew",
    "JournalUnreadable",
    "JournalWriteError",
    "OrderNotJournaled",
    "OrderRow",
    "SettingChange",
    "StoredCheckpoint",
    "StoredSetting",
    "read_risk_settings",
]

_TABLES = (
    "orders",
    "order_lists",
    "order_updates",
    "fills",
    "decisions",
    "clamps",
    "breaker_events",
    "equity",
    "llm_calls",
    "errors",
    "commands",
    "confirmations",
    "engine_checkpoint",
    "risk_setting_changes",
)


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """The engine's checkpoint as the journal holds it: the document, its generation and when it was written."""

    document: dict[str, Any]
    generation: int  # 0: read from an older version's checkpoint.json, not yet moved into the journal
    written_ms: int
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class JournalIdentity:
    journal_id: str
    generation: int


@dataclass(frozen=True, slots=True)
class ConfirmationRow:
    """A two-phase trade code as stored: hashes only, never the code or the trade's parameters."""

    code_hash: str
    params_hash: str
    created_ms: int
    expires_ms: int
    used_ms: int | None


@dataclass(frozen=True, slots=True)
class StoredSetting:
    """One of the home's risk settings as stored: its JSON value, who set it (`source`) and when."""

    value: Any
    source: str
    changed_ms: int


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One journaled change of a risk setting; `old` is None when the setting was first stored."""

    time_ms: int
    name: str
    old: Any
    new: Any
    source: str
    actor: str


@dataclass(frozen=True, slots=True)
class MemoryRollback:
    """One journaled `memory rollback`: the learned content of `restored_version` became `new_version`."""

    time_ms: int
    restored_version: int
    previous_version: int | None
    new_version: int
    actor: str


# Characters of an LLM call's prompt and answer kept in the journal.
LLM_TEXT_CAP = 16_000

# Given the settings as stored, the ones to write: name -> (JSON value, source). Runs under the write lock.
SettingsUpdate = Callable[[dict[str, StoredSetting]], Mapping[str, tuple[Any, str]]]


class Journal:
    """The SQLite journal of one data directory. One process trades and writes orders; others may read
    it and enqueue commands.

    `durable=False` trades power-cut safety for speed (replays, backtests); `max_size_bytes` caps the
    file, beyond which writes fail with JournalWriteError like a full disk.
    """

    def __init__(self, path: Path, *, durable: bool = True, max_size_bytes: int | None = None,
                 read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise JournalWriteError(self.path, "create its folder", exc.strerror or str(exc), None) from exc
        self._db = Database(self.path, durable=durable, max_size_bytes=max_size_bytes, read_only=read_only)
        self.outbox = Outbox(self._db)
        self.bot = BotStore(self._db)
        self.trust = TrustStore(self._db)

    # -- orders and fills ---------------------------------------------------------------------------

    def record_order_intent(
        self,
        order: OrderRequest | OcoRequest,
        *,
        time_ms: int,
        strategy: str | None,
        position_id: str | None,
        reason: str,
        durable: bool = True,
    ) -> bool:
        """Journal an order as PENDING_SEND and, with `durable`, make it durable before returning (even inside
        `batch`, whose earlier rows commit with it): an order for a remote exchange. Without `durable` it commits
        with the batch (an order for the paper simulator, whose state commits in the same transaction).

        Returns False when this client id (an OCO's list id) is already journaled for the same order:
        the caller must not send it again. The same id for a different order raises ClientIdConflict.
        An OCO is journaled as its list plus its two legs (`take_profit_client_id`, `stop_client_id`).
        """
        key = order.list_client_id if isinstance(order, OcoRequest) else order.client_order_id
        with self._db.write(f"journal the intent of order {key}", commit_now=durable) as conn:
            if isinstance(order, OcoRequest):
                return self._insert_oco(conn, order, time_ms, strategy, position_id, reason)
            return self._insert_order(conn, order, None, time_ms, strategy, position_id, reason)

    def _insert_oco(
        self,
        conn: sqlite3.Connection,
        oco: OcoRequest,
        time_ms: int,
        strategy: str | None,
        position_id: str | None,
        reason: str,
    ) -> bool:
        existing = conn.execute(
            "SELECT request_json FROM order_lists WHERE list_client_id = ?", (oco.list_client_id,)
        ).fetchone()
        if existing is not None:
            journaled = OcoRequest.model_validate_json(existing["request_json"])
            if journaled != oco:
                raise ClientIdConflict(oco.list_client_id, oco.symbol, _describe(journaled), _describe(oco))
            return False
        legs = oco.legs()
        for leg in legs:
            if conn.execute("SELECT 1 FROM orders WHERE client_order_id = ?", (leg.client_order_id,)).fetchone():
                raise ClientIdConflict(leg.client_order_id, oco.symbol, "an order of its own", _describe(oco))
        conn.execute(
            "INSERT INTO order_lists (list_client_id, symbol, request_json, strategy, position_id, reason, created_ms)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (oco.list_client_id, oco.symbol, oco.model_dump_json(), strategy, position_id, reason, time_ms),
        )
        for leg in legs:
            self._insert_order(conn, leg, oco.list_client_id, time_ms, strategy, position_id, reason)
        return True

    @staticmethod
    def _insert_order(
        conn: sqlite3.Connection,
        order: OrderRequest,
        list_client_id: str | None,
        time_ms: int,
        strategy: str | None,
        position_id: str | None,
        reason: str,
    ) -> bool:
        existing = conn.execute("SELECT * FROM orders WHERE client_order_id = ?", (order.client_order_id,)).fetchone()
        if existing is not None:
            journaled = order_row(existing)
            if journaled.list_client_id is not None or journaled.to_request() != order:
                raise ClientIdConflict(
                    order.client_order_id, order.symbol, _describe(journaled.to_request()), _describe(order)
                )
            return False
        conn.execute(
            "INSERT INTO orders (client_order_id, list_client_id, symbol, side, type, quantity, quote_order_qty,"
            " price, stop_price, time_in_force, status, executed_qty, cum_quote, strategy, position_id, reason,"
            " last_reason, is_final, created_ms, updated_ms, trailing_delta)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '0', '0', ?, ?, ?, NULL, 0, ?, ?, ?)",
            (
                order.client_order_id,
                list_client_id,
                order.symbol,
                order.side.value,
                order.type.value,
                _money_or_none(order.quantity),
                _money_or_none(order.quote_order_qty),
                _money_or_none(order.price),
                _money_or_none(order.stop_price),
                order.time_in_force.value if order.time_in_force else None,
                OrderStatus.PENDING_SEND.value,
                strategy,
                position_id,
                reason,
                time_ms,
                time_ms,
                order.trailing_delta,
            ),
        )
        conn.execute(
            "INSERT INTO order_updates (client_order_id, time_ms, status, executed_qty, cum_quote, reason, applied)"
            " VALUES (?, ?, ?, '0', '0', ?, 1)",
            (order.client_order_id, time_ms, OrderStatus.PENDING_SEND.value, reason),
        )
        return True

    def update_order(
        self,
        client_order_id: str,
        *,
        status: OrderStatus,
        executed_qty: Decimal,
        cum_quote: Decimal,
        time_ms: int,
        reason: str | None = None,
    ) -> None:
        """Record what the exchange said about an order. Every update is kept in `order_updates`.

        A stale update (reports arrive out of order: a REST answer after the WebSocket's) does not move
        the order backwards: executed quantity never shrinks, and a final state with the same executed
        quantity is not replaced by a non-final one. A later fill does move a final order on, since the
        exchange's executed quantity is the fact that matters.
        """
        safe_reason = redact_text(reason) if reason is not None else None
        with self._db.write(f"update order {client_order_id}") as conn:
            # The two columns the staleness rule reads, not the whole row: every report of every order comes here.
            row = conn.execute("SELECT status, executed_qty FROM orders WHERE client_order_id = ?",
                               (client_order_id,)).fetchone()
            if row is None:
                raise OrderNotJournaled(client_order_id)
            applied = not _is_stale(OrderStatus(row["status"]), Decimal(row["executed_qty"]), status, executed_qty)
            conn.execute(
                "INSERT INTO order_updates (client_order_id, time_ms, status, executed_qty, cum_quote, reason, applied)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (client_order_id, time_ms, status.value, _money(executed_qty), _money(cum_quote), safe_reason, applied),
            )
            if applied:
                conn.execute(
                    "UPDATE orders SET status = ?, executed_qty = ?, cum_quote = ?, is_final = ?, updated_ms = ?,"
                    " last_reason = COALESCE(?, last_reason) WHERE client_order_id = ?",
                    (
                        status.value,
                        _money(executed_qty),
                        _money(cum_quote),
                        int(status.is_final),
                        time_ms,
                        safe_reason,
                        client_order_id,
                    ),
                )

    def record_fill(self, fill: Fill, *, position_id: str | None) -> bool:
        """Journal one execution; False if this (symbol, trade id) was already journaled."""
        with self._db.write(f"journal fill {fill.symbol}#{fill.trade_id}") as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO fills (symbol, trade_id, client_order_id, side, price, quantity, commission,"
                " commission_asset, is_maker, time_ms, position_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fill.symbol,
                    fill.trade_id,
                    fill.client_order_id,
                    fill.side.value,
                    _money(fill.price),
                    _money(fill.quantity),
                    _money(fill.commission),
                    fill.commission_asset,
                    int(fill.is_maker),
                    fill.time_ms,
                    position_id,
                ),
            )
            return cursor.rowcount == 1

    def open_orders(self) -> list[OrderRow]:
        """Orders not in a final state, PENDING_SEND included, oldest first: what reconciliation walks."""
        rows = self._db.fetch_all("SELECT * FROM orders WHERE is_final = 0 ORDER BY created_ms, rowid")
        return [order_row(row) for row in rows]

    def order(self, client_order_id: str) -> OrderRow | None:
        row = self._db.fetch_one("SELECT * FROM orders WHERE client_order_id = ?", (client_order_id,))
        return None if row is None else order_row(row)

    def orders(self, since_ms: int | None = None) -> list[OrderRow]:
        """Orders created at or after `since_ms` (all when None), oldest first."""
        rows = self._db.fetch_all(
            "SELECT * FROM orders WHERE created_ms >= ? ORDER BY created_ms, rowid", (_floor(since_ms),)
        )
        return [order_row(row) for row in rows]

    def oco_request(self, list_client_id: str) -> OcoRequest | None:
        row = self._db.fetch_one("SELECT request_json FROM order_lists WHERE list_client_id = ?", (list_client_id,))
        return None if row is None else OcoRequest.model_validate_json(row["request_json"])

    def oco_legs(self, list_client_id: str) -> list[OrderRow]:
        """The two legs of a journaled OCO (take-profit first), or [] for an unknown list id."""
        rows = self._db.fetch_all("SELECT * FROM orders WHERE list_client_id = ? ORDER BY rowid", (list_client_id,))
        return [order_row(row) for row in rows]

    def orders_of_position(self, position_id: str) -> list[OrderRow]:
        """Every order journaled for one position (entry, protection, exit), oldest first."""
        rows = self._db.fetch_all(
            "SELECT * FROM orders WHERE position_id = ? ORDER BY created_ms, rowid", (position_id,)
        )
        return [order_row(row) for row in rows]

    def fills_of_position(self, position_id: str) -> list[FillRow]:
        rows = self._db.fetch_all("SELECT * FROM fills WHERE position_id = ? ORDER BY time_ms, rowid", (position_id,))
        return [fill_row(row) for row in rows]

    def order_updates(self, client_order_id: str) -> list[dict[str, Any]]:
        """Everything reported about one order, in order, with whether it was applied or stale."""
        rows = self._db.fetch_all(
            "SELECT time_ms, status, executed_qty, cum_quote, reason, applied FROM order_updates"
            " WHERE client_order_id = ? ORDER BY id",
            (client_order_id,),
        )
        return [{**dict(row), "applied": bool(row["applied"])} for row in rows]

    def last_trade_id(self, symbol: str) -> int | None:
        """The highest exchange trade id journaled for `symbol` (None before its first fill): where catching up
        with the exchange's own trades starts (`myTrades` fromId)."""
        row = self._db.fetch_one("SELECT MAX(trade_id) AS last FROM fills WHERE symbol = ?", (symbol,))
        return None if row is None or row["last"] is None else int(row["last"])

    def fills(self, since_ms: int | None = None) -> list[FillRow]:
        rows = self._db.fetch_all("SELECT * FROM fills WHERE time_ms >= ? ORDER BY time_ms, rowid", (_floor(since_ms),))
        return [fill_row(row) for row in rows]

    # -- decisions, breakers, equity, LLM calls, errors ---------------------------------------------

    def record_decision(self, decision: Decision) -> None:
        """Journal a risk decision with its reasons; each clamp also gets a row of its own."""
        with self._db.write(f"journal a decision on {decision.symbol}") as conn:
            cursor = conn.execute(
                "INSERT INTO decisions (time_ms, symbol, strategy, action, decision_json) VALUES (?, ?, ?, ?, ?)",
                (
                    decision.time_ms,
                    decision.symbol,
                    decision.strategy.value if decision.strategy else None,
                    decision.action.value,
                    decision.model_dump_json(),
                ),
            )
            if decision.clamps:
                conn.executemany(
                    "INSERT INTO clamps (decision_id, time_ms, symbol, rule, field, requested, applied, source)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            cursor.lastrowid,
                            decision.time_ms,
                            clamp.symbol or decision.symbol,
                            clamp.rule,
                            clamp.field,
                            clamp.requested,
                            clamp.applied,
                            clamp.source,
                        )
                        for clamp in decision.clamps
                    ],
                )

    def record_protection_prices(self, symbol: str, entry_client_order_id: str, take_profit_price: Decimal,
                                 stop_price: Decimal) -> None:
        """The ENTER decision that placed `entry_client_order_id` takes the prices of the protection sent for it:
        planned at the reference price, they are measured from the entry's fill price once it filled."""
        with self._db.write(f"record the protection prices of {entry_client_order_id}") as conn:
            row = conn.execute(
                "SELECT id, decision_json FROM decisions WHERE symbol = ? AND action = 'enter'"
                " AND json_extract(decision_json, '$.entry_client_order_id') = ? ORDER BY id DESC LIMIT 1",
                (symbol, entry_client_order_id),
            ).fetchone()
            if row is None:
                return
            decision = Decision.model_validate_json(row["decision_json"]).model_copy(
                update={"take_profit_price": take_profit_price, "stop_price": stop_price})
            conn.execute("UPDATE decisions SET decision_json = ? WHERE id = ?", (decision.model_dump_json(), row["id"]))

    def entry_decision(self, symbol: str, entry_client_order_id: str) -> dict[str, Any] | None:
        """The ENTER decision that placed this entry order, as `decisions` gives it, or None."""
        row = self._db.fetch_one(
            "SELECT id, decision_json FROM decisions WHERE symbol = ? AND action = 'enter'"
            " AND json_extract(decision_json, '$.entry_client_order_id') = ? ORDER BY id DESC LIMIT 1",
            (symbol, entry_client_order_id),
        )
        return None if row is None else _decision_row(row)

    def decisions(self, since_ms: int | None = None, limit: int = 100) -> list[dict[str, Any]]:
        """The latest `limit` decisions at or after `since_ms`, oldest first, as JSON-ready dicts
        (the Decision's fields, money as strings, each reason as {rule, message, kind}, plus the row `id`)."""
        rows = self._db.fetch_all(
            "SELECT id, decision_json FROM decisions WHERE time_ms >= ? ORDER BY time_ms DESC, id DESC LIMIT ?",
            (_floor(since_ms), limit),
        )
        return [_decision_row(row) for row in reversed(rows)]

    def clamps(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        return self._events("clamps", since_ms)

    def record_breaker_event(
        self, time_ms: int, breaker: str, transition: str, level: str, value_pct: float, limit_pct: float, message: str
    ) -> None:
        with self._db.write(f"journal breaker event {breaker}") as conn:
            conn.execute(
                "INSERT INTO breaker_events (time_ms, breaker, transition, level, value_pct, limit_pct, message)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (time_ms, breaker, transition, level, float(value_pct), float(limit_pct), message),
            )

    def breaker_events(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        return self._events("breaker_events", since_ms)

    def record_equity(self, time_ms: int, equity: Decimal, cash: Decimal, exposure: Decimal) -> None:
        """One point of the equity curve; a second point at the same time replaces the first (a replay
        re-run after a restart rewrites the curve instead of doubling it)."""
        with self._db.write("journal equity") as conn:
            conn.execute(
                "INSERT OR REPLACE INTO equity (time_ms, equity, cash, exposure) VALUES (?, ?, ?, ?)",
                (time_ms, _money(equity), _money(cash), _money(exposure)),
            )

    def equity_curve(self, from_ms: int | None = None, to_ms: int | None = None) -> list[tuple[int, Decimal]]:
        """(time_ms, equity) between `from_ms` and `to_ms` inclusive, in time order."""
        rows = self._db.fetch_all(
            "SELECT time_ms, equity FROM equity WHERE time_ms >= ? AND time_ms <= ? ORDER BY time_ms",
            (_floor(from_ms), _ceiling(to_ms)),
        )
        return [(row["time_ms"], Decimal(row["equity"])) for row in rows]

    def record_llm_call(
        self,
        time_ms: int,
        role: str,
        model: str,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        latency_ms: int,
        ok: bool,
        summary: str,
        *,
        provider: str | None = None,
        attempts: int = 1,
        billed_attempts: int | None = None,
        cache_hit_tokens: int | None = None,
        cache_miss_tokens: int | None = None,
        cost_usd: Decimal | None = None,
        outcome: str | None = None,
        reason: str | None = None,
        prompt: str | None = None,
        answer: str | None = None,
    ) -> int:
        """Journal one logical LLM call; its row id (to note the advice it caused later).

        `attempts` counts every HTTP request it made (openai resends a timed-out
        POST), `billed_attempts` those the provider may have charged; `outcome` is the typed result (ok,
        invalid, unavailable, refused) and `reason` its rule id. Text is redacted before it is stored, and
        the prompt and answer are capped at LLM_TEXT_CAP characters."""
        with self._db.write(f"journal an LLM call ({role})") as conn:
            cursor = conn.execute(
                "INSERT INTO llm_calls (time_ms, role, model, prompt_tokens, completion_tokens, latency_ms, ok,"
                " summary, provider, attempts, billed_attempts, cache_hit_tokens, cache_miss_tokens, cost_usd,"
                " outcome, reason, prompt, answer) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    time_ms,
                    redact_text(role),
                    redact_text(model),
                    prompt_tokens,
                    completion_tokens,
                    latency_ms,
                    int(ok),
                    redact_text(summary),
                    provider,
                    attempts,
                    billed_attempts,
                    cache_hit_tokens,
                    cache_miss_tokens,
                    _money_or_none(cost_usd),
                    outcome,
                    None if reason is None else redact_text(reason),
                    _capped_redacted(prompt),
                    _capped_redacted(answer),
                ),
            )
            return int(cursor.lastrowid or 0)

    def note_llm_effects(self, call_id: int, *, advice: list[dict[str, Any]] | None = None,
                         rejections: list[dict[str, Any]] | None = None) -> None:
        """Add to a journaled call what it caused: the tightening advice submitted from its answer, and the parts
        of its answer that were refused (a tool or symbol it may not use, malformed arguments), each with its
        rule. Appended, so a round's notes accumulate on the call that caused them."""
        with self._db.write(f"note the effects of LLM call {call_id}") as conn:
            row = conn.execute("SELECT advice_json, rejections_json FROM llm_calls WHERE id = ?", (call_id,)).fetchone()
            if row is None:
                raise KeyError(f"no LLM call {call_id} in the journal")
            kept_advice = [*json.loads(row[0] or "[]"), *(advice or [])]
            kept_rejections = [*json.loads(row[1] or "[]"), *(rejections or [])]
            conn.execute("UPDATE llm_calls SET advice_json = ?, rejections_json = ? WHERE id = ?",
                         (_json(redact(kept_advice)), _json(redact(kept_rejections)), call_id))

    def llm_calls(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        rows = self._events("llm_calls", since_ms)
        for row in rows:
            row["ok"] = bool(row["ok"])
            row["cost_usd"] = None if row["cost_usd"] is None else Decimal(row["cost_usd"])
            row["advice"] = json.loads(row.pop("advice_json") or "[]")
            row["rejections"] = json.loads(row.pop("rejections_json") or "[]")
        return rows

    def llm_spend(self, provider: str, since_ms: int) -> tuple[Decimal, int]:
        """Dollars and tokens (prompt + completion) journaled for `provider`'s calls from `since_ms` on: what the
        LLM budgets are checked against. Summed as Decimal in Python, never as SQLite floats."""
        rows = self._db.fetch_all(
            "SELECT cost_usd, prompt_tokens, completion_tokens FROM llm_calls WHERE provider = ? AND time_ms >= ?",
            (provider, since_ms),
        )
        dollars = sum((Decimal(row["cost_usd"]) for row in rows if row["cost_usd"] is not None), Decimal(0))
        tokens = sum((row["prompt_tokens"] or 0) + (row["completion_tokens"] or 0) for row in rows)
        return dollars, tokens

    def record_error(self, time_ms: int, code: str, message: str, details: dict[str, Any]) -> None:
        """Journal an error; secrets in the message or anywhere in `details` are masked first."""
        with self._db.write(f"journal error {code}") as conn:
            conn.execute(
                "INSERT INTO errors (time_ms, code, message, details_json) VALUES (?, ?, ?, ?)",
                (time_ms, redact_text(code), redact_text(message), _json(redact(details))),
            )

    def errors(self, since_ms: int | None = None) -> list[dict[str, Any]]:
        rows = self._events("errors", since_ms)
        for row in rows:
            row["details"] = json.loads(row.pop("details_json"))
        return rows

    def counts(self) -> dict[str, int]:
        """Rows per table, for summaries."""
        sql = " UNION ALL ".join(f"SELECT '{table}', COUNT(*) FROM {table}" for table in _TABLES)
        return {name: count for name, count in self._db.fetch_all(sql)}

    def _events(self, table: str, since_ms: int | None) -> list[dict[str, Any]]:
        rows = self._db.fetch_all(f"SELECT * FROM {table} WHERE time_ms >= ? ORDER BY time_ms, id", (_floor(since_ms),))
        return [dict(row) for row in rows]

    # -- command queue ------------------------------------------------------------------------------

    def enqueue_command(self, kind: str, payload: dict[str, Any], idempotency_key: str, time_ms: int) -> int:
        """Queue a command for the engine; a key seen before returns that command's id and queues nothing."""
        with self._db.write(f"queue command {kind}") as conn:
            conn.execute(
                "INSERT OR IGNORE INTO commands (kind, payload_json, idempotency_key, status, created_ms)"
                " VALUES (?, ?, ?, ?, ?)",
                (kind, _json(payload), idempotency_key, CommandStatus.QUEUED.value, time_ms),
            )
            row = conn.execute("SELECT id FROM commands WHERE idempotency_key = ?", (idempotency_key,)).fetchone()
            return int(row["id"])

    def claim_commands(self, limit: int = 10) -> list[CommandRow]:
        """Take up to `limit` queued commands, oldest first. Atomic across processes: one UPDATE under
        the write lock, so no two claimers ever get the same command."""
        with self._db.write("claim commands") as conn:
            rows = conn.execute(
                "UPDATE commands SET status = ? WHERE id IN"
                " (SELECT id FROM commands WHERE status = ? ORDER BY id LIMIT ?) RETURNING *",
                (CommandStatus.CLAIMED.value, CommandStatus.QUEUED.value, limit),
            ).fetchall()
        return sorted((command_row(row) for row in rows), key=lambda command: command.id)

    def complete_command(self, command_id: int, result: dict[str, Any], time_ms: int) -> None:
        """Record a claimed command's result. Completing a command not claimed (or twice) raises."""
        with self._db.write(f"complete command {command_id}") as conn:
            cursor = conn.execute(
                "UPDATE commands SET status = ?, result_json = ?, completed_ms = ? WHERE id = ? AND status = ?",
                (CommandStatus.DONE.value, _json(result), time_ms, command_id, CommandStatus.CLAIMED.value),
            )
            if cursor.rowcount == 0:
                row = conn.execute("SELECT status FROM commands WHERE id = ?", (command_id,)).fetchone()
                raise CommandStateError(command_id, None if row is None else row["status"], "completed")

    def command(self, command_id: int) -> CommandRow | None:
        row = self._db.fetch_one("SELECT * FROM commands WHERE id = ?", (command_id,))
        return None if row is None else command_row(row)

    def claimed_commands(self) -> list[CommandRow]:
        """Commands claimed but never completed: the engine stopped between the two. At start-up the
        runtime decides (complete them as interrupted, or check whether they took effect); they are
        never handed out again by `claim_commands`."""
        rows = self._db.fetch_all("SELECT * FROM commands WHERE status = ? ORDER BY id", (CommandStatus.CLAIMED.value,))
        return [command_row(row) for row in rows]

    def has_queued_commands(self) -> bool:
        """A cheap read for a polling engine: is anything waiting to be claimed?"""
        return self._db.fetch_one("SELECT 1 FROM commands WHERE status = ? LIMIT 1",
                                  (CommandStatus.QUEUED.value,)) is not None

    def command_by_key(self, idempotency_key: str) -> CommandRow | None:
        """The command a request with this idempotency key became, if it was ever queued."""
        row = self._db.fetch_one("SELECT * FROM commands WHERE idempotency_key = ?", (idempotency_key,))
        return None if row is None else command_row(row)

    def latest_command(self, excluding_kinds: tuple[str, ...] = ()) -> CommandRow | None:
        """The newest command of the home, not counting `excluding_kinds`: where a caller's sequence stands."""
        marks = ", ".join("?" for _ in excluding_kinds)
        row = self._db.fetch_one(f"SELECT * FROM commands WHERE kind NOT IN ({marks}) ORDER BY id DESC LIMIT 1",
                                 tuple(str(kind) for kind in excluding_kinds))
        return None if row is None else command_row(row)

    def withdraw_command(self, command_id: int, result: dict[str, Any], time_ms: int) -> bool:
        """Close a command that no engine has claimed yet, with `result` saying why; False if it was already
        claimed (or done). Atomic against `claim_commands`: a command is withdrawn or claimed, never both."""
        with self._db.write(f"withdraw command {command_id}") as conn:
            cursor = conn.execute(
                "UPDATE commands SET status = ?, result_json = ?, completed_ms = ? WHERE id = ? AND status = ?",
                (CommandStatus.DONE.value, _json(result), time_ms, command_id, CommandStatus.QUEUED.value),
            )
            return cursor.rowcount == 1

    # -- two-phase trade confirmations --------------------------------------------------------------

    def record_confirmation(self, code_hash: str, params_hash: str, created_ms: int, expires_ms: int) -> None:
        with self._db.write("record a trade confirmation code") as conn:
            conn.execute(
                "INSERT INTO confirmations (code_hash, params_hash, created_ms, expires_ms, used_ms)"
                " VALUES (?, ?, ?, ?, NULL)",
                (code_hash, params_hash, created_ms, expires_ms),
            )

    def confirmation(self, code_hash: str) -> ConfirmationRow | None:
        row = self._db.fetch_one("SELECT * FROM confirmations WHERE code_hash = ?", (code_hash,))
        return None if row is None else ConfirmationRow(**dict(row))

    def use_confirmation(self, code_hash: str, params_hash: str, now_ms: int) -> bool:
        """Spend a code: True only if it exists, is unused, unexpired at `now_ms` and was issued for exactly
        these parameters. One UPDATE under the write lock, so two processes can never both spend it."""
        with self._db.write("use a trade confirmation code") as conn:
            cursor = conn.execute(
                "UPDATE confirmations SET used_ms = ? WHERE code_hash = ? AND params_hash = ? AND used_ms IS NULL"
                " AND expires_ms >= ?",
                (now_ms, code_hash, params_hash, now_ms),
            )
            return cursor.rowcount == 1

    # -- the engine's checkpoint ---------------------------------------------------------------------

    def save_checkpoint(self, document: dict[str, Any], *, written_ms: int) -> int:
        """Store the engine's checkpoint and return its generation (1, 2, …).

        Inside a `batch` it commits with the batch, together with the orders, fills and commands it accounts
        for: a crash leaves both, or neither. The document is serialised before anything is written, so one
        that cannot be stored (a non-finite number) changes nothing.
        """
        try:
            text = json.dumps(document, default=_json_default, ensure_ascii=False, allow_nan=False)
        except ValueError as exc:
            raise JournalWriteError(self.path, "save the checkpoint", f"it cannot be serialised: {exc}", None) from exc
        with self._db.write("save the checkpoint") as conn:
            row = conn.execute("SELECT generation FROM engine_checkpoint WHERE id = 1").fetchone()
            generation = 1 if row is None else int(row["generation"]) + 1
            conn.execute(
                "INSERT INTO engine_checkpoint (id, generation, written_ms, document) VALUES (1, ?, ?, ?)"
                " ON CONFLICT(id) DO UPDATE SET generation = excluded.generation, written_ms = excluded.written_ms,"
                " document = excluded.document",
                (generation, written_ms, text),
            )
            return generation

    def checkpoint(self) -> StoredCheckpoint | None:
        """The last saved checkpoint, or None when the engine never saved one in this journal."""
        row = self._db.fetch_one("SELECT generation, written_ms, document FROM engine_checkpoint WHERE id = 1")
        if row is None:
            return None
        try:
            document = json.loads(row["document"])
        except json.JSONDecodeError as exc:
            raise JournalUnreadable(self.path, f"the stored checkpoint is not JSON: {exc.msg}") from None
        if not isinstance(document, dict):
            raise JournalUnreadable(self.path, "the stored checkpoint is not a JSON object")
        return StoredCheckpoint(document, int(row["generation"]), int(row["written_ms"]))

    def identity(self) -> JournalIdentity:
        """Which database this is and how many checkpoints it holds: what start-up compares with the home's
        marker to notice a journal that was replaced, lost its last commits or went back to an older copy."""
        ident = self._db.fetch_one("SELECT journal_id FROM journal_identity WHERE id = 1")
        if ident is None:
            raise JournalUnreadable(self.path, "it has no identity row (journal_identity)")
        row = self._db.fetch_one("SELECT generation FROM engine_checkpoint WHERE id = 1")
        return JournalIdentity(str(ident["journal_id"]), 0 if row is None else int(row["generation"]))

    def kill_engaged(self) -> bool:
        """Whether the journal's own record says the kill switch is on: the last manual kill notice is not
        followed by a reset, or the last kill breaker event is a trip. A witness that survives a checkpoint
        that is older than the journal."""
        manual = self._db.fetch_one(
            "SELECT code FROM errors WHERE code IN ('KILL', 'KILL_RESET') ORDER BY id DESC LIMIT 1")
        breaker = self._db.fetch_one(
            "SELECT transition FROM breaker_events WHERE breaker IN ('drawdown_kill', 'manual_kill')"
            " ORDER BY id DESC LIMIT 1")
        return (manual is not None and manual["code"] == "KILL") or (
            breaker is not None and breaker["transition"] == "tripped")

    def has_history(self) -> bool:
        """Whether anything was ever journaled here (an order, a decision, an equity point or a checkpoint)."""
        row = self._db.fetch_one(
            "SELECT EXISTS(SELECT 1 FROM orders) OR EXISTS(SELECT 1 FROM decisions) OR EXISTS(SELECT 1 FROM equity)"
            " OR EXISTS(SELECT 1 FROM engine_checkpoint)"
        )
        return bool(row is not None and row[0])

    def backup_to(self, target: Path) -> None:
        """Copy the whole journal (its `-wal` included) into `target` with SQLite's online backup API.

        Safe while `run` writes: the copy is one consistent snapshot. Copying `journal.db` by hand during a
        run is not: most of the data sits in `journal.db-wal` until SQLite checkpoints it.
        """
        self._db.backup_to(target)

    # -- the home's risk settings -------------------------------------------------------------------

    def risk_settings(self) -> dict[str, StoredSetting]:
        return self._db.read("read the risk settings", _risk_settings)

    def update_risk_settings(self, update: SettingsUpdate, *, actor: str, time_ms: int) -> list[SettingChange]:
        """Change the stored risk settings in one transaction: `update` is given the settings as they are under
        the write lock (so a concurrent change cannot slip between reading and writing) and returns those to
        write; each value that differs from the stored one is written with a row in `risk_setting_changes`.
        An exception from `update` (a refused value) writes nothing. Returns the changes made."""
        with self._db.write("store risk settings") as conn:
            current = _risk_settings(conn)
            changes = []
            for name, (value, source) in update(current).items():
                old = current.get(name)
                if old is not None and old.value == value:
                    continue
                new_json = _json(value)
                conn.execute("INSERT OR REPLACE INTO risk_settings (name, value_json, source, changed_ms)"
                             " VALUES (?, ?, ?, ?)", (name, new_json, source, time_ms))
                conn.execute("INSERT INTO risk_setting_changes (time_ms, name, old_json, new_json, source, actor)"
                             " VALUES (?, ?, ?, ?, ?, ?)",
                             (time_ms, name, None if old is None else _json(old.value), new_json, source, actor))
                changes.append(SettingChange(time_ms, name, None if old is None else old.value, value, source, actor))
            return changes

    def risk_setting_changes(self) -> list[SettingChange]:
        rows = self._db.fetch_all("SELECT * FROM risk_setting_changes ORDER BY id")
        return [SettingChange(row["time_ms"], row["name"], None if row["old_json"] is None else json.loads(
            row["old_json"]), json.loads(row["new_json"]), row["source"], row["actor"]) for row in rows]

    def record_memory_rollback(self, rollback: MemoryRollback) -> None:
        with self._db.write("journal a memory rollback") as conn:
            conn.execute("INSERT INTO memory_rollbacks (time_ms, restored_version, previous_version, new_version,"
                         " actor) VALUES (?, ?, ?, ?, ?)", (rollback.time_ms, rollback.restored_version,
                                                            rollback.previous_version, rollback.new_version,
                                                            rollback.actor))

    def memory_rollbacks(self) -> list[MemoryRollback]:
        rows = self._db.fetch_all("SELECT * FROM memory_rollbacks ORDER BY id")
        return [MemoryRollback(row["time_ms"], row["restored_version"], row["previous_version"], row["new_version"],
                               row["actor"]) for row in rows]

    # -- transactions and life cycle ----------------------------------------------------------------

    def batch(self) -> AbstractContextManager[None]:
        """Group writes in one transaction (one commit, one fsync): all of them are saved, or none.

        Order intents inside a batch still commit before they return, taking the batch's earlier rows
        with them. An SQLite error (disk full) undoes the whole batch and raises JournalWriteError.
        """
        return self._db.batch()

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()



def read_risk_settings(path: Path) -> dict[str, StoredSetting]:
    """The risk settings stored in the journal at `path`, read without writing anything: no journal, or one
    from before settings were stored, has none ({})."""
    return read_since(path, RISK_SETTINGS_VERSION, "read the risk settings", _risk_settings, {})


def _risk_settings(conn: sqlite3.Connection) -> dict[str, StoredSetting]:
    rows = conn.execute("SELECT name, value_json, source, changed_ms FROM risk_settings ORDER BY name").fetchall()
    return {row["name"]: StoredSetting(json.loads(row["value_json"]), row["source"], row["changed_ms"]) for row in rows}


def _is_stale(current_status: OrderStatus, current_executed: Decimal, status: OrderStatus,
              executed_qty: Decimal) -> bool:
    if executed_qty < current_executed:
        return True
    return current_status.is_final and not status.is_final and executed_qty == current_executed


def _describe(request: OrderRequest | OcoRequest) -> str:
    return json.dumps(request.model_dump(mode="json", exclude_none=True), sort_keys=True)


def _money(value: Decimal) -> str:
    """Exact digits without exponent: Decimal('1E-8') is stored as '0.00000001'."""
    return format(value, "f")


def _money_or_none(value: Decimal | None) -> str | None:
    return None if value is None else _money(value)


def _capped_redacted(text: str | None) -> str | None:
    if text is None:
        return None
    # Redacted before it is cut, so that a cut cannot leave half a secret the patterns no longer recognise.
    text = redact_text(text)
    return text if len(text) <= LLM_TEXT_CAP else text[:LLM_TEXT_CAP] + "…"


def _json(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _money(value)
    if isinstance(value, Enum):
        return value.value
    return str(value)


def _floor(since_ms: int | None) -> int:
    return -(2**63) if since_ms is None else since_ms


def _ceiling(to_ms: int | None) -> int:
    return 2**63 - 1 if to_ms is None else to_ms


def _decision_row(row: sqlite3.Row) -> dict[str, Any]:
    """A decisions row read through `Decision`, so that reasons journaled as plain text by an older version come
    back as reasons of `RuleId.UNSPECIFIED` with their text whole."""
    return {"id": row["id"], **Decision.model_validate_json(row["decision_json"]).model_dump(mode="json")}
