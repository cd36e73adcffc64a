"""The project's version, read from its one source: `pyproject.toml` at the repository root.

The skill runs from its folder (never installed as a distribution), so `importlib.metadata` cannot know it;
the file is found next to the code, whatever the working directory.
"""

from __future__ import annotations

import functools
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


@functools.cache
def project_version() -> str:
    with PYPROJECT.open("rb") as file:
        return str(tomllib.load(file)["project"]["version"])
