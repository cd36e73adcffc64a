"""PaperExchange: a deterministic matching simulator with Binance Spot semantics.

Two ways to drive it, one account behind both:

* Book mode (live paper, recorded depth): `on_book` gives the current book, `on_trade` the last trade.
  A MARKET walks the book level by level; a marketable LIMIT takes as a taker on arrival and rests for
  the remainder; resting limits fill as makers when a later book or trade crosses them.
* Candle mode (replay/backtest from klines, no book ever seen for the symbol): `open_bar` then
  `close_bar` for each bar, or `on_bar` for both with the caller's reaction in between. A MARKET, or a
  LIMIT marketable against the last price, placed between bars meets the market at the next open (or
  the next trade print when trades drive the account); resting orders are then matched against the
  bar's range, stops before take-profits.

Conventions, chosen to be honest rather than flattering:

* A STOP_LOSS_LIMIT triggers on the last trade price only (Binance: "stopPrice ... when the lastPrice
  reaches"), never on bid/ask; in candle mode the bar's low (SELL) or high (BUY) stands for it.
* A triggered stop becomes a limit at its limit price and takes liquidity at the trigger price (the bar's
  open when the market gapped through the stop), worsened by `slippage_bps` and never beyond its limit.
  If the market is already beyond the limit, it rests there, unfilled, exactly as a Binance stop-limit
  does after a gap: a backtest must see that risk, not a fill that could not happen.
* A resting limit fills at its own price (a maker gets no price improvement), and only when the market
  trades strictly through it (a print or candle merely touching the level may leave it in the queue).
  A book whose opposite side reaches the level fills it up to the depth shown there.
* Fees are charged in the asset received, rounded up to 8 decimals (Binance's commission precision).
* Trailing stops (`trailingDelta`, an OCO's `belowTrailingDelta`) follow Binance's trailing-stop FAQ
  (`exchange.paper.trailing`): on trade prints in book/trade mode; on candles along the bar's path with the
  adverse extreme first (a SELL's trigger is tested by the low before the high can raise it).
* When one leg of an OCO executes or its stop triggers, the other leg ends EXPIRED, as Binance reports it;
  only a cancel request ends a leg CANCELED.

All money is exact `Decimal` under a 60-digit context so that balances never round. Every id comes from
counters in the state, so the same inputs always give the same reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_CEILING, Context, Decimal, localcontext
from typing import Any

from core.events import Bar, Book, TradePrint
from core.exchange_port import ExecutionReport, ExecutionType, OrderView, SimulatedVenue
from core.filters import SymbolRules, round_to_step
from core.types import Fill, OcoRequest, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchange.paper import rejects
from exchange.paper.book import DepthBook, Walk, consume, floor_to_steps, to_decimal, walk
from exchange.paper.ledger import Ledger
from exchange.paper.orders import OrderList, PaperOrder
from exchange.paper.trailing import Trail
from exchange.paper.validation import check_oco, check_order

ZERO = Decimal(0)
_EXACT = Context(prec=60)
_COMMISSION_QUANTUM = Decimal("1E-8")
_BPS = Decimal(10_000)
_STATE_VERSION = 1

Fills = list[tuple[Decimal, Decimal]]


class PaperExchange(SimulatedVenue):
    remote = False  # its state lives in the checkpoint: see Exchange.remote
    def __init__(self, rules: dict[str, SymbolRules], balances: Mapping[str, Decimal],
                 fee_rate: Decimal = Decimal("0.001"), slippage_bps: Decimal = Decimal("0")) -> None:
        if not ZERO <= fee_rate < 1:
            raise ValueError(f"fee_rate must be in [0, 1), got {fee_rate}")
        if slippage_bps < ZERO or slippage_bps >= _BPS:
            raise ValueError(f"slippage_bps must be in [0, 10000), got {slippage_bps}")
        self._rules = dict(rules)
        self._fee_rate = Decimal(fee_rate)
        self._slippage_bps = Decimal(slippage_bps)
        self._ledger = Ledger(balances)
        self._orders: dict[int, PaperOrder] = {}
        self._latest: dict[tuple[str, str], int] = {}
        # Only symbols with open orders have an entry: the per-bar fast path is one dict lookup.
        self._active: dict[str, dict[str, PaperOrder]] = {}
        self._lists: dict[int, OrderList] = {}
        self._open_lists: dict[tuple[str, str], int] = {}
        self._books: dict[str, Book | DepthBook] = {}
        self._last: dict[str, float] = {}
        self._next_order_id = 1
        self._next_trade_id = 1
        self._next_list_id = 1

    # ----- the Exchange port -------------------------------------------------------------------

    def exchange_rules(self) -> dict[str, SymbolRules]:
        return dict(self._rules)

    def place_order(self, order: OrderRequest, now_ms: int) -> list[ExecutionReport]:
        with localcontext(_EXACT):
            return self._place_order(order, now_ms)

    def place_oco(self, oco: OcoRequest, now_ms: int) -> list[ExecutionReport]:
        with localcontext(_EXACT):
            return self._place_oco(oco, now_ms)

    def cancel_order(self, symbol: str, client_order_id: str, now_ms: int) -> list[ExecutionReport]:
        self._known_symbol(symbol, client_order_id)
        order = self._active.get(symbol, {}).get(client_order_id)
        if order is None:
            raise rejects.cancel_rejected(rejects.MSG_UNKNOWN_ORDER, symbol, client_order_id)
        with localcontext(_EXACT):
            if order.list_id is not None:
                return self._cancel_list(self._lists[order.list_id], now_ms)
            return [self._cancel(order, now_ms)]

    def cancel_order_list(self, symbol: str, list_client_id: str, now_ms: int) -> list[ExecutionReport]:
        self._known_symbol(symbol, list_client_id)
        list_id = self._open_lists.get((symbol, list_client_id))
        if list_id is None:
            raise rejects.cancel_rejected(rejects.MSG_UNKNOWN_ORDER_LIST, symbol, list_client_id)
        with localcontext(_EXACT):
            return self._cancel_list(self._lists[list_id], now_ms)

    def get_order(self, symbol: str, client_order_id: str) -> OrderView | None:
        self._known_symbol(symbol, client_order_id)
        order_id = self._latest.get((symbol, client_order_id))
        return None if order_id is None else self._orders[order_id].view()

    def open_orders(self, symbol: str | None = None) -> list[OrderView]:
        if symbol is not None:
            self._known_symbol(symbol, None)
            orders: Iterable[PaperOrder] = self._active.get(symbol, {}).values()
        else:
            orders = (o for active in self._active.values() for o in active.values())
        return [o.view() for o in sorted(orders, key=lambda o: o.order_id)]

    def balances(self) -> dict[str, tuple[Decimal, Decimal]]:
        return self._ledger.balances()

    # ----- market data -----------------------------------------------------------------------------

    def on_book(self, book: Book) -> list[ExecutionReport]:
        """A new book for the symbol: pending orders meet it, resting limits it crosses fill as makers."""
        self._books[book.symbol] = book
        if book.symbol not in self._active:
            return []
        with localcontext(_EXACT):
            return self._match_book(book.symbol, book.time_ms)

    def on_trade(self, trade: TradePrint) -> list[ExecutionReport]:
        """The last trade price: triggers stops it reaches, fills resting limits it trades through."""
        self._last[trade.symbol] = trade.price
        if trade.symbol not in self._active:
            return []
        with localcontext(_EXACT):
            return self._match_trade(trade.symbol, to_decimal(trade.price), trade.time_ms)

    def open_bar(self, bar: Bar) -> list[ExecutionReport]:
        """Candle mode, phase 1: orders placed since the last bar meet the market at this bar's open."""
        self._last[bar.symbol] = bar.open
        if bar.symbol not in self._active:
            return []
        with localcontext(_EXACT):
            return self._match_open(bar.symbol, to_decimal(bar.open), bar.open_time_ms)

    def on_bar(self, bar: Bar, deliver: Callable[[list[ExecutionReport]], None]) -> None:
        """Candle mode, both phases, as a replay drives it: `deliver` gets the open's reports before the bar's
        range is matched, so the protection placed for an entry filled at the open already works in this bar.
        A symbol without orders costs one lookup: this runs for every bar of every symbol."""
        symbol = bar.symbol
        if symbol not in self._active:
            self._last[symbol] = bar.close
            return
        reports = self.open_bar(bar)
        if reports:
            deliver(reports)
        reports = self.close_bar(bar)
        if reports:
            deliver(reports)

    def close_bar(self, bar: Bar) -> list[ExecutionReport]:
        """Candle mode, phase 2: resting orders against the bar's open gap, then its low/high."""
        self._last[bar.symbol] = bar.close
        if bar.symbol not in self._active:
            return []
        with localcontext(_EXACT):
            return self._match_bar(bar)

    # ----- persistence -----------------------------------------------------------------------------

    def to_state(self) -> dict[str, Any]:
        """Everything needed to resume exactly where this account stands, as plain JSON types."""
        books = {symbol: depth.to_state() for symbol in sorted(self._books)
                 if (depth := self._depth(symbol)) is not None}
        return {
            "version": _STATE_VERSION,
            "fee_rate": str(self._fee_rate),
            "slippage_bps": str(self._slippage_bps),
            "ledger": self._ledger.to_state(),
            "orders": [self._orders[i].to_state() for i in sorted(self._orders)],
            "lists": [self._lists[i].to_state() for i in sorted(self._lists)],
            "books": books,
            "last_prices": dict(sorted(self._last.items())),
            "counters": {"order_id": self._next_order_id, "trade_id": self._next_trade_id,
                         "list_id": self._next_list_id},
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], rules: dict[str, SymbolRules]) -> PaperExchange:
        if state.get("version") != _STATE_VERSION:
            raise ValueError(f"unsupported paper state version {state.get('version')!r}")
        paper = cls(rules, {}, fee_rate=Decimal(state["fee_rate"]), slippage_bps=Decimal(state["slippage_bps"]))
        paper._ledger = Ledger.from_state(state["ledger"])
        for raw in state["orders"]:
            order = PaperOrder.from_state(raw)
            paper._orders[order.order_id] = order
            paper._latest[(order.symbol, order.client_order_id)] = order.order_id
            if order.is_open:
                paper._active.setdefault(order.symbol, {})[order.client_order_id] = order
        for raw in state["lists"]:
            order_list = OrderList.from_state(raw)
            paper._lists[order_list.list_id] = order_list
            if any(paper._orders[i].is_open for i in order_list.order_ids):
                paper._open_lists[(order_list.symbol, order_list.list_client_id)] = order_list.list_id
        paper._books = {symbol: DepthBook.from_state(raw) for symbol, raw in state["books"].items()}
        paper._last = {symbol: float(price) for symbol, price in state["last_prices"].items()}
        counters = state["counters"]
        paper._next_order_id = counters["order_id"]
        paper._next_trade_id = counters["trade_id"]
        paper._next_list_id = counters["list_id"]
        return paper

    # ----- placing ---------------------------------------------------------------------------------

    def _place_order(self, request: OrderRequest, now_ms: int) -> list[ExecutionReport]:
        symbol, cid = request.symbol, request.client_order_id
        rules = self._tradable(symbol, cid)
        if cid in self._active.get(symbol, {}):
            raise rejects.rejected(rejects.MSG_DUPLICATE_ORDER, symbol, cid)
        depth = self._depth(symbol)
        reference = self._reference_price(symbol, depth)
        if reference is None and request.type is OrderType.MARKET:
            raise rejects.rejected(rejects.MSG_NO_MARKET_PRICE, symbol, cid)
        # With no market price yet (a LIMIT before any data), the order's own price is the reference.
        check_price = reference if reference is not None else request.price
        assert check_price is not None  # only a MARKET has no price, and it was refused above
        open_orders, open_algo = self._counts(symbol)
        check_order(rules, request, reference_price=check_price, open_orders=open_orders, open_algo_orders=open_algo)
        if request.type is OrderType.LIMIT_MAKER and self._would_take(request.side, request.price, symbol, depth):
            raise rejects.rejected(rejects.MSG_WOULD_TAKE, symbol, cid)
        if request.type is OrderType.STOP_LOSS_LIMIT and self._stop_reached(request.side, request.stop_price, symbol):
            raise rejects.rejected(rejects.MSG_WOULD_TRIGGER, symbol, cid)
        order = PaperOrder(
            order_id=self._next_order_id, client_order_id=cid, symbol=symbol, side=request.side,
            order_type=request.type, time_in_force=request.time_in_force, price=request.price,
            stop_price=request.stop_price, orig_qty=request.quantity or ZERO,
            quote_order_qty=request.quote_order_qty, time_ms=now_ms, trail=self._new_trail(request, now_ms),
        )
        if request.type is OrderType.MARKET and depth is not None:
            return self._market_now(order, rules, depth, now_ms)
        asset, amount = self._lock_needed(order, rules, reference)
        if self._ledger.free(asset) < amount:
            raise rejects.rejected(rejects.MSG_INSUFFICIENT_BALANCE, symbol, cid)
        self._register(order)
        order.lock_key = f"O{order.order_id}"
        self._ledger.lock(order.lock_key, asset, amount)
        reports = [order.report(now_ms, ExecutionType.NEW)]
        if depth is None:
            order.awaiting_open = order.order_type is OrderType.MARKET or (
                order.order_type is OrderType.LIMIT and (reference is None or self._marketable_at(order, reference)))
            if not order.awaiting_open and order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                reports.append(self._expire(order, now_ms))
        elif order.order_type is OrderType.LIMIT:
            reports += self._take_on_arrival(order, rules, depth, now_ms)
        return reports

    def _market_now(self, order: PaperOrder, rules: SymbolRules, depth: DepthBook,
                    now_ms: int) -> list[ExecutionReport]:
        """A MARKET with a book: walk it now; what the book cannot fill expires (Binance: EXPIRED)."""
        levels = depth.side_for_taker(order.buying)
        plan = self._market_walk(order, rules, levels)
        if order.buying:
            asset, needed = rules.quote_asset, plan.quote
        else:
            asset, needed = rules.base_asset, order.orig_qty if order.quote_order_qty is None else plan.quantity
        if self._ledger.free(asset) < needed:
            raise rejects.rejected(rejects.MSG_INSUFFICIENT_BALANCE, order.symbol, order.client_order_id)
        self._register(order)
        reports = [order.report(now_ms, ExecutionType.NEW)]
        reports += self._execute(order, levels, list(plan.fills), plan.satisfied, now_ms)
        if order.is_open:
            reports.append(self._expire(order, now_ms))
        return reports

    def _place_oco(self, oco: OcoRequest, now_ms: int) -> list[ExecutionReport]:
        symbol, lid = oco.symbol, oco.list_client_id
        rules = self._tradable(symbol, lid)
        tp_id, sl_id = oco.take_profit_client_id, oco.stop_client_id
        active = self._active.get(symbol, {})
        if tp_id == sl_id or tp_id in active or sl_id in active or (symbol, lid) in self._open_lists:
            raise rejects.rejected(rejects.MSG_DUPLICATE_ORDER, symbol, lid)
        depth = self._depth(symbol)
        last = self._reference_price(symbol, depth)
        if last is None:
            raise rejects.rejected(rejects.MSG_NO_MARKET_PRICE, symbol, lid)
        open_orders, open_algo = self._counts(symbol)
        check_oco(rules, oco, last_price=last, open_orders=open_orders, open_algo_orders=open_algo)
        if self._would_take(Side.SELL, oco.take_profit_price, symbol, depth):
            raise rejects.rejected(rejects.MSG_WOULD_TAKE, symbol, lid)
        if self._ledger.free(rules.base_asset) < oco.quantity:
            raise rejects.rejected(rejects.MSG_INSUFFICIENT_BALANCE, symbol, lid)
        list_id = self._next_list_id
        self._next_list_id += 1
        lock_key = f"L{list_id}"
        self._ledger.lock(lock_key, rules.base_asset, oco.quantity)
        take_profit, stop = oco.legs()
        orders = []
        for leg in (stop, take_profit):  # the stop leg takes the first order id
            order = PaperOrder(
                order_id=self._next_order_id, client_order_id=leg.client_order_id, symbol=symbol, side=leg.side,
                order_type=leg.type, time_in_force=leg.time_in_force, price=leg.price, stop_price=leg.stop_price,
                orig_qty=oco.quantity, quote_order_qty=None, time_ms=now_ms, list_id=list_id, list_client_id=lid,
                lock_key=lock_key, trail=self._new_trail(leg, now_ms),
            )
            self._register(order)
            orders.append(order)
        self._lists[list_id] = OrderList(list_id, lid, symbol, tuple(o.order_id for o in orders))
        self._open_lists[(symbol, lid)] = list_id
        return [o.report(now_ms, ExecutionType.NEW) for o in orders]

    def _lock_needed(self, order: PaperOrder, rules: SymbolRules, reference: Decimal | None) -> tuple[str, Decimal]:
        """What a working order holds: a SELL its base, a BUY its quote at the limit price.

        A MARKET placed with no book (candle mode) holds an estimate at the reference price; when it
        fills at the next open, what the account cannot pay for expires instead of overdrawing it.
        """
        steps = (rules.step_size, rules.market_step_size)
        if not order.buying:
            if order.quote_order_qty is None:
                return rules.base_asset, order.orig_qty
            assert reference is not None  # a MARKET without any known price was refused before
            return rules.base_asset, floor_to_steps(order.quote_order_qty / reference, steps)
        if order.quote_order_qty is not None:
            return rules.quote_asset, order.quote_order_qty
        price = order.price if order.price is not None else reference
        assert price is not None
        return rules.quote_asset, order.orig_qty * price

    # ----- matching ----------------------------------------------------------------------------------

    def _take_on_arrival(self, order: PaperOrder, rules: SymbolRules, depth: DepthBook,
                         now_ms: int) -> list[ExecutionReport]:
        """A LIMIT that crosses the book takes as a taker; GTC rests the rest, IOC expires it, FOK all or none."""
        order.awaiting_open = False
        levels = depth.side_for_taker(order.buying)
        plan = walk(levels, buying=order.buying, steps=(rules.step_size,), max_qty=order.remaining,
                    limit=order.price)
        if order.time_in_force is TimeInForce.FOK and plan.quantity < order.remaining:
            return [self._expire(order, now_ms)]
        reports = self._execute(order, levels, list(plan.fills), plan.satisfied, now_ms)
        if order.is_open and order.time_in_force is TimeInForce.IOC:
            reports.append(self._expire(order, now_ms))
        return reports

    def _match_book(self, symbol: str, time_ms: int) -> list[ExecutionReport]:
        rules = self._rules[symbol]
        depth = self._depth(symbol)
        assert depth is not None
        reports: list[ExecutionReport] = []
        for order in self._snapshot(symbol):
            if not order.is_open:
                continue
            if order.order_type is OrderType.MARKET:
                reports += self._pending_market_on_book(order, rules, depth, time_ms)
            elif order.awaiting_open:
                reports += self._take_on_arrival(order, rules, depth, time_ms)
            elif order.works_as_limit:
                reports += self._make_against_book(order, rules, depth, time_ms)
        return reports

    def _make_against_book(self, order: PaperOrder, rules: SymbolRules, depth: DepthBook,
                           time_ms: int) -> list[ExecutionReport]:
        """A resting limit that the new book crosses fills at its own price, up to the depth that crosses it."""
        levels = depth.side_for_taker(order.buying)
        assert order.price is not None
        plan = walk(levels, buying=order.buying, steps=(rules.step_size,), max_qty=order.remaining,
                    limit=order.price)
        reports: list[ExecutionReport] = []
        for level_price, quantity in plan.fills:
            consume(levels, level_price, quantity)
            reports += self._fill(order, quantity, order.price, time_ms, is_maker=True)
            if not order.is_open:
                break
        return reports

    def _pending_market_on_book(self, order: PaperOrder, rules: SymbolRules, depth: DepthBook,
                                time_ms: int) -> list[ExecutionReport]:
        order.awaiting_open = False
        levels = depth.side_for_taker(order.buying)
        plan = self._market_walk(order, rules, levels)
        fills = self._affordable(order, rules, plan.fills)
        reports = self._execute(order, levels, fills, plan.satisfied and fills == list(plan.fills), time_ms)
        if order.is_open:
            reports.append(self._expire(order, time_ms))
        return reports

    def _match_trade(self, symbol: str, price: Decimal, time_ms: int) -> list[ExecutionReport]:
        reports = self._match_open(symbol, price, time_ms)
        for order in self._snapshot(symbol):
            if not order.is_open or order.awaiting_open:
                continue
            if order.order_type is OrderType.STOP_LOSS_LIMIT and not order.triggered:
                if self._stop_hit(order, price, time_ms):
                    reports += self._trigger(order, price, time_ms)
            elif order.works_as_limit and self._trades_through(order, price):
                reports += self._fill(order, order.remaining, _price(order), time_ms, is_maker=True)
        return reports

    def _match_open(self, symbol: str, open_price: Decimal, time_ms: int) -> list[ExecutionReport]:
        """Orders placed without a book meet the first price after them (a bar's open, or a trade)."""
        rules = self._rules[symbol]
        reports: list[ExecutionReport] = []
        for order in self._snapshot(symbol):
            if not (order.is_open and order.awaiting_open):
                continue
            order.awaiting_open = False
            if order.order_type is OrderType.MARKET:
                reports += self._pending_market_at(order, rules, open_price, time_ms)
            elif self._marketable_at(order, open_price):
                reports += self._fill(order, order.remaining, self._taker_price(order, open_price), time_ms,
                                      is_maker=False)
            elif order.time_in_force in (TimeInForce.IOC, TimeInForce.FOK):
                reports.append(self._expire(order, time_ms))
        return reports

    def _match_bar(self, bar: Bar) -> list[ExecutionReport]:
        """Resting orders against one candle: the open first (gaps), then stops, then limits.

        Within a bar the path between high and low is unknown. Assuming the adverse extreme came first
        is the conservative reading: when a stop and a take-profit both lie inside the bar, the stop fills.
        Trailing stops walk the bar's path (`_trail_bar`) before any other order meets the bar, for the same reason.
        """
        open_price, high, low = to_decimal(bar.open), to_decimal(bar.high), to_decimal(bar.low)
        time_ms = bar.close_time_ms
        resting = [o for o in self._snapshot(bar.symbol) if not o.awaiting_open]
        reports: list[ExecutionReport] = []
        trailing = {o.order_id for o in resting if o.trail is not None and not o.triggered}
        if trailing:
            path = (open_price, low, high, to_decimal(bar.close))
            for order in resting:
                if order.order_id in trailing and order.is_open:
                    reports += self._trail_bar(order, path, time_ms)
            resting = [o for o in resting if o.order_id not in trailing]
        for order in resting:
            if not order.is_open:
                continue
            if order.order_type is OrderType.STOP_LOSS_LIMIT and not order.triggered:
                if self._reaches_stop(order, open_price):
                    reports += self._trigger(order, open_price, time_ms)
            elif order.works_as_limit and self._trades_through(order, open_price):
                reports += self._fill(order, order.remaining, _price(order), time_ms, is_maker=True)
        for order in resting:
            if order.is_open and order.order_type is OrderType.STOP_LOSS_LIMIT and not order.triggered:
                extreme = high if order.buying else low
                if self._reaches_stop(order, extreme):
                    assert order.stop_price is not None
                    reports += self._trigger(order, order.stop_price, time_ms)
        for order in resting:
            if order.is_open and order.works_as_limit and self._trades_through(order, low if order.buying else high):
                reports += self._fill(order, order.remaining, _price(order), time_ms, is_maker=True)
        return reports

    def _trail_bar(self, order: PaperOrder, path: tuple[Decimal, Decimal, Decimal, Decimal],
                   time_ms: int) -> list[ExecutionReport]:
        """A trailing stop along one bar, `path` being (open, low, high, close).

        The adverse extreme comes first (a SELL sees open, low, high, close; a BUY open, high, low, close), so
        the bar's favourable extreme never raises a sell's trigger before its low is tested against it. The open
        is a trade (a gap triggers there); between the points prices run straight (trailing.Trail.along).
        """
        trail = order.trail
        assert trail is not None
        open_price, low, high, close = path
        points = (open_price, high, low, close) if order.buying else (open_price, low, high, close)
        if trail.on_trade(open_price, time_ms):
            return self._trigger_on_path(order, open_price, points[1:], time_ms)
        for i in range(1, len(points)):
            hit = trail.along(points[i - 1], points[i], time_ms)
            if hit is not None:
                return self._trigger_on_path(order, hit, points[i:], time_ms)
        return []

    def _trigger_on_path(self, order: PaperOrder, price: Decimal, rest: tuple[Decimal, ...],
                         time_ms: int) -> list[ExecutionReport]:
        """Triggered at `price` within a bar: it takes there if its limit allows, else rests at the limit and fills
        as a maker only if the rest of the bar's path trades through it."""
        reports = self._trigger(order, price, time_ms)
        if order.is_open and self._trades_through(order, min(rest) if order.buying else max(rest)):
            reports += self._fill(order, order.remaining, _price(order), time_ms, is_maker=True)
        return reports

    def _trigger(self, order: PaperOrder, market_price: Decimal, time_ms: int) -> list[ExecutionReport]:
        """A stop reached: it now works as a limit and takes at the market price if its limit allows.

        An OCO's other leg expires at the trigger, before the stop trades (and even if it cannot trade yet).
        """
        order.triggered = True
        reports = self._expire_siblings(order, time_ms) if order.list_id is not None else []
        depth = self._depth(order.symbol)
        if depth is not None:
            return reports + self._take_on_arrival(order, self._rules[order.symbol], depth, time_ms)
        if not self._marketable_at(order, market_price):
            return reports
        return reports + self._fill(order, order.remaining, self._taker_price(order, market_price), time_ms,
                                    is_maker=False)

    def _pending_market_at(self, order: PaperOrder, rules: SymbolRules, open_price: Decimal,
                           time_ms: int) -> list[ExecutionReport]:
        """A MARKET placed without a book fills at the open, worsened by slippage, as far as the account pays."""
        price = self._taker_price(order, open_price)
        steps = (rules.step_size, rules.market_step_size)
        if order.quote_order_qty is None:
            wanted = order.remaining
        else:
            wanted = floor_to_steps((order.quote_order_qty - order.cum_quote) / price, steps)
        quantity = min(wanted, self._affordable_quantity(order, rules, price))
        reports: list[ExecutionReport] = []
        if quantity > ZERO:
            quote_done = order.quote_order_qty is not None and quantity == wanted
            reports += self._fill(order, quantity, price, time_ms, is_maker=False, quote_done=quote_done)
        if order.is_open:
            reports.append(self._expire(order, time_ms))
        return reports

    # ----- executing -------------------------------------------------------------------------------

    def _market_walk(self, order: PaperOrder, rules: SymbolRules, levels: list[list[Decimal]]) -> Walk:
        steps = (rules.step_size, rules.market_step_size)
        if order.quote_order_qty is None:
            return walk(levels, buying=order.buying, steps=steps, max_qty=order.remaining)
        return walk(levels, buying=order.buying, steps=steps, max_quote=order.quote_order_qty - order.cum_quote)

    def _execute(self, order: PaperOrder, levels: list[list[Decimal]], fills: Fills, satisfied: bool,
                 time_ms: int) -> list[ExecutionReport]:
        """Taker fills at the book's level prices; the book copy loses what we took."""
        reports: list[ExecutionReport] = []
        for i, (price, quantity) in enumerate(fills):
            consume(levels, price, quantity)
            quote_done = order.quote_order_qty is not None and satisfied and i == len(fills) - 1
            reports += self._fill(order, quantity, price, time_ms, is_maker=False, quote_done=quote_done)
        return reports

    def _affordable(self, order: PaperOrder, rules: SymbolRules, fills: Iterable[tuple[Decimal, Decimal]]) -> Fills:
        """Trim planned fills to what the order's lock plus the free balance can pay for."""
        steps = (rules.step_size, rules.market_step_size)
        budget = self._available(order, rules)
        kept: Fills = []
        for price, quantity in fills:
            room = floor_to_steps(budget / price if order.buying else budget, steps)
            take = min(quantity, room)
            if take <= ZERO:
                break
            kept.append((price, take))
            budget -= take * price if order.buying else take
            if take < quantity:
                break
        return kept

    def _affordable_quantity(self, order: PaperOrder, rules: SymbolRules, price: Decimal) -> Decimal:
        budget = self._available(order, rules)
        return floor_to_steps(budget / price if order.buying else budget, (rules.step_size, rules.market_step_size))

    def _available(self, order: PaperOrder, rules: SymbolRules) -> Decimal:
        asset = rules.quote_asset if order.buying else rules.base_asset
        held = self._ledger.locked_by(order.lock_key) if order.lock_key else ZERO
        return self._ledger.free(asset) + held

    def _fill(self, order: PaperOrder, quantity: Decimal, price: Decimal, time_ms: int, *, is_maker: bool,
              quote_done: bool = False) -> list[ExecutionReport]:
        """Settle one trade: balances, fee in the asset received, the order's progress, OCO siblings."""
        rules = self._rules[order.symbol]
        notional = quantity * price
        if order.buying:
            if order.lock_key:
                self._ledger.unlock(order.lock_key, quantity * order.price if order.price is not None else notional)
            self._ledger.debit(rules.quote_asset, notional)
            commission, commission_asset = self._commission(quantity), rules.base_asset
            self._ledger.credit(rules.base_asset, quantity - commission)
        else:
            if order.lock_key:
                self._ledger.unlock(order.lock_key, quantity)
            self._ledger.debit(rules.base_asset, quantity)
            commission, commission_asset = self._commission(notional), rules.quote_asset
            self._ledger.credit(rules.quote_asset, notional - commission)
        order.executed_qty += quantity
        order.cum_quote += notional
        done = quote_done or (order.quote_order_qty is None and order.executed_qty >= order.orig_qty)
        order.status = OrderStatus.FILLED if done else OrderStatus.PARTIALLY_FILLED
        fill = Fill(
            client_order_id=order.client_order_id, symbol=order.symbol, side=order.side, price=price,
            quantity=quantity, commission=commission, commission_asset=commission_asset,
            trade_id=self._next_trade_id, time_ms=time_ms, is_maker=is_maker,
        )
        self._next_trade_id += 1
        reports = [order.report(time_ms, ExecutionType.TRADE, fill)]
        if done:
            self._close(order)
        if order.list_id is not None:
            reports += self._expire_siblings(order, time_ms)
        return reports

    def _commission(self, received: Decimal) -> Decimal:
        fee = (received * self._fee_rate).quantize(_COMMISSION_QUANTUM, rounding=ROUND_CEILING)
        return min(fee, received)

    def _expire_siblings(self, order: PaperOrder, time_ms: int) -> list[ExecutionReport]:
        """One leg of an OCO executed (even partly) or its stop triggered: the other legs end EXPIRED.

        Binance: "activation of one order immediately cancels the other" (POST /api/v3/orderList/oco), reported
        as EXPIRED ("if one of the orders execute, the other is automatically expired", spot_glossary.md). Only
        a cancel request ends a leg CANCELED.
        """
        assert order.list_id is not None
        siblings = (self._orders[i] for i in self._lists[order.list_id].order_ids if i != order.order_id)
        return [self._expire(o, time_ms) for o in siblings if o.is_open]

    def _cancel_list(self, order_list: OrderList, time_ms: int) -> list[ExecutionReport]:
        legs = (self._orders[i] for i in order_list.order_ids)
        return [self._cancel(o, time_ms) for o in legs if o.is_open]

    def _cancel(self, order: PaperOrder, time_ms: int) -> ExecutionReport:
        order.status = OrderStatus.CANCELED
        self._close(order)
        return order.report(time_ms, ExecutionType.CANCELED)

    def _expire(self, order: PaperOrder, time_ms: int) -> ExecutionReport:
        order.status = OrderStatus.EXPIRED
        self._close(order)
        return order.report(time_ms, ExecutionType.EXPIRED)

    def _close(self, order: PaperOrder) -> None:
        """An order reached a final state: it stops working and gives back what it still locks."""
        active = self._active.get(order.symbol)
        if active is not None:
            active.pop(order.client_order_id, None)
            if not active:
                del self._active[order.symbol]
        legs_open = order.list_id is not None and any(
            self._orders[i].is_open for i in self._lists[order.list_id].order_ids)
        if order.lock_key and not legs_open:
            self._ledger.release(order.lock_key)
        if order.list_id is not None and not legs_open:
            self._open_lists.pop((order.symbol, self._lists[order.list_id].list_client_id), None)

    def _register(self, order: PaperOrder) -> None:
        self._next_order_id = order.order_id + 1
        self._orders[order.order_id] = order
        self._latest[(order.symbol, order.client_order_id)] = order.order_id
        self._active.setdefault(order.symbol, {})[order.client_order_id] = order

    # ----- small questions -------------------------------------------------------------------------

    def _known_symbol(self, symbol: str, client_id: str | None) -> SymbolRules:
        rules = self._rules.get(symbol)
        if rules is None:
            raise rejects.invalid_symbol(symbol, client_id)
        return rules

    def _tradable(self, symbol: str, client_id: str) -> SymbolRules:
        rules = self._known_symbol(symbol, client_id)
        if not rules.trading:
            raise rejects.rejected(rejects.MSG_MARKET_CLOSED, symbol, client_id)
        return rules

    def _depth(self, symbol: str) -> DepthBook | None:
        book = self._books.get(symbol)
        if book is None or isinstance(book, DepthBook):
            return book
        depth = DepthBook.from_book(book)
        self._books[symbol] = depth
        return depth

    def _reference_price(self, symbol: str, depth: DepthBook | None) -> Decimal | None:
        """The last trade (or bar) price; the book's mid when no trade has been seen."""
        last = self._last.get(symbol)
        if last is not None:
            return to_decimal(last)
        return depth.mid() if depth is not None else None

    def _counts(self, symbol: str) -> tuple[int, int]:
        active = self._active.get(symbol, {})
        algo = sum(1 for o in active.values() if o.order_type is OrderType.STOP_LOSS_LIMIT)
        return len(active), algo

    def _snapshot(self, symbol: str) -> list[PaperOrder]:
        return sorted(self._active.get(symbol, {}).values(), key=lambda o: o.order_id)

    def _would_take(self, side: Side, price: Decimal | None, symbol: str, depth: DepthBook | None) -> bool:
        """Would a post-only order at `price` match on arrival? Against the book, else the last price."""
        assert price is not None
        buying = side is Side.BUY
        if depth is not None:
            opposite = depth.best_ask() if buying else depth.best_bid()
        else:
            last = self._last.get(symbol)
            opposite = None if last is None else to_decimal(last)
        if opposite is None:
            return False
        return price >= opposite if buying else price <= opposite

    def _stop_reached(self, side: Side, stop: Decimal | None, symbol: str) -> bool:
        last = self._last.get(symbol)
        if last is None or stop is None:
            return False
        price = to_decimal(last)
        return price >= stop if side is Side.BUY else price <= stop

    def _new_trail(self, request: OrderRequest, now_ms: int) -> Trail | None:
        """The trailing state of a new trailing stop; without a stop price it tracks from the last price now."""
        if request.trailing_delta is None:
            return None
        trail = Trail(delta=request.trailing_delta, selling=request.side is Side.SELL, stop_price=request.stop_price)
        last = self._last.get(request.symbol)
        trail.start(None if last is None else to_decimal(last), now_ms)
        return trail

    def _stop_hit(self, order: PaperOrder, price: Decimal, time_ms: int) -> bool:
        """Does this trade trigger an untriggered stop? A trailing stop tracks the price as well (trailing.py)."""
        if order.trail is not None:
            return order.trail.on_trade(price, time_ms)
        return self._reaches_stop(order, price)

    @staticmethod
    def _reaches_stop(order: PaperOrder, price: Decimal) -> bool:
        assert order.stop_price is not None
        return price >= order.stop_price if order.buying else price <= order.stop_price

    @staticmethod
    def _trades_through(order: PaperOrder, price: Decimal) -> bool:
        limit = _price(order)
        return price < limit if order.buying else price > limit

    @staticmethod
    def _marketable_at(order: PaperOrder, price: Decimal) -> bool:
        limit = _price(order)
        return price <= limit if order.buying else price >= limit

    def _taker_price(self, order: PaperOrder, market_price: Decimal) -> Decimal:
        """A bookless taker fill: the market price worsened by slippage, on the tick, never past the limit."""
        tick = self._rules[order.symbol].tick_size
        factor = self._slippage_bps / _BPS
        if order.buying:
            price = round_to_step(market_price * (1 + factor), tick, "up")
            return price if order.price is None else min(price, order.price)
        price = round_to_step(market_price * (1 - factor), tick, "down")
        if price <= ZERO:
            price = market_price
        return price if order.price is None else max(price, order.price)


def _price(order: PaperOrder) -> Decimal:
    assert order.price is not None, f"{order.client_order_id} has no limit price"
    return order.price
