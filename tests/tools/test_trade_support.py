"""Shared by the trade and control tests (no tests here): a home with real state made by a short replay.

`--balance 100` keeps the engine's own strategies out of the market (their Kelly sizes stay below the
5 USDT minimum notional) while a manual trade of up to 12 USDT (the 12 % position cap) can enter, so every
order of a manual trade is unambiguous in the journal.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.config import load_config
from core.filters import rules_from_exchange_info
from exchange.feeds.synthetic import SyntheticMarket
from exchange.paper import PaperExchange
from runtime.home import Home
from tests.runtime.helpers import query, run_cli, saved_checkpoint
from tools.spec import ToolContext, wall_clock_ms

SYMBOLS = "BTCUSDT,ETHUSDT"
SEED = 3
REPLAY = ("run", "--mode", "replay", "--synthetic", "--seed", str(SEED), "--steps", "300", "--symbols", SYMBOLS,
          "--balance", "100", "--no-view")
OPERATOR = "requested by the operator"


def make_replayed_home(path: Path) -> Path:
    code, envelope, stderr = run_cli(path, *REPLAY)
    assert code == 0, (envelope, stderr[-2000:])
    assert envelope["data"]["open_positions"] == {}, "the engine must stay flat at this balance"
    return path


def copy_home(template: Path, path: Path) -> Path:
    shutil.copytree(template, path)
    (path / "executor.lock").unlink(missing_ok=True)
    return path


def context(home: Path, env: dict[str, str] | None = None, now_ms: Callable[[], int] = wall_clock_ms) -> ToolContext:
    environment = env or {}
    return ToolContext(home=Home.resolve(home), config=load_config(env=environment), env=environment, now_ms=now_ms)


def operator_orders(home: Path) -> list[tuple[Any, ...]]:
    return query(home / "journal.db", "SELECT client_order_id, symbol, side, type, status FROM orders "
                                      "WHERE reason = ? ORDER BY rowid", OPERATOR)


def order_count(home: Path) -> int:
    return int(query(home / "journal.db", "SELECT count(*) FROM orders")[0][0])


def checkpoint(home: Path) -> dict[str, Any]:
    document = saved_checkpoint(home)
    assert document is not None, f"{home} holds no checkpoint"
    return document


def paper_exchange(home: Path) -> PaperExchange:
    rules = rules_from_exchange_info(SyntheticMarket(seed=SEED, symbols=SYMBOLS.split(",")).exchange_info())
    return PaperExchange.from_state(checkpoint(home)["paper"], rules)
