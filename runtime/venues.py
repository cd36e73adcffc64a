"""The one exchange factory: which venue a session trades on, picked by its mode.

Replay and paper trade on the paper simulator, built new or restored from the checkpoint's venue state.
Testnet and live trade on Binance through `exchange.binance.BinanceExchange`, built from the account that
`runtime.settings.binance_account` reads: there the account on the exchange is the truth, so the checkpoint
keeps no venue state for it (only the venue's kind), and start-up reconciles with the exchange itself
(`runtime.venue_reconcile`).
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.errors import ExecutorError
from core.exchange_port import Exchange
from core.filters import SymbolRules
from exchange.paper import PaperExchange
from runtime.run_mode import RunMode

if TYPE_CHECKING:  # the Binance SDK takes a second to import: only a testnet/live session loads it
    from exchange.binance import BinanceConfig, BinanceExchange


class VenueKind(StrEnum):
    """Which implementation of the Exchange port a session trades on (saved in the checkpoint as `venue`)."""

    PAPER = "paper"
    BINANCE = "binance"


class VenueAccountMissing(ExecutorError):
    code = "INVALID_CONFIG"

    def __init__(self, kind: VenueKind) -> None:
        super().__init__(f"the {kind} venue needs its account (keys and URLs; CONFIGURATION.md, 'The Binance "
                         "adapter')", venue=kind.value)


def venue_for(mode: RunMode) -> VenueKind:
    """The venue of a mode."""
    match mode:
        case RunMode.REPLAY | RunMode.PAPER:
            return VenueKind.PAPER
        case RunMode.TESTNET | RunMode.LIVE:
            return VenueKind.BINANCE
        case _:
            raise ExecutorError(f"no venue for mode {mode!r}", mode=str(mode))


def new_exchange(kind: VenueKind, rules: dict[str, SymbolRules], balances: dict[str, Decimal],
                 fee_rate: Decimal, account: BinanceConfig | None = None) -> Exchange:
    """A fresh account on the venue: the simulator's starting balances are `balances`; a Binance account holds
    what it holds (`balances` and `fee_rate` are the exchange's own there)."""
    match kind:
        case VenueKind.PAPER:
            return PaperExchange(rules, balances, fee_rate=fee_rate)
        case VenueKind.BINANCE:
            return _binance(account)
        case _:
            raise ExecutorError(f"no venue {kind!r}", venue=str(kind))


def restore_exchange(kind: VenueKind, state: dict[str, Any] | None, rules: dict[str, SymbolRules],
                     account: BinanceConfig | None = None) -> Exchange:
    """The venue as the checkpoint saved it (`state`: the venue's own part, None for a venue that keeps none).
    Raises KeyError/TypeError/ValueError for a state that is not one (the caller names the checkpoint). A Binance
    account is reached again, not restored: it has no saved state."""
    match kind:
        case VenueKind.PAPER:
            if state is None:
                raise ValueError("the paper venue's checkpoint has no simulator state")
            return PaperExchange.from_state(state, rules)
        case VenueKind.BINANCE:
            return _binance(account)
        case _:
            raise ExecutorError(f"no venue {kind!r}", venue=str(kind))


def venue_state(exchange: Exchange) -> dict[str, Any] | None:
    """What the checkpoint keeps of the venue: the simulator's whole state; nothing of a remote exchange."""
    if isinstance(exchange, PaperExchange):
        return exchange.to_state()
    return None


def _binance(account: BinanceConfig | None) -> BinanceExchange:
    if account is None:
        raise VenueAccountMissing(VenueKind.BINANCE)
    from exchange.binance import BinanceExchange

    exchange = BinanceExchange(account)
    try:
        exchange.start()  # server time and the symbols' rules and rate limits, before any order
    except BaseException:
        exchange.close()
        raise
    return exchange
