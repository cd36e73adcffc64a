"""Masking of secrets before anything is persisted or shown (invariant 9: secrets stay secret).

Two ways a secret leaks: as the value of a field whose name says what it is (`api_key`, `X-MBX-APIKEY`,
`signature`, `bot_token`), and inside free text (an exception message quoting a URL with `signature=…`, an
`Authorization: Bearer …` header, a Telegram bot URL). `redact` handles the first for nested data and
applies `redact_text` to every other string; `redact_text` handles the second by pattern.

The patterns lean towards masking too much: a long hex digest that is not a secret loses its middle,
which costs a little readability; a key that slips through costs an account.
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from decimal import Decimal
from typing import Any

ELLIPSIS = "…"
# Shorter values would give away most of themselves in `abcde…wxyz`, so they are hidden whole.
_MIN_LEN_TO_SHOW_ENDS = 20

_SECRET_NAME = re.compile(
    r"key|secret|token|signature|passw|passphrase|authorization|credential|cookie|bearer", re.IGNORECASE
)

# Each pattern's group "secret" is what gets masked; the rest stays readable.
_TEXT_PATTERNS: tuple[re.Pattern[str], ...] = (
    # A PEM private key (an Ed25519 or RSA API key's file), whole: its base64 lines are broken by `+` and `/`
    # into runs the long-alphanumeric rule below may miss. Without its END line, to the end of the text.
    re.compile(r"(?P<secret>-----BEGIN [A-Z0-9 ]{0,40}PRIVATE KEY-----[^-]*+"
               r"(?:-----END [A-Z0-9 ]{0,40}PRIVATE KEY-----)?)"),
    # name=value, name: value, "name": "value" — query strings, headers, JSON and repr() output.
    # The name is a whole word (possessive, starting at a word start) containing a secret word; a
    # backtracking name would make long unbroken text quadratic.
    re.compile(
        r"(?<![A-Za-z0-9_.-])"
        r"(?P<name>(?=[A-Za-z0-9_.-]*?(?:key|secret|token|signature|passw|passphrase|authorization|credential))"
        r"[A-Za-z0-9_.-]++)"
        r"(?P<sep>[\"']?\s*+[=:]\s*+(?:Bearer\s++|Basic\s++)?[\"']?)"
        r"(?P<secret>[^\s\"'&,;)}\]]++)",
        re.IGNORECASE,
    ),
    re.compile(r"(?P<sep>\bBearer\s+)(?P<secret>[A-Za-z0-9._~+/=-]++)(?!…)", re.IGNORECASE),
    # Telegram bot tokens (`123456789:AA…`), also inside https://api.telegram.org/bot<token>/.
    re.compile(r"(?<![0-9])(?P<secret>[0-9]{6,12}:[A-Za-z0-9_-]{30,}+)(?!…)"),
    # Discord webhook URLs carry their token in the path.
    re.compile(r"(?P<sep>/api/webhooks/[0-9]+/)(?P<secret>[A-Za-z0-9_-]++)(?!…)"),
    # OpenAI-style keys (DeepSeek uses `sk-` followed by 32 hex digits).
    re.compile(r"(?P<secret>\bsk-[A-Za-z0-9_-]{16,}+)(?!…)"),
    # Binance API keys and secrets are 64 alphanumerics, HMAC signatures 64 hex digits: any long run.
    re.compile(r"(?P<secret>(?<![A-Za-z0-9])[A-Za-z0-9]{32,}+)"),
)


def mask_secret(value: str) -> str:
    """Show a secret as `abcde…wxyz`, enough to tell two keys apart and nothing more.

    Values shorter than 20 characters are replaced by `…` alone; an empty string stays empty.
    """
    if not value:
        return value
    if len(value) < _MIN_LEN_TO_SHOW_ENDS:
        return ELLIPSIS
    return f"{value[:5]}{ELLIPSIS}{value[-4:]}"


def is_secret_name(name: str) -> bool:
    """True for a field name that announces a secret (`api_key`, `apiSecret`, `X-MBX-APIKEY`, `token`)."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """Mask every secret-looking substring of free text (messages, summaries, URLs, headers)."""
    for pattern in _TEXT_PATTERNS:
        text = pattern.sub(_masked_match, text)
    return text


def redact(obj: Any) -> Any:
    """A copy of `obj` safe to persist or show: nested dicts, lists and tuples are walked.

    A string under a secret-named key is masked whole; every other string goes through `redact_text`.
    Numbers, booleans, None and Decimals cannot hold a key and pass unchanged (so `prompt_tokens: 812`
    survives). Anything else is converted with `str()` and scrubbed, since it would be stored as text.
    """
    return _redact(obj, under_secret_name=False)


def _redact(obj: Any, *, under_secret_name: bool) -> Any:
    if obj is None or isinstance(obj, bool | int | float | Decimal):
        return obj
    if isinstance(obj, bytes | bytearray):
        obj = bytes(obj).decode("utf-8", errors="replace")
    if isinstance(obj, str):
        return mask_secret(obj) if under_secret_name else redact_text(obj)
    if isinstance(obj, Mapping):
        return {
            redact_text(str(key)): _redact(value, under_secret_name=under_secret_name or is_secret_name(str(key)))
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple | set | frozenset):
        items = [_redact(item, under_secret_name=under_secret_name) for item in obj]
        return items if not isinstance(obj, tuple) else tuple(items)
    return redact_text(str(obj))


def _masked_match(match: re.Match[str]) -> str:
    groups = match.groupdict()
    secret = groups["secret"]
    name = groups.get("name") or ""
    if ELLIPSIS in secret or _is_token_count(name, secret):
        return match.group(0)
    prefix = name + (groups.get("sep") or "")
    return prefix + mask_secret(secret)


def _is_token_count(name: str, value: str) -> bool:
    """`prompt_tokens=812` in an LLM summary is a count, not a credential."""
    return name.lower().endswith("tokens") and value.isdigit() and len(value) < 12


def credential_values(env: Mapping[str, str], min_length: int = 8) -> list[str]:
    """The values of the environment's credentials (keys, secrets, tokens, webhook URLs), longest first."""
    values = {value for name, value in env.items()
              if (is_secret_name(name) or "WEBHOOK" in name.upper()) and len(value) >= min_length}
    return sorted(values, key=len, reverse=True)


