"""Binance's error answers: the code, the message, and the HTTP status they travel with.

Codes and messages follow binance-spot-api-docs `errors.md`; the HTTP statuses follow its "HTTP return
codes" (4XX for the sender's mistakes, 429/418 for rate limits and bans, 5XX when the execution status
is unknown). The SDK puts `code` in the exception's `.status_code` (the HTTP status only on 5XX).
"""

from __future__ import annotations

from enum import IntEnum

from core.exchange_port import ExchangeRejected

DECIMAL_PATTERN = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"


class Code(IntEnum):
    UNKNOWN = -1000
    TOO_MANY_REQUESTS = -1003
    TIMEOUT = -1007
    FILTER_FAILURE = -1013
    TOO_MANY_ORDERS = -1015
    INVALID_TIMESTAMP = -1021
    INVALID_SIGNATURE = -1022
    ILLEGAL_CHARS = -1100
    MANDATORY_PARAM = -1102
    UNKNOWN_PARAM = -1104
    PARAM_NOT_REQUIRED = -1106
    INVALID_TIF = -1115
    INVALID_ORDER_TYPE = -1116
    INVALID_SIDE = -1117
    INVALID_SYMBOL = -1121
    TIME_SPAN_TOO_LONG = -1127
    INVALID_RECV_WINDOW = -1131
    NEW_ORDER_REJECTED = -2010
    CANCEL_REJECTED = -2011
    NO_SUCH_ORDER = -2013
    BAD_API_KEY = -2014
    REJECTED_API_KEY = -2015


class BinanceError(Exception):
    """A request Binance answers with an error document `{"code": …, "msg": …}`."""

    def __init__(self, code: int, msg: str, *, http_status: int = 400, retry_after_s: int | None = None) -> None:
        super().__init__(f"Binance {code} {msg} (HTTP {http_status})")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.retry_after_s = retry_after_s

    def document(self) -> dict[str, int | str]:
        return {"code": self.code, "msg": self.msg}

    @classmethod
    def from_rejection(cls, rejected: ExchangeRejected) -> BinanceError:
        """The simulator already answers with Binance's code and message: pass them through unchanged."""
        return cls(rejected.binance_code, rejected.binance_msg)


def illegal_chars(param: str) -> BinanceError:
    return BinanceError(Code.ILLEGAL_CHARS,
                        f"Illegal characters found in parameter '{param}'; legal range is '{DECIMAL_PATTERN}'.")


def mandatory(param: str) -> BinanceError:
    return BinanceError(Code.MANDATORY_PARAM,
                        f"Mandatory parameter '{param}' was not sent, was empty/null, or malformed.")


def not_required(param: str) -> BinanceError:
    return BinanceError(Code.PARAM_NOT_REQUIRED, f"Parameter '{param}' sent when not required.")


def invalid_signature() -> BinanceError:
    return BinanceError(Code.INVALID_SIGNATURE, "Signature for this request is not valid.")


def rejected_api_key() -> BinanceError:
    return BinanceError(Code.REJECTED_API_KEY, "Invalid API-key, IP, or permissions for action.", http_status=401)


def no_such_order() -> BinanceError:
    return BinanceError(Code.NO_SUCH_ORDER, "Order does not exist.")


def status_unknown() -> BinanceError:
    """-1007 travels with a 5XX: the request may have reached the matching engine."""
    return BinanceError(Code.TIMEOUT,
                        "Timeout waiting for response from backend server. Send status unknown; "
                        "execution status unknown.", http_status=503)
