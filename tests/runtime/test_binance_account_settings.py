"""Which Binance account `--mode testnet|live` uses: each mode its own key (an HMAC secret or an Ed25519 / RSA
private key file), refused by name when missing or unusable, never shown."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import ConfigError
from exchange.binance.config import BinanceVenue
from exchange.binance.keys import KeyKind
from runtime.run_mode import RunMode
from runtime.settings import binance_account, market_data_urls
from tests.fakes.binance_support import ed25519_key_pair, key_file, rsa_key_pair

LIVE = {"BINANCE_API_KEY": "livekey123", "BINANCE_API_SECRET": "livesecret456"}
REPO = Path(__file__).resolve().parents[2]
TESTNET = {"BINANCE_TESTNET_API_KEY": "testkey123", "BINANCE_TESTNET_API_SECRET": "testsecret456"}


def test_each_mode_takes_its_own_keys_and_venue_urls() -> None:
    live = binance_account(LIVE | TESTNET, RunMode.LIVE)
    testnet = binance_account(LIVE | TESTNET, RunMode.TESTNET)
    assert (live.api_key, live.rest_url) == ("livekey123", "https://api.binance.com")
    assert (testnet.api_key, testnet.rest_url) == ("testkey123", "https://testnet.binance.vision")
    assert "testnet" in testnet.ws_api_url


@pytest.mark.parametrize(("env", "mode", "missing"), [
    (LIVE, RunMode.TESTNET, "BINANCE_TESTNET_API_KEY"),  # live keys never stand in for testnet's
    (TESTNET, RunMode.LIVE, "BINANCE_API_KEY"),
    ({"BINANCE_API_KEY": "k"}, RunMode.LIVE, "BINANCE_API_SECRET"),
])
def test_a_missing_key_is_refused_by_name(env: dict[str, str], mode: RunMode, missing: str) -> None:
    with pytest.raises(ConfigError) as refused:
        binance_account(env, mode)
    assert refused.value.setting == missing


def test_a_malformed_key_is_refused_without_showing_it() -> None:
    with pytest.raises(ConfigError) as refused:
        binance_account({"BINANCE_API_KEY": "abc def", "BINANCE_API_SECRET": "s3cr3t"}, RunMode.LIVE)
    assert "abc def" not in str(refused.value) and refused.value.setting == "BINANCE_API_KEY"


def test_loopback_urls_override_the_venue_and_paper_modes_have_no_account() -> None:
    env = TESTNET | {"BINANCE_BASE_URL": "http://127.0.0.1:9001", "BINANCE_WS_API_URL": "ws://127.0.0.1:9002/ws-api/v3"}
    config = binance_account(env, RunMode.TESTNET)
    assert (config.rest_url, config.ws_api_url) == ("http://127.0.0.1:9001", "ws://127.0.0.1:9002/ws-api/v3")
    assert "testsecret456" not in repr(config)
    with pytest.raises(ConfigError):
        binance_account(TESTNET, RunMode.PAPER)
    assert BinanceVenue.TESTNET.value == "testnet"


def test_reading_the_settings_does_not_load_the_binance_sdk() -> None:
    """Every command reads the settings (a backtest too): the SDK's clients (and aiohttp) load only when an
    adapter or a REST configuration is built, and the package's names still resolve when asked for."""
    code = ("import sys, runtime.settings, runtime.backtest; "
            "print(sorted(m for m in ('binance_sdk_spot', 'aiohttp', 'exchange.binance.adapter') "
            "if m in sys.modules)); "
            "from exchange.binance import BinanceExchange, UserStream; print(BinanceExchange.__module__)")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "exchange.binance.adapter"]


def test_an_unknown_name_of_the_binance_package_is_an_attribute_error() -> None:
    import exchange.binance

    with pytest.raises(AttributeError, match="NoSuchThing"):
        exchange.binance.NoSuchThing  # noqa: B018


@pytest.mark.parametrize(("mode", "rest", "stream"), [
    (RunMode.TESTNET, "https://testnet.binance.vision", "wss://stream.testnet.binance.vision"),  # testnet's own prices
    (RunMode.LIVE, "https://api.binance.com", "wss://stream.binance.com:9443"),
    (RunMode.PAPER, "https://api.binance.com", "wss://stream.binance.com:9443"),
])
def test_market_data_comes_from_the_venues_own_urls(mode: RunMode, rest: str, stream: str) -> None:
    assert market_data_urls({}, mode) == (rest, stream)
    loopback = {"BINANCE_BASE_URL": "http://127.0.0.1:9/", "BINANCE_STREAM_URL": "ws://127.0.0.1:9"}
    assert market_data_urls(loopback, mode) == ("http://127.0.0.1:9", "ws://127.0.0.1:9")


def test_a_market_data_url_of_the_wrong_kind_is_refused_by_name() -> None:
    with pytest.raises(ConfigError) as refused:
        market_data_urls({"BINANCE_STREAM_URL": "https://stream.example"}, RunMode.TESTNET)
    assert refused.value.details["setting"] == "BINANCE_STREAM_URL"


# ----- private key files (Ed25519 / RSA) ----------------------------------------------------------------------


def _ed25519_pem(passphrase: str | None = None) -> str:
    from Crypto.PublicKey import ECC

    key = ECC.generate(curve="ed25519")
    if passphrase is None:
        return key.export_key(format="PEM")
    return key.export_key(format="PEM", passphrase=passphrase, protection="PBKDF2WithHMAC-SHA512AndAES256-CBC")


