"""Scout intel and analyzer verdicts reach the Discord research webhook through the outbox, as `run` wires them
(`runtime.research`): only the research webhook, once, with model text escaped; nothing without the webhook."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from core.config import ExecutorConfig
from core.review import AnalyzerAnswer, ReviewCause, ReviewVerdict
from core.risk.gate import evaluate_entry
from core.types import Advice, AdviceAction, DecisionAction, RuleId
from memory.journal import Journal
from runtime.alerting import ResearchQueue
from runtime.home import Home
from runtime.research import intel_poster, verdict_poster
from scouts.analyzer import Review
from scouts.intel import Bias, Intel
from tests.core.test_risk_support import MONDAY_MS, btc_rules, context, signal
from tests.reports.loopback import LoopbackServer
from tests.runtime.test_alert_producers import _deliver, _notifiers, servers  # noqa: F401 (a fixture)

INTEL = Intel(symbol="ETHUSDT", bias=Bias.BEARISH, confidence=0.8, horizon_min=240,
              rationale="funding flipped @everyone <b>now</b>", expires_in_min=60)


def test_scout_intel_reaches_only_the_research_webhook_once(tmp_path: Path,
                                                            servers: tuple[LoopbackServer, ...]) -> None:  # noqa: F811
    telegram, execution, research = servers
    home = Home(tmp_path / "home").ensure()
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    post = intel_poster(home, notifiers[2], lambda: MONDAY_MS)
    assert post is not None and intel_poster(home, None, lambda: MONDAY_MS) is None
    post("qwen2.5-3b", [INTEL])
    post("qwen2.5-3b", [INTEL])  # the same round posted again: one item
    with Journal(home.journal) as journal:
        _deliver(journal, list(notifiers))
    assert telegram.received == [] and execution.received == []
    [embed] = [e for r in research.received for e in r.json["embeds"]]
    assert embed["title"] == "ETHUSDT: bearish \\(0.80\\)"  # Discord markdown escaped
    assert "@\u200beveryone" in embed["description"] and "@everyone" not in embed["description"]
    assert ("horizon", "240 min") in [(f["name"], f["value"]) for f in embed["fields"]]


def test_an_analyzer_verdict_names_its_rules_and_a_fallback_says_why(tmp_path: Path,
                                                                     servers: tuple[LoopbackServer, ...]  # noqa: F811
                                                                     ) -> None:
    _, _, research = servers
    notifiers = _notifiers(servers)  # type: ignore[arg-type]
    decision = evaluate_entry(signal(), context(), btc_rules(), ExecutorConfig(), MONDAY_MS)
    assert decision.action is DecisionAction.ENTER
    advice = Advice(source="analyzer", symbol=decision.symbol, action=AdviceAction.SKIP, issued_ms=MONDAY_MS,
                    expires_ms=MONDAY_MS + 60_000)
    veto = AnalyzerAnswer(verdict=ReviewVerdict.VETO, rule_ids=[RuleId.MAX_OPEN_POSITIONS], reason="too crowded")
    with Journal(tmp_path / "journal.db") as journal:
        queue = ResearchQueue(journal, notifiers[2])
        clock = iter([MONDAY_MS, MONDAY_MS + 1])
        post = verdict_poster(queue, lambda: next(clock))
        assert post is not None and verdict_poster(ResearchQueue(journal, None), lambda: 0) is None
        post(Review(advice, ReviewCause.LARGE, veto, None), decision)
        post(Review(advice, ReviewCause.LARGE, None, "deadline: no answer in 10 s"), decision)
        _deliver(journal, list(notifiers))
    first, second = [e for r in research.received for e in r.json["embeds"]]
    assert first["title"] == f"{decision.symbol}: veto" and first["description"] == "too crowded"
    assert ("rules", "risk.max\\_open\\_positions") in [(f["name"], f["value"]) for f in first["fields"]]
    assert second["title"] == f"{decision.symbol}: fallback \\(skip\\)"
    assert "deadline" in second["description"]
    assert decision.quote_amount > Decimal(0)
