"""The one session builder: an engine and the exchange it trades on, new or restored from a checkpoint.

`Runner` (run), `DirectSession` (a tool acting on a stopped engine) and `backtest` all build their session
here, and the venue comes from the one exchange factory (`runtime.venues`), picked by mode.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.config import ExecutorConfig
from core.engine import Engine
from core.exchange_port import Exchange
from core.filters import SymbolRules
from core.portfolio import Portfolio
from core.strategies.registry import StrategySet
from runtime.run_mode import RunMode
from runtime.venues import new_exchange, restore_exchange, venue_for


@dataclass(frozen=True, slots=True)
class Session:
    engine: Engine
    exchange: Exchange


def new_session(mode: RunMode, config: ExecutorConfig, rules: dict[str, SymbolRules], symbols: list[str],
                start_ms: int, quote_asset: str, quote_balance: Decimal,
                strategies: StrategySet | None = None) -> Session:
    """A new account holding `quote_balance` of `quote_asset`, on the mode's venue, its engine at `start_ms`,
    running `strategies` (None: the built-ins with `config.strategies`)."""
    balances = {quote_asset: quote_balance}
    exchange = new_exchange(venue_for(mode), rules, balances, config.risk.fee_rate)
    engine = Engine(config, rules, Portfolio(quote_asset, balances), symbols, start_ms, strategies)
    return Session(engine, exchange)


def restore_session(mode: RunMode, engine_state: dict[str, Any], venue_state: dict[str, Any],
                    config: ExecutorConfig, rules: dict[str, SymbolRules],
                    strategies: StrategySet | None = None) -> Session:
    """The engine and venue of a checkpoint. Raises KeyError/TypeError/ValueError for a part that is not a state:
    the caller names the checkpoint (`runtime.commands.unrestorable_checkpoint`)."""
    engine = Engine.from_state(engine_state, config, rules, strategies)
    return Session(engine, restore_exchange(venue_for(mode), venue_state, rules))
