"""Signed-request checks as Binance makes them: API key, signature, timestamp and recvWindow.

The account's key is HMAC (the hex HMAC-SHA256 of the payload with the secret), or Ed25519 or RSA: Binance
holds the public key registered for the API key and checks the base64 of an Ed25519 (RFC 8032) or RSA
PKCS#1 v1.5 SHA-256 signature over the same payload. A `Verifier` is one of these.

Since 2026-01-15 the payload is percent-encoded (UTF-8, RFC 3986: only `A-Z a-z 0-9 - _ . ~` stay as
they are) *before* the signature is computed, and the exact encoded string is what travels; a signature
over the raw, unencoded values fails with -1022. So the REST check verifies the HMAC over the payload
exactly as it arrived and refuses a payload that is not fully percent-encoded; the WebSocket API check
(whose params arrive as JSON) rebuilds the encoded query string from the params sorted by name, as
Binance's docs define the WebSocket API payload, and verifies the HMAC over that.

Timing (binance-spot-api-docs, "Timing security"): recvWindow defaults to 5000 ms and may not exceed
60000 ms; a request is refused with -1021 when its timestamp is 1000 ms or more ahead of the server's
clock, or older than recvWindow.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Protocol
from urllib.parse import unquote_plus, urlencode

from Crypto.Hash import SHA256
from Crypto.PublicKey import ECC, RSA
from Crypto.Signature import eddsa, pkcs1_15

from tests.fakes.binance.errors import BinanceError, Code, invalid_signature, mandatory, rejected_api_key

DEFAULT_RECV_WINDOW_MS = Decimal(5000)
MAX_RECV_WINDOW_MS = Decimal(60000)
MAX_AHEAD_MS = 1000
# One name=value pair of a percent-encoded payload (`+` is the form encoding of a space).
_ENCODED_PAIR = re.compile(r"^[A-Za-z0-9\-_.~%+]+=[A-Za-z0-9\-_.~%+]*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def hmac_hex(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


class Verifier(Protocol):
    def matches(self, payload: str, signature: str) -> bool:
        """Whether `signature` (as sent, decoded from the query string) signs `payload`."""
        ...


@dataclass(frozen=True, slots=True)
class HmacVerifier:
    secret: str = field(repr=False)

    def matches(self, payload: str, signature: str) -> bool:
        # HMAC signatures are not case-sensitive on Binance.
        return hmac.compare_digest(hmac_hex(self.secret, payload), signature.lower())


@dataclass(frozen=True, slots=True)
class PublicKeyVerifier:
    """The public half of an Ed25519 or RSA key pair, as registered with Binance for an API key."""

    ed25519: bool
    key: ECC.EccKey | RSA.RsaKey

    @classmethod
    def from_pem(cls, pem: str) -> PublicKeyVerifier:
        try:
            ecc = ECC.import_key(pem)
        except ValueError:
            return cls(ed25519=False, key=RSA.import_key(pem))
        if ecc.curve != "Ed25519":
            raise ValueError(f"Binance registers Ed25519 or RSA public keys, not {ecc.curve}")
        return cls(ed25519=True, key=ecc)

    def matches(self, payload: str, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        try:
            if self.ed25519:
                eddsa.new(self.key, "rfc8032").verify(payload.encode(), raw)
            else:
                pkcs1_15.new(self.key).verify(SHA256.new(payload.encode()), raw)
        except ValueError:
            return False
        return True


def verifier(api_secret: str | None, public_key_pem: str | None) -> HmacVerifier | PublicKeyVerifier:
    """The account's verifier: an HMAC secret or a registered public key (PEM), exactly one of them."""
    if public_key_pem is None and api_secret is not None:
        return HmacVerifier(api_secret)
    if public_key_pem is not None and api_secret is None:
        return PublicKeyVerifier.from_pem(public_key_pem)
    raise ValueError("the fake Binance takes either api_secret (HMAC) or public_key (Ed25519 / RSA)")


def check_api_key(sent: str | None, expected: str) -> None:
    if not sent or not hmac.compare_digest(sent, expected):
        raise rejected_api_key()


def verify_rest(total_params: str, key: Verifier) -> None:
    """`total_params`: the raw query string followed by the raw form body, as received (signature last)."""
    payload, sep, signature = total_params.rpartition("&signature=")
    if not sep or not signature or "&" in signature:
        if total_params.startswith("signature="):
            raise invalid_signature()
        raise mandatory("signature")
    pairs = payload.split("&") if payload else []
    if not all(_ENCODED_PAIR.match(pair) for pair in pairs) or _BAD_ESCAPE.search(payload):
        raise invalid_signature()
    # A base64 signature travels percent-encoded (`+` `/` `=`); a hex HMAC is the same either way.
    if not key.matches(payload, unquote_plus(signature)):
        raise invalid_signature()


def ws_payload(params: Mapping[str, object]) -> str:
    """The string a WebSocket API request is signed over: every param but `signature`, sorted, encoded."""
    return urlencode(sorted((name, param_text(value)) for name, value in params.items() if name != "signature"))


def verify_ws(params: Mapping[str, object], key: Verifier) -> None:
    signature = params.get("signature")
    if not isinstance(signature, str) or not signature:
        raise mandatory("signature")
    if not key.matches(ws_payload(params), signature):
        raise invalid_signature()


def check_timestamp(timestamp: str | None, recv_window: str | None, now_ms: int) -> None:
    if timestamp is None:
        raise mandatory("timestamp")
    try:
        sent = int(timestamp)
    except ValueError:
        raise mandatory("timestamp") from None
    window = DEFAULT_RECV_WINDOW_MS
    if recv_window is not None:
        try:
            window = Decimal(recv_window)
        except InvalidOperation:
            raise mandatory("recvWindow") from None
        if not window.is_finite() or window <= 0 or window > MAX_RECV_WINDOW_MS:
            raise BinanceError(Code.INVALID_RECV_WINDOW, "recvWindow must be less than 60000")
    if sent >= now_ms + MAX_AHEAD_MS:
        raise BinanceError(Code.INVALID_TIMESTAMP,
                           f"Timestamp for this request was {MAX_AHEAD_MS}ms ahead of the server's time.")
    if now_ms - sent > window:
        raise BinanceError(Code.INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow.")


def param_text(value: object) -> str:
    """A JSON param value as it appears in the signed query string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
