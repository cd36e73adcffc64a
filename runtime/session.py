"""The one session builder: an engine and the exchange it trades on, new or restored from a checkpoint.

`Runner` (run), `DirectSession` (a tool acting on a stopped engine) and `backtest` all build their session
here, and the venue comes from the one exchange factory (`runtime.venues`), picked by mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from core.config import ExecutorConfig
from core.engine import Engine
from core.exchange_port import Exchange
from core.filters import SymbolRules
from core.portfolio import Portfolio
from core.strategies.registry import StrategySet
from runtime.checkpoint import Checkpoint
from runtime.run_mode import RunMode
from runtime.venues import new_exchange, restore_exchange, venue_for

if TYPE_CHECKING:
    from exchange.binance import BinanceConfig


@dataclass(frozen=True, slots=True)
class Session:
    engine: Engine
    exchange: Exchange


def new_session(mode: RunMode, config: ExecutorConfig, rules: dict[str, SymbolRules], symbols: list[str],
                start_ms: int, quote_asset: str, quote_balance: Decimal,
                account: BinanceConfig | None = None, strategies: StrategySet | None = None) -> Session:
    """A new engine at `start_ms` on the mode's venue, running `strategies` (None: the built-ins with
    `config.strategies`). On the simulator the account is new and holds `quote_balance` of `quote_asset`; on a
    real account (`account`, testnet/live) the engine starts with the `quote_asset` the exchange says the account
    holds, and `quote_balance` is not used."""
    exchange = new_exchange(venue_for(mode), rules, {quote_asset: quote_balance}, config.risk.fee_rate, account)
    if exchange.remote:
        free, locked = exchange.balances().get(quote_asset, (Decimal(0), Decimal(0)))
        quote_balance = free + locked
    engine = Engine(config, rules, Portfolio(quote_asset, {quote_asset: quote_balance}), symbols, start_ms,
                    strategies)
    return Session(engine, exchange)


def restore_session(checkpoint: Checkpoint, config: ExecutorConfig, rules: dict[str, SymbolRules],
                    account: BinanceConfig | None = None, strategies: StrategySet | None = None) -> Session:
    """The engine and venue of a validated checkpoint, on the venue it names (its `paper` state for the simulator;
    a remote venue keeps none and is reached again with `account`). Raises KeyError/TypeError/ValueError for a part
    the engine or venue cannot take: the caller names the checkpoint (`runtime.commands.unrestorable_checkpoint`)."""
    if checkpoint.venue is None:
        raise ValueError(f"the checkpoint names no venue for mode {checkpoint.mode}")
    engine = Engine.from_state(checkpoint.engine_state(), config, rules, strategies)
    return Session(engine, restore_exchange(checkpoint.venue, checkpoint.paper, rules, account))
