"""`run --mode live|testnet` refusals (issue 12, Security), against the loopback Binance: the real SDK signs
`GET /sapi/v1/account/apiRestrictions` over a socket, and each refusal comes before the home is touched."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from exchange.binance.keys import KeyKind
from runtime.live_preflight import LiveRefused, PreflightCode, preflight
from runtime.run_mode import RunMode
from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL, ed25519_key_pair, fake, key_file
from tests.runtime.helpers import run_cli
from tools.registry import agent_specs

__all__ = ["fake"]  # the fixture, imported for pytest


def live_env(fake: FakeBinance, **extra: str) -> dict[str, str]:
    return {"BINANCE_API_KEY": KEY, "BINANCE_API_SECRET": SECRET, "BINANCE_BASE_URL": fake.rest_url,
            "BINANCE_WS_API_URL": fake.ws_api_url, **extra}


def refused(home: Path, *args: str, exit_code: int = 1, **env: str) -> dict[str, object]:
    code, envelope, stderr = run_cli(home, "run", *args, "--no-view", **env)
    assert code == exit_code and not envelope["ok"], envelope
    assert KEY not in stderr + str(envelope) and SECRET not in stderr + str(envelope)
    assert not home.exists(), "a refused start must not create or touch the home"
    error = envelope["error"]
    assert isinstance(error, dict)
    return error


def test_live_without_confirm_live_is_refused_and_the_environment_cannot_confirm(fake: FakeBinance,
                                                                                  tmp_path: Path) -> None:
    home = tmp_path / "home"
    error = refused(home, "--mode", "live", **live_env(fake))
    assert error["code"] == "LIVE_NOT_CONFIRMED" and "--confirm-live" in str(error["message"])
    # EXECUTOR_MODE=live with a would-be confirmation variable: still refused, and the variable is named.
    error = refused(home, **live_env(fake, EXECUTOR_MODE="live", EXECUTOR_CONFIRM_LIVE="1"))
    assert error["code"] == "LIVE_NOT_CONFIRMED" and "EXECUTOR_CONFIRM_LIVE" in str(error["message"])


def test_live_without_keys_is_refused_naming_the_variables(tmp_path: Path) -> None:
    error = refused(tmp_path / "home", "--mode", "live", "--confirm-live", exit_code=2)
    assert error["code"] == "INVALID_CONFIG" and error["details"] == {
        "setting": "BINANCE_API_KEY", "value": "", "reason": error["details"]["reason"]}  # type: ignore[index]
    assert "BINANCE_API_KEY" in str(error["message"]) and "BINANCE_API_SECRET" in str(error["message"])


def test_live_with_a_key_that_can_withdraw_is_refused_and_says_how_to_fix_it(fake: FakeBinance,
                                                                            tmp_path: Path) -> None:
    fake.set_api_restrictions(enable_withdrawals=True)
    error = refused(tmp_path / "home", "--mode", "live", "--confirm-live", **live_env(fake))
    assert error["code"] == "KEY_CAN_WITHDRAW"
    assert "Enable Withdrawals" in str(error["message"]) and "API Management" in str(error["message"])


def test_live_with_a_key_that_cannot_trade_spot_is_refused(fake: FakeBinance, tmp_path: Path) -> None:
    fake.set_api_restrictions(enable_spot_and_margin_trading=False)
    error = refused(tmp_path / "home", "--mode", "live", "--confirm-live", **live_env(fake))
    assert error["code"] == "KEY_CANNOT_TRADE_SPOT" and "Enable Spot & Margin Trading" in str(error["message"])


def test_a_key_binance_refuses_is_refused_without_showing_it(fake: FakeBinance) -> None:
    env = live_env(fake) | {"BINANCE_API_SECRET": "a-wrong-secret-0123456789"}
    with pytest.raises(LiveRefused) as refusal:
        preflight(RunMode.LIVE, env, confirmed_on_command_line=True)
    assert refusal.value.refusal is PreflightCode.KEY_REFUSED and refusal.value.details["binance_code"] == -1022
    assert "a-wrong-secret" not in str(refusal.value.to_dict())


def test_unreadable_permissions_are_unsafe(fake: FakeBinance) -> None:
    env = live_env(fake)
    fake.stop()  # Binance unreachable: the permissions are unknown, so live is refused
    with pytest.raises(LiveRefused) as refusal:
        preflight(RunMode.LIVE, env, confirmed_on_command_line=True)
    assert refusal.value.refusal is PreflightCode.KEY_PERMISSIONS_UNKNOWN
    fake.start()  # the fixture stops it again


def test_a_healthy_confirmed_live_key_passes_and_reads_the_permissions(fake: FakeBinance) -> None:
    config = preflight(RunMode.LIVE, live_env(fake), confirmed_on_command_line=True)
    assert config is not None and config.rest_url == fake.rest_url and config.api_key == KEY


def test_testnet_needs_its_own_keys_and_no_confirmation(fake: FakeBinance, tmp_path: Path) -> None:
    error = refused(tmp_path / "home", "--mode", "testnet", exit_code=2, **live_env(fake))  # never the live pair
    assert error["code"] == "INVALID_CONFIG" and "BINANCE_TESTNET_API_KEY" in str(error["message"])
    env = {"BINANCE_TESTNET_API_KEY": KEY, "BINANCE_TESTNET_API_SECRET": SECRET, "BINANCE_BASE_URL": fake.rest_url}
    config = preflight(RunMode.TESTNET, env, confirmed_on_command_line=False)
    assert config is not None and config.api_key == KEY


def test_confirm_live_is_refused_outside_live_and_is_no_tool_argument(tmp_path: Path) -> None:
    code, envelope, _ = run_cli(tmp_path / "home", "run", "--mode", "paper", "--confirm-live", "--no-view")
    assert code == 2 and envelope["error"]["code"] == "INVALID_ARGUMENT"
    assert preflight(RunMode.PAPER, {}, confirmed_on_command_line=False) is None
    # No agent-facing tool (MCP, OpenAI tools, chat) can start `run` or carry a live confirmation.
    for spec in agent_specs():
        assert spec.name != "run"
        assert "confirm_live" not in str(spec.input_model.model_json_schema())


def _ed25519_env(fake: FakeBinance, path: Path) -> dict[str, str]:
    return {"BINANCE_API_KEY": KEY, "BINANCE_PRIVATE_KEY_FILE": str(path), "BINANCE_BASE_URL": fake.rest_url,
            "BINANCE_WS_API_URL": fake.ws_api_url}


def test_an_ed25519_key_is_judged_as_an_hmac_key_and_never_shown(tmp_path: Path) -> None:
    """The permissions are read with the Ed25519 signature; a key that can withdraw is refused, a key file others can
    read is refused before anything is sent, a key Binance does not know is refused: the key never shows."""
    private, public = ed25519_key_pair()
    body = private.strip().splitlines()[1]
    with FakeBinance({SYMBOL: RULES}, {"USDT": Decimal(1000)}, api_key=KEY, public_key=public) as ed25519:
        path = key_file(tmp_path, private)
        config = preflight(RunMode.LIVE, _ed25519_env(ed25519, path), confirmed_on_command_line=True)
        assert config is not None and config.key_kind is KeyKind.ED25519
        ed25519.set_api_restrictions(enable_withdrawals=True)
        error = refused(tmp_path / "home", "--mode", "live", "--confirm-live", **_ed25519_env(ed25519, path))
        assert error["code"] == "KEY_CAN_WITHDRAW" and body not in str(error)
        path.chmod(0o644)
        error = refused(tmp_path / "home", "--mode", "live", "--confirm-live", exit_code=2,
                        **_ed25519_env(ed25519, path))
        assert error["code"] == "INVALID_CONFIG"
        assert error["details"]["setting"] == "BINANCE_PRIVATE_KEY_FILE"  # type: ignore[index]
        assert "chmod 600" in str(error["message"]) and body not in str(error)
        stranger = key_file(tmp_path, ed25519_key_pair(1)[0], name="stranger.pem")
        with pytest.raises(LiveRefused) as refusal:
            preflight(RunMode.LIVE, _ed25519_env(ed25519, stranger), confirmed_on_command_line=True)
        assert refusal.value.refusal is PreflightCode.KEY_REFUSED and refusal.value.details["binance_code"] == -1022
