"""LocalBook and BookSync against the real 2021-10-12 Binance capture, plus a model-based property test."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from exchange.feeds.book import LocalBook
from exchange.feeds.book_sync import BookSync
from exchange.feeds.errors import BookOutOfSync
from tests.feeds.captures import load_capture


@pytest.fixture(scope="module")
def capture():  # type: ignore[no-untyped-def]
    return load_capture()


def test_every_symbol_synchronises_from_snapshot_and_diffs(capture) -> None:  # type: ignore[no-untyped-def]
    assert capture.symbols == ["BLZETH", "LRCBTC", "NKNUSDT", "RUNEEUR"]
    for symbol in capture.symbols:
        book = LocalBook(symbol)
        book.load_snapshot(capture.snapshots[symbol])
        results = [book.apply(diff) for diff in capture.depth_updates(symbol)]
        assert book.synced
        assert any(results), f"{symbol}: no diff applied after the snapshot"
        # Diffs older than the snapshot are dropped, never applied after a newer one.
        first_applied = results.index(True)
        assert all(results[first_applied:]), f"{symbol}: a diff after the first applied one was dropped"
        top = book.book(1, depth=10)
        assert len(top.bids) == 10 and len(top.asks) == 10
        assert top.bids[0][0] < top.asks[0][0]
        assert [p for p, _ in top.bids] == sorted((p for p, _ in top.bids), reverse=True)
        assert [p for p, _ in top.asks] == sorted(p for p, _ in top.asks)
        assert book.last_update_id == capture.depth_updates(symbol)[-1]["u"]


def test_nknusdt_drops_the_diff_already_in_the_snapshot(capture) -> None:  # type: ignore[no-untyped-def]
    book = LocalBook("NKNUSDT")
    book.load_snapshot(capture.snapshots["NKNUSDT"])
    diffs = capture.depth_updates("NKNUSDT")
    assert diffs[0]["u"] == capture.snapshots["NKNUSDT"]["lastUpdateId"]
    assert book.apply(diffs[0]) is False
    assert book.apply(diffs[1]) is True


def test_a_removed_diff_raises_out_of_sync_and_a_newer_snapshot_rebuilds(capture) -> None:  # type: ignore[no-untyped-def]
    diffs = capture.depth_updates("NKNUSDT")
    snapshot = capture.snapshots["NKNUSDT"]
    # The reference copy sees every diff: its state is what a REST snapshot taken then would return.
    reference = LocalBook("NKNUSDT")
    reference.load_snapshot(snapshot)
    broken = BookSync("NKNUSDT", depth=10)
    broken.on_snapshot(snapshot, 0)
    removed = 40
    newer_snapshot = None
    for index, diff in enumerate(diffs):
        reference.apply(diff)
        if index == removed + 5:
            newer_snapshot = copy.deepcopy(reference.to_snapshot())
        if index == removed:
            continue
        broken.on_diff(diff, diff["E"])
        if index == removed + 1:
            assert broken.needs_snapshot, "the diff after the hole must be detected as a gap"
            assert broken.gaps == 1
    assert newer_snapshot is not None
    # Rebuild: the diffs buffered since the gap are applied on top of the newer snapshot.
    top = broken.on_snapshot(newer_snapshot, 0)
    assert top is not None and not broken.needs_snapshot
    assert broken.book.to_snapshot() == reference.to_snapshot()


def test_local_book_raises_on_gap_directly(capture) -> None:  # type: ignore[no-untyped-def]
    diffs = capture.depth_updates("NKNUSDT")
    book = LocalBook("NKNUSDT")
    book.load_snapshot(capture.snapshots["NKNUSDT"])
    book.apply(diffs[1])
    with pytest.raises(BookOutOfSync) as raised:
        book.apply(diffs[3])
    assert raised.value.details["symbol"] == "NKNUSDT"
    assert raised.value.details["first_update_id"] == diffs[3]["U"]
    assert not book.synced
    with pytest.raises(BookOutOfSync):
        book.book(0)
    with pytest.raises(BookOutOfSync):
        book.apply(diffs[4])


def test_a_snapshot_older_than_the_stream_is_refused(capture) -> None:  # type: ignore[no-untyped-def]
    diffs = capture.depth_updates("NKNUSDT")
    sync = BookSync("NKNUSDT")
    for diff in diffs[10:20]:
        sync.on_diff(diff, diff["E"])
    assert sync.on_snapshot(capture.snapshots["NKNUSDT"], 0) is None
    assert sync.needs_snapshot


def test_apply_before_any_snapshot_is_out_of_sync() -> None:
    with pytest.raises(BookOutOfSync):
        LocalBook("BTCUSDT").apply({"e": "depthUpdate", "s": "BTCUSDT", "U": 1, "u": 2, "b": [], "a": []})


def test_a_crossed_book_is_refused() -> None:
    book = LocalBook("BTCUSDT")
    book.load_snapshot({"lastUpdateId": 1, "bids": [["100.0", "1"]], "asks": [["101.0", "1"]]})
    book.apply({"s": "BTCUSDT", "U": 2, "u": 2, "b": [["102.0", "1"]], "a": []})
    with pytest.raises(BookOutOfSync, match="crossed"):
        book.book(0)


_level = st.tuples(st.integers(1, 30), st.integers(0, 3))


@given(st.lists(st.tuples(st.lists(_level, max_size=4), st.lists(_level, max_size=4)), min_size=1, max_size=30))
def test_diffs_in_sequence_match_a_plain_dict_model(updates: list) -> None:  # type: ignore[type-arg]
    """Bids at prices 1..30 and asks at 101..130 never cross; the book equals a dict replay."""
    book = LocalBook("TEST")
    book.load_snapshot({"lastUpdateId": 10, "bids": [], "asks": []})
    model_bids: dict[float, float] = {}
    model_asks: dict[float, float] = {}
    last = 10
    for bids, asks in updates:
        raw_bids = [[str(p), str(q)] for p, q in bids]
        raw_asks = [[str(100 + p), str(q)] for p, q in asks]
        assert book.apply({"U": last + 1, "u": last + 2, "b": raw_bids, "a": raw_asks})
        last += 2
        for model, raw in ((model_bids, raw_bids), (model_asks, raw_asks)):
            for p, q in raw:
                if float(q) == 0:
                    model.pop(float(p), None)
                else:
                    model[float(p)] = float(q)
    top = book.book(0, depth=50)
    assert dict(top.bids) == model_bids
    assert dict(top.asks) == model_asks


@pytest.mark.parametrize("symbol", ["BLZETH", "LRCBTC", "NKNUSDT"])
def test_removing_any_applied_diff_is_detected(capture, symbol: str) -> None:  # type: ignore[no-untyped-def]
    diffs = capture.depth_updates(symbol)
    probe = LocalBook(symbol)
    probe.load_snapshot(capture.snapshots[symbol])
    applied = [i for i, d in enumerate(diffs) if probe.apply(d)]
    assert len(applied) >= 3
    for removed in applied[1:-1]:
        book = LocalBook(symbol)
        book.load_snapshot(capture.snapshots[symbol])
        with pytest.raises(BookOutOfSync, match="gap in update ids"):
            for index, diff in enumerate(diffs):
                if index != removed:
                    book.apply(diff)
