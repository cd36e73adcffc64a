"""The Telegram bot's rows in the journal: out-of-band confirmation requests and the `getUpdates` offset.

A confirmation request is written by the process that previewed a trade (any CLI or MCP process of the home)
and claimed by the running executor's bot, which makes the code, sends it to Telegram and settles the row.
Every transition is one conditional UPDATE under the write lock, so a request is claimed by one bot, or given
up by its asker, never both. The code itself is never stored: only its hash (`code_hash`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from memory.database import Database
from memory.redact import redact_text


class RequestStatus(StrEnum):
    REQUESTED = "requested"  # waiting for the running bot to send it
    SENDING = "sending"  # claimed by the bot, being sent
    SENT = "sent"  # the code is in the chat: waiting for Confirm or Cancel
    FAILED = "failed"  # not delivered (Telegram unreachable, no bot running): nothing can confirm it
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ConfirmationRequest:
    id: int
    channel: str
    params: dict[str, Any]
    preview_text: str
    created_ms: int
    expires_ms: int
    status: RequestStatus
    code_hash: str | None
    detail: str | None


class BotStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    # -- confirmation requests --------------------------------------------------------------------------

    def request_confirmation(self, channel: str, params: dict[str, Any], preview_text: str, created_ms: int,
                             expires_ms: int) -> int:
        with self._db.write("request an out-of-band trade confirmation") as conn:
            cursor = conn.execute(
                "INSERT INTO confirmation_requests (channel, params_json, preview_text, created_ms, expires_ms,"
                " status, updated_ms) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (channel, json.dumps(params, sort_keys=True), preview_text, created_ms, expires_ms,
                 RequestStatus.REQUESTED.value, created_ms),
            )
            return int(cursor.lastrowid or 0)

    def request(self, request_id: int) -> ConfirmationRequest | None:
        row = self._db.fetch_one("SELECT * FROM confirmation_requests WHERE id = ?", (request_id,))
        return None if row is None else _request(dict(row))

    def open_requests(self, channel: str) -> list[ConfirmationRequest]:
        rows = self._db.fetch_all("SELECT * FROM confirmation_requests WHERE channel = ? AND status = ? ORDER BY id",
                                  (channel, RequestStatus.REQUESTED.value))
        return [_request(dict(row)) for row in rows]

    def move_request(self, request_id: int, from_status: RequestStatus, to_status: RequestStatus, now_ms: int, *,
                     code_hash: str | None = None, detail: str | None = None) -> bool:
        """Move a request on only if it is still in `from_status`: True when this call moved it."""
        with self._db.write(f"confirmation request {request_id} {to_status.value}") as conn:
            cursor = conn.execute(
                "UPDATE confirmation_requests SET status = ?, code_hash = COALESCE(?, code_hash),"
                " detail = COALESCE(?, detail), updated_ms = ? WHERE id = ? AND status = ?",
                (to_status.value, code_hash, None if detail is None else redact_text(detail), now_ms, request_id,
                 from_status.value),
            )
            return cursor.rowcount == 1

    # -- the getUpdates offset --------------------------------------------------------------------------

    def offset(self, bot: str) -> int:
        row = self._db.fetch_one("SELECT next_offset FROM bot_offsets WHERE bot = ?", (bot,))
        return 0 if row is None else int(row["next_offset"])

    def save_offset(self, bot: str, next_offset: int) -> None:
        """Never moves back: an update once taken is never taken again."""
        with self._db.write("save the bot's update offset") as conn:
            conn.execute(
                "INSERT INTO bot_offsets (bot, next_offset) VALUES (?, ?) ON CONFLICT(bot) DO UPDATE SET"
                " next_offset = MAX(next_offset, excluded.next_offset)",
                (bot, next_offset),
            )


def _request(row: dict[str, Any]) -> ConfirmationRequest:
    return ConfirmationRequest(id=row["id"], channel=row["channel"], params=json.loads(row["params_json"]),
                               preview_text=row["preview_text"], created_ms=row["created_ms"],
                               expires_ms=row["expires_ms"], status=RequestStatus(row["status"]),
                               code_hash=row["code_hash"], detail=row["detail"])