def test_an_ed25519_key_file_signs_for_its_mode_and_never_shows(tmp_path: Path) -> None:
    pem = ed25519_key_pair()[0]
    path = key_file(tmp_path, pem)
    live = binance_account({"BINANCE_API_KEY": "livekey123", "BINANCE_PRIVATE_KEY_FILE": str(path)}, RunMode.LIVE)
    assert (live.key_kind, live.private_key, live.api_secret) == (KeyKind.ED25519, pem, "")
    assert pem not in repr(live) and "PRIVATE" not in repr(live)
    testnet = binance_account({"BINANCE_TESTNET_API_KEY": "t", "BINANCE_TESTNET_PRIVATE_KEY_FILE": str(path),
                               "BINANCE_PRIVATE_KEY_FILE": "/nowhere"}, RunMode.TESTNET)
    assert testnet.key_kind is KeyKind.ED25519  # each mode reads its own variable only


def test_an_rsa_key_file_and_an_encrypted_one_with_its_passphrase_are_taken(tmp_path: Path) -> None:
    rsa = key_file(tmp_path, rsa_key_pair()[0], name="rsa.pem")
    assert binance_account({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(rsa)},
                           RunMode.LIVE).key_kind is KeyKind.RSA
    encrypted = key_file(tmp_path, _ed25519_pem("correct horse"), name="enc.pem")
    config = binance_account({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(encrypted),
                              "BINANCE_PRIVATE_KEY_PASSPHRASE": "correct horse"}, RunMode.LIVE)
    assert (config.key_kind, config.private_key_passphrase) == (KeyKind.ED25519, "correct horse")
    assert "correct horse" not in repr(config)


def _refusal(env: dict[str, str], mode: RunMode = RunMode.LIVE) -> ConfigError:
    with pytest.raises(ConfigError) as refused:
        binance_account(env, mode)
    return refused.value


def test_a_secret_and_a_key_file_together_are_refused_by_name(tmp_path: Path) -> None:
    path = key_file(tmp_path, ed25519_key_pair()[0])
    refused = _refusal(LIVE | {"BINANCE_PRIVATE_KEY_FILE": str(path)})
    assert refused.setting == "BINANCE_PRIVATE_KEY_FILE" and "BINANCE_API_SECRET" in refused.message
    assert "livesecret456" not in refused.message


@pytest.mark.parametrize(("content", "mode", "why"), [
    (None, 0o600, "cannot be read"),  # no such file
    ("DIR", 0o700, "not a regular file"),
    ("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n", 0o600, "not a PEM private key"),
    ("just some text", 0o600, "not a PEM private key"),
    ("P256", 0o600, "Ed25519 or RSA"),
    ("ED25519", 0o644, "chmod 600"),  # readable by others: refused as ssh refuses an identity
    ("ED25519", 0o640, "chmod 600"),
    ("ENCRYPTED", 0o600, "BINANCE_PRIVATE_KEY_PASSPHRASE"),  # encrypted, no passphrase
])
def test_an_unusable_key_file_is_refused_naming_the_setting_without_showing_the_key(
        tmp_path: Path, content: str | None, mode: int, why: str) -> None:
    from Crypto.PublicKey import ECC

    pem = {"P256": ECC.generate(curve="p256").export_key(format="PEM"), "ED25519": ed25519_key_pair()[0],
           "ENCRYPTED": _ed25519_pem("pw")}.get(content or "", content)
    path = tmp_path / "key.pem"
    if content == "DIR":
        path.mkdir()
    elif pem is not None:
        key_file(tmp_path, pem, mode=mode, name="key.pem")
    refused = _refusal({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(path)})
    assert refused.setting == "BINANCE_PRIVATE_KEY_FILE" and why in refused.message, refused.message
    if pem is not None and content != "DIR":
        assert pem.strip().splitlines()[-2 if "\n" in pem.strip() else 0] not in refused.message


def test_a_wrong_passphrase_and_a_passphrase_without_a_file_are_refused(tmp_path: Path) -> None:
    path = key_file(tmp_path, _ed25519_pem("right"))
    wrong = _refusal({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": str(path),
                      "BINANCE_PRIVATE_KEY_PASSPHRASE": "wrong-passphrase"})
    assert wrong.setting == "BINANCE_PRIVATE_KEY_FILE" and "could not be decrypted" in wrong.message
    assert "wrong-passphrase" not in wrong.message
    alone = _refusal(LIVE | {"BINANCE_PRIVATE_KEY_PASSPHRASE": "orphan-passphrase"})
    assert alone.setting == "BINANCE_PRIVATE_KEY_PASSPHRASE" and "orphan-passphrase" not in alone.message


def test_a_key_pasted_into_the_file_variable_is_refused_without_showing_it() -> None:
    pem = ed25519_key_pair()[0]
    refused = _refusal({"BINANCE_API_KEY": "k", "BINANCE_PRIVATE_KEY_FILE": pem})
    assert refused.setting == "BINANCE_PRIVATE_KEY_FILE" and pem.splitlines()[1] not in str(refused.details)


def test_neither_a_secret_nor_a_key_file_names_both_ways() -> None:
    refused = _refusal({"BINANCE_TESTNET_API_KEY": "t"}, RunMode.TESTNET)
    assert refused.setting == "BINANCE_TESTNET_API_SECRET" and "BINANCE_TESTNET_PRIVATE_KEY_FILE" in refused.message
