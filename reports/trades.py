"""Closed trades, realized P&L and fees of a period, from the journal's fills and `core.portfolio`'s accounting.

The journal records fills but not the balances the account started with, so the replay opens books whose
cash (and third-asset balance, for BNB fees) exactly covers every buy and fee in the history. Those
balances are only there so that the portfolio's balance checks pass; nothing reported depends on them:
realized P&L, fees and closed trades come from the portfolio's own cost-basis rules (buy fees in the cost,
sell fees out of the proceeds), so the report and the engine can never disagree about a trade.

Every fill since the journal began is replayed, because a trade closed today may have been opened last week.
Without the symbols' rules the replay cannot tell dust from a position that is still open (base-asset fees
leave a remainder below the lot step after every round trip): callers pass the rules the engine traded under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from core.filters import SymbolRules
from core.portfolio import EXACT, ClosedTrade, Dust, Portfolio, PortfolioError
from core.types import Side, StrategyName
from memory.rows import FillRow, OrderRow

ZERO = Decimal(0)


@dataclass(slots=True)
class PeriodTrades:
    """What the fills of [start_ms, end_ms) did: trades closed, P&L realized (partial exits included), fees."""

    closed: list[ClosedTrade] = field(default_factory=list)
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    unpriced_fees: dict[str, Decimal] = field(default_factory=dict)
    fills_in_period: int = 0
    notes: list[str] = field(default_factory=list)
    dust_pnl: Decimal = ZERO  # the part of realized_pnl from selling dust (in no closed trade)
    dust: dict[str, Dust] = field(default_factory=dict)  # the account's dust at the end of the period


def replay_trades(
    fills: Sequence[FillRow],
    orders: Iterable[OrderRow],
    start_ms: int,
    end_ms: int,
    *,
    quote_asset: str,
    rules: Mapping[str, SymbolRules] | None = None,
) -> PeriodTrades:
    """Replay `fills` (time order, as the journal returns them) up to `end_ms` and collect the period's part.

    `orders` name each fill's strategy (the strategy of the order that opened the position). `rules`, when
    given, let the portfolio close a position whose remainder is unsellable dust, as the engine does.
    A fill the books cannot take (a sell with no journaled buy before it) is skipped with a note.
    """
    strategies = {order.client_order_id: order.strategy for order in orders}
    history = [f for f in fills if f.time_ms < end_ms]
    result = PeriodTrades()
    portfolio = Portfolio(quote_asset, _covering_balances(history, quote_asset), rules=rules)
    for row in history:
        base = _base_asset(row.symbol, quote_asset)
        if base is None:
            if row.time_ms >= start_ms:
                result.notes.append(f"fill {row.symbol}#{row.trade_id} is not quoted in {quote_asset}; left out")
            continue
        realized_before, fees_before = portfolio.realized_pnl, portfolio.fees_paid
        dust_before = portfolio.dust_realized_pnl
        unpriced_before = dict(portfolio.unpriced_fees)
        try:
            closed = portfolio.apply_fill(
                row.to_fill(),
                base_asset=base,
                strategy=_strategy(strategies.get(row.client_order_id)),
                position_id=row.position_id,
            )
        except PortfolioError as exc:
            if row.time_ms >= start_ms:
                result.notes.append(f"fill {row.symbol}#{row.trade_id} left out of P&L: {exc.message}")
            continue
        if row.time_ms < start_ms:
            continue
        result.fills_in_period += 1
        # Exact sums (the default context keeps 28 digits): the period's figures are the portfolio's to the last digit.
        result.realized_pnl = EXACT.add(result.realized_pnl, EXACT.subtract(portfolio.realized_pnl, realized_before))
        result.fees = EXACT.add(result.fees, EXACT.subtract(portfolio.fees_paid, fees_before))
        result.dust_pnl = EXACT.add(result.dust_pnl, EXACT.subtract(portfolio.dust_realized_pnl, dust_before))
        for asset, amount in portfolio.unpriced_fees.items():
            delta = amount - unpriced_before.get(asset, ZERO)
            if delta:
                result.unpriced_fees[asset] = result.unpriced_fees.get(asset, ZERO) + delta
        if closed is not None:
            result.closed.append(closed)
    result.dust = portfolio.dust_holdings()
    return result


def _covering_balances(fills: Sequence[FillRow], quote_asset: str) -> dict[str, Decimal]:
    """Cash for every buy and quote fee, and each third asset's total fees: enough that no balance check fires."""
    balances: dict[str, Decimal] = {quote_asset: ZERO}
    for row in fills:
        if row.side is Side.BUY:
            balances[quote_asset] += row.price * row.quantity
        asset = row.commission_asset
        if asset != quote_asset and asset != _base_asset(row.symbol, quote_asset):
            balances[asset] = balances.get(asset, ZERO) + row.commission
        elif asset == quote_asset:
            balances[quote_asset] += row.commission
    return balances


def _base_asset(symbol: str, quote_asset: str) -> str | None:
    if symbol.endswith(quote_asset) and len(symbol) > len(quote_asset):
        return symbol[: -len(quote_asset)]
    return None


def _strategy(name: str | None) -> StrategyName | None:
    if name is None:
        return None
    try:
        return StrategyName(name)
    except ValueError:
        return None
