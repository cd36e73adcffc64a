"""Property tests: bounds every document must respect, and typed errors for books with no numbers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle.analysis import analyse
from oracle.errors import OracleError
from oracle.snapshot import from_document

NOW_MS = 1_700_000_000_000
prices = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
qtys = st.floats(min_value=1e-8, max_value=1e6, allow_nan=False, allow_infinity=False)
offsets = st.lists(st.floats(min_value=1e-4, max_value=0.05), min_size=1, max_size=40)


@st.composite
def books(draw: st.DrawFn) -> dict:
    """A non-crossed book: strictly decreasing bids below strictly increasing asks."""
    best_bid = draw(prices)
    gap = draw(st.floats(min_value=1e-6, max_value=0.05))
    bids, asks = [best_bid], [best_bid * (1 + gap)]
    for step in draw(offsets):
        bids.append(bids[-1] * (1 - step))
    for step in draw(offsets):
        asks.append(asks[-1] * (1 + step))
    bid_q = draw(st.lists(qtys, min_size=len(bids), max_size=len(bids)))
    ask_q = draw(st.lists(qtys, min_size=len(asks), max_size=len(asks)))
    return {
        "bids": [[repr(p), repr(q)] for p, q in zip(bids, bid_q, strict=True)],
        "asks": [[repr(p), repr(q)] for p, q in zip(asks, ask_q, strict=True)],
    }


def _analyse(payload: dict):
    return analyse(from_document(payload, "TESTUSDT", NOW_MS), "inline", NOW_MS)


@given(books())
def test_bounds_on_any_valid_book(book: dict) -> None:
    doc = _analyse(book)
    assert doc.spread >= 0 and doc.spread_bps >= 0
    assert doc.best_bid <= doc.microprice <= doc.best_ask
    assert doc.best_bid <= doc.mid <= doc.best_ask
    for imb in doc.imbalance:
        assert -1.0 <= imb.by_quantity <= 1.0 and -1.0 <= imb.by_notional <= 1.0
    narrow, wide = doc.depth
    assert 0 <= narrow.bid_notional <= wide.bid_notional
    assert 0 <= narrow.ask_notional <= wide.ask_notional
    assert doc.liquidity.grade in "ABCDF"


@given(books(), st.lists(st.tuples(st.integers(0, 120_000), prices, qtys, st.booleans()), min_size=1, max_size=60))
def test_trade_flow_bounds(book: dict, raw: list) -> None:
    trades = [{"T": t, "p": repr(p), "q": repr(q), "m": m} for t, p, q, m in raw]
    doc = _analyse({**book, "trades": trades})
    flow = doc.trade_flow
    assert flow is not None and flow.trades == len(trades)
    assert -1.0 <= flow.imbalance_qty <= 1.0 and -1.0 <= flow.imbalance_notional <= 1.0
    assert flow.buy_qty >= 0 and flow.sell_qty >= 0
    lo, hi = min(float(t["p"]) for t in trades), max(float(t["p"]) for t in trades)
    assert doc.vwap.vwap_trades is not None
    assert lo * (1 - 1e-12) <= doc.vwap.vwap_trades <= hi * (1 + 1e-12)
    span = max(t["T"] for t in trades) - min(t["T"] for t in trades)
    if span < 2000:
        assert doc.volatility is None
    else:
        assert doc.volatility is not None and doc.volatility.window_bps >= 0


@given(books(), st.floats(min_value=0.0, max_value=0.1))
def test_crossed_or_locked_book_is_a_typed_error(book: dict, overlap: float) -> None:
    best_bid = float(book["bids"][0][0])
    book["asks"] = [[repr(best_bid * (1 - overlap)), "1"], *book["asks"]][:1]
    with pytest.raises(OracleError) as info:
        _analyse(book)
    assert info.value.code == "DATA_OUTAGE" and info.value.details["reason"] == "crossed_book"


@given(books(), st.sampled_from(["bids", "asks", "both"]))
def test_empty_side_is_a_typed_error(book: dict, side: str) -> None:
    for key in ("bids", "asks") if side == "both" else (side,):
        book[key] = []
    with pytest.raises(OracleError) as info:
        _analyse(book)
    assert info.value.code == "DATA_OUTAGE" and info.value.details["reason"] == "empty_book"


@pytest.mark.parametrize(
    ("bids", "asks", "reason"),
    [
        ([["10", "1"], ["11", "1"]], [["12", "1"]], "unordered_book"),
        ([["10", "1"]], [["12", "1"], ["12", "1"]], "unordered_book"),
        ([["10", "0"]], [["12", "1"]], "non_positive_level"),
    ],
)
def test_malformed_books_are_typed_errors(bids: list, asks: list, reason: str) -> None:
    with pytest.raises(OracleError) as info:
        _analyse({"bids": bids, "asks": asks})
    assert info.value.details["reason"] == reason
