"""Order round trip and start-up reconciliation against the loopback Binance, through the real adapter.

    .venv/bin/python bench/order_roundtrip.py [--roundtrips N] [--journal-orders N] [--repeats N]

Starts the loopback Binance (`tests/fakes/binance`; for the round trips both in this process, where its server
threads' CPU counts against the figures, and in a process of its own) with BTCUSDT under the documented filters
(trailing stops allowed), and drives it with the executor's own parts: the engine, the pump, a durable journal and
`BinanceExchange` on the pinned `binance-sdk-spot`.

1. Round trip: an entry decision (`Engine.request_entry`, the path every signal's decision takes through the risk
   gate) → the MARKET entry journaled, sent and acknowledged (filled against the fake's book) → the engine's
   protective OCO (its stop leg trailing on the exchange) journaled, sent and acknowledged. Timed from the decision
   to the OCO's acknowledgement, as `run` makes it: inside the event's journal batch, the engine's checkpoint saved
   before each intent and committed with it (fsync'd when durable) before the POST leaves. The position is closed
   between round trips (not timed). Each round trip is split into the intents' commits (the disk), the two HTTP
   requests (the SDK's CPU in this thread, the loopback server's handler, and the rest: aiohttp, the loopback
   socket, waiting for the GIL and a core), the checkpoints, and what remains (ours: engine, pump, journal rows,
   wire formatting and parsing); then this disk's own fsync time is measured for comparison.
2. Start-up reconciliation as `run --mode testnet|live` does it (`runtime.venue_reconcile.reconcile_with_venue`:
   unknown `cx-` orders adopted, missed trades caught up, every open journal order settled, balances compared,
   positions protected) with N journal orders that are not final, decided in the ten minutes before a crash: a
   fifth of them resting on the exchange (NEW in the journal), the rest journaled but never sent (a crash between
   journaling and sending). Settled in bulk: per symbol one `allOrders` listing decides them by client id (an
   absent order counts as never sent only where the listing proves it); prints the requests the loopback server
   received.

Prints figures; asserts nothing. Targets (issue 12): round trip p99 < 10 ms, reconciliation of 1,000 orders < 2 s.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.config import ExecutorConfig  # noqa: E402
from core.engine import Engine  # noqa: E402
from core.events import TradePrint  # noqa: E402
from core.portfolio import Portfolio  # noqa: E402
from core.types import DecisionAction, OrderRequest, OrderStatus, OrderType, Side, TimeInForce  # noqa: E402
from exchange.binance import rest as rest_module  # noqa: E402
from exchange.binance.adapter import BinanceExchange  # noqa: E402
from exchange.binance.config import BinanceConfig  # noqa: E402
from memory.journal import Journal  # noqa: E402
from runtime.home import Home  # noqa: E402
from runtime.pump import Pump  # noqa: E402
from runtime.venue_reconcile import reconcile_with_venue  # noqa: E402
from tests.fakes.binance import FakeBinance, Limits, Op  # noqa: E402
from tests.fakes.binance.params import Params  # noqa: E402
from tests.fakes.binance_support import KEY, RULES, SECRET, SYMBOL  # noqa: E402

MANUAL_ONLY = ExecutorConfig.model_validate({"strategies": {"allocation": {"scalping": 0.0, "momentum": 0.0,
                                                                           "stat_arb": 0.0}}})
PRICE = Decimal("40000")
FUNDS = {"USDT": Decimal("10000000")}
RESTING_SHARE = 5  # one journal order in five rests on the exchange
CRASH_AGO_MS = 10 * 60_000  # the journal's orders were decided in the ten minutes before the crash
UNTHROTTLED = Limits(weight_per_minute=10_000_000, orders_per_10s=10_000_000, orders_per_day=10_000_000)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def market(fake: FakeBinance) -> None:
    """A deep book around 40,000 and a last trade there: a market buy fills at once, the OCO prices are valid."""
    fake.set_book(SYMBOL, [(PRICE - Decimal("0.01"), Decimal("1000"))], [(PRICE, Decimal("1000"))])
    fake.trade(SYMBOL, PRICE)


def adapter_for(rest_url: str) -> BinanceExchange:
    exchange = BinanceExchange(BinanceConfig(api_key=KEY, api_secret=SECRET, rest_url=rest_url))
    exchange.start()
    return exchange


@dataclass
class Split:
    """Wall and CPU time (this thread's: the loopback server's threads are not counted) spent inside wrapped calls
    since the last `take`. Measurement only: each wrapper calls straight through."""

    wall: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)

    def wrap(self, name: str, call: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            wall, cpu = time.perf_counter(), time.thread_time()
            try:
                return call(*args, **kwargs)
            finally:
                self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - wall
                self.cpu[name] = self.cpu.get(name, 0.0) + time.thread_time() - cpu
        return timed

    def take(self) -> tuple[dict[str, float], dict[str, float]]:
        taken = (self.wall, self.cpu)
        self.wall, self.cpu = {}, {}
        return taken


@dataclass(frozen=True)
class RoundTrip:
    """One round trip's milliseconds: in all, and where they went."""

    total: float
    commits: float  # the intents' own commits (fsync'd when durable): entry and OCO
    http_wall: float  # the two POSTs, from the SDK call to its parsed answer
    http_cpu: float  # of which this thread's CPU: the SDK's request setup, signing, parsing
    server: float | None  # the loopback server's handler (signature check, paper matching); None: other process
    checkpoint: float  # the engine's checkpoint saved before each intent, as `run` does

    @property
    def ours(self) -> float:
        """Engine, pump, journal rows, wire formatting and parsing: everything but the disk, HTTP and checkpoint."""
        return self.total - self.commits - self.http_wall - self.checkpoint


