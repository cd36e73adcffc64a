"""Accounting identities that must hold after ANY sequence of fills, with fees in quote, base or BNB.

The test keeps its own ledger of what each fill does to cash and holdings (the conservation laws, not the
portfolio's average-cost code) and checks the portfolio against it after every fill, in exact Decimals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Context, Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.filters import SymbolRules
from core.portfolio import Portfolio
from core.types import Fill, Side

D = Decimal
EXACT = Context(prec=200)
EIGHT_DP = D("0.00000001")
SYMBOLS = {"BTCUSDT": "BTC", "ETHUSDT": "ETH"}
BNB_MARK = D("312.5")
STEP, MIN_QTY = D("0.00001"), D("0.0001")
FeeKind = str  # "none" | "quote" | "base" | "bnb"

ops = st.lists(
    st.tuples(
        st.sampled_from(sorted(SYMBOLS)),
        st.booleans(),                          # buy?
        st.integers(1, 10_000_000),             # price in cents: 0.01 .. 100,000
        st.integers(1, 10_000_000),             # buy quantity in millionths: 0.000001 .. 10
        st.sampled_from(["none", "quote", "base", "bnb"]),
        st.integers(1, 100),                    # percent of the holding a sell takes
    ),
    min_size=1,
    max_size=25,
)
marks_strategy = st.fixed_dictionaries({s: st.integers(1, 10**13).map(lambda n: D(n).scaleb(-8)) for s in SYMBOLS})


def floor_to(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_FLOOR)


@dataclass
class Ledger:
    """What the fills did, by conservation: cash, holdings, BNB, and the current trade's costs and proceeds."""

    cash: Decimal
    bnb: Decimal
    held: dict[str, Decimal] = field(default_factory=lambda: {s: D(0) for s in SYMBOLS})
    costs: dict[str, Decimal] = field(default_factory=lambda: {s: D(0) for s in SYMBOLS})
    proceeds: dict[str, Decimal] = field(default_factory=lambda: {s: D(0) for s in SYMBOLS})

    def equity(self, marks: dict[str, Decimal]) -> Decimal:
        total = EXACT.add(self.cash, EXACT.multiply(self.bnb, BNB_MARK))
        for symbol, qty in self.held.items():
            total = EXACT.add(total, EXACT.multiply(qty, marks[symbol]))
        return total


def make_fill(symbol: str, side: Side, price: Decimal, qty: Decimal, fee: Decimal, asset: str, n: int) -> Fill:
    return Fill(client_order_id=f"cx-{n}", symbol=symbol, side=side, price=price, quantity=qty, commission=fee,
                commission_asset=asset, trade_id=n, time_ms=1_000 + n)


def fee_for(kind: FeeKind, symbol: str, price: Decimal, qty: Decimal) -> tuple[Decimal, str]:
    notional = EXACT.multiply(price, qty)
    if kind == "quote":
        return floor_to(notional * D("0.001"), EIGHT_DP), "USDT"
    if kind == "base":
        return floor_to(qty * D("0.001"), EIGHT_DP), SYMBOLS[symbol]
    if kind == "bnb":
        return floor_to(notional * D("0.00075") / BNB_MARK, EIGHT_DP), "BNB"
    return D(0), "USDT"


def quote_value_of_fee(kind: FeeKind, fee: Decimal, price: Decimal) -> Decimal:
    if kind == "quote":
        return fee
    if kind == "bnb":
        return EXACT.multiply(fee, BNB_MARK)
    if kind == "base":
        return EXACT.multiply(fee, price)
    return D(0)


