"""The tool contract: one JSON envelope on stdout per call, logs on stderr, exit 0 / 2 / 1.

`{"ok": true, "tool": ..., "data": {...}}` or `{"ok": false, "tool": ..., "error": {"code", "message", "details"}}`.
Exit code 0 on ok, 2 on invalid input, 1 on any other failure.
"""

from __future__ import annotations

import json
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from core.errors import ExecutorError
from memory.redact import redact, redact_text

INVALID_INPUT_CODES = frozenset({"INVALID_ARGUMENT", "INVALID_CONFIG", "INVALID_SYMBOL", "INVALID_DATA",
                                 "REQUEST_ID_CONFLICT"})
ERROR_CODE_PATTERN = r"^[A-Z][A-Z0-9_]*$"  # every ExecutorError.code, INTERNAL_ERROR, INTERRUPTED
_DATA_DEF = "ToolAnswerData"
_ERROR_DEF = "ToolAnswerError"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Why the call failed; nothing was half-done.",
    "properties": {
        "code": {"type": "string", "pattern": ERROR_CODE_PATTERN, "description": "Stable, machine-readable."},
        "message": {"type": "string", "description": "What happened and what to do, for a person."},
        "details": {"type": "object", "description": "The symbol, limit, value, path or setting concerned."},
    },
    "required": ["code", "message", "details"],
    "additionalProperties": False,
}


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON-serialisable: {type(value).__name__}")


def dumps(document: Any) -> str:
    """Strict JSON: a NaN or infinity is a bug to surface, never a bare `NaN` token an agent's parser rejects."""
    return json.dumps(document, default=_default, sort_keys=True, separators=(",", ":"), allow_nan=False)


def ok(tool: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"ok": True, "tool": tool, "data": data}


def failure(tool: str, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error envelope. Its text is redacted by pattern (`memory.redact`): an error may echo a value that a
    person put in the wrong variable (a key pasted into MAX_POSITION_SIZE_PCT), which no name marks as secret."""
    return {"ok": False, "tool": tool, "error": {"code": code, "message": redact_text(message),
                                                 "details": redact(details or {})}}


def envelope_schema(tool: str, data_schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of every answer `tool` gives: the ok envelope around `data_schema`, or the error envelope.

    A validator of structured output (an MCP host) checks error answers too, so the schema is the envelope's,
    not only the data's. `data_schema`'s own definitions move to the top level, where its `$ref`s point.
    """
    defs = dict(data_schema.get("$defs", {}))
    if {_DATA_DEF, _ERROR_DEF} & set(defs):
        raise ValueError(f"{tool}: the data schema already defines {_DATA_DEF} or {_ERROR_DEF}")
    data = {k: v for k, v in data_schema.items() if k not in ("$schema", "$defs")}
    name = {"const": tool, "description": "The tool that answered."}
    answered = {"type": "object", "properties": {"ok": {"const": True}, "tool": name,
                                                 "data": {"$ref": f"#/$defs/{_DATA_DEF}"}},
                "required": ["ok", "tool", "data"], "additionalProperties": False}
    failed = {"type": "object", "properties": {"ok": {"const": False}, "tool": name,
                                               "error": {"$ref": f"#/$defs/{_ERROR_DEF}"}},
              "required": ["ok", "tool", "error"], "additionalProperties": False}
    schema = {"type": "object", "title": f"{tool} answer", "oneOf": [answered, failed],
              "$defs": {**defs, _DATA_DEF: data, _ERROR_DEF: ERROR_SCHEMA}}
    return {"$schema": data_schema["$schema"], **schema} if "$schema" in data_schema else schema


def from_error(tool: str, exc: ExecutorError) -> dict[str, Any]:
    return failure(tool, exc.code, exc.message, exc.details)


def exit_code(document: dict[str, Any]) -> int:
    if document.get("ok"):
        return 0
    return 2 if document["error"]["code"] in INVALID_INPUT_CODES else 1