def serve_loopback(conn: Connection) -> None:
    """The loopback Binance of the round trips in a process of its own (`--server process`): its URLs sent back,
    then served until anything arrives on `conn`."""
    with FakeBinance({SYMBOL: RULES}, FUNDS, api_key=KEY, api_secret=SECRET, limits=UNTHROTTLED) as fake:
        market(fake)
        conn.send(fake.rest_url)
        conn.recv()


@contextmanager
def loopback(split: Split, *, own_process: bool) -> Iterator[str]:
    """The round trips' loopback Binance, here (its handler timed) or in its own process; yields its REST URL."""
    # Binance's 100 orders / 10 s would make the adapter's throttle wait after ~22 round trips (4 orders each, 90 %
    # headroom): the loopback server is given room so that the figure is the round trip, not the throttle.
    if not own_process:
        fake = FakeBinance({SYMBOL: RULES}, FUNDS, api_key=KEY, api_secret=SECRET, limits=UNTHROTTLED)
        fake._handle = split.wrap("server", fake._handle)  # type: ignore[method-assign]
        with fake:
            market(fake)
            yield fake.rest_url
        return
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    server = multiprocessing.get_context("spawn").Process(target=serve_loopback, args=(theirs,), daemon=True)
    server.start()
    try:
        yield str(ours.recv())
    finally:
        ours.send("stop")
        server.join(10)


