"""What the LLM client tests share: a started fake, a journal, settings pointed at the fake, an output model."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field

from memory.journal import Journal
from scouts.llm.client import LlmClient
from scouts.llm.settings import LlmSettings
from tests.fakes.openai_compat import FakeOpenAI, Mode

KEY = "sk-0123456789abcdef0123456789abcdef"


def utc_ms(year: int, month: int, day: int, hour: int, minute: int = 0) -> int:
    return int(datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp()) * 1000


# Wednesday 2026-03-04: 05:00 UTC is 13:00 in Beijing (lunch, off-peak); 02:00 UTC is 10:00 (peak).
OFF_PEAK_MS = utc_ms(2026, 3, 4, 5)
PEAK_MS = utc_ms(2026, 3, 4, 2)


class FixedClock:
    def __init__(self, now_ms: int = OFF_PEAK_MS) -> None:
        self.ms = now_ms

    def now_ms(self) -> int:
        return self.ms


class Verdict(BaseModel):
    """An analyzer-like answer: what the tests ask the fake's scripted model for."""

    model_config = ConfigDict(extra="forbid")

    verdict: str = Field(pattern="^(approve|reduce|veto)$")
    size_pct: float = Field(ge=0, le=100)


EXAMPLE = Verdict(verdict="approve", size_pct=1.0)
ASK = [{"role": "user", "content": "Review this entry and answer in json."}]


@pytest.fixture
def deepseek() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.DEEPSEEK, api_key=KEY) as fake:
        yield fake


@pytest.fixture
def lmstudio() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.LMSTUDIO, models={"qwen2.5-3b-instruct": True, "gemma-2-2b-it": False}) as fake:
        yield fake


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db", durable=False) as opened:
        yield opened


def settings_for(fake: FakeOpenAI, **env: str) -> LlmSettings:
    base = {"DEEPSEEK_API_KEY": KEY, "DEEPSEEK_BASE_URL": fake.base_url, "LMSTUDIO_BASE_URL": fake.base_url,
            "SCOUT_MODELS": "qwen2.5-3b-instruct", "DEEPSEEK_DEADLINE_S": "3", "LMSTUDIO_DEADLINE_S": "3",
            "LLM_MAX_RETRIES": "1"}
    return LlmSettings.from_env(base | env)


def analyzer(fake: FakeOpenAI, journal: Journal, clock: FixedClock | None = None, **env: str) -> LlmClient:
    settings = settings_for(fake, **env)
    return LlmClient(settings.analyzer(), settings, journal, clock=clock or FixedClock())


def scout(fake: FakeOpenAI, journal: Journal, **env: str) -> LlmClient:
    settings = settings_for(fake, **env)
    return LlmClient(settings.scouts()[0], settings, journal, clock=FixedClock())
