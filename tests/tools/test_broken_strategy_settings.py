"""A broken strategy configuration never keeps a person from stopping the executor or seeing its state.

`strategies.json` that is not JSON, one naming no registered strategy, and a `STRATEGIES` import path that does not
import: `kill`, `pause` and `status` still work (from another folder, as a person would run them), while `trade`
refuses with the problem named and `scan` shows no signals and says why."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT
from tests.runtime.helpers import cli_env
from tests.tools.test_trade_support import checkpoint

BROKEN = {
    "not_json": ('{"allocation": {"momentum": 1}', {}),
    "unknown_strategy": ('{"allocation": {"nope": 1}}', {}),
    "bad_import_path": (None, {"STRATEGIES": "no_such_package.module:Nothing"}),
}


def _cli(home: Path, cwd: Path, *args: str, **env: str) -> tuple[int, dict[str, Any]]:
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "executor.py"), *args, "--format", "json"],
                          capture_output=True, text=True, timeout=120, env=cli_env(home, **env), cwd=cwd)
    return proc.returncode, json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_kill_pause_and_status_work_while_trading_tools_refuse(case: str, home: Path, tmp_path: Path) -> None:
    text, env = BROKEN[case]
    if text is not None:
        (home / "strategies.json").write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    code, paused = _cli(home, elsewhere, "pause", "--minutes", "30", **env)
    assert code == 0 and paused["ok"], paused
    code, killed = _cli(home, elsewhere, "kill", **env)
    assert code == 0 and killed["ok"] and killed["data"]["kill_switch"] is True, killed
    assert checkpoint(home)["engine"]["controls"]["killed"] is True

    code, status = _cli(home, elsewhere, "status", **env)
    assert code == 0 and status["ok"], status
    assert status["data"]["kill_switch"]["engaged"] is True
    assert status["data"]["notes"][0].startswith("INVALID_CONFIG") and "kill" in status["data"]["notes"][0]

    code, refused = _cli(home, elsewhere, "trade", "--symbol", "BTCUSDT", "--side", "buy", "--quote", "10", **env)
    assert not refused["ok"] and refused["error"]["code"] == "INVALID_CONFIG", refused
    code, scanned = _cli(home, elsewhere, "scan", "--symbols", "BTCUSDT", **env)
    assert scanned["ok"] and "INVALID_CONFIG" in scanned["data"]["engine_note"], scanned  # no signals, and why
