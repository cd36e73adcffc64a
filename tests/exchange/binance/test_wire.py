"""Numbers leave as plain decimal strings on the symbol's grid: never `1e-05`, never more places than the step."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from exchange.binance.wire import plain

STEPS = st.sampled_from([Decimal("1"), Decimal("0.1"), Decimal("0.01"), Decimal("0.00001"), Decimal("1E-8"),
                         Decimal("0.00000100"), Decimal("0.5")])


def test_tiny_values_are_written_without_an_exponent() -> None:
    assert plain(Decimal("0.00001"), Decimal("0.00001")) == "0.00001"
    assert plain(Decimal("1E-7"), Decimal("1E-8")) == "0.00000010"
    assert plain(Decimal("30000.129"), Decimal("0.01000000")) == "30000.12"


@given(value=st.decimals(min_value=Decimal("1E-8"), max_value=Decimal("1E7"), places=10), step=STEPS)
def test_plain_is_the_value_rounded_down_to_the_step(value: Decimal, step: Decimal) -> None:
    text = plain(value, step)
    assert "e" not in text.lower()
    written = Decimal(text)
    assert written <= value < written + step
    assert written % step == 0
    places = len(text.partition(".")[2])
    assert places == max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
