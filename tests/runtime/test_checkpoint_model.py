"""Issue 12 §1: the checkpoint is a typed, venue-neutral document (`runtime.checkpoint`). One written in the shape
the previous version wrote (no `venue`; before that, no `mode`) still restores; one that fails validation is
refused with a typed error naming the file and the field, by the writer's start-up path and by the readers."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.config import ExecutorConfig
from core.engine import Engine
from core.portfolio import Portfolio
from exchange.feeds.rules import offline_rules
from exchange.paper import PaperExchange
from memory.journal import Journal
from runtime.checkpoint import Checkpoint, CheckpointInvalid, load_checkpoint
from runtime.commands import DirectSession
from runtime.home import Home
from runtime.run_mode import RunMode
from runtime.session import restore_session
from runtime.venues import VenueKind
from tests.runtime.helpers import replace_checkpoint
from tests.runtime.test_protection_gaps import FIVE_MIN, MANUAL_ONLY, START, Desk
from tools.spec import wall_clock_ms
from tools.state import read_saved_engine

PATH = Path("/somewhere/journal.db")


def _traded(tmp: Path) -> Desk:
    """An engine and simulator with a protected position, orders and fills: a state worth restoring. The journal
    is `tmp/home/journal.db`: a home whose journal knows the orders the simulator holds."""
    desk = Desk(tmp / "home", {"AAAUSDT": 100.0}, exchange_trailing=True)
    desk.bars({"AAAUSDT": (100, 100, 100, 100)})
    desk.buy("AAAUSDT", "1000", "5", "1")
    desk.bars({"AAAUSDT": (100, 101, 100, 101)})
    assert desk.engine.holdings["AAAUSDT"].trailing_delta == 100
    return desk


def _previous_version_document(desk: Desk) -> dict[str, Any]:
    """Exactly what the runner wrote before the typed checkpoint (runtime/runner.py `checkpoint`): no `venue`."""
    rules = {s: desk.rules[s].model_dump(mode="json") for s in desk.engine.symbols}
    return {"source_id": "data:/candles:AAAUSDT", "cursor": 7, "finished": False, "mode": "replay",
            "confirmation_channel": None, "rules": rules, "engine": desk.engine.to_state(),
            "paper": desk.exchange.to_state()}


def test_a_checkpoint_of_the_previous_version_restores_the_same_engine_and_venue(tmp_path: Path) -> None:
    desk = _traded(tmp_path)
    document = _previous_version_document(desk)
    saved = load_checkpoint(document, PATH)
    assert (saved.mode, saved.venue, saved.cursor) == (RunMode.REPLAY, VenueKind.PAPER, 7)
    assert saved.rules == desk.rules
    restored = Engine.from_state(saved.engine_state(), MANUAL_ONLY, desk.rules)
    assert restored.to_state() == desk.engine.to_state()
    assert saved.paper is not None
    assert PaperExchange.from_state(saved.paper, desk.rules).to_state() == desk.exchange.to_state()
    # Written again by this version: the same document plus the venue it was read with, and it loads again.
    again = saved.document()
    assert again == {**document, "venue": "paper"}
    assert load_checkpoint(again, PATH).document() == again


def test_a_checkpoint_from_before_the_mode_was_saved_takes_it_from_its_source(tmp_path: Path) -> None:
    document = _previous_version_document(_traded(tmp_path))
    del document["mode"]
    assert load_checkpoint({**document, "source_id": "paper:AAAUSDT"}, PATH).mode is RunMode.PAPER
    assert load_checkpoint(document, PATH).mode is RunMode.REPLAY


@pytest.mark.parametrize(("change", "field"), [
    ({"mode": "martian"}, "mode"),
    ({"venue": "carrier-pigeon"}, "venue"),
    ({"paper": None}, "(the document)"),  # the paper venue keeps its simulator's state
    ({"cursor": -1}, "cursor"),
    ({"source_id": ""}, "source_id"),
    ({"engine": {"version": 1}}, "engine.symbols"),
    ({"rules": {"AAAUSDT": {"symbol": "AAAUSDT"}}}, "rules.AAAUSDT.status"),
])
def test_an_invalid_checkpoint_is_refused_naming_file_and_field(tmp_path: Path, change: dict[str, Any],
                                                                field: str) -> None:
    document = {**_previous_version_document(_traded(tmp_path)), **change}
    with pytest.raises(CheckpointInvalid) as refused:
        load_checkpoint(document, PATH)
    assert refused.value.code == "STATE_UNREADABLE"
    assert refused.value.details["file"] == str(PATH) and refused.value.details["field"] == field
    assert str(PATH) in refused.value.message and field in refused.value.message


def test_a_mode_without_a_venue_is_read_but_never_restored(tmp_path: Path) -> None:
    """Testnet and live name their venue when they save one; a checkpoint of theirs without it can be shown but
    no session is built from it."""
    desk = _traded(tmp_path)
    saved = load_checkpoint({**_previous_version_document(desk), "mode": "live"}, PATH)
    assert (saved.mode, saved.venue) == (RunMode.LIVE, None)
    with pytest.raises(ValueError, match="names no venue for mode live"):
        restore_session(saved, MANUAL_ONLY, desk.rules)


def test_the_engine_state_version_is_checked(tmp_path: Path) -> None:
    document = _previous_version_document(_traded(tmp_path))
    document["engine"] = {**document["engine"], "version": 99}
    with pytest.raises(CheckpointInvalid, match="engine state version 99"):
        load_checkpoint(document, PATH)


def test_rules_are_optional_and_the_venue_state_is_kept_as_given() -> None:
    """The venue's own part is an opaque optional document (the paper venue requires one); rules may be absent
    (the readers then rebuild them from the source)."""
    engine = Engine(ExecutorConfig(), offline_rules({"AAAUSDT": 100.0}), Portfolio("USDT", {"USDT": Decimal(1)}),
                    ["AAAUSDT"], START)
    saved = Checkpoint.model_validate({"source_id": "paper:AAAUSDT", "mode": "paper", "venue": "paper",
                                       "engine": engine.to_state(), "paper": {"any": "state"}})
    assert saved.document()["rules"] is None and saved.document()["paper"] == {"any": "state"}


def _home_with(tmp_path: Path, desk: Desk, document: dict[str, Any]) -> Home:
    desk.journal.close()
    home = Home.resolve(tmp_path / "home").ensure()
    replace_checkpoint(home.root, document)
    return home


def test_start_up_and_readers_restore_a_previous_version_checkpoint(tmp_path: Path) -> None:
    desk = _traded(tmp_path)
    home = _home_with(tmp_path, desk, _previous_version_document(desk))
    saved = read_saved_engine(home, MANUAL_ONLY)
    assert saved is not None and saved.mode == "replay" and saved.engine.to_state() == desk.engine.to_state()
    with Journal(home.journal) as journal:
        session = DirectSession(home, MANUAL_ONLY, journal, wall_clock_ms())
        assert session.engine.holdings["AAAUSDT"].trailing_delta == 100
        with journal.batch():
            session.save(wall_clock_ms())
        stored = journal.checkpoint()
    assert stored is not None and stored.document["venue"] == "paper"  # written back in the typed shape
    assert load_checkpoint(stored.document, home.journal).cursor == 7


def test_start_up_and_readers_refuse_an_invalid_checkpoint_naming_the_journal(tmp_path: Path) -> None:
    desk = _traded(tmp_path)
    document = _previous_version_document(desk)
    document["engine"] = {k: v for k, v in document["engine"].items() if k != "holdings"}
    home = _home_with(tmp_path, desk, document)
    with pytest.raises(CheckpointInvalid) as by_reader:
        read_saved_engine(home, MANUAL_ONLY)
    with Journal(home.journal) as journal, pytest.raises(CheckpointInvalid) as by_writer:
        DirectSession(home, MANUAL_ONLY, journal, wall_clock_ms() + FIVE_MIN)
    for refused in (by_reader.value, by_writer.value):
        assert refused.details == {"file": str(home.journal), "field": "engine.holdings",
                                   "problem": "Field required"}
