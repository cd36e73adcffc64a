"""The journal's schema as an ordered list of migrations, tracked in `PRAGMA user_version`.

Migration N (1-based) takes a database at version N-1 to version N. Each runs in its own transaction
together with the version bump, so a failure leaves the previous version intact, and a second process
opening the same file at the same moment waits on the write lock and then finds nothing left to do.
Never edit a released migration: append a new one.

Money (prices, quantities, amounts) is TEXT holding the exact `Decimal` digits; payloads are JSON TEXT;
times are integer milliseconds since the epoch, supplied by the caller.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence

Migration = Callable[[sqlite3.Connection], None]


def _execute_all(conn: sqlite3.Connection, statements: Sequence[str]) -> None:
    # Connection.executescript would COMMIT first; statements one by one stay inside our transaction.
    for statement in statements:
        conn.execute(statement)


def _v1_orders_and_fills(conn: sqlite3.Connection) -> None:
    _execute_all(
        conn,
        (
            """CREATE TABLE order_lists (
                list_client_id TEXT PRIMARY KEY,
                symbol TEXT NOT NULL,
                request_json TEXT NOT NULL,
                strategy TEXT,
                position_id TEXT,
                reason TEXT NOT NULL,
                created_ms INTEGER NOT NULL
            )""",
            """CREATE TABLE orders (
                client_order_id TEXT PRIMARY KEY,
                list_client_id TEXT REFERENCES order_lists(list_client_id),
                symbol TEXT NOT NULL,
                side TEXT NOT NULL,
                type TEXT NOT NULL,
                quantity TEXT,
                quote_order_qty TEXT,
                price TEXT,
                stop_price TEXT,
                time_in_force TEXT,
                status TEXT NOT NULL,
                executed_qty TEXT NOT NULL,
                cum_quote TEXT NOT NULL,
                strategy TEXT,
                position_id TEXT,
                reason TEXT NOT NULL,
                last_reason TEXT,
                is_final INTEGER NOT NULL,
                created_ms INTEGER NOT NULL,
                updated_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX orders_open ON orders(is_final) WHERE is_final = 0",
            "CREATE INDEX orders_created ON orders(created_ms)",
            "CREATE INDEX orders_list ON orders(list_client_id) WHERE list_client_id IS NOT NULL",
            """CREATE TABLE order_updates (
                id INTEGER PRIMARY KEY,
                client_order_id TEXT NOT NULL REFERENCES orders(client_order_id),
                time_ms INTEGER NOT NULL,
                status TEXT NOT NULL,
                executed_qty TEXT NOT NULL,
                cum_quote TEXT NOT NULL,
                reason TEXT,
                applied INTEGER NOT NULL
            )""",
            "CREATE INDEX order_updates_order ON order_updates(client_order_id)",
            """CREATE TABLE fills (
                symbol TEXT NOT NULL,
                trade_id INTEGER NOT NULL,
                client_order_id TEXT NOT NULL,
                side TEXT NOT NULL,
                price TEXT NOT NULL,
                quantity TEXT NOT NULL,
                commission TEXT NOT NULL,
                commission_asset TEXT NOT NULL,
                is_maker INTEGER NOT NULL,
                time_ms INTEGER NOT NULL,
                position_id TEXT,
                PRIMARY KEY (symbol, trade_id)
            )""",
            "CREATE INDEX fills_time ON fills(time_ms)",
            "CREATE INDEX fills_order ON fills(client_order_id)",
        ),
    )


