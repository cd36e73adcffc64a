"""`executor.py doctor` against loopback servers the test starts (Binance REST and WebSocket API, Telegram, a
Discord webhook, DeepSeek and LM Studio), run as a subprocess from another folder as a person would: all green
when everything is healthy, a failing check and exit 1 for each fault, and never a planted secret in either
output format, nor an order, a chat message or a webhook post."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.binance import FakeBinance
from tests.fakes.binance_support import RULES, SYMBOL, ed25519_key_pair, key_file
from tests.fakes.openai_compat import FakeOpenAI, Mode
from tests.fakes.telegram import FakeTelegram
from tests.reports.loopback import Answer, LoopbackServer
from tests.tools.test_cli_support import EXECUTOR, FAKE_SECRETS, closed_loopback_url

BINANCE_KEY, BINANCE_SECRET = FAKE_SECRETS["BINANCE_API_KEY"], FAKE_SECRETS["BINANCE_API_SECRET"]
DEEPSEEK_KEY = FAKE_SECRETS["DEEPSEEK_API_KEY"]
TELEGRAM_TOKEN = FAKE_SECRETS["TELEGRAM_BOT_TOKEN"]
DISCORD_TOKEN = "Zx9-webhookTokenForDoctorTests_0123456789abcdefghij"
PLANTED = (BINANCE_KEY, BINANCE_SECRET, DEEPSEEK_KEY, TELEGRAM_TOKEN, DISCORD_TOKEN)
SCOUT = "qwen2.5-3b-instruct"
_PREFIXES = ("BINANCE_", "TELEGRAM_", "DISCORD_", "DEEPSEEK_", "LMSTUDIO_", "SCOUT_", "SCAN_", "EXECUTOR_", "ALERTS")


@dataclass
class World:
    binance: FakeBinance
    telegram: FakeTelegram
    discord: LoopbackServer
    deepseek: FakeOpenAI
    lmstudio: FakeOpenAI
    env: dict[str, str]


@pytest.fixture
def world() -> Iterator[World]:
    binance = FakeBinance({SYMBOL: RULES}, {"USDT": Decimal(1000)}, api_key=BINANCE_KEY, api_secret=BINANCE_SECRET)
    telegram = FakeTelegram(TELEGRAM_TOKEN)
    discord = LoopbackServer([Answer(200, {"id": "42", "type": 1, "name": "executor alerts", "channel_id": "7",
                                           "token": DISCORD_TOKEN})])
    deepseek = FakeOpenAI(Mode.DEEPSEEK, api_key=DEEPSEEK_KEY, models={"deepseek-flash": True})
    lmstudio = FakeOpenAI(Mode.LMSTUDIO, models={SCOUT: True})
    with binance, telegram.running(), discord.running(), deepseek, lmstudio:
        env = {"BINANCE_API_KEY": BINANCE_KEY, "BINANCE_API_SECRET": BINANCE_SECRET,
               "BINANCE_BASE_URL": binance.rest_url, "BINANCE_WS_API_URL": binance.ws_api_url,
               "SCAN_SYMBOLS": SYMBOL, "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN, "TELEGRAM_CHAT_ID": "12345",
               "TELEGRAM_API_BASE": telegram.base_url,
               "DISCORD_WEBHOOK_EXECUTION": f"{discord.base_url}/api/webhooks/42/{DISCORD_TOKEN}",
               "DEEPSEEK_API_KEY": DEEPSEEK_KEY, "DEEPSEEK_BASE_URL": deepseek.base_url,
               "DEEPSEEK_MODEL": "deepseek-flash", "LMSTUDIO_BASE_URL": lmstudio.base_url, "SCOUT_MODELS": SCOUT}
        yield World(binance, telegram, discord, deepseek, lmstudio, env)


def doctor(tmp_path: Path, env: dict[str, str], *args: str, fmt: str = "json") -> tuple[int, str]:
    """`executor.py doctor ARGS --format FMT` from a folder that is not the project's; no planted secret may show."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    base = {k: v for k, v in os.environ.items() if not k.startswith(_PREFIXES)}
    done = subprocess.run([sys.executable, str(EXECUTOR), "doctor", *args, "--format", fmt], cwd=elsewhere,
                          env={**base, "EXECUTOR_HOME": str(tmp_path / "home"), **env}, capture_output=True,
                          text=True, timeout=120, check=False)
    for secret in PLANTED:
        assert secret not in done.stdout and secret not in done.stderr, "a planted secret was printed"
    return done.returncode, done.stdout


def checks_of(stdout: str) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    document = json.loads(stdout)
    checks = document["data"]["checks"] if document["ok"] else document["error"]["details"]["checks"]
    return document, {c["id"]: c for c in checks}