def run(portfolio: Portfolio, ledger: Ledger, steps: list[tuple[str, bool, int, int, FeeKind, int]],
        sell_quantity: Callable[[Portfolio, str, FeeKind, int, Decimal], tuple[Decimal, Decimal] | None],
        after_each: Callable[[Fill, FeeKind, object], None]) -> None:
    for n, (symbol, buy, cents, millionths, kind, pct) in enumerate(steps):
        price = D(cents).scaleb(-2)
        if buy:
            qty = D(millionths).scaleb(-6)
            fee, asset = fee_for(kind, symbol, price, qty)
            f = make_fill(symbol, Side.BUY, price, qty, fee, asset, n)
            result = portfolio.apply_fill(f, base_asset=SYMBOLS[symbol])
            ledger.cash = EXACT.subtract(ledger.cash, EXACT.multiply(price, qty))
            ledger.held[symbol] = EXACT.add(ledger.held[symbol], qty)
            cost = EXACT.multiply(price, qty)
            if kind == "quote":
                ledger.cash = EXACT.subtract(ledger.cash, fee)
                cost = EXACT.add(cost, fee)
            elif kind == "base":
                ledger.held[symbol] = EXACT.subtract(ledger.held[symbol], fee)
            elif kind == "bnb":
                ledger.bnb = EXACT.subtract(ledger.bnb, fee)
                cost = EXACT.add(cost, EXACT.multiply(fee, BNB_MARK))
            ledger.costs[symbol] = EXACT.add(ledger.costs[symbol], cost)
        else:
            chosen = sell_quantity(portfolio, symbol, kind, pct, price)
            if chosen is None:
                continue
            qty, fee = chosen
            asset = {"quote": "USDT", "base": SYMBOLS[symbol], "bnb": "BNB"}.get(kind, "USDT")
            f = make_fill(symbol, Side.SELL, price, qty, fee, asset, n)
            result = portfolio.apply_fill(f, base_asset=SYMBOLS[symbol])
            gross = EXACT.multiply(price, qty)
            ledger.cash = EXACT.add(ledger.cash, gross)
            ledger.held[symbol] = EXACT.subtract(ledger.held[symbol], qty)
            if kind == "quote":
                ledger.cash = EXACT.subtract(ledger.cash, fee)
            elif kind == "base":
                ledger.held[symbol] = EXACT.subtract(ledger.held[symbol], fee)
            elif kind == "bnb":
                ledger.bnb = EXACT.subtract(ledger.bnb, fee)
            net = gross if kind == "base" else EXACT.subtract(gross, quote_value_of_fee(kind, fee, price))
            ledger.proceeds[symbol] = EXACT.add(ledger.proceeds[symbol], net)
        after_each(f, kind, result)


def sell_anything(portfolio: Portfolio, symbol: str, kind: FeeKind, pct: int,
                  price: Decimal) -> tuple[Decimal, Decimal] | None:
    """A sell of `pct` percent of the position (all of it at 100%), fee included, never more than held."""
    pos = portfolio.position(symbol)
    if pos is None:
        return None
    held = pos.quantity
    if kind == "base":
        qty = floor_to(held * pct / 100 / D("1.001"), EIGHT_DP)
        fee = held - qty if pct == 100 else floor_to(qty * D("0.001"), EIGHT_DP)
    else:
        qty = held if pct == 100 else floor_to(held * pct / 100, EIGHT_DP)
        fee = D(0)
    if qty <= 0:
        return None
    if kind != "base":
        fee = fee_for(kind, symbol, price, qty)[0]
    return qty, fee


def new_portfolio(rules: dict[str, SymbolRules] | None = None) -> tuple[Portfolio, Ledger]:
    portfolio = Portfolio("USDT", {"USDT": D("1000000000"), "BNB": D("1000000")}, rules=rules)
    portfolio.mark("BNBUSDT", float(BNB_MARK))
    return portfolio, Ledger(cash=D("1000000000"), bnb=D("1000000"))


