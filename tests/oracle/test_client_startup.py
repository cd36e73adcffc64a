"""A pool whose workers cannot start says so at once, instead of waiting out the deadline in silence."""

from __future__ import annotations

from pathlib import Path

from oracle.client import OracleClient
from oracle.model import OracleFailure


def test_workers_that_die_while_starting_give_a_typed_outage_naming_the_exit_code(tmp_path: Path) -> None:
    # A PYTHONHOME with no standard library: the interpreter itself exits before our code runs (exit code 1).
    with OracleClient(workers=1, env={"PYTHONHOME": str(tmp_path)}) as client:
        result = client.analyse("BTCUSDT", deadline_s=15.0)
    assert isinstance(result, OracleFailure)
    assert result.error.code == "DATA_OUTAGE"
    assert result.error.details == {"reason": "worker_start_failed", "exit_code": 1}
    assert "exit while starting" in result.error.message
