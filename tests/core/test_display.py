"""Numbers for reading: rounded, never cut, never in exponent form, and faithful to the exact value."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.display import age, fixed, money, percent, price, quantity, signed_money, significant

FINITE = st.decimals(allow_nan=False, allow_infinity=False, min_value=Decimal("-1e12"), max_value=Decimal("1e12"))


def test_the_run_summary_number_from_the_issue_reads_as_money() -> None:
    assert money(Decimal("-1.975527037810296265479528441806303")) == "-1.98"
    assert fixed(Decimal("-1.975527037810296265479528441806303"), 8) == "-1.97552704"
    assert money(Decimal("9997.9126031660000")) == "9,997.91"
    assert money(Decimal("0.0012")) == "0.0012" and money(0) == "0.00"
    assert signed_money(Decimal("1.05")) == "+1.05" and signed_money(Decimal("-0.001")) == "-0.0010"
    assert signed_money(Decimal("-0.0000001")) == "0.0000"


def test_prices_keep_eight_significant_digits_and_never_an_exponent() -> None:
    assert price(Decimal("37012.53")) == "37,012.53"
    assert price(Decimal("0.1496207515844817569265638422844458")) == "0.14962075"
    assert price(Decimal("1E-7")) == "0.0000001"
    assert price(123456789.5) == "123,456,790"
    assert significant("0.4504104104104104104", 8) == "0.45041041"
    assert quantity(Decimal("186.96800000")) == "186.968" and quantity(Decimal("1E+2")) == "100"


def test_percentages_and_ages() -> None:
    assert percent(0.7449) == "0.74%" and percent(-0.0332, signed=True) == "-0.03%"
    assert percent(1.5, signed=True) == "+1.50%" and percent(-0.0001, signed=True) == "0.00%"
    assert [age(ms) for ms in (0, 4_999, 65_000, 3_600_000, 7_500_000, 273_600_000, 86_430_000)] == [
        "0 s", "4 s", "1 min 5 s", "1 h", "2 h 5 min", "3 d 4 h", "1 d"]


@pytest.mark.parametrize("bad", ["abc", "NaN", float("inf")])
def test_what_is_not_a_finite_number_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="not a"):
        money(bad)  # type: ignore[arg-type]


@given(FINITE, st.integers(min_value=0, max_value=10))
def test_fixed_is_within_half_a_unit_of_the_exact_value(value: Decimal, places: int) -> None:
    text = fixed(value, places)
    assert "E" not in text and "e" not in text
    assert abs(Decimal(text) - value) <= Decimal(1).scaleb(-places) / 2
    assert len(text.split(".")[1]) == places if places else "." not in text


@given(FINITE)
def test_money_reads_back_close_to_the_value(value: Decimal) -> None:
    text = money(value)
    assert abs(Decimal(text.replace(",", "")) - value) <= Decimal("0.005")
    assert signed_money(value).lstrip("+") == text


@given(FINITE.filter(lambda v: v != 0), st.integers(min_value=1, max_value=12))
def test_significant_keeps_the_value_to_its_digits(value: Decimal, digits: int) -> None:
    text = significant(value, digits)
    assert "E" not in text
    kept_places = max(0, digits - 1 - value.adjusted())  # whole digits are never rounded away
    assert abs(Decimal(text) - value) <= Decimal(1).scaleb(-kept_places) / 2
