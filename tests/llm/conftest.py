import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm.local_model import LocalModel, LocalModelMissing, start_local_model
from tests.llm.support import deepseek, journal, lmstudio

__all__ = ["deepseek", "journal", "lmstudio", "local_model"]


@pytest.fixture(scope="session")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalModel]:
    """SmolLM2-135M served by llama_cpp.server on 127.0.0.1 for the whole session (tests marked `llm`, which
    run on one xdist worker: one server). Absent locally: skipped; absent in CI (CI set): an error, since
    `make test` installs it."""
    try:
        server = start_local_model(Path(tmp_path_factory.mktemp("local-model")))
    except LocalModelMissing as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"{exc}")
    try:
        yield server
    finally:
        server.stop()