class SecretMask:
    """Every occurrence of the given secrets masked, in any letter case (an error message may echo a value
    lowercased or uppercased): `abcde…wxyz` of what was found."""

    def __init__(self, secrets: list[str]) -> None:
        self.secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._lowered = [s.lower() for s in self.secrets]
        alternatives = "|".join(re.escape(s) for s in self.secrets)
        self._pattern = re.compile(alternatives, re.IGNORECASE) if self.secrets else None

    def text(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda match: mask_secret(match.group(0)), text)

    def value(self, obj: Any) -> Any:
        """A copy of `obj` (strings, dict keys and values, lists) with every secret masked."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, dict):
            return {self.value(k): self.value(v) for k, v in obj.items()}
        if isinstance(obj, list):
            return [self.value(v) for v in obj]
        return obj

    def unfinished_tail(self, text: str) -> int:
        """How many characters at the end of `text` could be the start of a secret that the next write would
        complete: a stream holds those back rather than let a secret out in two halves."""
        folded = text.lower()
        longest = 0
        for secret in self._lowered:
            for size in range(min(len(secret) - 1, len(folded)), longest, -1):
                if folded.endswith(secret[:size]):
                    longest = size
                    break
        return longest


def mask_values(obj: Any, secrets: list[str]) -> Any:
    """A copy of `obj` (strings, dict keys and values, lists) with every occurrence of each secret masked, in
    any letter case."""
    return SecretMask(secrets).value(obj)


class MaskedStream(io.TextIOBase):
    """A text stream that masks every secret before it reaches the stream it wraps: the one gate that every
    output of a process passes (envelopes, text views, logs, tracebacks) once it replaces sys.stdout/stderr.

    A secret written in two pieces is still caught: a tail that could begin a secret waits for the next write
    or for `flush`. Everything else (isatty, fileno, encoding) is the wrapped stream's.
    """

    def __init__(self, stream: Any, mask: SecretMask) -> None:
        super().__init__()
        self.wrapped = stream
        self._mask = mask
        self._pending = ""

    def write(self, text: str) -> int:
        pending = self._pending + text
        keep = self._mask.unfinished_tail(pending)
        ready, self._pending = pending[:len(pending) - keep], pending[len(pending) - keep:]
        if ready:
            self.wrapped.write(self._mask.text(ready))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            self.wrapped.write(self._mask.text(self._pending))
            self._pending = ""
        self.wrapped.flush()

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return bool(self.wrapped.isatty())

    def fileno(self) -> int:
        return int(self.wrapped.fileno())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return str(getattr(self.wrapped, "encoding", "utf-8"))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


@contextmanager
def masked_output(env: Mapping[str, str]) -> Iterator[None]:
    """Within the block, sys.stdout and sys.stderr mask every credential of `env` (`credential_values`)."""
    mask = SecretMask(credential_values(env))
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = MaskedStream(saved[0], mask), MaskedStream(saved[1], mask)
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):
                stream.flush()
        sys.stdout, sys.stderr = saved