def _v2_decisions_and_events(conn: sqlite3.Connection) -> None:
    _execute_all(
        conn,
        (
            """CREATE TABLE decisions (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                symbol TEXT NOT NULL,
                strategy TEXT,
                action TEXT NOT NULL,
                decision_json TEXT NOT NULL
            )""",
            "CREATE INDEX decisions_time ON decisions(time_ms)",
            """CREATE TABLE clamps (
                id INTEGER PRIMARY KEY,
                decision_id INTEGER NOT NULL REFERENCES decisions(id),
                time_ms INTEGER NOT NULL,
                symbol TEXT,
                rule TEXT NOT NULL,
                field TEXT NOT NULL,
                requested TEXT NOT NULL,
                applied TEXT NOT NULL,
                source TEXT NOT NULL
            )""",
            "CREATE INDEX clamps_time ON clamps(time_ms)",
            """CREATE TABLE breaker_events (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                breaker TEXT NOT NULL,
                transition TEXT NOT NULL,
                level TEXT NOT NULL,
                value_pct REAL NOT NULL,
                limit_pct REAL NOT NULL,
                message TEXT NOT NULL
            )""",
            "CREATE INDEX breaker_events_time ON breaker_events(time_ms)",
            """CREATE TABLE equity (
                time_ms INTEGER PRIMARY KEY,
                equity TEXT NOT NULL,
                cash TEXT NOT NULL,
                exposure TEXT NOT NULL
            )""",
            """CREATE TABLE llm_calls (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                role TEXT NOT NULL,
                model TEXT NOT NULL,
                prompt_tokens INTEGER,
                completion_tokens INTEGER,
                latency_ms INTEGER NOT NULL,
                ok INTEGER NOT NULL,
                summary TEXT NOT NULL
            )""",
            "CREATE INDEX llm_calls_time ON llm_calls(time_ms)",
            """CREATE TABLE errors (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                code TEXT NOT NULL,
                message TEXT NOT NULL,
                details_json TEXT NOT NULL
            )""",
            "CREATE INDEX errors_time ON errors(time_ms)",
        ),
    )


def _v3_command_queue(conn: sqlite3.Connection) -> None:
    _execute_all(
        conn,
        (
            """CREATE TABLE commands (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                kind TEXT NOT NULL,
                payload_json TEXT NOT NULL,
                idempotency_key TEXT NOT NULL UNIQUE,
                status TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                completed_ms INTEGER,
                result_json TEXT
            )""",
            "CREATE INDEX commands_queued ON commands(id) WHERE status = 'queued'",
        ),
    )


def _v4_trade_confirmations(conn: sqlite3.Connection) -> None:
    """Two-phase trade codes, shared by every CLI process of a home. Only hashes are kept: the code itself
    and the trade's parameters never reach the file (the code confirms a live trade, so it is a credential)."""
    _execute_all(
        conn,
        (
            """CREATE TABLE confirmations (
                code_hash TEXT PRIMARY KEY,
                params_hash TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                used_ms INTEGER
            )""",
        ),
    )


def _v5_engine_checkpoint(conn: sqlite3.Connection) -> None:
    """The engine's checkpoint lives in the journal, written in the same transaction as the rows it accounts
    for: no crash point and no single damaged file can make the checkpoint and the journal disagree.
    `generation` counts checkpoints; `journal_identity` names this database, so that a journal replaced by
    another one (deleted and recreated, restored from elsewhere) is told apart from the one a home was using."""
    _execute_all(
        conn,
        (
            """CREATE TABLE engine_checkpoint (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                generation INTEGER NOT NULL,
                written_ms INTEGER NOT NULL,
                document TEXT NOT NULL
            )""",
            """CREATE TABLE journal_identity (
                id INTEGER PRIMARY KEY CHECK (id = 1),
                journal_id TEXT NOT NULL
            )""",
            "INSERT INTO journal_identity (id, journal_id) VALUES (1, lower(hex(randomblob(16))))",
        ),
    )


def _v6_risk_settings(conn: sqlite3.Connection) -> None:
    """The home's own risk limits (issue 9, item 8): what every process of the home trades with, and every
    change to them with who made it, when, and the value before and after. Values are JSON TEXT."""
    _execute_all(
        conn,
        (
            """CREATE TABLE risk_settings (
                name TEXT PRIMARY KEY,
                value_json TEXT NOT NULL,
                source TEXT NOT NULL,
                changed_ms INTEGER NOT NULL
            )""",
            """CREATE TABLE risk_setting_changes (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                name TEXT NOT NULL,
                old_json TEXT,
                new_json TEXT NOT NULL,
                source TEXT NOT NULL,
                actor TEXT NOT NULL
            )""",
            "CREATE INDEX risk_setting_changes_time ON risk_setting_changes(time_ms)",
        ),
    )


