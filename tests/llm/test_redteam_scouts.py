"""The scout part of the red-team corpus: scripted answers from the LM Studio fake through a real scout round
(the real `scan` and `status` tools, the real client and journal). Tool calls to anything but the read-only
tools, disguised or unwatched symbols, absurd numbers and extra fields are refused with their rule ids; only
bearish intel on a watched symbol becomes advice, and that advice never lets an entry grow."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from memory.journal import Journal
from scouts.llm.client import LlmClient
from scouts.llm.settings import LlmSettings
from scouts.round import ScoutRound
from scouts.runner import round_limits
from tests.fakes.openai_compat import FakeOpenAI, Mode
from tests.llm.redteam import ScoutCase, advised, assert_never_looser, baseline, load_scout_corpus
from tests.scouts.support import PLAIN_MODEL, TOOL_MODEL, Recorder, context, scout_env
from tools.scouts import scout_tools, watched_symbols

SCOUT_CORPUS = load_scout_corpus()


def test_the_scout_corpus_covers_tool_calls_symbols_numbers_and_errors() -> None:
    assert len(SCOUT_CORPUS) >= 20 and len({c.id for c in SCOUT_CORPUS}) == len(SCOUT_CORPUS)
    assert {"tool_call", "symbol", "number", "extra_field", "limit", "injection", "blank", "http"} <= \
        {c.kind for c in SCOUT_CORPUS}


@pytest.mark.parametrize("case", SCOUT_CORPUS, ids=[c.id for c in SCOUT_CORPUS])
def test_scout_corpus_case(case: ScoutCase, tmp_path: Path) -> None:
    with FakeOpenAI(Mode.LMSTUDIO, models={TOOL_MODEL: True, PLAIN_MODEL: False}) as fake:
        fake.script(*case.replies)
        ctx = context(tmp_path, scout_env(fake, TOOL_MODEL if case.tool_use else PLAIN_MODEL,
                                          LMSTUDIO_DEADLINE_S="3"))
        settings = LlmSettings.from_env(ctx.env)
        submitted = Recorder()
        with Journal(ctx.home.journal) as journal:
            client = LlmClient(settings.scouts()[0], settings, journal)
            scout = ScoutRound(client, journal, scout_tools(ctx), frozenset(watched_symbols(ctx)), submitted,
                               round_limits(settings), ctx.now_ms)
            report = asyncio.run(scout.run(tool_use=case.tool_use))
            calls = journal.llm_calls()

    assert [f"{a.action.value} {a.symbol}" for a in submitted.advice] == list(case.advice)
    assert [r.rule.value for r in report.rejections] == list(case.rejections)
    assert (report.failure is not None) is case.failed
    assert set(report.tool_calls) <= {"scan", "status"}
    assert len(calls) == report.turns or case.failed
    assert_never_looser(baseline(), advised(list(submitted.advice)))
