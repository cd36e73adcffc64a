"""How money, prices, quantities, percentages and ages read in answers meant for people: chat text, the `run`
view, command summaries. One place, so that every text answer rounds the same way.

JSON answers keep exact values (`tools.state.money`); these are for reading only. Every function gives plain
digits (never `1E-7`), rounds instead of cutting (a value is never shown cut mid-number) and shows a
negative zero as zero. Times are `core.clock.utc_text`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from core.clock import utc_text

__all__ = ["age", "fixed", "money", "percent", "price", "quantity", "signed_money", "significant", "utc_text"]

Number = Decimal | float | int | str
PRICE_DIGITS = 8  # significant digits of a price: 37,012.53 and 0.00001234 both read whole
_MS_PER_S = 1000


def _decimal(value: Number) -> Decimal:
    """The exact value (a float by its shortest repr); ValueError for text that is not a finite number."""
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _plain(value: Decimal, grouped: bool) -> str:
    if value.is_zero():
        value = abs(value)  # -0.00 reads as a loss that is not there
    return f"{value:,f}" if grouped else f"{value:f}"


def fixed(value: Number, places: int, *, grouped: bool = False) -> str:
    """`value` rounded (half to even) to `places` decimals: fixed(-1.9755270378, 2) == '-1.98'."""
    return _plain(_decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN), grouped)


def money(value: Number, places: int = 2) -> str:
    """An amount of a quote asset for reading: `places` decimals with thousands separators, or four decimals
    below 1 so that a fee of 0.0012 does not read as 0.00."""
    number = _decimal(value)
    small = not number.is_zero() and abs(number) < 1
    return fixed(number, max(places, 4) if small else places, grouped=True)


def signed_money(value: Number, places: int = 2) -> str:
    """A profit or loss: '+1.05', '-2.09', '0.00'."""
    text = money(value, places)
    return text if text.startswith("-") or _decimal(text.replace(",", "")).is_zero() else "+" + text


def significant(value: Number, digits: int = PRICE_DIGITS, *, grouped: bool = False) -> str:
    """`value` rounded to `digits` significant digits, trailing zeros dropped: significant(0.4504104104, 8) ==
    '0.45041041'; whole digits are never rounded away (123456789.5 keeps '123456790' at 8 digits)."""
    number = _decimal(value)
    if number.is_zero():
        return "0"
    places = max(0, digits - 1 - number.adjusted())
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    text = _plain(rounded, grouped)
    return text.rstrip("0").rstrip(".") if "." in text else text


def price(value: Number) -> str:
    """A price for reading: eight significant digits, thousands separators ('37,012.53', '0.00001234')."""
    return significant(value, PRICE_DIGITS, grouped=True)


def quantity(value: Number) -> str:
    """A quantity as exact as it is (quantities sit on the lot step), without trailing zeros or exponent."""
    number = _decimal(value).normalize()
    return _plain(number if number.as_tuple().exponent <= 0 else number.quantize(Decimal(1)), grouped=False)


def percent(value: Number, places: int = 2, *, signed: bool = False) -> str:
    """A percentage: '0.74%', or '+0.74%' / '-0.02%' with `signed`."""
    text = fixed(value, places)
    if signed and not text.startswith("-") and not _decimal(text).is_zero():
        text = "+" + text
    return text + "%"


def age(ms: int) -> str:
    """A duration for reading, in its two largest units: '4 s', '3 min 5 s', '2 h 5 min', '3 d 4 h'."""
    seconds = max(0, ms) // _MS_PER_S
    units = (("d", 86_400), ("h", 3_600), ("min", 60), ("s", 1))
    for index, (name, size) in enumerate(units):
        if seconds >= size or name == "s":
            text = f"{seconds // size} {name}"
            if index + 1 < len(units):
                smaller, smaller_size = units[index + 1]
                rest = seconds % size // smaller_size
                text += f" {rest} {smaller}" if rest else ""
            return text
    raise AssertionError("unreachable: the last unit always matches")