def _v7_llm_call_accounting(conn: sqlite3.Connection) -> None:
    """What an LLM call cost and how it went (issue 13, sections 2 and 5): the provider, every HTTP attempt
    (a timed-out POST that the client resent is two attempts, and may be billed twice), the attempts charged,
    DeepSeek's cache split of the input, the cost in exact dollars (TEXT), the typed outcome and its reason,
    and the prompt and answer as stored (redacted, capped). Budgets are read back from these rows."""
    _execute_all(
        conn,
        (
            "ALTER TABLE llm_calls ADD COLUMN provider TEXT",
            "ALTER TABLE llm_calls ADD COLUMN attempts INTEGER NOT NULL DEFAULT 1",
            "ALTER TABLE llm_calls ADD COLUMN billed_attempts INTEGER",
            "ALTER TABLE llm_calls ADD COLUMN cache_hit_tokens INTEGER",
            "ALTER TABLE llm_calls ADD COLUMN cache_miss_tokens INTEGER",
            "ALTER TABLE llm_calls ADD COLUMN cost_usd TEXT",
            "ALTER TABLE llm_calls ADD COLUMN outcome TEXT",
            "ALTER TABLE llm_calls ADD COLUMN reason TEXT",
            "ALTER TABLE llm_calls ADD COLUMN prompt TEXT",
            "ALTER TABLE llm_calls ADD COLUMN answer TEXT",
            "CREATE INDEX llm_calls_provider_time ON llm_calls(provider, time_ms)",
        ),
    )


def _v8_alert_outbox(conn: sqlite3.Connection) -> None:
    """Alerts waiting for their notifier (issue 14, section 1): one row per alert and service, written in the
    journal transaction of the event it reports, so an alert is never lost to a crash and never invented for
    an event that was rolled back. `alert_key` is derived from the event (kind, symbol, engine time, ...), so
    an event re-lived after a restart inserts nothing new. `status` is pending, sent or failed; `next_try_ms`
    (wall time) spaces the retries of a service that is down."""
    _execute_all(
        conn,
        (
            """CREATE TABLE alert_outbox (
                id INTEGER PRIMARY KEY,
                alert_key TEXT NOT NULL,
                service TEXT NOT NULL,
                kind TEXT NOT NULL,
                time_ms INTEGER NOT NULL,
                payload_json TEXT NOT NULL,
                status TEXT NOT NULL,
                attempts INTEGER NOT NULL DEFAULT 0,
                next_try_ms INTEGER NOT NULL DEFAULT 0,
                last_error TEXT,
                sent_ms INTEGER,
                UNIQUE (alert_key, service)
            )""",
            "CREATE INDEX alert_outbox_pending ON alert_outbox(service, id) WHERE status = 'pending'",
        ),
    )


def _v9_llm_call_effects(conn: sqlite3.Connection) -> None:
    """What an LLM call caused (issue 13, section 5): the tightening advice submitted from its answer (JSON list,
    each carrying the call id in its source, so the engine's clamp events name the call too), and what of its
    answer was refused and why (unknown tool, unknown or disguised symbol, malformed arguments: JSON list of
    {rule, detail})."""
    _execute_all(
        conn,
        (
            "ALTER TABLE llm_calls ADD COLUMN advice_json TEXT",
            "ALTER TABLE llm_calls ADD COLUMN rejections_json TEXT",
        ),
    )


