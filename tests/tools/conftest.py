"""A replayed home for the tool tests that trade or control: built once per module, copied for each test.

`test_cli.py` and `test_status.py` define a `home` of their own, which takes precedence there.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tools.test_trade_support import copy_home, make_replayed_home


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_replayed_home(tmp_path_factory.mktemp("replayed") / "home")


@pytest.fixture
def home(template: Path, tmp_path: Path) -> Path:
    return copy_home(template, tmp_path / "home")
