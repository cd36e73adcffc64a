"""Confirmation codes of two-phase trades: how they are made and what the journal keeps of them (hashes only).

Shared by the trade tool, which issues and spends codes, and the Telegram bot, which issues them out of band.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

CONFIRMATION_TTL_MS = 120_000
CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read and typed by people


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    return f"{raw[:4]}-{raw[4:]}"


def digest(value: Any) -> str:
    """SHA-256 of `value` in canonical JSON (sorted keys, no spaces)."""
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def code_digest(code: str) -> str:
    """What the journal keeps of a confirmation code."""
    return digest(code)


def params_digest(params: dict[str, Any]) -> str:
    """What the journal keeps of the parameters a code is bound to."""
    return digest(params)
