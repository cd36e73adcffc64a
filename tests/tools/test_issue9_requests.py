"""Issue 9, "Requests that mean what they say" and "Clean errors everywhere": items 7, 9, 10, 11 and 12.

CLI cases run `executor.py` as a subprocess from `/` (an agent's exec tool runs it from its own workspace)
on a fresh copy of a replayed home; the rest call the tools and the command path in-process.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.errors import ExecutorError
from memory.journal import Journal
from memory.redact import MaskedStream, SecretMask, mask_secret
from runtime import commands
from runtime.commands import CommandKind, EmptyPayload, submit
from runtime.home import Home
from runtime.lock import SingleWriterLock
from tests.runtime.helpers import replace_checkpoint
from tests.tools.test_cli_support import EXECUTOR, closed_loopback_url, executor_env
from tests.tools.test_trade_support import REPLAY, checkpoint, context, operator_orders
from tools.control import KillInput, handle_kill
from tools.trade import TradeInput, automatic_request_id, handle

T0 = 1_800_000_000_000


def cli(home: Path, *args: str, **env: str) -> tuple[int, dict[str, Any], str]:
    """`python executor.py ARGS --home HOME` from `/`: exit code, the one envelope on stdout, stderr."""
    done = subprocess.run([sys.executable, str(EXECUTOR), *args, "--home", str(home)], cwd="/",
                          env=executor_env(home, **env), capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, (done.stdout, done.stderr[-2000:])
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.returncode, json.loads(lines[0]), done.stderr


def _buy(symbol: str = "BTCUSDT", **extra: Any) -> TradeInput:
    return TradeInput(symbol=symbol, side="buy", quote=Decimal("11"), **extra)


# ----- item 7: an idempotency key answers exactly one request ----------------------------------------------


def test_item7_request_id_bound_to_parameters(home: Path) -> None:
    code, first, _ = cli(home, "trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "11", "--request-id", "ABC")
    assert code == 0 and first["data"]["status"] == "executed" and first["data"]["replayed"] is False
    orders = len(operator_orders(home))

    code, other, _ = cli(home, "trade", "--symbol", "ETHUSDT", "--side", "sell", "--request-id", "ABC")
    assert code == 2, other
    assert other["error"]["code"] == "REQUEST_ID_CONFLICT"
    assert other["error"]["details"]["request_id"] == "ABC"
    assert len(operator_orders(home)) == orders, "a conflicting request executes nothing"

    code, again, _ = cli(home, "trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "11.0",
                         "--request-id", "ABC")
    assert code == 0 and again["data"]["replayed"] is True and again["data"]["executed_by"] == "stored answer"
    assert again["data"]["message"].startswith("replay of request ABC")
    assert again["data"]["orders"] == first["data"]["orders"]


def test_item7_automatic_key_never_answers_a_new_request_with_an_old_result(home: Path) -> None:
    ctx = context(home, now_ms=lambda: T0)  # all within one minute
    bought = handle(_buy(), ctx)
    assert bought.status == "executed" and bought.protection is not None and not bought.replayed
    sold = handle(TradeInput(symbol="BTCUSDT", side="sell"), ctx)
    assert sold.status == "executed" and not sold.replayed

    again = handle(_buy(), ctx)
    assert not again.replayed and again.executed_by == "this process"
    assert again.request_id != bought.request_id
    buys = [o for o in operator_orders(home) if o[2] == "BUY" and o[3] == "MARKET"]
    assert len(buys) == 2, "the second buy is a new request, executed as one"
    assert "BTCUSDT" in checkpoint(home)["engine"]["holdings"], "the answer matches the position it claims"


def test_item7_an_immediate_retry_is_a_replay_that_says_so(home: Path) -> None:
    ctx = context(home, now_ms=lambda: T0)
    first = handle(_buy(), ctx)
    again = handle(_buy(), ctx)
    assert again.request_id == first.request_id and again.replayed and again.executed_by == "stored answer"
    assert len(operator_orders(home)) == 1, "one entry order: the retry placed nothing"


def test_item7_a_retry_of_a_request_still_unanswered_waits_for_it(home: Path) -> None:
    """A retry after a timeout (the first attempt queued, not answered yet) must become that same command."""
    ctx = context(home, now_ms=lambda: T0)
    payload = {"symbol": "BTCUSDT", "side": "buy", "quote": "11", "tp": "1.5", "sl": "0.8"}
    with Journal(Home.resolve(home).journal) as journal:
        key = automatic_request_id(ctx, payload, T0)
        journal.enqueue_command(CommandKind.TRADE, {**payload, "expires_ms": T0 + 1}, key, T0)
        journal.claim_commands()
    assert automatic_request_id(ctx, payload, T0 + 10 * 60_000) == key
    assert automatic_request_id(ctx, {**payload, "quote": "12"}, T0) != key


def test_item7_a_confirmed_trade_retried_with_its_code_is_a_replay(home: Path) -> None:
    always = {"TRADE_CONFIRMATION": "always"}
    ctx = context(home, always, now_ms=lambda: T0)
    preview = handle(_buy(), ctx)
    assert preview.confirmation is not None
    first = handle(_buy(confirm=preview.confirmation.code), ctx)
    again = handle(_buy(confirm=preview.confirmation.code), ctx)
    assert first.status == "executed" and not first.replayed
    assert again.replayed and again.orders == first.orders


# ----- item 9: the command dispatch refuses what it does not know ------------------------------------------


def test_item9_unknown_command_kind_is_refused_and_the_kill_switch_stays(home: Path, monkeypatch) -> None:
    ctx = context(home, now_ms=lambda: T0)
    assert handle_kill(KillInput(), ctx).kill_switch
    monkeypatch.setitem(commands.PAYLOADS, "reset_everything", EmptyPayload)
    with pytest.raises(ExecutorError) as raised:
        submit(ctx.home, ctx.config, "reset_everything", {}, "unknown-1", ctx.now_ms)
    assert raised.value.code == "UNKNOWN_COMMAND"
    assert raised.value.details["kind"] == "reset_everything"
    assert checkpoint(home)["engine"]["controls"]["killed"] is True


# ----- item 10: every bad input and broken home file is an envelope that names it --------------------------


@pytest.mark.parametrize(("args", "option"), [
    (("backtest", "--synthetic", "--balance", "1e309"), "--balance"),
    (("backtest", "--synthetic", "--seed", "-1"), "--seed"),
    (("backtest", "--synthetic", "--steps", "-5"), "--steps"),
    (("run", "--synthetic", "--balance", "1e309"), "--balance"),
    (("run", "--synthetic", "--speed", "nan"), "--speed"),
    (("run", "--synthetic", "--checkpoint-every", "0"), "--checkpoint-every"),
])
def test_item10_bad_numbers_are_envelopes_naming_the_option(tmp_path: Path, args: tuple[str, ...],
                                                              option: str) -> None:
    code, document, _ = cli(tmp_path / "home", *args, "--format", "json")
    assert code == 2 and document["error"]["code"] == "INVALID_ARGUMENT", document
    assert document["error"]["details"]["option"] == option


def test_item10_a_checkpoint_without_its_paper_state_is_named(home: Path) -> None:
    saved = checkpoint(home)
    del saved["paper"]
    saved["finished"] = False
    replace_checkpoint(home, saved)
    code, document, _ = cli(home, *REPLAY, "--format", "json")
    assert code == 1 and document["error"]["code"] == "STATE_UNREADABLE", document
    assert document["error"]["details"]["file"] == str(home / "journal.db")
    assert "paper" in document["error"]["message"]


def test_item10_a_lock_file_that_is_a_directory_is_named(home: Path) -> None:
    (home / "executor.lock").unlink(missing_ok=True)
    (home / "executor.lock").mkdir()
    for args in (("status",), ("kill",), ("trade", "--symbol", "BTCUSDT", "--side", "sell"), REPLAY):
        code, document, _ = cli(home, *args, "--format", "json")
        assert code == 1 and document["error"]["code"] == "LOCK_UNUSABLE", (args, document)
        assert document["error"]["details"]["file"] == str(home / "executor.lock")


def _read_only(home: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """Run the CLI on `home` mounted read-only (root ignores file modes: a private read-only bind mount)."""
    command = [sys.executable, str(EXECUTOR), *args, "--home", str(home), "--format", "json"]
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("running as root without unshare: cannot make a read-only home")
        mount = f"mount --bind -o ro {shlex.quote(str(home))} {shlex.quote(str(home))} && exec {shlex.join(command)}"
        command = ["unshare", "--mount", "sh", "-c", mount]
    done = subprocess.run(command, cwd="/", env=executor_env(home), capture_output=True, text=True, timeout=120,
                          check=False)
    if "mount" in done.stderr and not done.stdout:
        pytest.skip(f"no read-only mount here: {done.stderr.strip()}")
    assert "Traceback" not in done.stderr, done.stderr[-2000:]
    return done.returncode, json.loads(done.stdout)


def test_item10_a_read_only_home_is_read_and_a_write_names_the_file(home: Path) -> None:
    (home / "executor.lock").unlink(missing_ok=True)
    if os.geteuid() != 0:
        for path in (home, *home.rglob("*")):
            path.chmod(path.stat().st_mode & ~0o222)
    try:
        code, status = _read_only(home, "status")
        assert code == 0 and status["ok"], status
        code, killed = _read_only(home, "kill")
        assert code == 1 and killed["error"]["code"] == "HOME_NOT_WRITABLE", killed
        assert killed["error"]["details"]["file"] == str(home / "KILL")
    finally:
        for path in (home, *home.rglob("*")):
            path.chmod(path.stat().st_mode | 0o200)


# ----- item 12: small things that said something false or nothing at all -----------------------------------


def test_item12_kill_timeout_says_the_switch_may_still_engage(home: Path) -> None:
    # The lock held here stands for a running engine that never answers.
    with SingleWriterLock(Home.resolve(home).lock), pytest.raises(ExecutorError) as raised:
        handle_kill(KillInput(wait_s=0.3), context(home))
    assert raised.value.code == "KILL_PENDING"
    assert "nothing was done" not in raised.value.message
    assert "status" in raised.value.message and (home / "KILL").exists()
    assert raised.value.details["kill_flag_file"] == str(home / "KILL")


def test_item12_mcp_answers_a_line_that_is_not_json_with_a_parse_error(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(EXECUTOR), "mcp", "--home", str(tmp_path / "home")], cwd="/",
                          input='not json\n{"jsonrpc": "2.0"}\n', env=executor_env(tmp_path / "home"),
                          capture_output=True, text=True, timeout=60, check=False)
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert [a["error"]["code"] for a in answers] == [-32700, -32600], (done.stdout, done.stderr[-2000:])
    assert all(a["id"] is None and a["jsonrpc"] == "2.0" for a in answers)


def test_item12_a_repeated_option_is_refused(home: Path) -> None:
    code, document, _ = cli(home, "trade", "--symbol", "BTCUSDT", "--symbol", "ETHUSDT", "--side", "buy",
                            "--quote", "11")
    assert code == 2 and document["error"]["details"]["option"] == "--symbol", document
    assert operator_orders(home) == []


@pytest.mark.parametrize("option", [("--data", "/"), ("--synthetic",), ("--steps", "10")])
def test_item12_run_paper_refuses_replay_options(tmp_path: Path, option: tuple[str, ...]) -> None:
    code, document, _ = cli(tmp_path / "home", "run", "--mode", "paper", *option, "--format", "json")
    assert code == 2 and document["error"]["details"]["option"] == option[0], document


# ----- item 11: no output path prints a credential, in any letter case -------------------------------------

PLANTED = {
    "BINANCE_API_KEY": "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A",
    "BINANCE_API_SECRET": "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
    "DEEPSEEK_API_KEY": "sk-0123456789abcdef0123456789abcdef",
    "TELEGRAM_BOT_TOKEN": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1",
    "TELEGRAM_CHAT_ID": "Chat-Id-Planted-Value-0042",
    "DISCORD_WEBHOOK_EXECUTION": "https://discord.example/api/webhooks/1/Planted-Execution-Hook-Token",
    "DISCORD_WEBHOOK_RESEARCH": "https://discord.example/api/webhooks/2/Planted-Research-Hook-Token",
}
SECRET_NAMES = [name for name in PLANTED if name != "TELEGRAM_CHAT_ID"]


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    return [name for name in SECRET_NAMES if PLANTED[name].lower() in lowered]


def _run_planted(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(EXECUTOR), *args, "--home", str(home)], cwd="/",
                          env={**executor_env(home), **PLANTED, **env}, capture_output=True, text=True, timeout=120,
                          check=False)


COMMANDS = [
    ("run", "--synthetic", "--steps", "60", "--no-view", "--format", "json"),
    ("run", "--synthetic", "--steps", "60", "--format", "text"),
    ("backtest", "--synthetic", "--steps", "60", "--format", "json"),
    ("backtest", "--synthetic", "--steps", "60", "--format", "text"),
    ("status", "--format", "text"),
]


@pytest.mark.parametrize("secret_name", SECRET_NAMES)
@pytest.mark.parametrize("args", COMMANDS, ids=lambda args: "-".join(args[:1] + args[-1:]))
def test_item11_a_secret_in_a_setting_is_masked_in_every_command(tmp_path: Path, args: tuple[str, ...],
                                                                  secret_name: str) -> None:
    """A credential pasted into a risk setting is echoed by the config error: masked, in every command."""
    done = _run_planted(tmp_path / "home", *args, MAX_POSITION_SIZE_PCT=PLANTED[secret_name])
    assert _leaks(done.stdout + done.stderr) == [], (done.stdout[-500:], done.stderr[-500:])
    assert "MAX_POSITION_SIZE_PCT" in done.stdout + done.stderr


@pytest.mark.parametrize("secret_name", SECRET_NAMES)
def test_item11_a_secret_echoed_in_another_letter_case_is_masked(home: Path, secret_name: str) -> None:
    done = _run_planted(home, "trade", "--symbol", "BTCUSDT", "--side", "sell",
                        TRADE_CONFIRMATION=PLANTED[secret_name])
    document = json.loads(done.stdout)
    assert document["error"]["code"] == "INVALID_CONFIG" and document["error"]["details"]["setting"] == \
        "TRADE_CONFIRMATION"
    assert _leaks(done.stdout + done.stderr) == [], done.stdout
    assert "…" in document["error"]["details"]["value"], "shown masked, as abcde…wxyz"


def test_item11_a_key_pasted_only_into_a_setting_is_masked_by_its_look(tmp_path: Path) -> None:
    pasted = "Zq8wUe3rTy6uIo1pAs4dFg7hJk0lZx2cVb5nMq9wEr3tYu6iOp"
    done = subprocess.run([sys.executable, str(EXECUTOR), "backtest", "--synthetic", "--home", str(tmp_path)],
                          cwd="/", env={**executor_env(tmp_path), "MAX_POSITION_SIZE_PCT": pasted},
                          capture_output=True, text=True, timeout=120, check=False)
    assert pasted not in done.stdout + done.stderr
    assert json.loads(done.stdout)["error"]["details"]["value"] == mask_secret(pasted)


@pytest.mark.parametrize("secret_name", SECRET_NAMES)
def test_item11_record_masks_a_secret_in_what_it_prints(tmp_path: Path, secret_name: str) -> None:
    """A stream URL carrying a credential (a proxy token) is echoed by record's connection error: masked."""
    stream_url = closed_loopback_url().replace("http", "ws") + "/" + PLANTED[secret_name]
    done = _run_planted(tmp_path / "home", "record", "--symbols", "BTCUSDT", "--minutes", "0.02", "--out",
                        str(tmp_path / "rec.jsonl"), "--format", "json", BINANCE_STREAM_URL=stream_url)
    assert done.stdout.strip(), done.stderr[-2000:]
    assert _leaks(done.stdout + done.stderr) == [], (done.stdout[-800:], done.stderr[-800:])


def test_item11_a_secret_written_in_two_pieces_is_still_masked() -> None:
    out = io.StringIO()
    stream = MaskedStream(out, SecretMask([PLANTED["BINANCE_API_SECRET"]]))
    secret = PLANTED["BINANCE_API_SECRET"].upper()
    stream.write("log: " + secret[:30])
    stream.write(secret[30:] + " end\n")
    stream.flush()
    assert secret not in out.getvalue() and out.getvalue() == f"log: {mask_secret(secret)} end\n"
