"""Reading a request's parameters the way Binance does: decimals as plain digits, enums by name.

Both transports reduce to one `dict[str, str]` (a REST query string or form body, a WebSocket API
`params` object), so every endpoint validates its parameters once, here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import TypeVar

from tests.fakes.binance.errors import DECIMAL_PATTERN, BinanceError, Code, illegal_chars, mandatory

_DECIMAL = re.compile(DECIMAL_PATTERN)
_INTEGER = re.compile(r"^-?[0-9]{1,19}$")
E = TypeVar("E", bound=StrEnum)

# The error Binance gives for an enum value it does not know, by parameter.
_ENUM_ERRORS: dict[str, tuple[Code, str]] = {
    "side": (Code.INVALID_SIDE, "Invalid side."),
    "type": (Code.INVALID_ORDER_TYPE, "Invalid orderType."),
    "aboveType": (Code.INVALID_ORDER_TYPE, "Invalid orderType."),
    "belowType": (Code.INVALID_ORDER_TYPE, "Invalid orderType."),
    "timeInForce": (Code.INVALID_TIF, "Invalid timeInForce."),
    "aboveTimeInForce": (Code.INVALID_TIF, "Invalid timeInForce."),
    "belowTimeInForce": (Code.INVALID_TIF, "Invalid timeInForce."),
}


class Params:
    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def text(self, name: str) -> str | None:
        value = self._values.get(name)
        return value if value else None

    def required(self, name: str) -> str:
        value = self.text(name)
        if value is None:
            raise mandatory(name)
        return value

    def decimal(self, name: str) -> Decimal | None:
        """A price or quantity: plain digits only (`1e-05`, as the SDK's str() writes 0.00001, is -1100)."""
        value = self.text(name)
        if value is None:
            return None
        if not _DECIMAL.match(value):
            raise illegal_chars(name)
        return Decimal(value)

    def integer(self, name: str) -> int | None:
        value = self.text(name)
        if value is None:
            return None
        if not _INTEGER.match(value):
            raise illegal_chars(name)
        return int(value)

    def boolean(self, name: str, default: bool) -> bool:
        value = self.text(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false"):
            raise mandatory(name)
        return value.lower() == "true"

    def enum(self, name: str, kind: type[E]) -> E | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return kind(value)
        except ValueError:
            code, msg = _ENUM_ERRORS.get(name, (Code.MANDATORY_PARAM, f"Invalid value for '{name}'."))
            raise BinanceError(code, msg) from None

    def required_enum(self, name: str, kind: type[E]) -> E:
        value = self.enum(name, kind)
        if value is None:
            raise mandatory(name)
        return value
