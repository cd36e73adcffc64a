"""The cheap depth-level parser accepts exactly what the checked one accepts, with the same numbers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oracle.snapshot import ParseError, _checked_levels, _levels, _plain_levels

NUMBERISH = st.one_of(
    st.sampled_from(["1", "0", "0.0", "-0.0", "-1", "nan", "NaN", "inf", "-inf", "1e400", "", "x", " 2 ", "1_0",
                     "0x10", "100.50000000"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(allow_nan=False, allow_infinity=False),
    st.integers(-5, 10**6),
    st.booleans(),
    st.none(),
)
LEVEL = st.one_of(
    st.lists(NUMBERISH, min_size=0, max_size=3),
    st.tuples(NUMBERISH, NUMBERISH),
    st.text(max_size=3),
    st.none(),
)


def outcome(fn: Any, value: list[Any]) -> Any:
    try:
        return fn(value, "bids")
    except ParseError:
        return "error"


@given(st.lists(LEVEL, max_size=6))
def test_plain_path_agrees_with_checked_path(value: list[Any]) -> None:
    checked = outcome(_checked_levels, value)
    plain = _plain_levels(value)
    if plain is not None:
        assert plain == checked
    assert outcome(_levels, value) == checked


@pytest.mark.parametrize("bad", [[["1", "nan"]], [["inf", "1"]], [["-1", "1"]], [["1"]], ["12"], [[True, "1"]]])
def test_bad_levels_still_fail_with_a_reason(bad: list[Any]) -> None:
    with pytest.raises(ParseError, match=r"bids\[0\]"):
        _levels(bad, "bids")