@settings(max_examples=150)
@given(steps=ops, marks=marks_strategy)
def test_equity_is_cash_plus_positions_at_mark_after_any_fills(steps: list, marks: dict[str, Decimal]) -> None:
    portfolio, ledger = new_portfolio()
    full_marks = {**marks, "BNBUSDT": BNB_MARK}
    equity_before = portfolio.equity(full_marks)

    def check(f: Fill, kind: FeeKind, closed: object) -> None:
        symbol = f.symbol
        assert portfolio.cash == ledger.cash
        assert portfolio.balances()["BNB"] == ledger.bnb
        positions = portfolio.positions()
        at_mark = sum((EXACT.multiply(p.quantity, marks[s]) for s, p in positions.items()), D(0))
        bnb_value = EXACT.multiply(ledger.bnb, BNB_MARK)
        equity = portfolio.equity(full_marks)
        assert equity == EXACT.add(EXACT.add(portfolio.cash, at_mark), bnb_value)
        assert equity == ledger.equity(full_marks)
        assert portfolio.exposure(full_marks) == at_mark
        # The breakers' per-bar float equity is the exact equity at the portfolio's own last marks.
        assert portfolio.equity_float() == pytest.approx(float(portfolio.equity()), rel=1e-12)
        assert equity - equity_before == EXACT.add(portfolio.realized_pnl, portfolio.unrealized_pnl(full_marks))
        held = ledger.held[symbol]
        assert (positions[symbol].quantity if symbol in positions else D(0)) == held
        if held == 0 and f.side is Side.SELL:
            assert closed is not None, "a sell to zero must return the closed trade"
            # Round trip: realized P&L is exactly proceeds − costs, fees on both sides included.
            assert closed.pnl == EXACT.subtract(ledger.proceeds[symbol], ledger.costs[symbol])  # type: ignore[attr-defined]
            ledger.proceeds[symbol] = ledger.costs[symbol] = D(0)
        else:
            assert closed is None

    run(portfolio, ledger, steps, sell_anything, check)
    for symbol, price in marks.items():
        portfolio.mark(symbol, float(price))
        assert portfolio.equity_float() == pytest.approx(float(portfolio.equity()), rel=1e-12)
    assert portfolio.realized_pnl + portfolio.unrealized_pnl(full_marks) == portfolio.equity(full_marks) - equity_before
    restored = Portfolio.from_dict(json.loads(json.dumps(portfolio.to_dict())))
    assert restored.to_dict() == portfolio.to_dict()
    assert restored.equity(full_marks) == portfolio.equity(full_marks)
    assert restored.positions() == portfolio.positions()
    assert restored.equity_float() == portfolio.equity_float()
    assert (restored.cash, restored.realized_pnl, restored.fees_paid) == (portfolio.cash, portfolio.realized_pnl,
                                                                         portfolio.fees_paid)


@settings(max_examples=150)
@given(quantities=st.lists(st.integers(1, 10**7), min_size=1, max_size=6), cents=st.integers(1, 10**7),
       exit_cents=st.integers(1, 10**7), kind=st.sampled_from(["none", "quote", "base", "bnb"]))
def test_avg_entry_includes_buy_fees(quantities: list[int], cents: int, exit_cents: int, kind: FeeKind) -> None:
    portfolio, _ = new_portfolio()
    price = D(cents).scaleb(-2)
    paid, received = D(0), D(0)
    for n, millionths in enumerate(quantities):
        qty = D(millionths).scaleb(-6)
        fee, asset = fee_for(kind, "BTCUSDT", price, qty)
        portfolio.apply_fill(make_fill("BTCUSDT", Side.BUY, price, qty, fee, asset, n), base_asset="BTC")
        paid += EXACT.multiply(price, qty) + (quote_value_of_fee(kind, fee, price) if kind != "base" else 0)
        received += qty - (fee if kind == "base" else 0)
    pos = portfolio.position("BTCUSDT")
    assert pos is not None
    assert pos.quantity == received
    assert pos.avg_entry == Context(prec=34).divide(paid, received)
    assert pos.avg_entry >= price, "fees can only raise the break-even price"
    if kind != "none" and portfolio.fees_paid > 0:
        assert pos.avg_entry > price