def roundtrips(count: int, folder: Path, *, durable: bool, own_process: bool) -> list[RoundTrip]:
    """Round trips as `run` makes them: inside one journal batch (the event's), the engine's checkpoint saved before
    each intent, each intent committed (fsync'd when durable) before its POST; the batch's own commit comes after the
    OCO is acknowledged and is not timed."""
    split = Split()
    original_send = rest_module.send_request
    rest_module.send_request = split.wrap("http", original_send)
    with loopback(split, own_process=own_process) as rest_url:
        exchange = adapter_for(rest_url)
        journal = Journal(folder / f"journal-{durable}-{own_process}.db", durable=durable)
        # Inside a batch only an intent's commit (and the batch reopened after it) reaches `_sql`.
        journal._db._sql = split.wrap("commits", journal._db._sql)  # type: ignore[method-assign]
        now = int(time.time() * 1000)
        engine = Engine(MANUAL_ONLY, {SYMBOL: RULES}, Portfolio("USDT", dict(FUNDS)), [SYMBOL], now)
        pump = Pump(engine, exchange, journal)
        pump.before_send = split.wrap("checkpoint", lambda: journal.save_checkpoint(
            {"engine": engine.to_state()}, written_ms=int(time.time() * 1000)))
        pump.handle(TradePrint(SYMBOL, now, float(PRICE), 1.0, False))
        results: list[RoundTrip] = []
        try:
            for _ in range(count):
                now += 1_000
                with journal.batch():
                    split.take()
                    started = time.perf_counter()
                    decision = engine.request_entry(SYMBOL, Decimal(200), Decimal(2), Decimal("0.5"), now)
                    pump.flush()
                    elapsed = time.perf_counter() - started
                    wall, cpu = split.take()
                if decision.action is not DecisionAction.ENTER:
                    raise SystemExit(f"the entry was refused: {decision.reasons}")
                holding = engine.holdings.get(SYMBOL)
                if holding is None or holding.protection_kind != "oco" or holding.trailing_delta is None:
                    raise SystemExit(f"no trailing OCO acknowledged after the entry: {holding}")
                results.append(RoundTrip(total=elapsed * 1000, commits=wall.get("commits", 0.0) * 1000,
                                         http_wall=wall["http"] * 1000, http_cpu=cpu["http"] * 1000,
                                         server=None if own_process else wall["server"] * 1000,
                                         checkpoint=wall["checkpoint"] * 1000))
                now += 1_000
                with journal.batch():
                    engine.request_exit(SYMBOL, now, "bench: next round trip")
                    pump.flush()
                    if SYMBOL in engine.holdings:
                        raise SystemExit("the position was not closed between round trips")
                    pump.handle(TradePrint(SYMBOL, now, float(PRICE), 1.0, False))
        finally:
            rest_module.send_request = original_send
            exchange.close()
            journal.close()
    return results


def disk_fsync_ms(folder: Path, samples: int = 100) -> list[float]:
    """This disk's fsync of a 4 KiB append, where the journal lives: the floor of each durable intent."""
    times = []
    path = folder / "fsync-probe"
    with path.open("ab") as probe:
        for _ in range(samples):
            probe.write(b"x" * 4096)
            probe.flush()
            started = time.perf_counter()
            os.fsync(probe.fileno())
            times.append((time.perf_counter() - started) * 1000)
    path.unlink()
    return times


def print_roundtrips(label: str, results: list[RoundTrip]) -> None:
    totals = [r.total for r in results]
    print(f"  journal {label}  p50 {statistics.median(totals):.2f} ms   p99 {percentile(totals, 0.99):.2f} ms   "
          f"max {max(totals):.2f} ms")
    parts = {"intent commits (2 per round trip)": [r.commits for r in results],
             "HTTP, 2 POSTs (SDK call to parsed answer)": [r.http_wall for r in results],
             "  of which SDK CPU in this thread": [r.http_cpu for r in results],
             "  of which the loopback server's handler": [r.server for r in results if r.server is not None],
             "checkpoint before each intent (2)": [r.checkpoint for r in results],
             "ours: engine, pump, journal rows, wire": [r.ours for r in results]}
    for name, values in parts.items():
        if not values:
            continue
        print(f"    {name:<44} p50 {statistics.median(values):6.2f} ms   p99 {percentile(values, 0.99):6.2f} ms")


