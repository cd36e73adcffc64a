"""Per-strategy performance from closed trades, measured on returns per unit staked.

A trade's return is its realized P&L over its cost (fees included): `ClosedTrade.pnl_pct / 100`. Win rate,
payoff (average winning return / average losing return), profit factor and Kelly are computed on these returns,
never on quote P&L: in quote, a loss on a large position outweighs a win of the same percentage on a small one,
so Kelly's payoff ratio would measure how the positions were sized instead of how the strategy trades (and
sizing follows Kelly, so the error feeds itself).

The drawdown contribution is in quote: the largest fall of the strategy's own cumulative realized P&L from its
running peak, i.e. how much of an account drawdown this strategy alone can explain.

Each outcome carries the market regime of its symbol when the position was entered (`core.regime`), or None
when the regime was still warming up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from core.analytics import ExactSum, TradeStats, TradeTally
from core.regime import Regime


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    """One closed trade as the learning sees it."""

    return_pct: float  # realized P&L over cost, in percent
    pnl: float  # realized P&L in the quote asset
    regime: Regime | None  # the symbol's regime at entry
    closed_ms: int

    def to_list(self) -> list[Any]:
        return [self.return_pct, self.pnl, None if self.regime is None else self.regime.value, self.closed_ms]

    @classmethod
    def from_list(cls, values: Sequence[Any]) -> TradeOutcome:
        return_pct, pnl, regime, closed_ms = values
        return cls(float(return_pct), float(pnl), None if regime is None else Regime(regime), int(closed_ms))


@dataclass(frozen=True, slots=True)
class StrategyPerformance:
    """`returns` holds the win rate, average win and loss (as fractions of the stake), profit factor and full
    Kelly, all on returns; `payoff` is average win / average loss (None without losses)."""

    returns: TradeStats
    payoff: float | None
    pnl: float
    drawdown_contribution: float
    trades_by_regime: dict[str, int]
    last_closed_ms: int | None

    def as_dict(self) -> dict[str, Any]:
        r = self.returns
        return {"closed_trades": r.count, "wins": r.wins, "losses": r.losses,
                "win_rate": round(r.win_rate, 4) if r.count else None,
                "payoff": None if self.payoff is None else round(self.payoff, 4),
                "profit_factor": None if r.profit_factor is None else round(r.profit_factor, 4),
                "kelly_estimate": round(r.kelly, 4) if r.count else None,
                "expectancy_pct": round(r.expectancy * 100.0, 4), "pnl": round(self.pnl, 8),
                "drawdown_contribution": round(self.drawdown_contribution, 8),
                "trades_by_regime": self.trades_by_regime, "last_closed_ms": self.last_closed_ms}


def strategy_performance(outcomes: Sequence[TradeOutcome]) -> StrategyPerformance:
    """The record of one strategy's closed trades, in the order they closed."""
    return StrategyRecord(outcomes).performance()


class StrategyRecord:
    """A strategy's performance kept as its trades close, at O(1) per trade and per `performance()`: the engine
    asks for it at every close (Kelly) and every UTC day (the mix), which recomputed from all the trades was
    quadratic in their number. `performance()` is exactly what a walk over the outcomes gives."""

    __slots__ = ("_by_regime", "_cumulative", "_last_closed_ms", "_peak", "_pnl", "_worst", "returns")

    def __init__(self, outcomes: Sequence[TradeOutcome] = ()) -> None:
        self.returns = TradeTally()
        self._pnl = ExactSum()
        self._cumulative = self._peak = self._worst = 0.0
        self._by_regime: dict[str, int] = {}
        self._last_closed_ms: int | None = None
        for outcome in outcomes:
            self.add(outcome)

    def add(self, outcome: TradeOutcome) -> None:
        self.returns.add(outcome.return_pct / 100.0)
        self._pnl.add(outcome.pnl)
        self._cumulative += outcome.pnl
        self._peak = max(self._peak, self._cumulative)
        self._worst = max(self._worst, self._peak - self._cumulative)
        key = "warming_up" if outcome.regime is None else outcome.regime.value
        self._by_regime[key] = self._by_regime.get(key, 0) + 1
        self._last_closed_ms = outcome.closed_ms

    def performance(self) -> StrategyPerformance:
        stats = self.returns.stats()
        payoff = stats.avg_win / stats.avg_loss if stats.losses and stats.wins else (0.0 if stats.losses else None)
        return StrategyPerformance(returns=stats, payoff=payoff, pnl=self._pnl.value,
                                   drawdown_contribution=self._worst,
                                   trades_by_regime=dict(sorted(self._by_regime.items())),
                                   last_closed_ms=self._last_closed_ms)
