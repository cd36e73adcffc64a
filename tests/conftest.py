"""Shared test helpers: where the recorded fixtures live, and a skip when they are absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from _pytest.nodeid import NodeId
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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    slow_modules_first(items)
    restore_xdist_groups(config, items)


def slow_modules_first(items: list[pytest.Item]) -> None:
    """Run the modules that hold a `slow` or `llm` test first, each module still in one piece and every other
    order kept. xdist hands out work in this order as each worker frees up, so a test of several minutes (the
    real-candle accounting backtest) starts at the beginning, beside the short ones, instead of at the end with
    one worker idle; a serial run builds each module fixture once, as before."""
    heavy = {item.path for item in items if item.get_closest_marker("slow") or item.get_closest_marker("llm")}
    items.sort(key=lambda item: item.path not in heavy)


def restore_xdist_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep `--dist=loadgroup` grouping on pytest 9.2: pytest-xdist 3.8 marks an `xdist_group` test by writing
    `nodeid@group` into the legacy `_nodeid` field, which pytest's structured node ids no longer read
    (pytest-dev/pytest-xdist#1386), so every group was split across the workers (two SmolLM2 servers, one per
    worker, for the `llm` tests). This carries xdist's suffix into the id the worker reports; a no-op without
    xdist and once xdist sets the id itself."""
    if not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        grouped = getattr(item, "_nodeid", None)
        if isinstance(grouped, str) and grouped != item.nodeid and grouped.startswith(f"{item.nodeid}@"):
            item._id = NodeId.parse(grouped)  # type: ignore[attr-defined]
