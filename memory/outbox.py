"""The alert outbox in the journal: rows written with the event they report, read and settled by the sender.

At-least-once across restarts: a row is pending until its notifier accepted it, so a crash between the send
and `mark_sent` sends it again on the next start (the only duplicate possible). The unique
(alert_key, service) pair makes writing the same alert twice (an event re-lived after a restart) a no-op.
A row that failed `MAX_ATTEMPTS` sends in a row is marked failed and no longer blocks the rows after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from memory.database import Database
from memory.redact import redact_text

MAX_ATTEMPTS = 5  # sends of one batch (each with the notifier's own retries) before its rows are marked failed


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    id: int
    alert_key: str
    service: str
    kind: str
    time_ms: int
    payload: dict[str, Any]
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxSummary:
    """Per service: rows waiting, rows given up on, and the wall time of the last delivery (None: never)."""

    service: str
    pending: int
    failed: int
    last_sent_ms: int | None
    last_error: str | None


class Outbox:
    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, alert_key: str, services: list[str], kind: str, time_ms: int, payload: dict[str, Any]) -> int:
        """Queue one alert for each service (inside the caller's batch when there is one); returns rows added."""
        if not services:
            return 0
        document = json.dumps(payload, sort_keys=True, default=str)
        with self._db.write(f"queue alert {kind}") as conn:
            before = conn.total_changes
            conn.executemany(
                "INSERT OR IGNORE INTO alert_outbox (alert_key, service, kind, time_ms, payload_json, status)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [(alert_key, service, kind, time_ms, document, OutboxStatus.PENDING.value) for service in services],
            )
            return conn.total_changes - before

    def due(self, service: str, now_ms: int, limit: int) -> list[OutboxRow]:
        """The oldest pending rows of `service`, in the order they were written, if the first is due."""
        rows = self._db.fetch_all(
            "SELECT * FROM alert_outbox WHERE service = ? AND status = ? ORDER BY id LIMIT ?",
            (service, OutboxStatus.PENDING.value, limit),
        )
        if not rows or rows[0]["next_try_ms"] > now_ms:
            return []
        return [OutboxRow(r["id"], r["alert_key"], r["service"], r["kind"], r["time_ms"],
                          json.loads(r["payload_json"]), r["attempts"]) for r in rows]

    def mark_sent(self, ids: list[int], now_ms: int) -> None:
        with self._db.write("settle sent alerts") as conn:
            conn.executemany("UPDATE alert_outbox SET status = ?, sent_ms = ?, attempts = attempts + 1 WHERE id = ?",
                             [(OutboxStatus.SENT.value, now_ms, i) for i in ids])

    def mark_attempt_failed(self, ids: list[int], error: str, retry_at_ms: int) -> None:
        """One more failed send of these rows: retried from `retry_at_ms`, failed for good at MAX_ATTEMPTS."""
        with self._db.write("settle unsent alerts") as conn:
            conn.executemany(
                "UPDATE alert_outbox SET attempts = attempts + 1, last_error = ?, next_try_ms = ?,"
                " status = CASE WHEN attempts + 1 >= ? THEN ? ELSE status END WHERE id = ?",
                [(redact_text(error), retry_at_ms, MAX_ATTEMPTS, OutboxStatus.FAILED.value, i) for i in ids],
            )

    def summary(self) -> list[OutboxSummary]:
        rows = self._db.fetch_all(
            "SELECT service, SUM(status = 'pending') AS pending, SUM(status = 'failed') AS failed,"
            " MAX(sent_ms) AS last_sent_ms FROM alert_outbox GROUP BY service ORDER BY service")
        errors = {r["service"]: r["last_error"] for r in self._db.fetch_all(
            "SELECT service, last_error FROM alert_outbox WHERE last_error IS NOT NULL AND id IN"
            " (SELECT MAX(id) FROM alert_outbox WHERE last_error IS NOT NULL GROUP BY service)")}
        return [OutboxSummary(r["service"], int(r["pending"] or 0), int(r["failed"] or 0), r["last_sent_ms"],
                              errors.get(r["service"])) for r in rows]
