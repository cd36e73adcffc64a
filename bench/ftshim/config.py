"""freqtrade's configuration for the EMA/RSI cross of `../shared/parity/README.md`, offline.

Every trading figure is the README's: 5m, at most 8 open trades, 100 USDT a trade, fee 0.1 % a side, a
100,000 USDT wallet, Binance spot. The exchange's public REST base points at the market shim on 127.0.0.1
(`ftshim.markets`), and ccxt is told to load spot markets only, so the one endpoint it calls is exchangeInfo.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

STAKE_USDT = 100
MAX_OPEN_TRADES = 8
WALLET_USDT = 100_000
FEE = 0.001
TIMEFRAME = "5m"
# freqtrade's sample configuration's order timeouts; the recorded run reported 20 exit-order timeouts.
UNFILLED_TIMEOUT_MINUTES = 10


def freqtrade_config(market_url: str, pairs: Sequence[str], user_data: Path) -> dict[str, Any]:
    """The config document for `freqtrade backtesting --config`, with the market list at `market_url` (the candles
    are given with `--datadir`: freqtrade reads a `datadir` in the config as a folder under `user_data_dir`)."""
    ccxt_config = {"urls": {"api": {"public": f"{market_url}/api/v3"}},
                   "options": {"fetchMarkets": {"types": ["spot"]}}}
    return {
        "trading_mode": "spot",
        "max_open_trades": MAX_OPEN_TRADES,
        "stake_currency": "USDT",
        "stake_amount": STAKE_USDT,
        "tradable_balance_ratio": 1.0,
        "dry_run": True,
        "dry_run_wallet": WALLET_USDT,
        "fee": FEE,
        "timeframe": TIMEFRAME,
        "unfilledtimeout": {"entry": UNFILLED_TIMEOUT_MINUTES, "exit": UNFILLED_TIMEOUT_MINUTES,
                            "unit": "minutes"},
        "entry_pricing": {"price_side": "same", "use_order_book": False, "price_last_balance": 0.0},
        "exit_pricing": {"price_side": "same", "use_order_book": False},
        "exchange": {"name": "binance", "key": "", "secret": "", "pair_whitelist": list(pairs),
                     "ccxt_config": ccxt_config, "ccxt_async_config": ccxt_config},
        "pairlists": [{"method": "StaticPairList"}],
        "dataformat_ohlcv": "jsongz",
        "dataformat_trades": "feather",
        "user_data_dir": str(user_data),
        "internals": {"process_throttle_secs": 5},
    }
