"""Market-data feeds: recorded candles, native recordings, the seeded synthetic market, live Binance data."""

from exchange.feeds.book import LocalBook
from exchange.feeds.candles import CandleSeries, iter_bars, load_candles
from exchange.feeds.errors import BookOutOfSync, FeedError, MalformedDataFile, UnsupportedSymbol
from exchange.feeds.live import LiveFeed
from exchange.feeds.recorder import RecordingSummary, record
from exchange.feeds.recording import iter_recording
from exchange.feeds.rules import offline_exchange_info, offline_rules
from exchange.feeds.synthetic import SyntheticMarket

__all__ = [
    "BookOutOfSync",
    "CandleSeries",
    "FeedError",
    "LiveFeed",
    "LocalBook",
    "MalformedDataFile",
    "RecordingSummary",
    "SyntheticMarket",
    "UnsupportedSymbol",
    "iter_bars",
    "iter_recording",
    "load_candles",
    "offline_exchange_info",
    "offline_rules",
    "record",
]
