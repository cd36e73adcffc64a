"""Secrets never reach the journal: masking helpers, and a scan of the journal's bytes for planted keys."""

from __future__ import annotations

import json
import random
import string
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from memory.journal import Journal
from memory.redact import ELLIPSIS, is_secret_name, mask_secret, redact, redact_text
from tests.conftest import REPO_ROOT

_ALNUM = string.ascii_letters + string.digits
_RANDOM = random.Random(20240601)


def _fake_key(length: int = 64) -> str:
    return "".join(_RANDOM.choice(_ALNUM) for _ in range(length))


def test_mask_secret_shows_only_the_ends_of_long_values() -> None:
    assert mask_secret("abcdefghijklmnopqrstuvwxyz") == "abcde…wxyz"
    assert mask_secret("short-secret") == ELLIPSIS
    assert mask_secret("") == ""


@given(st.text(min_size=1, max_size=200))
def test_mask_secret_never_shows_more_than_nine_characters(value: str) -> None:
    masked = mask_secret(value)
    assert len(masked.replace(ELLIPSIS, "")) <= 9
    assert ELLIPSIS in masked


def test_secret_names() -> None:
    for name in ("api_key", "apiKey", "X-MBX-APIKEY", "api_secret", "bot_token", "signature", "Authorization",
                 "password"):
        assert is_secret_name(name), name
    for name in ("symbol", "quantity", "client_order_id", "latency_ms"):
        assert not is_secret_name(name), name


def test_redact_masks_values_under_secret_names_at_any_depth() -> None:
    key = _fake_key()
    cleaned = redact({"request": {"headers": {"X-MBX-APIKEY": key}, "params": [{"signature": "ab" * 32}]},
                      "symbol": "BTCUSDT", "prompt_tokens": 812, "attempt": (1, 2)})
    assert cleaned == {"request": {"headers": {"X-MBX-APIKEY": mask_secret(key)},
                                   "params": [{"signature": mask_secret("ab" * 32)}]},
                       "symbol": "BTCUSDT", "prompt_tokens": 812, "attempt": (1, 2)}


def test_redact_text_masks_keys_inside_free_text() -> None:
    key, secret = _fake_key(), _fake_key()
    texts = [
        f"GET https://api.binance.com/api/v3/account?timestamp=1&signature={secret} -> 401",
        f"headers={{'X-MBX-APIKEY': '{key}'}}",
        f"Authorization: Bearer sk-{secret[:32]}",
        f"POST https://api.telegram.org/bot123456789:{secret[:35]}/sendMessage failed",
        f"https://discord.com/api/webhooks/123456789012345678/{secret}",
        f"bad key {key} rejected",
    ]
    for text in texts:
        cleaned = redact_text(text)
        assert secret[:20] not in cleaned and key[:20] not in cleaned, cleaned
        assert redact_text(cleaned) == cleaned
    assert redact_text("BTCUSDT buy 0.001 @ 50000.01 cx-mom-BTCUSDT-1700000000000") == (
        "BTCUSDT buy 0.001 @ 50000.01 cx-mom-BTCUSDT-1700000000000")


def test_a_pem_private_key_in_free_text_is_masked_whole() -> None:
    from Crypto.PublicKey import ECC, RSA

    for pem in (ECC.generate(curve="ed25519").export_key(format="PEM"),
                RSA.generate(2048).export_key(format="PEM", pkcs=8).decode()):
        body = pem.strip().splitlines()[1:-1]
        for text in (f"could not load {pem} from the file", f"truncated: {pem[:120]}"):
            cleaned = redact_text(text)
            assert not any(line[:12] in cleaned for line in body if len(line) >= 12), cleaned
            assert cleaned.startswith(text.split("-----", 1)[0]) and redact_text(cleaned) == cleaned
    assert redact_text("-----BEGIN PUBLIC KEY----- is fine to show") == "-----BEGIN PUBLIC KEY----- is fine to show"


def test_planted_keys_never_reach_any_byte_of_the_journal(tmp_path: Path) -> None:
    api_key, api_secret, bot_token, deepseek = _fake_key(), _fake_key(), _fake_key(35), "sk-" + _fake_key(32)
    planted = [api_key, api_secret, bot_token, deepseek]
    path = tmp_path / "journal.db"
    with Journal(path) as journal:
        journal.record_error(1, "EXCHANGE_ERROR", f"401 for key {api_key} with signature={api_secret}", {
            "api_key": api_key,
            "request": {"url": f"https://api.binance.com/api/v3/order?signature={api_secret}",
                        "headers": {"X-MBX-APIKEY": api_key}},
            "telegram": f"https://api.telegram.org/bot987654321:{bot_token}/sendMessage",
            "notes": [f"DEEPSEEK_API_KEY={deepseek}", {"nested_secret": api_secret}],
        })
        journal.record_llm_call(2, "analyzer", "deepseek-chat", 100, 20, 900, False,
                                f"401 Unauthorized: Authorization: Bearer {deepseek}; key={api_key}")
        journal.record_llm_call(3, "scout", "gemma", None, None, 50, True, f"echoed {api_secret} back")
        errors, calls = journal.errors(), journal.llm_calls()
    visible = repr(errors) + repr(calls)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("journal.db"))
    for secret in planted:
        assert secret not in visible
        assert secret.encode() not in on_disk
        assert secret[5:-4].encode() not in on_disk
    assert errors[0]["details"]["api_key"] == mask_secret(api_key)


def test_long_unbroken_text_is_redacted_in_linear_time() -> None:
    """A backtracking pattern made 20 KB of unbroken text take a minute (quadratic); 200 KB would hang the
    engine's error path. Run in a child so a regression fails on a generous deadline instead of hanging."""
    script = (
        "from memory.redact import redact_text\n"
        "for unit in ('a', 'ab_', 'key', 'api_key: ', '1', 'sk-', 'Bearer ', '123456789:'):\n"
        "    redact_text(unit * (200_000 // len(unit)))\n"
        "print('done')\n"
    )
    finished = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True,
                              timeout=120, check=True)
    assert finished.stdout.strip() == "done"


@given(
    name=st.sampled_from(["api_key", "apiSecret", "X-MBX-APIKEY", "bot_token", "signature", "password"]),
    secret=st.text(alphabet=_ALNUM + "_-", min_size=20, max_size=80),
    separator=st.sampled_from(["=", ": ", '": "', "':'", " = "]),
)
def test_a_secret_under_its_name_never_survives_redaction(name: str, secret: str, separator: str) -> None:
    cleaned = redact({name: secret, "message": f"failed with {name}{separator}{secret} at step 3"})
    assert secret not in json.dumps(cleaned)
