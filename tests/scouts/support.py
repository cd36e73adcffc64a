"""What the scout tests share: a fresh home, a context whose scan reaches no Binance (an outage, quickly),
the fake LM Studio, and a recorder standing in for the engine's advice queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import ExecutorConfig
from core.types import Advice
from runtime.home import Home
from tests.fakes.openai_compat import FakeOpenAI, Mode
from tests.tools.test_cli_support import closed_loopback_url
from tools.spec import ToolContext

TOOL_MODEL = "qwen2.5-3b-instruct"  # LM Studio says: trained for tool use
PLAIN_MODEL = "gemma-2-2b-it"  # not trained for tool use: the json_schema path
NOW_MS = 1_780_000_000_000
SECRET = "s3cr3t-binance-api-secret-value-0123456789"


@pytest.fixture
def lmstudio() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(Mode.LMSTUDIO, models={TOOL_MODEL: True, PLAIN_MODEL: False}) as fake:
        yield fake


def scout_env(fake: FakeOpenAI, model: str = TOOL_MODEL, **extra: str) -> dict[str, str]:
    return {"LMSTUDIO_BASE_URL": fake.base_url, "SCOUT_MODELS": model, "LMSTUDIO_DEADLINE_S": "5",
            "BINANCE_BASE_URL": closed_loopback_url(), "SCAN_SYMBOLS": "BTCUSDT,ETHUSDT",
            "BINANCE_API_SECRET": SECRET, **extra}


def context(tmp_path: Path, env: dict[str, str]) -> ToolContext:
    return ToolContext(home=Home.resolve(tmp_path / "home").ensure(), config=ExecutorConfig(), env=env,
                       now_ms=lambda: NOW_MS)


class Recorder:
    """The submit callable of a round: keeps what it was given."""

    def __init__(self) -> None:
        self.advice: list[Advice] = []

    def __call__(self, advice: Advice) -> int:
        self.advice.append(advice)
        return len(self.advice)  # the id a queued command would have
