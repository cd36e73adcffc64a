"""What an API key may do, as Binance reports it: `GET /sapi/v1/account/apiRestrictions` (signed, weight 1).

Read with the adapter's own signed request (`RestClient`: server-synced timestamp, percent-encoded payload)
rather than `binance-sdk-wallet`, which would add a dependency for one GET. Binance's Spot testnet serves no
`/sapi` endpoint: a testnet key's permissions cannot be read this way, and testnet funds are not real.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ExecutorError
from exchange.binance.limits import Cost
from exchange.binance.rest import RestClient

API_RESTRICTIONS_PATH = "/sapi/v1/account/apiRestrictions"
_API_RESTRICTIONS = Cost(weight=1)


class PermissionsUnreadable(ExecutorError):
    """apiRestrictions answered with a document that lacks a field the executor decides on."""

    code = "KEY_PERMISSIONS_UNREADABLE"

    def __init__(self, field: str) -> None:
        super().__init__(f"Binance's apiRestrictions answer has no boolean {field}; the key's permissions are "
                         "unknown, so the executor treats them as unsafe", field=field)


@dataclass(frozen=True, slots=True)
class KeyPermissions:
    """The permissions the executor decides on (the rest of the document is not used)."""

    enable_withdrawals: bool
    enable_spot_and_margin_trading: bool
    enable_reading: bool
    ip_restrict: bool

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> KeyPermissions:
        return cls(enable_withdrawals=_flag(doc, "enableWithdrawals"),
                   enable_spot_and_margin_trading=_flag(doc, "enableSpotAndMarginTrading"),
                   enable_reading=_flag(doc, "enableReading"), ip_restrict=_flag(doc, "ipRestrict"))


def read_key_permissions(rest: RestClient) -> KeyPermissions:
    """The key's permissions. A refusal (a wrong key: -2015, 401) stays the SDK's error for the caller to word;
    a transport failure is `ExchangeUnreachable`."""
    doc = rest.read("apiRestrictions", API_RESTRICTIONS_PATH, {}, _API_RESTRICTIONS)
    if not isinstance(doc, dict):
        raise PermissionsUnreadable("(the answer is not an object)")
    return KeyPermissions.from_document(doc)


def _flag(doc: dict[str, Any], name: str) -> bool:
    value = doc.get(name)
    if not isinstance(value, bool):
        raise PermissionsUnreadable(name)
    return value
