"""One function decides a checkpoint's mode and the confirmation policy: the tools that show the mode
(`status`, `scan`, `report`) and the one that decides whether a trade needs a code (`trade`) never disagree.
A checkpoint whose mode is none of ours is refused by the readers (the typed checkpoint, issue 12), and a trade
on it is two-phase."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import load_config
from core.engine import Engine
from core.portfolio import Portfolio
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.checkpoint import CheckpointInvalid
from runtime.home import Home
from tools.spec import ToolContext
from tools.state import read_saved_engine
from tools.trade import current_mode, needs_confirmation

RULES = offline_rules({"AAAUSDT": 100.0})

# (the checkpoint's own fields, the mode every tool must read, whether a trade needs a confirmation code)
CASES: list[tuple[dict[str, Any], str, bool]] = [
    ({"source_id": "synthetic:7::100", "mode": "replay"}, "replay", False),
    ({"source_id": "paper:BTCUSDT", "mode": "paper"}, "paper", False),
    ({"source_id": "synthetic:7::100"}, "replay", False),  # an older checkpoint: no mode, read from the source
    ({"source_id": "data:/x:"}, "replay", False),
    ({"source_id": "paper:BTCUSDT"}, "paper", False),
    ({"source_id": "testnet:BTCUSDT"}, "testnet", True),
    ({"source_id": "live:BTCUSDT"}, "live", True),
    # As `run --mode testnet|live` writes it: its mode, the Binance venue and no venue state. Always two-phase.
    ({"source_id": "testnet:BTCUSDT", "mode": "testnet", "venue": "binance"}, "testnet", True),
    ({"source_id": "live:BTCUSDT", "mode": "live", "venue": "binance"}, "live", True),
    ({"source_id": "synthetic:7::100", "mode": 3}, "replay", False),  # not a mode at all: read from the source
]


def saved_home(root: Path, fields: dict[str, Any]) -> Home:
    home = Home(root).ensure()
    engine = Engine(load_config(env={}), RULES, Portfolio("USDT", {"USDT": Decimal(1000)}), ["AAAUSDT"], 0)
    with Journal(home.journal) as journal:
        journal.save_checkpoint({"cursor": 0, "finished": False, "engine": engine.to_state(),
                                 "paper": PaperExchange(RULES, {"USDT": Decimal(1000)}).to_state(), **fields},
                                written_ms=1)
    return home


@pytest.mark.parametrize(("fields", "mode", "confirm"), CASES, ids=[str(case[0]) for case in CASES])
def test_every_tool_reads_the_same_mode_and_confirmation_policy(tmp_path: Path, fields: dict[str, Any], mode: str,
                                                                 confirm: bool) -> None:
    home = saved_home(tmp_path, fields)
    config = load_config(env={})
    saved = read_saved_engine(home, config)
    assert saved is not None
    traded = current_mode(ToolContext(home=home, config=config, env={}))
    assert (saved.mode, traded) == (mode, mode)
    assert needs_confirmation(traded, {}) is confirm
    assert needs_confirmation(traded, {"TRADE_CONFIRMATION": "always"}) is True


@pytest.mark.parametrize("fields", [
    {"source_id": "paperclip:BTCUSDT"},  # not a paper source id
    {"source_id": "paper:BTCUSDT", "mode": "Paper"},  # not one of our modes
])
def test_a_mode_that_is_none_of_ours_is_refused_by_readers_and_two_phase_for_trades(
        tmp_path: Path, fields: dict[str, Any]) -> None:
    home = saved_home(tmp_path, fields)
    config = load_config(env={})
    with pytest.raises(CheckpointInvalid) as refused:
        read_saved_engine(home, config)
    assert refused.value.details["field"] == "mode" and refused.value.details["file"] == str(home.journal)
    traded = current_mode(ToolContext(home=home, config=config, env={}))
    assert traded == "unknown" and needs_confirmation(traded, {}) is True
