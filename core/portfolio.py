"""Portfolio accounting: balances, open positions, realized P&L and fees, mirrored from fills.

Pure and deterministic (no I/O, no clock): the engine's state owns one `Portfolio` and feeds it every
fill and every mark. Locked balances (held by open orders) are the exchange's business; the portfolio
mirrors what fills did to each asset.

Accounting rules:

* Cost basis is average cost and **includes buy fees**: a fee in the quote asset is added to the cost,
  a fee in the base asset leaves the cost unchanged but shrinks the quantity received, and a fee in a
  third asset (BNB) is debited from that asset and added to the cost at its mark when the mark is known.
  `Position.avg_entry` is therefore the break-even price before the sell fee.
* A sell realizes `proceeds net of sell fees − avg_entry × quantity removed`. The cost of the sold part
  is cut from the cost basis and the remainder stays with the remaining units, so the realized P&L of a
  round trip is exactly proceeds − costs, both fees included.
* Fees are counted in the quote asset at fill time (`fees_paid`); a third-asset fee whose mark is not
  known is kept per asset in `unpriced_fees` instead of being valued at a made-up price.

Dust is an account-level holding, never part of a position. After a sell, a remainder of the position that no
order could sell on its own (below the symbol's LOT_SIZE minQty or step once rounded down, or below its minimum
notional at the fill price; rules registered with `set_rules`) closes the position, and the remainder, with its
share of the cost basis, joins the symbol's `Dust`. A later position of the symbol, whatever its strategy, starts
from its own fills only, so dust never moves a strategy's P&L or its Kelly inputs. Dust stays in `equity()` at
mark (not in `exposure()`), and is sold with a later exit of the symbol only when adding it lets that sell take
more units that pass the filters (`sellable_quantity`); the units a sell takes beyond the position come out of the
dust, and their P&L goes to `dust_realized_pnl` (part of `realized_pnl`, in no closed trade). A position the
engine cannot sell at all becomes dust too (`to_dust`). Without registered rules only an exactly zero remainder
closes a position.

The cash identity, exact: change of cash = realized P&L − change of the cost held in open positions and in dust
+ fees paid in a third asset (BNB: in the cost basis, but not out of cash). At a moment with no open position:
change of cash = realized P&L − change of dust cost (+ BNB fees).

Arithmetic: sums and products run in a 1000-digit context, which is exact for every value an exchange
produces; the only divisions (the cost of a partial sell, averages) round to 34 significant digits, and
the cost basis left behind absorbs that rounding so that totals stay exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Context, Decimal, InvalidOperation
from typing import Any

from core.errors import ExecutorError
from core.filters import SymbolRules, round_to_step
from core.types import Fill, Position, Side, StrategyName

ZERO = Decimal(0)
HUNDRED = Decimal(100)
SNAPSHOT_VERSION = 1
EXACT = Context(prec=1000, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)
_DIVIDE = Context(prec=34, rounding=ROUND_HALF_EVEN, Emax=999_999, Emin=-999_999)


class PortfolioError(ExecutorError):
    """A fill or request the books cannot take without going wrong; nothing was changed."""

    code = "PORTFOLIO_ERROR"


class InsufficientBalance(PortfolioError):
    code = "INSUFFICIENT_BALANCE"

    def __init__(self, symbol: str, asset: str, balance: Decimal, needed: Decimal) -> None:
        super().__init__(f"{symbol}: fill needs {needed} {asset} but the books hold {balance}",
                         symbol=symbol, asset=asset, value=needed, limit=balance)


class NoPosition(PortfolioError):
    code = "NO_POSITION"

    def __init__(self, symbol: str, action: str) -> None:
        super().__init__(f"{symbol}: no open position to {action}", symbol=symbol, action=action)


class Oversell(PortfolioError):
    code = "OVERSELL"

    def __init__(self, symbol: str, quantity: Decimal, held: Decimal) -> None:
        super().__init__(f"{symbol}: sell of {quantity} exceeds the position's {held}",
                         symbol=symbol, value=quantity, limit=held)


class InvalidMark(PortfolioError):
    code = "INVALID_MARK"

    def __init__(self, symbol: str, price: Any) -> None:
        super().__init__(f"{symbol}: mark price {price!r} is not a positive finite number", symbol=symbol,
                         value=repr(price))


class InvalidSnapshot(PortfolioError):
    code = "INVALID_PORTFOLIO_SNAPSHOT"

    def __init__(self, reason: str) -> None:
        super().__init__(f"portfolio snapshot is invalid: {reason}", reason=reason)


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A position from first buy to the sell that closed it.

    `quantity` is every unit that left the position (including any sell fee charged in the base asset);
    `entry_price` is the average cost of those units including buy fees; `exit_price` the average proceeds
    net of sell fees; `pnl` the exact realized P&L in the quote asset; `pnl_pct` is pnl over cost, in percent.
    """

    position_id: str
    symbol: str
    strategy: StrategyName | None
    quantity: Decimal
    entry_price: Decimal
    exit_price: Decimal
    pnl: Decimal
    pnl_pct: float
    opened_ms: int
    closed_ms: int


