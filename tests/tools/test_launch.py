"""`python executor.py` launches the executor; every command takes --home and --format; every option says what
it does. Subprocess tests start executor.py by its absolute path from another folder, as a person or an agent
would."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import executor
from tests.tools.test_anywhere import fresh_user_env
from tests.tools.test_cli_support import EXECUTOR, assert_no_secret, closed_loopback_url
from tools.cli import command_names

OFFLINE_HINT = "run --mode replay --synthetic"


def launch(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, str(EXECUTOR), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert_no_secret(done.stdout, done.stderr)
    return done


def document_of(done: subprocess.CompletedProcess[str], code: int) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == code, (document, done.stderr[-2000:])
    return document


@pytest.fixture
def user(tmp_path: Path) -> Path:
    folder = tmp_path / "user"
    folder.mkdir()
    return folder


def test_no_command_runs_paper_and_says_in_one_line_how_to_replay_offline(user):
    done = launch(Path("/"), fresh_user_env(user, BINANCE_BASE_URL=closed_loopback_url()))
    document = document_of(done, 1)
    assert document["tool"] == "run" and document["error"]["code"] == "DATA_OUTAGE", document
    message = document["error"]["message"]
    assert "\n" not in message and "paper mode" in message and "cannot be reached" in message
    assert OFFLINE_HINT in message and document["error"]["details"]["reason"] == "unreachable"
    offline = document["error"]["details"]["offline"].split()
    assert offline[:2] == [sys.executable, str(EXECUTOR)]
    assert (user / ".crypto-executor").is_dir()  # the default home of this user, whatever the working directory


def test_no_command_in_text_prints_the_reason_and_the_offline_command_on_its_first_line(user):
    done = launch(Path("/"), fresh_user_env(user, BINANCE_BASE_URL=closed_loopback_url()), "--format", "text")
    assert done.returncode == 1
    first = done.stdout.splitlines()[0]
    assert first.startswith("run failed: DATA_OUTAGE") and "cannot be reached" in first and OFFLINE_HINT in first


def test_the_offline_command_it_suggests_works_from_anywhere(user, tmp_path):
    hint = launch(Path("/"), fresh_user_env(user, BINANCE_BASE_URL=closed_loopback_url()))
    argv = json.loads(hint.stdout)["error"]["details"]["offline"].split()
    done = subprocess.run([*argv, "--steps", "60", "--no-view", "--format", "json"], cwd="/",
                          env=fresh_user_env(user), capture_output=True, text=True, timeout=120, check=False)
    document = document_of(done, 0)
    assert document["data"]["mode"] == "replay" and document["data"]["finished"], document


def test_executor_mode_picks_the_mode_of_a_bare_launch(user):
    done = launch(Path("/"), fresh_user_env(user, EXECUTOR_MODE="replay"), "--steps", "60", "--format", "json")
    document = document_of(done, 0)
    assert document["tool"] == "run" and document["data"]["mode"] == "replay", document


@pytest.mark.parametrize("value", ["bogus", "Paper", "replay,paper"])
@pytest.mark.parametrize("args", [(), ("run", "--mode", "replay", "--synthetic", "--steps", "60")])
def test_an_unknown_executor_mode_is_refused_by_name_even_when_mode_is_given(user, value, args):
    done = launch(Path("/"), fresh_user_env(user, EXECUTOR_MODE=value), *args)
    error = document_of(done, 2)["error"]
    assert error["code"] == "INVALID_CONFIG" and error["details"]["setting"] == "EXECUTOR_MODE", error
    assert not (user / ".crypto-executor").exists()


def test_executor_mode_testnet_without_its_own_keys_is_refused_by_name_before_the_home_is_made(user):
    done = launch(Path("/"), fresh_user_env(user, EXECUTOR_MODE="testnet"))  # the live pair is planted: not used
    error = document_of(done, 2)["error"]
    assert error["code"] == "INVALID_CONFIG" and error["details"]["setting"] == "BINANCE_TESTNET_API_KEY", error
    assert not (user / ".crypto-executor").exists()


def test_executor_mode_live_needs_a_typed_confirmation_and_a_readable_key_before_anything_starts(user):
    done = launch(Path("/"), fresh_user_env(user, EXECUTOR_MODE="live"))  # the environment cannot confirm live
    error = document_of(done, 1)["error"]
    assert error["code"] == "LIVE_NOT_CONFIRMED" and "--confirm-live" in error["message"], error
    done = launch(Path("/"), fresh_user_env(user, EXECUTOR_MODE="live"), "--confirm-live")
    error = document_of(done, 1)["error"]  # Binance unreachable: the key's permissions are unknown, so unsafe
    assert error["code"] == "KEY_PERMISSIONS_UNKNOWN" and "could not be read" in error["message"], error
    assert not (user / ".crypto-executor").exists()


def test_a_replay_option_refused_in_paper_mode_names_executor_mode_as_the_reason(user):
    done = launch(Path("/"), fresh_user_env(user, EXECUTOR_MODE="paper"), "--synthetic")
    error = document_of(done, 2)["error"]
    assert error["code"] == "INVALID_ARGUMENT" and "EXECUTOR_MODE" in error["message"], error
    assert error["details"] == {"option": "--synthetic", "mode": "paper", "mode_from": "EXECUTOR_MODE"}


def test_data_given_without_a_mode_is_a_replay(user):
    done = launch(Path("/"), fresh_user_env(user), "run", "--synthetic", "--steps", "60", "--format", "json")
    assert document_of(done, 0)["data"]["mode"] == "replay"


def test_top_level_help_is_still_help(user):
    done = launch(Path("/"), fresh_user_env(user), "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: executor.py")


def subparsers(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every runnable command's parser, by its name ('config set' for a nested one)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                nested = subparsers(child, f"{prefix}{name} ")
                found.update(nested or {f"{prefix}{name}": child})
    return found


def option_strings(parser: argparse.ArgumentParser) -> set[str]:
    return {option for action in parser._actions for option in action.option_strings}


COMMANDS = subparsers(executor.build_parser())


def test_the_command_list_is_complete():
    assert set(command_names()) | {"backtest", "run", "record", "backup", "config show", "config set", "tools",
                                   "mcp", "strategies list", "strategies show", "strategies trust",
                                   "memory history", "memory show", "memory diff", "memory rollback",
                                   "memory adapt"} == set(COMMANDS)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_accepts_home_and_format(name):
    assert {"--home", "--format"} <= option_strings(COMMANDS[name]), name


@pytest.mark.parametrize("name", ["run", "backtest", "record"])
def test_every_option_of_the_persons_commands_says_what_it_does(name):
    for action in COMMANDS[name]._actions:
        if action.option_strings and action.help != argparse.SUPPRESS:
            assert action.help and len(action.help) > 10, (name, action.option_strings)


def test_tools_takes_a_home_from_another_folder(user, tmp_path):
    done = launch(Path("/"), fresh_user_env(user), "tools", "--home", str(tmp_path / "home"), "--format", "mcp")
    assert done.returncode == 0, done.stdout
    assert {tool["name"] for tool in json.loads(done.stdout)} >= {"scan", "status", "trade"}


def test_mcp_takes_home_and_format_and_serves_from_another_folder(user, tmp_path):
    request = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
    done = subprocess.run([sys.executable, str(EXECUTOR), "mcp", "--home", str(tmp_path / "home"), "--format", "json"],
                          cwd="/", env=fresh_user_env(user), input=json.dumps(request) + "\n", capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.splitlines()[0])["result"]["protocolVersion"] == "2025-06-18"


NO_HOME_DIRECTORY = (  # a user with no HOME and no passwd entry: Path.home() raises, as in some containers
    "import os, pathlib, runpy, sys\n"
    "def _no_home(cls):\n    raise RuntimeError('Could not determine home directory.')\n"
    "pathlib.Path.home = classmethod(_no_home)\n"
    "sys.argv = sys.argv[1:]\n"
    "sys.path.insert(0, os.path.dirname(sys.argv[0]))\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def test_a_user_without_a_home_directory_can_name_a_home_and_is_told_what_to_set_otherwise(user, tmp_path):
    env = fresh_user_env(user)
    env.pop("HOME", None)
    named = subprocess.run([sys.executable, "-c", NO_HOME_DIRECTORY, str(EXECUTOR), "status", "--home",
                            str(tmp_path / "home")], cwd="/", env=env, capture_output=True, text=True, timeout=120)
    assert named.returncode == 0, named.stderr[-2000:]
    assert json.loads(named.stdout)["tool"] == "status"
    unnamed = subprocess.run([sys.executable, "-c", NO_HOME_DIRECTORY, str(EXECUTOR), "status"], cwd="/", env=env,
                             capture_output=True, text=True, timeout=120)
    document = json.loads(unnamed.stdout)
    assert unnamed.returncode != 0 and document["error"]["code"] == "INVALID_CONFIG", document
    assert document["error"]["details"]["setting"] == "EXECUTOR_HOME"