def reconciliation(orders: int, repeats: int, folder: Path) -> list[tuple[float, int, Counter[Op]]]:
    """Seconds per `reconcile_with_venue` over `orders` open journal orders, its notes, and the requests the loopback
    Binance received during it."""
    results = []
    resting = orders // RESTING_SHARE
    symbols = [f"B{i:02d}USDT" for i in range(-(-resting // 150))]  # at most 150 resting orders per symbol
    rules = {s: RULES.model_copy(update={"symbol": s, "base_asset": s.removesuffix("USDT")}) for s in symbols}
    rules[SYMBOL] = RULES
    for repeat in range(repeats):
        home = Home.resolve(folder / f"home-{repeat}").ensure()
        with FakeBinance(rules, FUNDS, api_key=KEY, api_secret=SECRET) as fake:
            for symbol in rules:
                fake.trade(symbol, PRICE)
            journal = Journal(home.journal)
            now = int(time.time() * 1000)
            decided = now - CRASH_AGO_MS
            with journal.batch():
                for i in range(orders):
                    symbol = symbols[i // 150] if i < resting else SYMBOL
                    order = OrderRequest(client_order_id=f"cx-b-{now:x}-{i:x}", symbol=symbol, side=Side.BUY,
                                         type=OrderType.LIMIT, quantity=Decimal("0.001"),
                                         price=Decimal("20000") + i, time_in_force=TimeInForce.GTC)
                    journal.record_order_intent(order, time_ms=decided + i, strategy=None, position_id=None,
                                                reason="bench", durable=False)
                    if i < resting:  # sent before the crash: straight into the loopback venue, no request counted
                        fake.venue.place_order(Params({"symbol": symbol, "side": "BUY", "type": "LIMIT",
                                                       "timeInForce": "GTC", "quantity": "0.001",
                                                       "price": str(order.price),
                                                       "newClientOrderId": order.client_order_id}), fake.now_ms())
                        journal.update_order(order.client_order_id, status=OrderStatus.NEW, executed_qty=Decimal(0),
                                             cum_quote=Decimal(0), time_ms=decided + i, reason=None)
            exchange = adapter_for(fake.rest_url)
            engine = Engine(MANUAL_ONLY, rules, Portfolio("USDT", dict(FUNDS)), list(rules), now)
            pump = Pump(engine, exchange, journal)
            fake.requests.clear()
            started = time.perf_counter()
            with journal.batch():
                report = reconcile_with_venue(home, journal, pump, exchange, int(time.time() * 1000))
            results.append((time.perf_counter() - started, len(report.notes()), Counter(fake.requests)))
            left_open = len(journal.open_orders())
            if left_open != resting or len(report.resolved) != orders - resting:
                raise SystemExit(f"reconciliation left {left_open} open journal orders (expected {resting}) and "
                                 f"resolved {len(report.resolved)} (expected {orders - resting})")
            exchange.close()
            journal.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--roundtrips", type=int, default=200)
    parser.add_argument("--journal-orders", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="order-roundtrip-"))
    try:
        print(f"round trip (entry decision → MARKET acknowledged → trailing OCO acknowledged), {args.roundtrips} "
              "round trips, order-rate limits lifted (Binance's 100 orders / 10 s "
              "allow about 22 such round trips per 10 s before the adapter throttles) (target p99 < 10 ms):")
        for own_process in (False, True):
            print("  loopback Binance in its own process (the client's figures without its CPU):" if own_process else
                  "  loopback Binance in this process (its CPU competes with the client's for the GIL and the cores):")
            for durable in (True, False):
                print_roundtrips("durable (as run)" if durable else "not fsynced     ",
                                 roundtrips(args.roundtrips, folder, durable=durable, own_process=own_process))
        fsyncs = disk_fsync_ms(folder)
        print(f"  this disk's fsync (4 KiB append, the journal's folder): p50 {statistics.median(fsyncs):.2f} ms   "
              f"p99 {percentile(fsyncs, 0.99):.2f} ms; a round trip needs two (the entry's and the OCO's intents)")
        runs = reconciliation(args.journal_orders, args.repeats, folder)
        print(f"start-up reconciliation (runtime.venue_reconcile.reconcile_with_venue, what run --mode testnet|live "
              f"does), {args.journal_orders} open journal orders decided in the {CRASH_AGO_MS // 60_000} minutes "
              f"before a crash ({args.journal_orders // RESTING_SHARE} resting on the exchange, the rest never sent), "
              "Binance's request-weight limit in force:")
        seconds = [s for s, _, _ in runs]
        print(f"  {', '.join(f'{s:.2f} s' for s in seconds)}   median {statistics.median(seconds):.2f} s   "
              f"({runs[0][1]} notes; target < 2 s)")
        requests = runs[0][2]
        print(f"  requests the loopback Binance received: {sum(requests.values())} "
              f"({', '.join(f'{op.value} {n}' for op, n in requests.most_common())})")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
