"""tests/conftest.py orders the collection: modules with a `slow` or `llm` test first, each module in one piece."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import slow_modules_first


@dataclass
class Item:
    path: Path
    name: str
    markers: set[str] = field(default_factory=set)

    def get_closest_marker(self, name: str) -> str | None:
        return name if name in self.markers else None


def test_modules_holding_a_slow_or_llm_test_come_first_whole_and_in_their_order() -> None:
    a, b, c, d = (Path(f"tests/test_{name}.py") for name in "abcd")
    items = [Item(a, "a1"), Item(b, "b1"), Item(b, "b2", {"slow"}), Item(b, "b3"), Item(c, "c1"),
             Item(d, "d1", {"llm"}), Item(d, "d2")]
    slow_modules_first(items)  # type: ignore[arg-type]
    assert [item.name for item in items] == ["b1", "b2", "b3", "d1", "d2", "a1", "c1"]