def new_position_id(symbol: str, opened_ms: int, seq: int) -> str:
    """`SYMBOL-openedms-seq`. `seq` comes from the portfolio's persisted counter, so two positions opened in
    the same millisecond on the same symbol (or either side of a restart) never share an id."""
    if not symbol or opened_ms < 0 or seq < 0:
        raise ValueError(f"bad position id parts: symbol={symbol!r} opened_ms={opened_ms} seq={seq}")
    return f"{symbol}-{opened_ms}-{seq}"


@dataclass(slots=True)
class _OpenPosition:
    """Mutable book entry behind a `Position`: quantity, cost basis and the running totals of its sells."""

    position_id: str
    symbol: str
    base_asset: str
    strategy: StrategyName | None
    quantity: Decimal
    cost: Decimal
    opened_ms: int
    stop_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    protection_list_id: str | None = None
    sold_quantity: Decimal = ZERO
    sold_cost: Decimal = ZERO
    proceeds: Decimal = ZERO

    def to_position(self) -> Position:
        return Position(position_id=self.position_id, symbol=self.symbol, strategy=self.strategy,
                        quantity=self.quantity, avg_entry=_DIVIDE.divide(self.cost, self.quantity),
                        opened_ms=self.opened_ms, stop_price=self.stop_price,
                        take_profit_price=self.take_profit_price, protection_list_id=self.protection_list_id)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position_id": self.position_id, "symbol": self.symbol, "base_asset": self.base_asset,
            "strategy": None if self.strategy is None else self.strategy.value,
            "quantity": str(self.quantity), "cost": str(self.cost), "opened_ms": self.opened_ms,
            "stop_price": _opt_str(self.stop_price), "take_profit_price": _opt_str(self.take_profit_price),
            "protection_list_id": self.protection_list_id, "sold_quantity": str(self.sold_quantity),
            "sold_cost": str(self.sold_cost), "proceeds": str(self.proceeds),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> _OpenPosition:
        strategy = d["strategy"]
        return cls(position_id=str(d["position_id"]), symbol=str(d["symbol"]), base_asset=str(d["base_asset"]),
                   strategy=None if strategy is None else StrategyName(strategy),
                   quantity=_dec(d["quantity"]), cost=_dec(d["cost"]), opened_ms=int(d["opened_ms"]),
                   stop_price=_opt_dec(d["stop_price"]), take_profit_price=_opt_dec(d["take_profit_price"]),
                   protection_list_id=d["protection_list_id"], sold_quantity=_dec(d["sold_quantity"]),
                   sold_cost=_dec(d["sold_cost"]), proceeds=_dec(d["proceeds"]))