def test_all_green_against_healthy_services_and_nothing_is_sent(world: World, tmp_path: Path) -> None:
    code, stdout = doctor(tmp_path, world.env, "--mode", "live")
    document, checks = checks_of(stdout)
    assert code == 0 and document["ok"], stdout
    assert {c["status"] for c in checks.values()} == {"ok", "skipped"}
    assert [c for c, v in checks.items() if v["status"] == "skipped"] == ["notify.discord_research"]
    assert checks["binance.key_permissions"]["details"]["api_key"] == f"{BINANCE_KEY[:5]}…{BINANCE_KEY[-4:]}"
    assert checks["llm.lmstudio"]["details"]["trained_for_tool_use"] == {SCOUT: True}
    # Read-only: no order on the account, no chat message, no webhook post, no completion.
    assert world.binance.venue.orders_placed == 0
    assert [c.method for c in world.telegram.calls] == ["getMe"]
    assert [r.method for r in world.discord.received] == ["GET"]
    assert world.deepseek.completions() == [] and world.lmstudio.completions() == []
    code, text = doctor(tmp_path, world.env, "--mode", "live", fmt="text")
    assert code == 0 and text.startswith("doctor: ok")
    assert "[ok] binance.clock" in text and "[ok] notify.telegram" in text


def test_paper_without_mode_needs_no_key(world: World, tmp_path: Path) -> None:
    env = {k: v for k, v in world.env.items() if not k.startswith("BINANCE_API")}
    code, stdout = doctor(tmp_path, env)
    document, checks = checks_of(stdout)
    assert code == 0 and document["data"]["mode"] == "paper"
    assert checks["binance.key_permissions"]["status"] == checks["binance.user_data"]["status"] == "skipped"


def test_withdrawal_enabled_keys_block_trading(world: World, tmp_path: Path) -> None:
    world.binance.set_api_restrictions(enable_withdrawals=True)
    for fmt in ("json", "text"):
        code, stdout = doctor(tmp_path, world.env, "--mode", "live", fmt=fmt)
        assert code == 1
        if fmt == "json":
            document, checks = checks_of(stdout)
            assert document["error"]["code"] == "DOCTOR_BLOCKING"
            assert document["error"]["details"]["blocking"] == ["binance.key_permissions"]
            assert "Enable Withdrawals" in checks["binance.key_permissions"]["message"]
        else:
            assert stdout.startswith("doctor failed: DOCTOR_BLOCKING") and "binance.key_permissions" in stdout


def test_a_skewed_clock_blocks_trading(world: World, tmp_path: Path) -> None:
    # Binance's clock 2 s ahead of ours: inside recvWindow (signed requests still pass), past doctor's limit.
    world.binance.set_clock_offset(2_000)
    code, stdout = doctor(tmp_path, world.env, "--mode", "live")
    document, checks = checks_of(stdout)
    assert code == 1 and document["error"]["details"]["blocking"] == ["binance.clock"]
    assert checks["binance.clock"]["details"]["skew_ms"] >= 1_500 and "clock" in checks["binance.clock"]["message"]


def test_an_unreachable_binance_blocks_trading(world: World, tmp_path: Path) -> None:
    env = world.env | {"BINANCE_BASE_URL": closed_loopback_url(), "BINANCE_WS_API_URL": "ws://127.0.0.1:9/ws-api/v3"}
    code, stdout = doctor(tmp_path, env, "--mode", "live")
    _, checks = checks_of(stdout)
    assert code == 1
    assert checks["binance.connectivity"]["status"] == "fail" and checks["binance.clock"]["status"] == "skipped"
    assert checks["binance.key_permissions"]["status"] == checks["binance.user_data"]["status"] == "fail"


def test_a_symbol_that_is_not_trading_blocks_trading(tmp_path: Path, world: World) -> None:
    halted = RULES.model_copy(update={"symbol": "ETHUSDT", "status": "BREAK", "base_asset": "ETH"})
    with FakeBinance({SYMBOL: RULES, "ETHUSDT": halted}, {}, api_key=BINANCE_KEY, api_secret=BINANCE_SECRET) as other:
        env = world.env | {"BINANCE_BASE_URL": other.rest_url, "BINANCE_WS_API_URL": other.ws_api_url}
        code, stdout = doctor(tmp_path, env, "--mode", "live", "--symbols", "BTCUSDT,ETHUSDT")
    document, checks = checks_of(stdout)
    assert code == 1 and document["error"]["details"]["blocking"] == ["binance.symbols"]
    assert "ETHUSDT is not trading (status BREAK)" in checks["binance.symbols"]["message"]


def test_a_401_from_deepseek_blocks_trading(world: World, tmp_path: Path) -> None:
    code, stdout = doctor(tmp_path, world.env | {"DEEPSEEK_API_KEY": "sk-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"})
    document, checks = checks_of(stdout)
    assert code == 1 and document["error"]["details"]["blocking"] == ["llm.deepseek"]
    assert "401" in checks["llm.deepseek"]["message"] and "DEEPSEEK_API_KEY" in checks["llm.deepseek"]["message"]


