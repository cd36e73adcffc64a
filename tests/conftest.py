"""Shared test helpers: where the recorded fixtures live, and a skip when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(os.environ.get("EXECUTOR_FIXTURES", REPO_ROOT.parent / "shared" / "fixtures"))

settings.register_profile("default", deadline=None, max_examples=200)
settings.register_profile("ci", deadline=None, max_examples=200, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


def fixture_path(*parts: str) -> Path:
    """Path of a recorded fixture, skipping the test with a reason when ../shared/fixtures is absent."""
    path = FIXTURES.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"recorded fixture {path} is absent (../shared/fixtures is not beside this checkout)")
    return path


@pytest.fixture
def fixtures_dir() -> Path:
    if not FIXTURES.is_dir():
        pytest.skip(f"recorded fixtures folder {FIXTURES} is absent")
    return FIXTURES
