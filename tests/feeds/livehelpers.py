"""Running a LiveFeed against the loopback servers for a bounded time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

from core.events import Book, MarketEvent
from exchange.feeds.book import LocalBook
from tests.feeds.captures import Capture


async def take_until(stream: AsyncIterator[MarketEvent], into: list[MarketEvent],
                     done: Callable[[list[MarketEvent]], bool], timeout_s: float) -> bool:
    """Append events to `into` until `done(into)` or the timeout; True when `done` was reached."""
    if done(into):
        return True
    try:
        async with asyncio.timeout(timeout_s):
            async for event in stream:
                into.append(event)
                if done(into):
                    return True
    except TimeoutError:
        return False
    return False


def final_top(capture: Capture, symbol: str, depth: int = 10) -> tuple[Any, Any]:
    """The top of the book after the snapshot and every captured diff, computed offline."""
    book = LocalBook(symbol)
    book.load_snapshot(capture.snapshots[symbol])
    for diff in capture.depth_updates(symbol):
        book.apply(diff)
    top = book.book(0, depth)
    return top.bids, top.asks


def books(events: list[MarketEvent], symbol: str) -> list[Book]:
    return [e for e in events if isinstance(e, Book) and e.symbol == symbol]


def reached_final(events: list[MarketEvent], symbol: str, expected: tuple[Any, Any]) -> bool:
    found = books(events, symbol)
    return bool(found) and (found[-1].bids, found[-1].asks) == expected