def _v10_telegram_bot(conn: sqlite3.Connection) -> None:
    """The Telegram command bot (issue 14, section 2). `confirmation_requests`: a trade preview waiting for a
    person's Confirm in Telegram. The asking process writes the parameters (the same ones its PREVIEW command
    already holds) and the preview text; the running executor's bot makes the code, keeps only its hash (in
    `confirmations` too, so the code is spent by the same rules as `trade confirm=CODE`), sends it to the chat
    and records the outcome; the code itself never reaches the file. `status`: requested, sent, failed,
    confirmed, cancelled. `bot_offsets`: the next `getUpdates` offset per bot, so a restart never answers an
    update twice."""
    _execute_all(
        conn,
        (
            """CREATE TABLE confirmation_requests (
                id INTEGER PRIMARY KEY,
                channel TEXT NOT NULL,
                params_json TEXT NOT NULL,
                preview_text TEXT NOT NULL,
                created_ms INTEGER NOT NULL,
                expires_ms INTEGER NOT NULL,
                status TEXT NOT NULL,
                code_hash TEXT,
                detail TEXT,
                updated_ms INTEGER NOT NULL
            )""",
            "CREATE INDEX confirmation_requests_open ON confirmation_requests(channel, id) "
            "WHERE status = 'requested'",
            """CREATE TABLE bot_offsets (
                bot TEXT PRIMARY KEY,
                next_offset INTEGER NOT NULL
            )""",
        ),
    )


def _v11_order_trailing_delta(conn: sqlite3.Connection) -> None:
    """Each order's `trailingDelta` in BIPS (issue 12): a protective OCO's stop leg trails on the exchange where
    the symbol allows it, and the journal keeps what was sent. NULL: no trailing (every order before this)."""
    _execute_all(conn, ("ALTER TABLE orders ADD COLUMN trailing_delta INTEGER",))


def _v12_trusted_strategies(conn: sqlite3.Connection) -> None:
    """Strategy files a person trusted (issue 15): `<home>/strategies/FILE` is loaded only while its SHA-256 is the
    one pinned here by `executor.py strategies trust FILE`. Every pin is kept in the changes table with who and
    when, like the risk settings."""
    _execute_all(
        conn,
        (
            """CREATE TABLE trusted_strategies (
                file TEXT PRIMARY KEY,
                sha256 TEXT NOT NULL,
                trusted_ms INTEGER NOT NULL,
                actor TEXT NOT NULL
            )""",
            """CREATE TABLE trusted_strategy_changes (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                file TEXT NOT NULL,
                old_sha256 TEXT,
                new_sha256 TEXT NOT NULL,
                actor TEXT NOT NULL
            )""",
        ),
    )


def _v13_memory_rollbacks(conn: sqlite3.Connection) -> None:
    """Versioned memory (issue 16): each `memory rollback` journaled with who, when, the version whose content it
    restored, the version that was current before and the new version it wrote (`memory/versions.py`)."""
    _execute_all(
        conn,
        (
            """CREATE TABLE memory_rollbacks (
                id INTEGER PRIMARY KEY,
                time_ms INTEGER NOT NULL,
                restored_version INTEGER NOT NULL,
                previous_version INTEGER,
                new_version INTEGER NOT NULL,
                actor TEXT NOT NULL
            )""",
        ),
    )


MIGRATIONS: tuple[Migration, ...] = (
    _v1_orders_and_fills,
    _v2_decisions_and_events,
    _v3_command_queue,
    _v4_trade_confirmations,
    _v5_engine_checkpoint,
    _v6_risk_settings,
    _v7_llm_call_accounting,
    _v8_alert_outbox,
    _v9_llm_call_effects,
    _v10_telegram_bot,
    _v11_order_trailing_delta,
    _v12_trusted_strategies,
    _v13_memory_rollbacks,
)
RISK_SETTINGS_VERSION = MIGRATIONS.index(_v6_risk_settings) + 1
TRUSTED_STRATEGIES_VERSION = MIGRATIONS.index(_v12_trusted_strategies) + 1
LATEST_VERSION = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply_migrations(conn: sqlite3.Connection, migrations: Sequence[Migration] = MIGRATIONS) -> list[int]:
    """Bring the database to `len(migrations)`; returns the versions applied (empty when already current).

    `conn` must be in autocommit mode (isolation_level=None): each migration gets its own
    BEGIN IMMEDIATE … COMMIT, and the version is re-read under the write lock so that two processes
    migrating one file at once never apply a step twice. A database newer than `migrations` is left
    untouched; the caller decides (see `schema_version`).
    """
    applied: list[int] = []
    for version, migration in enumerate(migrations, start=1):
        if schema_version(conn) >= version:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) < version:
                migration(conn)
                conn.execute(f"PRAGMA user_version = {version:d}")
                applied.append(version)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return applied