@dataclass(frozen=True, slots=True)
class Dust:
    """Units of one symbol's base asset that no order can sell on their own, and what they cost (buy fees
    included), held by the account rather than by any position; see the module docstring."""

    symbol: str
    quantity: Decimal
    cost: Decimal

    def value(self, price: Decimal) -> Decimal:
        """The dust at `price`, exact."""
        return EXACT.multiply(self.quantity, price)

    def plus(self, quantity: Decimal, cost: Decimal) -> Dust:
        return Dust(self.symbol, EXACT.add(self.quantity, quantity), EXACT.add(self.cost, cost))

    def minus(self, quantity: Decimal) -> tuple[Dust, Decimal]:
        """The dust left after `quantity` units are sold, and the cost of those units (the remainder keeps the
        rounding of the division, so the costs always add up)."""
        if quantity > self.quantity:
            raise Oversell(self.symbol, quantity, self.quantity)
        cost = self.cost if quantity == self.quantity else _DIVIDE.divide(
            EXACT.multiply(self.cost, quantity), self.quantity)
        return Dust(self.symbol, EXACT.subtract(self.quantity, quantity), EXACT.subtract(self.cost, cost)), cost


class Portfolio:
    """Balances of every asset, open long positions, realized P&L, fees and the equity high-water mark."""

    def __init__(self, quote_asset: str, balances: Mapping[str, Decimal], *,
                 rules: Mapping[str, SymbolRules] | None = None) -> None:
        if not quote_asset:
            raise PortfolioError("quote asset must not be empty", quote_asset=quote_asset)
        self.quote_asset = quote_asset
        self._balances: dict[str, Decimal] = {quote_asset: ZERO}
        for asset, raw in balances.items():
            if isinstance(raw, float):
                raise PortfolioError(f"balance of {asset} must be a Decimal, not the float {raw!r}", asset=asset)
            amount = Decimal(raw)
            if not amount.is_finite() or amount < ZERO:
                raise PortfolioError(f"balance of {asset} must be a finite amount >= 0, got {amount}",
                                     asset=asset, value=amount)
            self._balances[asset] = amount
        # Per-bar equity in floats, kept by symbol: each holding's amount and its value at the last mark, so a mark
        # updates one entry and the equity is the C-level sum of a few floats.
        self._float_holdings = {a + quote_asset: float(v) for a, v in self._balances.items()
                                if a != quote_asset and v != ZERO}
        self._float_values: dict[str, float] = {}
        self._cash_float = float(self._balances[quote_asset])
        # Symbols whose base asset has a non-zero balance: the ones the engine must mark (positions and dust).
        self._held = {a + quote_asset for a, v in self._balances.items() if a != quote_asset and v != ZERO}
        self._positions: dict[str, _OpenPosition] = {}
        self._dust: dict[str, Dust] = {}
        self._marks: dict[str, float] = {}
        self._rules: dict[str, SymbolRules] = dict(rules or {})
        self.realized_pnl: Decimal = ZERO
        self.dust_realized_pnl: Decimal = ZERO  # the part of realized_pnl from selling dust
        self.fees_paid: Decimal = ZERO
        self.unpriced_fees: dict[str, Decimal] = {}
        self._next_seq = 0
        self.high_water_mark: float = self.equity_float()

    # ----- reading -----

    @property
    def cash(self) -> Decimal:
        """The quote-asset balance."""
        return self._balances[self.quote_asset]

    def balances(self) -> dict[str, Decimal]:
        return dict(self._balances)

    def position(self, symbol: str) -> Position | None:
        book = self._positions.get(symbol)
        return None if book is None else book.to_position()

    def positions(self) -> dict[str, Position]:
        return {symbol: book.to_position() for symbol, book in self._positions.items()}

    def dust(self, symbol: str) -> Decimal:
        """The account's dust quantity of `symbol` (0 when none); see the module docstring."""
        found = self._dust.get(symbol)
        return ZERO if found is None else found.quantity

    def dust_amounts(self) -> dict[str, Decimal]:
        return {symbol: d.quantity for symbol, d in self._dust.items()}

    def dust_holdings(self) -> dict[str, Dust]:
        """Every symbol's dust (units and their cost), by symbol."""
        return dict(self._dust)

    def dust_value(self, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """All dust at mark, exact (`marks` override the last marks; unmarked dust is left out, as in `equity`)."""
        total = ZERO
        for symbol, dust in self._dust.items():
            price = self._decimal_mark(symbol, marks)
            if price is not None:
                total = EXACT.add(total, dust.value(price))
        return total

    @property
    def held_symbols(self) -> frozenset[str]:
        """Symbols whose base asset the account holds (a position, dust, any balance): the ones to mark."""
        return frozenset(self._held)

    def holds(self, symbol: str) -> bool:
        """Whether the account holds any of `symbol`'s base asset (the engine's per-bar check)."""
        return symbol in self._held

    def sellable_quantity(self, symbol: str) -> Decimal:
        """What an exit of the open position sells (0 with no position): the part of the position a sell that
        passes LOT_SIZE and the minimum notional (at the last mark) can take, or of the position and the symbol's
        dust together when that takes more units."""
        book = self._positions.get(symbol)
        if book is None:
            return ZERO
        price = self._decimal_mark(symbol, None)
        alone = self._sellable(symbol, book.quantity, price)
        dust = self._dust.get(symbol)
        if dust is None:
            return alone
        return max(alone, self._sellable(symbol, EXACT.add(book.quantity, dust.quantity), price))

    def last_marks(self) -> dict[str, float]:
        return dict(self._marks)

    def mark_of(self, symbol: str) -> float | None:
        """The last mark of `symbol` (None when it has none)."""
        return self._marks.get(symbol)

    @property
    def next_seq(self) -> int:
        """The sequence number the next opened position will use in its id."""
        return self._next_seq

    def unpriced_assets(self) -> list[str]:
        """Held assets with no mark: left out of `equity()` rather than valued at an invented price."""
        return sorted(a for a, v in self._balances.items()
                      if a != self.quote_asset and v != ZERO and self._symbol_of(a) not in self._marks)

    # ----- valuation -----

    def mark(self, symbol: str, price: float) -> float:
        """Record the latest price of `symbol` (called every bar), move the high-water mark, and return the equity
        at the new marks (`equity_float()`, computed once for both)."""
        if not 0.0 < price < math.inf:
            raise InvalidMark(symbol, price)
        self._marks[symbol] = price
        amount = self._float_holdings.get(symbol)
        if amount is not None:
            self._float_values[symbol] = amount * price
        # `_update_high_water_mark()` and `equity_float()` spelled out (the same sum, in the same order): this runs
        # on nearly every bar of a replay, as soon as the account holds some dust of every symbol.
        equity = self._cash_float + sum(self._float_values.values())
        if equity > self.high_water_mark:
            self.high_water_mark = equity
        return equity

    def equity(self, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """Exact equity: cash plus every held asset at its mark, in the quote asset.

        `marks` (symbol → price) override the last marks; assets with no mark at all are left out and
        named by `unpriced_assets()`.
        """
        total = self.cash
        for asset, amount in self._balances.items():
            if asset == self.quote_asset or amount == ZERO:
                continue
            price = self._decimal_mark(self._symbol_of(asset), marks)
            if price is not None:
                total = EXACT.add(total, EXACT.multiply(amount, price))
        return total

    def equity_float(self) -> float:
        """Fast equity for the per-bar breakers: the same sum as `equity()` at the last marks, in floats."""
        return self._cash_float + sum(self._float_values.values())

    def exposure(self, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """Open positions at mark, in the quote asset (dust and other holdings excluded)."""
        total = ZERO
        for symbol, book in self._positions.items():
            price = self._decimal_mark(symbol, marks)
            if price is not None:
                total = EXACT.add(total, EXACT.multiply(book.quantity, price))
        return total

    def unrealized_pnl(self, marks: Mapping[str, Decimal] | None = None) -> Decimal:
        """Open positions at mark minus their cost basis (buy fees included), exact; unmarked positions left out."""
        total = ZERO
        for symbol, book in self._positions.items():
            price = self._decimal_mark(symbol, marks)
            if price is not None:
                total = EXACT.add(total, EXACT.subtract(EXACT.multiply(book.quantity, price), book.cost))
        return total

    @property
    def drawdown_pct(self) -> float:
        """How far equity (at the last marks) is below its high-water mark, in percent."""
        if self.high_water_mark <= 0.0:
            return 0.0
        return max(0.0, (self.high_water_mark - self.equity_float()) / self.high_water_mark * 100.0)

    # ----- changing -----

    def set_rules(self, rules: Mapping[str, SymbolRules]) -> None:
        """Register (or refresh) symbol rules; LOT_SIZE decides what remainder counts as dust."""
        self._rules.update(rules)

    def set_protection(self, symbol: str, stop_price: Decimal | None, take_profit_price: Decimal | None,
                       list_id: str | None) -> None:
        """Record the protective orders working for a position (all None once they are gone)."""
        book = self._positions.get(symbol)
        if book is None:
            raise NoPosition(symbol, "protect")
        for name, price in (("stop_price", stop_price), ("take_profit_price", take_profit_price)):
            if price is not None and not (price.is_finite() and price > ZERO):
                raise PortfolioError(f"{symbol}: {name} {price} must be a positive price", symbol=symbol,
                                     field=name, value=price)
        book.stop_price = stop_price
        book.take_profit_price = take_profit_price
        book.protection_list_id = list_id

    def next_position_id(self, symbol: str, opened_ms: int) -> str:
        """Reserve the id of a position about to be opened (e.g. to tag its entry order before it fills).

        The sequence counter advances on every reservation and is persisted, so ids never repeat, even for
        two positions opened in the same millisecond or across a restart from `to_dict`.
        """
        position_id = new_position_id(symbol, opened_ms, self._next_seq)
        self._next_seq += 1
        return position_id

    def apply_fill(self, fill: Fill, *, base_asset: str, strategy: StrategyName | None = None,
                   position_id: str | None = None) -> ClosedTrade | None:
        """Book one execution. Returns the `ClosedTrade` when a sell closes the position, else None.

        `strategy` and `position_id` (one reserved with `next_position_id`; a fresh one when omitted) name
        the position a buy opens; both are ignored when the buy adds to an open position. The fill price
        becomes the symbol's mark (a real trade price), so a new position is never unpriced. Raises a
        `PortfolioError` and changes nothing when the fill does not fit the books (an asset would go below
        zero, a sell exceeds the position, the symbol is not `base_asset` + the quote asset).
        """
        if base_asset == self.quote_asset or fill.symbol != base_asset + self.quote_asset:
            raise PortfolioError(f"{fill.symbol} is not {base_asset} quoted in {self.quote_asset}",
                                 symbol=fill.symbol, base_asset=base_asset, quote_asset=self.quote_asset)
        if fill.side is Side.BUY:
            self._apply_buy(fill, base_asset, strategy, position_id)
            closed = None
        else:
            closed = self._apply_sell(fill, base_asset)
        self.mark(fill.symbol, float(fill.price))
        return closed

    def _apply_buy(self, fill: Fill, base: str, strategy: StrategyName | None, position_id: str | None) -> None:
        gross = EXACT.multiply(fill.price, fill.quantity)
        fee_asset, fee = fill.commission_asset, fill.commission
        received, cost = fill.quantity, gross
        fee_in_quote: Decimal | None = ZERO
        changes: dict[str, Decimal] = {self.quote_asset: -gross, base: ZERO}
        if fee > ZERO and fee_asset == self.quote_asset:
            cost = EXACT.add(cost, fee)
            fee_in_quote = fee
            changes[self.quote_asset] = EXACT.subtract(changes[self.quote_asset], fee)
        elif fee > ZERO and fee_asset == base:
            if fee >= fill.quantity:
                raise PortfolioError(f"{fill.symbol}: commission {fee} {base} eats the whole {fill.quantity} bought",
                                     symbol=fill.symbol, value=fee, limit=fill.quantity)
            received = EXACT.subtract(fill.quantity, fee)
            fee_in_quote = EXACT.multiply(fee, fill.price)
        elif fee > ZERO:
            changes[fee_asset] = -fee
            fee_in_quote = self._third_asset_fee(fee_asset, fee)
            cost = EXACT.add(cost, fee_in_quote or ZERO)
        changes[base] = EXACT.add(changes[base], received)
        self._apply_balance_changes(fill.symbol, changes)
        self._count_fee(fee_asset, fee, fee_in_quote)
        book = self._positions.get(fill.symbol)
        if book is None:
            book = self._open(fill, base, strategy, position_id)
        book.quantity = EXACT.add(book.quantity, received)
        book.cost = EXACT.add(book.cost, cost)

    def _open(self, fill: Fill, base: str, strategy: StrategyName | None, position_id: str | None) -> _OpenPosition:
        """A new position, holding only what its own fills bring: the symbol's dust stays the account's."""
        book = _OpenPosition(position_id=position_id or self.next_position_id(fill.symbol, fill.time_ms),
                             symbol=fill.symbol, base_asset=base, strategy=strategy, quantity=ZERO,
                             cost=ZERO, opened_ms=fill.time_ms)
        self._positions[fill.symbol] = book
        return book

    def _apply_sell(self, fill: Fill, base: str) -> ClosedTrade | None:
        book = self._positions.get(fill.symbol)
        if book is None:
            raise NoPosition(fill.symbol, "sell")
        gross = EXACT.multiply(fill.price, fill.quantity)
        fee_asset, fee = fill.commission_asset, fill.commission
        removed, proceeds = fill.quantity, gross
        fee_in_quote: Decimal | None = ZERO
        changes: dict[str, Decimal] = {self.quote_asset: gross}
        if fee > ZERO and fee_asset == self.quote_asset:
            proceeds = EXACT.subtract(gross, fee)
            fee_in_quote = fee
            changes[self.quote_asset] = proceeds
        elif fee > ZERO and fee_asset == base:
            removed = EXACT.add(fill.quantity, fee)
            fee_in_quote = EXACT.multiply(fee, fill.price)
        elif fee > ZERO:
            changes[fee_asset] = -fee
            fee_in_quote = self._third_asset_fee(fee_asset, fee)
            proceeds = EXACT.subtract(gross, fee_in_quote or ZERO)
        dust = self._dust.get(fill.symbol)
        available = book.quantity if dust is None else EXACT.add(book.quantity, dust.quantity)
        if removed > available:
            raise Oversell(fill.symbol, removed, available)
        from_position = min(removed, book.quantity)
        from_dust = EXACT.subtract(removed, from_position)
        changes[base] = -removed
        self._apply_balance_changes(fill.symbol, changes)
        self._count_fee(fee_asset, fee, fee_in_quote)
        if from_dust > ZERO:
            assert dust is not None
            # The proceeds are shared by units; the dust's part takes the division's rounding, the position's is exact.
            position_proceeds = _DIVIDE.divide(EXACT.multiply(proceeds, from_position), removed)
            dust_proceeds = EXACT.subtract(proceeds, position_proceeds)
            self._sell_dust(dust, from_dust, dust_proceeds)
            proceeds = position_proceeds
        cost_sold = book.cost if from_position == book.quantity else _DIVIDE.divide(
            EXACT.multiply(book.cost, from_position), book.quantity)
        book.quantity = EXACT.subtract(book.quantity, from_position)
        book.cost = EXACT.subtract(book.cost, cost_sold)
        book.sold_quantity = EXACT.add(book.sold_quantity, from_position)
        book.sold_cost = EXACT.add(book.sold_cost, cost_sold)
        book.proceeds = EXACT.add(book.proceeds, proceeds)
        self.realized_pnl = EXACT.add(self.realized_pnl, EXACT.subtract(proceeds, cost_sold))
        if self._sellable(fill.symbol, book.quantity, fill.price) > ZERO:
            return None
        return self._close(book, fill.time_ms)

    def _sell_dust(self, dust: Dust, quantity: Decimal, proceeds: Decimal) -> None:
        left, cost = dust.minus(quantity)
        if left.quantity > ZERO:
            self._dust[dust.symbol] = left
        else:
            del self._dust[dust.symbol]
        pnl = EXACT.subtract(proceeds, cost)
        self.realized_pnl = EXACT.add(self.realized_pnl, pnl)
        self.dust_realized_pnl = EXACT.add(self.dust_realized_pnl, pnl)

    def to_dust(self, symbol: str, time_ms: int) -> ClosedTrade | None:
        """Close a position no order can sell any more (the engine found it below the filters at its exit): its
        units and cost join the symbol's dust. Returns the closed trade when the position had sold something."""
        book = self._positions.get(symbol)
        if book is None:
            raise NoPosition(symbol, "move to dust")
        return self._close(book, time_ms)

    def _close(self, book: _OpenPosition, closed_ms: int) -> ClosedTrade | None:
        del self._positions[book.symbol]
        if book.quantity > ZERO:
            self._dust[book.symbol] = self._dust.get(book.symbol, Dust(book.symbol, ZERO, ZERO)).plus(
                book.quantity, book.cost)
        if book.sold_quantity == ZERO:
            return None
        pnl = EXACT.subtract(book.proceeds, book.sold_cost)
        return ClosedTrade(
            position_id=book.position_id, symbol=book.symbol, strategy=book.strategy,
            quantity=book.sold_quantity, entry_price=_DIVIDE.divide(book.sold_cost, book.sold_quantity),
            exit_price=_DIVIDE.divide(book.proceeds, book.sold_quantity), pnl=pnl,
            pnl_pct=float(_DIVIDE.divide(EXACT.multiply(pnl, HUNDRED), book.sold_cost)) if book.sold_cost else 0.0,
            opened_ms=book.opened_ms, closed_ms=closed_ms,
        )

    def _sellable(self, symbol: str, quantity: Decimal, price: Decimal | None) -> Decimal:
        """The part of `quantity` one sell could take: rounded down to LOT_SIZE's step, at least minQty, and (at
        `price`, when known) at least the minimum notional, which binds every exit (a limit leg always; a market
        sell where applyMinToMarket, the usual case). Without rules, all of it."""
        rules = self._rules.get(symbol)
        if rules is None or quantity <= ZERO:
            return quantity
        sellable = round_to_step(quantity, rules.step_size, "down")
        if sellable < rules.min_qty:
            return ZERO
        if price is not None and EXACT.multiply(sellable, price) < rules.min_notional:
            return ZERO
        return sellable

    def _third_asset_fee(self, asset: str, fee: Decimal) -> Decimal | None:
        """The quote value of a fee paid in another asset (BNB) at its mark; None when it has no mark yet."""
        price = self._decimal_mark(self._symbol_of(asset), None)
        return None if price is None else EXACT.multiply(fee, price)

    def _count_fee(self, asset: str, fee: Decimal, fee_in_quote: Decimal | None) -> None:
        """Add a fee to `fees_paid` in quote, or to `unpriced_fees` when its asset has no mark."""
        if fee == ZERO:
            return
        if fee_in_quote is None:
            self.unpriced_fees[asset] = EXACT.add(self.unpriced_fees.get(asset, ZERO), fee)
            return
        self.fees_paid = EXACT.add(self.fees_paid, fee_in_quote)

    def _apply_balance_changes(self, symbol: str, changes: Mapping[str, Decimal]) -> None:
        """Check every change first, then apply them all: a refused fill leaves the books untouched."""
        after = {a: EXACT.add(self._balances.get(a, ZERO), delta) for a, delta in changes.items()}
        for asset, amount in after.items():
            if amount < ZERO:
                raise InsufficientBalance(symbol, asset, self._balances.get(asset, ZERO), -changes[asset])
        for asset, amount in after.items():
            self._balances[asset] = amount
            if asset == self.quote_asset:
                self._cash_float = float(amount)
            else:
                self._set_float_holding(self._symbol_of(asset), amount)
                if amount == ZERO:
                    self._held.discard(self._symbol_of(asset))
                else:
                    self._held.add(self._symbol_of(asset))

    def _set_float_holding(self, symbol: str, amount: Decimal) -> None:
        if amount == ZERO:
            self._float_holdings.pop(symbol, None)
            self._float_values.pop(symbol, None)
            return
        self._float_holdings[symbol] = held = float(amount)
        price = self._marks.get(symbol)
        if price is not None:
            self._float_values[symbol] = held * price

    def _update_high_water_mark(self) -> float:
        equity = self.equity_float()
        if equity > self.high_water_mark:
            self.high_water_mark = equity
        return equity

    def _symbol_of(self, asset: str) -> str:
        return asset + self.quote_asset

    def _decimal_mark(self, symbol: str, marks: Mapping[str, Decimal] | None) -> Decimal | None:
        if marks is not None and symbol in marks:
            return Decimal(marks[symbol])
        price = self._marks.get(symbol)
        return None if price is None else Decimal(repr(price))

    # ----- persistence -----

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able snapshot: Decimals as strings, floats as JSON numbers; `from_dict` restores it exactly."""
        return {
            "version": SNAPSHOT_VERSION,
            "quote_asset": self.quote_asset,
            "balances": {a: str(v) for a, v in self._balances.items()},
            "positions": [book.to_dict() for book in self._positions.values()],
            "dust": {s: {"quantity": str(d.quantity), "cost": str(d.cost)} for s, d in self._dust.items()},
            "marks": dict(self._marks),
            "realized_pnl": str(self.realized_pnl),
            "dust_realized_pnl": str(self.dust_realized_pnl),
            "fees_paid": str(self.fees_paid),
            "unpriced_fees": {a: str(v) for a, v in self.unpriced_fees.items()},
            "high_water_mark": self.high_water_mark,
            "next_seq": self._next_seq,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], *, rules: Mapping[str, SymbolRules] | None = None) -> Portfolio:
        if d.get("version") != SNAPSHOT_VERSION:
            raise InvalidSnapshot(f"version {d.get('version')!r}, expected {SNAPSHOT_VERSION}")
        try:
            portfolio = cls(d["quote_asset"], {a: _dec(v) for a, v in d["balances"].items()}, rules=rules)
            portfolio._positions = {p["symbol"]: _OpenPosition.from_dict(p) for p in d["positions"]}
            portfolio._dust = {s: Dust(s, _dec(v["quantity"]), _dec(v["cost"])) for s, v in d["dust"].items()}
            portfolio._marks = {s: float(v) for s, v in d["marks"].items()}
            portfolio._float_values = {s: amount * portfolio._marks[s]
                                       for s, amount in portfolio._float_holdings.items() if s in portfolio._marks}
            portfolio.realized_pnl = _dec(d["realized_pnl"])
            # A snapshot from before dust was sold on its own account has sold none.
            portfolio.dust_realized_pnl = _dec(d.get("dust_realized_pnl", "0"))
            portfolio.fees_paid = _dec(d["fees_paid"])
            portfolio.unpriced_fees = {a: _dec(v) for a, v in d["unpriced_fees"].items()}
            portfolio.high_water_mark = float(d["high_water_mark"])
            portfolio._next_seq = int(d["next_seq"])
        except (KeyError, TypeError, ValueError, AttributeError, InvalidOperation) as exc:
            raise InvalidSnapshot(f"{type(exc).__name__}: {exc}") from None
        if portfolio._next_seq < 0:
            raise InvalidSnapshot(f"next_seq {portfolio._next_seq} is negative")
        return portfolio


def _dec(raw: Any) -> Decimal:
    if not isinstance(raw, str):
        raise TypeError(f"expected a decimal string, got {raw!r}")
    value = Decimal(raw)
    if not value.is_finite():
        raise ValueError(f"{raw!r} is not a finite number")
    return value


def _opt_dec(raw: Any) -> Decimal | None:
    return None if raw is None else _dec(raw)


def _opt_str(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