def held_cost(portfolio: Portfolio) -> Decimal:
    """The exact cost basis held in open positions and in dust (from the snapshot: `Position` rounds its average)."""
    snapshot = portfolio.to_dict()
    costs = [D(p["cost"]) for p in snapshot["positions"]] + [D(d["cost"]) for d in snapshot["dust"].values()]
    total = D(0)
    for cost in costs:
        total = EXACT.add(total, cost)
    return total


@settings(max_examples=100)
@given(steps=ops, marks=marks_strategy)
def test_with_lot_rules_holdings_are_position_plus_dust(steps: list, marks: dict[str, Decimal]) -> None:
    rules = {s: SymbolRules(symbol=s, status="TRADING", base_asset=b, quote_asset="USDT", step_size=STEP,
                            min_qty=MIN_QTY) for s, b in SYMBOLS.items()}
    portfolio, ledger = new_portfolio(rules)
    full_marks = {**marks, "BNBUSDT": BNB_MARK}
    cash_start, bnb_start = ledger.cash, ledger.bnb
    opened: dict[str, Decimal] = {}  # per open position: the units its own buys brought, less its sells

    def sell_on_the_step(p: Portfolio, symbol: str, kind: FeeKind, pct: int,
                         price: Decimal) -> tuple[Decimal, Decimal] | None:
        sellable = p.sellable_quantity(symbol)
        share = sellable if pct == 100 else sellable * pct / 100
        qty = floor_to(share / D("1.001") if kind == "base" else share, STEP)
        if qty < MIN_QTY:
            return None
        fee = floor_to(qty * D("0.001"), EIGHT_DP) if kind == "base" else fee_for(kind, symbol, price, qty)[0]
        return qty, fee

    def check(f: Fill, kind: FeeKind, closed: object) -> None:
        received = f.quantity - (f.commission if f.commission_asset == SYMBOLS[f.symbol] else 0)
        if f.side is Side.BUY:
            opened[f.symbol] = opened.get(f.symbol, D(0)) + received
        else:
            removed = f.quantity + (f.commission if f.commission_asset == SYMBOLS[f.symbol] else 0)
            opened[f.symbol] = max(D(0), opened[f.symbol] - removed)
        for symbol, base in SYMBOLS.items():
            pos = portfolio.position(symbol)
            in_position = pos.quantity if pos is not None else D(0)
            assert portfolio.balances().get(base, D(0)) == ledger.held[symbol] == in_position + portfolio.dust(symbol)
            if pos is not None:
                assert pos.quantity == opened[symbol], "a position holds only what its own fills brought"
        if f.side is Side.SELL:
            assert (closed is not None) == (portfolio.position(f.symbol) is None)
            if closed is not None:
                opened.pop(f.symbol)
        else:
            assert closed is None
        # The cash identity: cash moves by realized P&L, less the cost still held (positions, dust), plus the
        # BNB fees that are in the costs but were not paid from cash.
        bnb_fees = EXACT.multiply(EXACT.subtract(bnb_start, ledger.bnb), BNB_MARK)
        assert EXACT.subtract(portfolio.cash, cash_start) == EXACT.add(
            EXACT.subtract(portfolio.realized_pnl, held_cost(portfolio)), bnb_fees)
        positions_value = sum((p.quantity * marks[s] for s, p in portfolio.positions().items()), D(0))
        dust_value = sum((q * marks[s] for s, q in portfolio.dust_amounts().items()), D(0))
        assert portfolio.dust_value(full_marks) == dust_value
        assert portfolio.exposure(full_marks) == positions_value
        assert portfolio.equity(full_marks) == EXACT.add(
            EXACT.add(portfolio.cash, positions_value), EXACT.add(dust_value, ledger.bnb * BNB_MARK))
        assert portfolio.held_symbols == {s for s in SYMBOLS if ledger.held[s] != 0} | {"BNBUSDT"}

    run(portfolio, ledger, steps, sell_on_the_step, check)
    restored = Portfolio.from_dict(json.loads(json.dumps(portfolio.to_dict())), rules=rules)
    assert restored.to_dict() == portfolio.to_dict()
    assert restored.dust_holdings() == portfolio.dust_holdings()
