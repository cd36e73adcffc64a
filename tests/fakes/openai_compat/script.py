"""What the fake answers: scripted replies, served in order, one per chat-completion request."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

# What each error status says, in the shape DeepSeek and OpenAI use.
ERROR_TEXT: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Invalid request"),
    401: ("authentication_error", "Authentication Fails, your api key is invalid"),
    402: ("insufficient_balance", "Insufficient Balance"),
    422: ("invalid_request_error", "Invalid Parameters"),
    429: ("rate_limit_error", "Rate Limit Reached"),
    500: ("server_error", "Server Error"),
    503: ("server_overloaded", "Server Overloaded"),
}


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted answer to one POST /v1/chat/completions.

    - `content`, `tool_calls` (OpenAI shape: `[{"id", "type": "function", "function": {"name", "arguments"}}]`),
      `usage` (any fields, e.g. DeepSeek's `prompt_cache_hit_tokens`; computed from the text when None),
      `finish_reason`.
    - `status` other than 200: an error body (`ERROR_TEXT`), with `Retry-After: retry_after` when given.
    - `delay_s`: wait before the status line (a slow server: the client may time out and resend).
    - `keepalive_lines`, `keepalive_every_s`: after a 200 status line, that many blank lines (non-streaming;
      `: keep-alive` comments when streaming) one every `keepalive_every_s` seconds before the answer, as
      DeepSeek does under load.
    - `hang`: never answer; `drop`: close the connection without an answer.
    """

    content: str | None = ""
    tool_calls: list[dict[str, Any]] | None = None
    usage: dict[str, Any] | None = None
    finish_reason: str = "stop"
    status: int = 200
    retry_after: float | None = None
    delay_s: float = 0.0
    keepalive_lines: int = 0
    keepalive_every_s: float = 0.1
    hang: bool = False
    drop: bool = False

    @classmethod
    def json(cls, value: Any, **kwargs: Any) -> Reply:
        """A reply whose content is `value` as JSON."""
        return cls(content=json.dumps(value), **kwargs)

    @classmethod
    def calls(cls, *calls: tuple[str, Any], **kwargs: Any) -> Reply:
        """A reply that calls tools, as a model trained for tool use does: (name, arguments) pairs, the
        arguments a value sent as JSON, or a str sent as it is (to script malformed arguments)."""
        scripted = [{"id": f"call_{index}", "type": "function",
                     "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}
                    for index, (name, args) in enumerate(calls)]
        return cls(content=None, tool_calls=scripted, finish_reason="tool_calls", **kwargs)

    @classmethod
    def error(cls, status: int, retry_after: float | None = None) -> Reply:
        return cls(content=None, status=status, retry_after=retry_after)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Reply:
        return cls(**doc)


def error_body(status: int, message: str | None = None) -> dict[str, Any]:
    kind, text = ERROR_TEXT.get(status, ("error", f"HTTP {status}"))
    return {"error": {"message": message or text, "type": kind, "param": None, "code": kind}}


def estimated_tokens(text: str) -> int:
    """About four characters a token, at least one: the fake's usage when a reply gives none."""
    return max(1, len(text) // 4)


@dataclass(slots=True)
class Received:
    """One request as the fake saw it: what a test asserts attempt counts and prompt contents on."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    answered: bool = False  # the server produced a whole answer (a real provider bills it, read or not)
    raw: str = field(default="", repr=False)
