"""What kind of API key signs for an account, and the private key file of an asymmetric one, checked.

Binance issues three kinds of API key: HMAC (an API key and its secret), Ed25519 and RSA (an API key
registered with the public half of a key pair that stays on this machine). Binance recommends Ed25519. The
signature is HMAC-SHA256 in hex, or the base64 of an Ed25519 (RFC 8032) or RSA PKCS#1 v1.5 SHA-256
signature, each over the percent-encoded payload. The SDK signs with pycryptodome (`binance_common.signature
.Signers`), so the key file is read here with the same library: what passes here is what the SDK can sign with.

A key file is read as `ssh` reads an identity: refused when it is not a regular file, when the group or other
users may read or write it (mode & 0o077; fix with `chmod 600`), or when it holds anything but one PEM private
key (Ed25519 or RSA, possibly encrypted with a passphrase). Nothing here ever puts the key's text in a message.
"""

from __future__ import annotations

import stat
from enum import StrEnum
from pathlib import Path

MAX_KEY_FILE_BYTES = 16_384  # an RSA-4096 PEM is ~3.3 kB; anything much larger is not one key
_PEM_PRIVATE = ("-----BEGIN PRIVATE KEY-----", "-----BEGIN ENCRYPTED PRIVATE KEY-----",
                "-----BEGIN RSA PRIVATE KEY-----")
_OPEN_BITS = stat.S_IRWXG | stat.S_IRWXO


class KeyKind(StrEnum):
    HMAC = "hmac"
    ED25519 = "ed25519"
    RSA = "rsa"


class KeyFileRefused(Exception):
    """A private key file that cannot be used; `reason` says why and how to fix it (never the key itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_key_file(path: Path, passphrase: str | None) -> tuple[str, KeyKind]:
    """The PEM text of the private key at `path` and its kind (ED25519 or RSA), or KeyFileRefused."""
    try:
        info = path.stat()
    except OSError as failed:
        raise KeyFileRefused(f"cannot be read ({failed.strerror or type(failed).__name__})") from None
    if not stat.S_ISREG(info.st_mode):
        raise KeyFileRefused("is not a regular file")
    if info.st_mode & _OPEN_BITS:
        raise KeyFileRefused(f"may be read or written by other users (mode {stat.S_IMODE(info.st_mode):04o}), as "
                             f"ssh refuses an identity: `chmod 600 {path}`")
    if info.st_size > MAX_KEY_FILE_BYTES:
        raise KeyFileRefused(f"is {info.st_size} bytes, too large for one PEM private key")
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as failed:
        raise KeyFileRefused(f"cannot be read as a PEM file ({type(failed).__name__})") from None
    return text, key_kind(text, passphrase)


def key_kind(pem: str, passphrase: str | None) -> KeyKind:
    """ED25519 or RSA for a PEM private key the SDK can sign with; KeyFileRefused for anything else."""
    from Crypto.PublicKey import ECC, RSA  # the SDK's own crypto library, loaded only when a key file is set

    stripped = pem.strip()
    if not stripped.startswith(_PEM_PRIVATE):
        raise KeyFileRefused("is not a PEM private key (it must begin with -----BEGIN PRIVATE KEY----- or "
                             "-----BEGIN ENCRYPTED PRIVATE KEY-----); a public key goes to Binance, not here")
    failures: list[str] = []
    try:
        ecc = ECC.import_key(stripped, passphrase=passphrase)
    except ValueError as failed:  # PassphraseRequiredError and IncorrectPassphraseError are ValueErrors
        failures.append(str(failed))
    else:
        if ecc.curve != "Ed25519":
            raise KeyFileRefused(f"holds an {ecc.curve} key; Binance takes Ed25519 or RSA keys")
        return KeyKind.ED25519
    try:
        RSA.import_key(stripped, passphrase=passphrase)
    except ValueError as failed:
        failures.append(str(failed))
    else:
        return KeyKind.RSA
    if any("passphrase is required" in f for f in failures):
        raise KeyFileRefused("is encrypted: set its passphrase")
    if any("Incorrect passphrase" in f for f in failures):
        raise KeyFileRefused("could not be decrypted with the passphrase given")
    raise KeyFileRefused("is not an Ed25519 or RSA private key")
