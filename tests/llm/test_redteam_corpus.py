"""Every case of the red-team corpus through the real client, over a socket to the loopback fake, then through
the risk engine: the result is the expected one, the call is journaled once, outside text reaches the prompt
only fenced and cleaned, and the entry is never looser than the deterministic rules alone decide."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from memory.journal import Journal
from scouts.llm.fence import clean_text
from tests.fakes.openai_compat import FakeOpenAI, Mode
from tests.llm.redteam import (
    EXAMPLE,
    Case,
    advice_of,
    advised,
    assert_never_looser,
    baseline,
    effect,
    load_corpus,
    messages_for,
    outcome_of,
)
from tests.llm.support import KEY, analyzer, scout

CORPUS = load_corpus()
REQUIRED_KINDS = {"injection", "tool_call", "limit", "number", "symbol", "extra_field", "blank", "keepalive", "http"}
FENCE = re.compile(r"<<<DATA ([0-9a-f]{16}) from [^\n]*>>>\n(.*)\n<<<END DATA \1>>>", re.S)


def test_the_corpus_is_large_and_covers_every_kind_of_attack() -> None:
    assert len(CORPUS) >= 50
    assert len({case.id for case in CORPUS}) == len(CORPUS)
    assert {case.kind for case in CORPUS} == REQUIRED_KINDS
    statuses = {reply.status for case in CORPUS for reply in case.replies}
    assert {400, 401, 402, 422, 429, 503} <= statuses


def _fake(case: Case) -> FakeOpenAI:
    if case.mode is Mode.DEEPSEEK:
        return FakeOpenAI(Mode.DEEPSEEK, api_key=KEY)
    return FakeOpenAI(Mode.LMSTUDIO, models={"qwen2.5-3b-instruct": True})


@pytest.mark.parametrize("case", CORPUS, ids=[case.id for case in CORPUS])
def test_corpus_case(case: Case, tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db", durable=False) as journal, _fake(case) as fake:
        fake.script(*case.replies)
        client = (analyzer if case.mode is Mode.DEEPSEEK else scout)(fake, journal, **case.env)
        result = client.complete_sync(messages_for(case.outside), EXAMPLE)

        assert outcome_of(result) == (case.expect.outcome, case.expect.reason)
        [row] = journal.llm_calls()
        assert (row["outcome"], row["reason"]) == (case.expect.outcome, case.expect.reason)
        assert row["attempts"] == len(fake.completions()) >= 1
        if case.outside is not None:
            _assert_fenced(fake, case.outside)

    before = baseline()
    after = advised(advice_of(result))
    assert_never_looser(before, after)
    assert effect(before, after) is case.expect.order


def _assert_fenced(fake: FakeOpenAI, outside: str) -> None:
    """The outside text is in every prompt sent, cleaned, only between a fence's own markers."""
    for sent in fake.completions():
        user = sent.body["messages"][1]["content"]
        [(_, body)] = FENCE.findall(user)
        assert body == clean_text(outside)
        before_fence = user[: user.index("<<<DATA")]
        assert clean_text(outside) not in before_fence
        assert not any(ch in user for ch in ("\u200b", "\u200d", "\u2060", "\u202e"))
