"""The one exchange factory: which venue a session trades on, picked by its mode.

Replay and paper trade on the paper simulator, built new or restored from the checkpoint's venue state.
Testnet and live need the Binance adapter: until one is wired in here (a `VenueKind`, its case in
`venue_for` and in the two builders), they are refused with MODE_UNAVAILABLE before anything is opened.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.errors import ExecutorError
from core.exchange_port import Exchange
from core.filters import SymbolRules
from exchange.paper import PaperExchange
from runtime.run_mode import RunMode


class VenueKind(StrEnum):
    """Which implementation of the Exchange port a session trades on (saved in the checkpoint)."""

    PAPER = "paper"


class ModeUnavailable(ExecutorError):
    code = "MODE_UNAVAILABLE"

    def __init__(self, mode: RunMode) -> None:
        super().__init__(f"--mode {mode} needs the Binance adapter, which this version does not ship yet; "
                         "use --mode replay or --mode paper", mode=mode.value)


def venue_for(mode: RunMode) -> VenueKind:
    """The venue of a mode; refused for a mode whose venue this version cannot build."""
    match mode:
        case RunMode.REPLAY | RunMode.PAPER:
            return VenueKind.PAPER
        case RunMode.TESTNET | RunMode.LIVE:
            raise ModeUnavailable(mode)
        case _:
            raise ExecutorError(f"no venue for mode {mode!r}", mode=str(mode))


def new_exchange(kind: VenueKind, rules: dict[str, SymbolRules], balances: dict[str, Decimal],
                 fee_rate: Decimal) -> Exchange:
    """A fresh account on the venue (the simulator's starting balances are `balances`)."""
    match kind:
        case VenueKind.PAPER:
            return PaperExchange(rules, balances, fee_rate=fee_rate)
        case _:
            raise ExecutorError(f"no venue {kind!r}", venue=str(kind))


def restore_exchange(kind: VenueKind, state: dict[str, Any] | None, rules: dict[str, SymbolRules]) -> Exchange:
    """The venue as the checkpoint saved it (`state`: the venue's own part, None for a venue that keeps none).
    Raises KeyError/TypeError/ValueError for a state that is not one (the caller names the checkpoint)."""
    match kind:
        case VenueKind.PAPER:
            if state is None:
                raise ValueError("the paper venue's checkpoint has no simulator state")
            return PaperExchange.from_state(state, rules)
        case _:
            raise ExecutorError(f"no venue {kind!r}", venue=str(kind))
