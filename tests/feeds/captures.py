"""Readers for the real Binance captures in ../shared/fixtures/ws_captures/cryptofeed_2021-10-12.

BINANCE.http.0.0: one REST depth snapshot per line, `URL -> epoch: JSON`.
BINANCE.ws.1.0: connect markers `URL <-> epoch`, then one combined-stream message per line,
`epoch: {"stream": ..., "data": ...}`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.conftest import fixture_path

CAPTURE = ("ws_captures", "cryptofeed_2021-10-12")


@dataclass(frozen=True)
class Capture:
    snapshots: dict[str, dict[str, Any]]  # symbol → REST depth JSON
    snapshot_times: dict[str, float]
    messages: list[tuple[float, dict[str, Any]]]  # (receive epoch seconds, combined-stream message)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.snapshots)

    def depth_updates(self, symbol: str) -> list[dict[str, Any]]:
        return [m["data"] for _, m in self.messages
                if m["data"].get("e") == "depthUpdate" and m["data"]["s"] == symbol]


def load_capture() -> Capture:
    folder: Path = fixture_path(*CAPTURE)
    snapshots: dict[str, dict[str, Any]] = {}
    times: dict[str, float] = {}
    for line in (folder / "BINANCE.http.0.0").read_text().splitlines():
        if not line.strip():
            continue
        url, rest = line.split(" -> ", 1)
        epoch, body = rest.split(": ", 1)
        symbol = parse_qs(urlparse(url).query)["symbol"][0]
        snapshots[symbol] = json.loads(body)
        times[symbol] = float(epoch)
    messages: list[tuple[float, dict[str, Any]]] = []
    for line in (folder / "BINANCE.ws.1.0").read_text().splitlines():
        if not line.strip() or " <-> " in line:
            continue
        epoch, body = line.split(": ", 1)
        messages.append((float(epoch), json.loads(body)))
    return Capture(snapshots, times, messages)
