"""Advice can only tighten, proved over the whole engine: at every step of a run driven through the real pump and
paper exchange, the entry the advised engine places is never larger, and the stop and take-profit it will protect
with never wider or higher, than what the same engine without advice would do on the same bar."""

from __future__ import annotations

import tempfile
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.engine import Engine, PlaceOrder
from core.types import Advice, AdviceAction, DecisionAction
from tests.runtime.test_engine_flow import START, SYMBOL, Rig

MINUTE_MS = 60_000


def shadow_entry(engine: Engine, bar_change: float, rig: Rig) -> tuple[Decimal, Decimal, Decimal] | None:
    """(quote, take-profit %, stop %) of the entry the engine without its advice places on the next bar."""
    shadow = Engine.from_state(engine.to_state(), engine.config, engine.rules)
    shadow.advice = []
    shadow.controls.paused_symbols.clear()  # the run pauses nothing by hand: every pause came from advice
    shadow.controls.all_paused_until = 0
    return _entry_after(shadow, rig.next_bar(bar_change))


def _entry_after(engine: Engine, bar: object) -> tuple[Decimal, Decimal, Decimal] | None:
    engine.on_market(bar)
    entries = [c for c in engine.commands if isinstance(c, PlaceOrder) and c.purpose == "entry"]
    if not entries:
        return None
    pending = engine.pending[SYMBOL]
    quote = entries[0].order.quote_order_qty
    assert quote is not None
    return quote, pending.take_profit_pct, pending.stop_loss_pct


class AdvisedRig(Rig):
    def next_bar(self, change_pct: float) -> object:
        """The bar `bar(change_pct)` would handle next, built without handling it."""
        saved = (self.t, self.price, self.pump.handle)
        built: list[object] = []
        self.pump.handle = built.append  # type: ignore[method-assign]
        try:
            self.bar(change_pct)
        finally:
            self.t, self.price, self.pump.handle = saved  # type: ignore[method-assign]
        return built[0]


any_pct = st.sampled_from([Decimal(p) for p in ("0.2", "0.5", "0.79", "1.2", "3", "0")]) | st.decimals(
    Decimal("-5"), Decimal("120"), places=2)
any_advice = st.builds(
    dict, action=st.sampled_from(list(AdviceAction)),
    symbol=st.sampled_from([SYMBOL, None]),
    size_multiplier=st.floats(-2, 5, allow_nan=False) | st.sampled_from([0.0, 0.3, 1.0, 1e9]),
    stop_loss_pct=st.none() | any_pct,
    take_profit_pct=st.none() | any_pct,
    pause_minutes=st.none() | st.integers(0, 120),
    life_minutes=st.integers(1, 240),
)
# Mostly a steady rise with closes at the highs (what triggers momentum), so that entries happen under advice.
steps = st.lists(st.tuples(st.sampled_from([0.12] * 8 + [0.3, -0.2, 0.05, -1.0]),
                           st.sampled_from([None] * 3) | any_advice), min_size=30, max_size=90)


def advise(engine: Engine, fields: dict[str, object]) -> None:
    life = int(fields["life_minutes"])  # type: ignore[call-overload]
    engine.on_advice(Advice.model_validate(
        {"source": "scout:property", **{k: v for k, v in fields.items() if k != "life_minutes"},
         "issued_ms": engine.now_ms, "expires_ms": engine.now_ms + life * MINUTE_MS}), engine.now_ms)


def warm_up(rig: AdvisedRig) -> None:
    """Rise until the next bar would start a momentum signal: the advice then meets an entry for certain."""
    for _ in range(60):
        if shadow_entry(rig.engine, 0.12, rig) is not None:
            return
        rig.bar(0.12)
    raise AssertionError("a steady rise with closes at the highs should trigger momentum")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(at_entry=st.lists(any_advice, min_size=1, max_size=4), steps=steps)
def test_any_advice_sequence_never_enlarges_an_entry_nor_loosens_its_exits(
        at_entry: list[dict[str, object]], steps: list[tuple[float, dict[str, object] | None]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        rig = AdvisedRig(Path(tmp))
        warm_up(rig)
        for index, (change, fields) in enumerate([(0.12, None), *steps]):
            engine = rig.engine
            for piece in (at_entry if index == 0 else [fields] if fields is not None else []):
                advise(engine, piece)
            rig.pump.flush()
            without = shadow_entry(engine, change, rig)
            rig.bar(change)
            enters = [d for d in rig.journal.decisions(since_ms=rig.t - 1)
                      if d["action"] == DecisionAction.ENTER.value]
            if not enters:
                continue
            assert without is not None, "advice made an entry the engine without it would not make"
            assert Decimal(enters[-1]["quote_amount"]) <= without[0]
            held = engine.pending.get(SYMBOL) or engine.holdings[SYMBOL]
            assert held.take_profit_pct <= without[1] and held.stop_loss_pct <= without[2]
        rig.journal.close()


def test_advised_tighter_stop_and_lower_take_profit_reach_the_protection(tmp_path: Path) -> None:
    rig = AdvisedRig(tmp_path)
    engine = rig.engine
    engine.on_advice(Advice(source="analyzer", symbol=SYMBOL, action=AdviceAction.SHRINK, size_multiplier=0.5,
                            stop_loss_pct=Decimal("0.3"), take_profit_pct=Decimal("0.5"), issued_ms=START,
                            expires_ms=START + 24 * 60 * MINUTE_MS), START)
    for _ in range(40):
        without = shadow_entry(engine, 0.12, rig)
        rig.bar(0.12)
        if engine.pending or engine.holdings:
            break
    assert without is not None and engine.pending
    pending = engine.pending[SYMBOL]
    assert pending.stop_loss_pct < without[2] and pending.take_profit_pct < without[1]
    assert Decimal("0.29") < pending.stop_loss_pct <= Decimal("0.3")
    rig.bar(0.05)  # fills; the OCO is built from the advised percents, measured from the fill price
    holding = engine.holdings[SYMBOL]
    assert (holding.stop_loss_pct, holding.take_profit_pct) == (pending.stop_loss_pct, pending.take_profit_pct)
    band_pct = (holding.take_profit_price - holding.stop_price) / holding.stop_price * 100
    assert band_pct < Decimal("0.85") < without[1] + without[2]
    rig.journal.close()
