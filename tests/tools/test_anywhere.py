"""Every command works from any working directory and with any home, as an agent's exec tool runs it.

OpenClaw runs commands in the agent's own workspace and MCP hosts start servers without a working
directory, so these tests start `executor.py` by its absolute path with `cwd=/` (or a folder that holds
a decoy `oracle` package), a fresh user HOME, and no EXECUTOR_HOME: the default home must be that
user's `~/.crypto-executor`. The scan's oracle workers talk to the loopback Binance public-data server.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from oracle.client import OracleClient
from tests.conftest import fixture_path
from tests.oracle.binance_public_server import BinancePublicServer, MarketData, recorded_markets
from tests.tools.test_cli_support import EXECUTOR, assert_no_secret, executor_env, prepare_home

# Path settings a fresh user's shell does not have; the tests must not pass because the developer's does.
_PATH_SETTINGS = ("EXECUTOR_HOME", "PYTHONPATH", "PYTHONSAFEPATH", "PYTHONHOME")


@pytest.fixture(scope="module")
def server() -> Iterator[BinancePublicServer]:
    """The recorded BTCUSDT payloads with their trades moved to now: live data that is not stale."""
    recorded = recorded_markets(fixture_path())["BTCUSDT"]
    shift = int(time.time() * 1000) - recorded.agg_trades[-1]["T"]
    fresh = MarketData(depth=recorded.depth, agg_trades=[{**t, "T": t["T"] + shift} for t in recorded.agg_trades])
    with BinancePublicServer({"BTCUSDT": fresh}) as running:
        yield running


def fresh_user_env(user_home: Path, **extra: str) -> dict[str, str]:
    """A user whose HOME is `user_home`, with no EXECUTOR_HOME and no Python path settings but those in `extra`."""
    env = {k: v for k, v in executor_env(user_home).items() if k not in _PATH_SETTINGS}
    return {**env, "HOME": str(user_home), **extra}


def executor(cwd: Path, env: dict[str, str], *args: str) -> dict[str, Any]:
    """`python /abs/executor.py ARGS` from `cwd`: the JSON envelope it printed (any planted secret fails)."""
    done = subprocess.run([sys.executable, str(EXECUTOR), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180, check=False)
    assert_no_secret(done.stdout, done.stderr)
    assert done.stdout, done.stderr[-2000:]
    document: dict[str, Any] = json.loads(done.stdout)
    assert done.returncode == (0 if document["ok"] else 1), (document, done.stderr[-2000:])
    return document


def assert_scanned(document: dict[str, Any]) -> None:
    assert document["ok"], document
    (result,) = document["data"]["results"]
    assert result["symbol"] == "BTCUSDT"
    assert result["oracle"]["ok"], result["oracle"]
    assert result["oracle"]["metrics"]["symbol"] == "BTCUSDT"


def test_every_tool_works_from_the_root_folder_in_a_fresh_users_default_home(tmp_path, server):
    user = tmp_path / "user"
    user.mkdir()
    env = fresh_user_env(user, BINANCE_BASE_URL=server.base_url)
    root = Path("/")
    run = executor(root, env, "run", "--mode", "replay", "--synthetic", "--seed", "3", "--steps", "1500",
                   "--no-view", "--format", "json")
    home = user / ".crypto-executor"
    assert run["ok"] and run["data"]["journal"] == str(home / "journal.db"), run

    status = executor(root, env, "status")
    assert status["ok"] and status["data"]["mode"] == "replay", status
    position = sorted(status["data"]["positions"], key=lambda p: p["symbol"])[0]["symbol"]
    report = executor(root, env, "report", "--period", "day")
    assert report["ok"] and Path(report["data"]["files"]["json"]).is_relative_to(home), report
    sold = executor(root, env, "trade", "--symbol", position, "--side", "sell")
    assert sold["ok"] and sold["data"]["status"] == "executed", sold
    assert_scanned(executor(root, env, "scan", "--symbols", "BTCUSDT"))


def test_a_folder_named_oracle_where_the_agent_works_is_never_imported(tmp_path, server):
    """An agent's workspace may hold anything; the scan's workers import our oracle package, not the
    workspace's (a decoy that would answer a fake ready line and then garbage)."""
    workspace = tmp_path / "workspace"
    decoy = workspace / "oracle"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("")
    (decoy / "__main__.py").write_text('print(\'{"event": "ready"}\', flush=True)\nimport sys\nsys.exit(3)\n')
    home = prepare_home(tmp_path / "home")
    env = fresh_user_env(tmp_path / "user", BINANCE_BASE_URL=server.base_url, EXECUTOR_HOME=str(home),
                         PYTHONPATH=str(workspace))
    assert_scanned(executor(workspace, env, "scan", "--symbols", "BTCUSDT"))


def test_oracle_workers_start_from_any_folder_with_an_environment_that_names_no_path(tmp_path, server,
                                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in _PATH_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    with OracleClient(workers=1, base_url=server.base_url) as client:
        assert client.wait_ready(20.0)
        result = client.analyse("BTCUSDT", deadline_s=5.0)
    assert result.ok, result


@pytest.mark.parametrize("command", [("status",), ("run", "--mode", "replay", "--synthetic", "--steps", "60")])
def test_a_relative_executor_home_is_refused_by_name_and_nothing_is_created(tmp_path, command):
    """EXECUTOR_HOME=data would be another home in every folder an agent or host starts us from."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    env = fresh_user_env(tmp_path / "user", EXECUTOR_HOME="data")
    done = subprocess.run([sys.executable, str(EXECUTOR), *command], cwd=workspace, env=env, capture_output=True,
                          text=True, timeout=120, check=False)
    document = json.loads(done.stdout)
    assert done.returncode == 2 and document["error"]["code"] == "INVALID_CONFIG", document
    assert document["error"]["details"]["setting"] == "EXECUTOR_HOME"
    assert list(workspace.iterdir()) == []