def test_missing_live_keys_and_a_missing_scout_model_are_named(world: World, tmp_path: Path) -> None:
    env = {k: v for k, v in world.env.items() if not k.startswith("BINANCE_API")} | {"SCOUT_MODELS": "gemma-2-2b"}
    code, stdout = doctor(tmp_path, env, "--mode", "live")
    _, checks = checks_of(stdout)
    assert code == 1
    assert "BINANCE_API_KEY" in checks["binance.key_permissions"]["message"]
    assert checks["llm.lmstudio"]["status"] == "fail" and "gemma-2-2b" in checks["llm.lmstudio"]["message"]


def test_no_check_puts_a_secret_in_its_answer_even_before_the_masking(world: World) -> None:
    """The handler masks every credential of the environment as a last line; the checks must not need it."""
    from runtime.doctor.binance import binance_checks
    from runtime.doctor.services import llm_checks, notifier_checks
    from runtime.run_mode import RunMode

    world.binance.set_api_restrictions(enable_withdrawals=True)  # failing messages too
    env = world.env | {"DISCORD_WEBHOOK_RESEARCH": f"{closed_loopback_url()}/api/webhooks/1/{DISCORD_TOKEN}"}
    checks = [*binance_checks(RunMode.LIVE, env, [SYMBOL]), *notifier_checks(env), *llm_checks(env),
              *llm_checks(env | {"DEEPSEEK_API_KEY": DEEPSEEK_KEY[:-1] + "0"})]
    shown = json.dumps([c.to_dict() for c in checks])
    assert {c.status.value for c in checks} >= {"ok", "fail"}
    for secret in (*PLANTED, DEEPSEEK_KEY[:-1] + "0"):
        assert secret not in shown


def test_testnet_checks_its_own_keys_and_a_running_executor_is_a_warning(world: World, tmp_path: Path) -> None:
    from runtime.home import Home
    from runtime.lock import SingleWriterLock

    env = {k: v for k, v in world.env.items() if not k.startswith("BINANCE_API")}
    env |= {"BINANCE_TESTNET_API_KEY": BINANCE_KEY, "BINANCE_TESTNET_API_SECRET": BINANCE_SECRET}
    home = Home.resolve(tmp_path / "home").ensure()
    with SingleWriterLock(home.lock):  # an executor trading this home
        code, stdout = doctor(tmp_path, env, "--mode", "testnet")
    document, checks = checks_of(stdout)
    assert code == 0 and document["data"]["warnings"] == 1, stdout
    assert checks["lock"]["status"] == "warn" and str(os.getpid()) in checks["lock"]["message"]
    assert checks["binance.key_permissions"]["status"] == "ok" and "testnet" in checks["binance.key_permissions"][
        "message"]
    assert checks["binance.user_data"]["status"] == "ok"


def test_the_user_data_check_signs_at_the_servers_clock_as_run_does(world: World, tmp_path: Path) -> None:
    """Binance's clock 30 s ahead of ours, far past recvWindow: the clock check fails (the executor's data times
    would be wrong), but the subscription, signed at the synced server time as `run` signs it, still works, so
    doctor does not report a user-data failure that `run` would not have."""
    world.binance.set_clock_offset(30_000)
    env = {k: v for k, v in world.env.items() if not k.startswith("BINANCE_API")}
    env |= {"BINANCE_TESTNET_API_KEY": BINANCE_KEY, "BINANCE_TESTNET_API_SECRET": BINANCE_SECRET}
    code, stdout = doctor(tmp_path, env, "--mode", "testnet")
    document, checks = checks_of(stdout)
    assert code == 1 and document["error"]["details"]["blocking"] == ["binance.clock"], stdout
    assert checks["binance.user_data"]["status"] == "ok", checks["binance.user_data"]


def test_an_ed25519_key_passes_the_account_checks_and_never_shows(world: World, tmp_path: Path) -> None:
    """The key's permissions read with an Ed25519 signature, the user-data check through session.logon and
    userDataStream.subscribe; neither the API key nor the private key appears in either output format."""
    private, public = ed25519_key_pair()
    path = key_file(tmp_path, private)
    body = private.strip().splitlines()[1]
    with FakeBinance({SYMBOL: RULES}, {"USDT": Decimal(1000)}, api_key=BINANCE_KEY, public_key=public) as ed25519:
        env = {k: v for k, v in world.env.items() if k != "BINANCE_API_SECRET"} | {
            "BINANCE_PRIVATE_KEY_FILE": str(path), "BINANCE_BASE_URL": ed25519.rest_url,
            "BINANCE_WS_API_URL": ed25519.ws_api_url}
        for fmt in ("json", "text"):
            code, stdout = doctor(tmp_path, env, "--mode", "live", fmt=fmt)
            assert code == 0, stdout
            assert body not in stdout
        _, checks = checks_of(doctor(tmp_path, env, "--mode", "live")[1])
        assert checks["binance.key_permissions"]["status"] == checks["binance.user_data"]["status"] == "ok"
        assert ed25519.session_logons == 3 and ed25519.venue.orders_placed == 0
