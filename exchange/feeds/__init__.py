"""Market-data feeds: recorded candles, native recordings, the seeded synthetic market, live Binance data.

Import each from its own module: a backtest must not pay for the live feed's network stack at start-up.
"""
