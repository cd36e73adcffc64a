"""Property tests for the money a trade request turns into: the request is an upper bound that no cap lets
through, every lowering is listed, and a confirmation code binds the amounts whatever their spelling."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import load_config
from memory.journal import Journal
from runtime.commands import DirectSession, execute
from runtime.home import Home
from runtime.lock import SingleWriterLock
from tests.tools.test_trade_support import context, make_replayed_home
from tools.spec import wall_clock_ms
from tools.trade import TradeInput, resolved_parameters

CAP_PCT = Decimal("12")  # the default max_position_size_pct

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("1000000"), places=2, allow_nan=False,
                      allow_infinity=False)
percents = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100"), places=2, allow_nan=False,
                       allow_infinity=False)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DirectSession]:
    home = Home.resolve(make_replayed_home(tmp_path_factory.mktemp("replayed") / "home"))
    with Journal(home.journal) as journal, SingleWriterLock(home.lock):
        yield DirectSession(home, load_config(env={}), journal, wall_clock_ms())


def _preview(session: DirectSession, payload: dict[str, str]) -> dict[str, object]:
    answer = execute(session.engine, session.pump, "preview", {"symbol": "ETHUSDT", "side": "buy", **payload},
                     session.engine.now_ms)
    decision = answer["decision"]
    assert isinstance(decision, dict)
    return decision


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(quote=amounts)
def test_a_quote_is_an_upper_bound_and_every_cap_that_lowers_it_is_listed(session: DirectSession,
                                                                          quote: Decimal) -> None:
    decision = _preview(session, {"quote": str(quote)})
    equity = session.engine.portfolio.equity()
    spent = Decimal(str(decision["quote_amount"]))
    assert spent <= quote and spent <= equity * CAP_PCT / 100
    clamps = decision["clamps"]
    assert isinstance(clamps, list)
    if quote > equity * CAP_PCT / 100 and decision["action"] == "enter":
        assert "risk.max_position_size_pct" in [c["rule"] for c in clamps]
    if decision["action"] == "skip":
        assert spent == 0 and decision["reasons"]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pct=percents)
def test_a_percent_of_equity_never_buys_more_than_that_percent(session: DirectSession, pct: Decimal) -> None:
    decision = _preview(session, {"pct": str(pct)})
    equity = session.engine.portfolio.equity()
    assert Decimal(str(decision["quote_amount"])) <= equity * min(pct, CAP_PCT) / 100


@given(quote=amounts, zeros=st.integers(min_value=0, max_value=6))
def test_a_code_binds_the_amount_not_its_spelling(quote: Decimal, zeros: int) -> None:
    ctx = context(Path("/nonexistent-home"))
    padded = quote.quantize(Decimal(1).scaleb(-(2 + zeros)))  # the same number with trailing zeros
    plain = resolved_parameters(TradeInput(symbol="BTCUSDT", side="buy", quote=quote), ctx)
    assert plain == resolved_parameters(TradeInput(symbol="BTCUSDT", side="buy", quote=padded), ctx)
    assert plain != resolved_parameters(TradeInput(symbol="BTCUSDT", side="buy", quote=quote + Decimal("0.01")), ctx)
