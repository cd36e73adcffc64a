"""A manual trade executed by this process (no `run` holds the home) is reviewed by the analyzer as `run` reviews
it: above ANALYZER_MIN_TRADE_PCT of equity, DeepSeek (the loopback fake, over a socket) may keep, shrink or veto
it, never enlarge it; unavailable, late or over budget, the entry gets the fallback. A replay is never reviewed."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.fakes.openai_compat import FakeOpenAI, Mode, Reply
from tests.runtime.helpers import query, replace_checkpoint
from tests.tools.test_trade_support import checkpoint, context, copy_home
from tools.chat import status_text
from tools.status import AnalyzerView, StatusInput
from tools.status import handle as status
from tools.trade import TradeInput, handle

KEY = "sk-0123456789abcdef0123456789abcdef"
QUOTE = Decimal("11")  # 11 % of the home's 100 USDT: above ANALYZER_MIN_TRADE_PCT
MIN_PCT = "6"  # the fallback cuts to 6 USDT, above the 5 USDT minimum notional
RELIES = ["risk.max_position_size_pct"]


@pytest.fixture
def replay_home(template: Path, tmp_path: Path) -> Path:
    """A second replayed home beside `paper_home`."""
    return copy_home(template, tmp_path / "replay-home")


@pytest.fixture
def paper_home(home: Path) -> Path:
    """The replayed home as a paper home stopped at its last bar (paper trades through this process too)."""
    document = checkpoint(home)
    document["mode"] = "paper"
    replace_checkpoint(home, document)
    return home


def engine_ms(home: Path) -> int:
    return int(checkpoint(home)["engine"]["now_ms"])


def trade(home: Path, fake: FakeOpenAI | None, request_id: str, symbol: str = "ETHUSDT",
          **env: str) -> tuple[str, Decimal | None, list[str]]:
    """The trade's status, the quote amount of its entry order (None: no entry was sent) and the decision's clamps
    (the analyzer's own, with source "analyzer")."""
    environment = {"ANALYZER_MIN_TRADE_PCT": MIN_PCT, **env}
    if fake is not None:
        environment |= {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": fake.base_url, "ANALYZER_DEADLINE_S": "3"}
    now = engine_ms(home) + 1_000
    out = handle(TradeInput(symbol=symbol, side="buy", quote=QUOTE, request_id=request_id),
                 context(home, environment, now_ms=lambda: now))
    entries = [o for o in out.orders if o.side == "BUY"]
    assert out.decision is not None
    clamps = [c.rule for c in out.decision.clamps if c.source == "analyzer"]
    return out.status, (entries[0].quote_order_qty if entries else None), clamps


@pytest.fixture
def deepseek() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        yield fake


def test_without_a_key_the_manual_entry_is_not_reviewed(paper_home: Path) -> None:
    status, quote, clamps = trade(paper_home, None, "plain")
    assert status == "executed" and quote == QUOTE and clamps == []


def test_approve_keeps_it_and_the_call_is_journaled(paper_home: Path, deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply.json({"verdict": "approve", "rule_ids": RELIES}))
    status, quote, clamps = trade(paper_home, deepseek, "approve")
    assert status == "executed" and quote == QUOTE and clamps == []
    [request] = deepseek.completions()
    assert "ETHUSDT" in request.body["messages"][1]["content"] and "manual" in request.body["messages"][1]["content"]
    rows = query(paper_home / "journal.db", "SELECT role, outcome FROM llm_calls")
    assert rows == [("analyzer", "ok")]


def test_reduce_shrinks_and_veto_skips(paper_home: Path, deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply.json({"verdict": "reduce", "size_quote": "7", "rule_ids": RELIES}))
    status, quote, clamps = trade(paper_home, deepseek, "reduce")
    assert status == "executed" and quote is not None and quote <= Decimal("7") and clamps == ["advice.size_multiplier"]
    deepseek.script(Reply.json({"verdict": "veto", "rule_ids": RELIES}))
    status, quote, clamps = trade(paper_home, deepseek, "veto", symbol="BTCUSDT")
    assert status == "skipped" and quote is None and clamps == ["advice.veto"]


def test_an_answer_that_would_enlarge_it_enlarges_nothing(paper_home: Path, deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply.json({"verdict": "reduce", "size_quote": "1e14", "rule_ids": RELIES}))
    status, quote, _ = trade(paper_home, deepseek, "enlarge")
    assert status == "executed" and quote == QUOTE


@pytest.mark.parametrize("reply, env", [
    (Reply.error(402), {}),
    (Reply.error(503, retry_after=0.01), {}),
    (Reply.json({"verdict": "approve", "rule_ids": RELIES}, keepalive_lines=100, keepalive_every_s=0.05), {}),
    (Reply.json({"verdict": "approve", "rule_ids": ["risk.raise_everything"]}), {}),
    (Reply.json({"verdict": "approve", "rule_ids": RELIES}), {"DEEPSEEK_DAILY_BUDGET_USD": "0"}),
], ids=["402", "503", "late", "unknown-rule", "over-budget"])
def test_without_a_usable_answer_the_entry_is_cut_to_the_threshold(reply: Reply, env: dict[str, str],
                                                                    paper_home: Path, deepseek: FakeOpenAI) -> None:
    deepseek.script(reply, reply, reply)
    status, quote, clamps = trade(paper_home, deepseek, "fallback", **env)
    assert status == "executed" and quote is not None and quote <= Decimal(MIN_PCT) < QUOTE
    assert clamps == ["advice.size_multiplier"]
    deepseek.reset()
    deepseek.script(reply, reply, reply)
    status, quote, clamps = trade(paper_home, deepseek, "fallback-skip", "BTCUSDT", ANALYZER_FALLBACK="skip", **env)
    assert status == "skipped" and quote is None and clamps == ["advice.skip"]


def test_a_replay_home_is_never_reviewed(home: Path, deepseek: FakeOpenAI) -> None:
    deepseek.script(Reply.json({"verdict": "veto", "rule_ids": RELIES}))
    status, quote, clamps = trade(home, deepseek, "replay")
    assert status == "executed" and quote == QUOTE and clamps == [] and deepseek.completions() == []


def analyzer_view(home: Path, **env: str) -> tuple[AnalyzerView, str]:
    ctx = context(home, env, now_ms=lambda: engine_ms(home) + 2_000)
    out = status(StatusInput(), ctx)
    return out.analyzer, "\n".join(status_text(out.model_dump(mode="json")).detail)


def test_status_says_whether_the_analyzer_is_on_and_why_not(paper_home: Path, replay_home: Path,
                                                           deepseek: FakeOpenAI) -> None:
    view, text = analyzer_view(paper_home)
    assert (view.on, view.state) == (False, "no_key") and "DEEPSEEK_API_KEY is not set" in text
    keyed = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": deepseek.base_url, "ANALYZER_MIN_TRADE_PCT": MIN_PCT}
    view, text = analyzer_view(paper_home, **keyed)
    assert (view.on, view.state, view.min_trade_pct, view.fallback, view.blocked) == (True, "on", MIN_PCT, "shrink",
                                                                                       None)
    assert "analyzer on: entries above 6 % of equity" in text
    view, _ = analyzer_view(paper_home, **keyed, ANALYZER_FALLBACK="enlarge")
    assert (view.on, view.state) == (False, "invalid_settings") and "ANALYZER_FALLBACK" in view.message

    deepseek.script(Reply.error(402))
    trade(paper_home, deepseek, "after-402")
    view, text = analyzer_view(paper_home, **keyed)
    assert view.on and view.blocked is not None and "no_balance" in view.blocked and "BLOCKED" in text

    view, _ = analyzer_view(replay_home, **keyed)
    assert (view.on, view.state) == (False, "unreviewed_mode") and "replay runs are never reviewed" in view.message


def test_status_of_an_empty_home_says_nothing_is_reviewed_yet(tmp_path: Path) -> None:
    view, _ = analyzer_view(tmp_path / "empty", DEEPSEEK_API_KEY=KEY)
    assert (view.on, view.state) == (False, "not_started")
