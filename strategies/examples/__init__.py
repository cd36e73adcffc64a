"""Example strategy plugins: `ema_rsi_cross` (the freqtrade parity strategy, `strategies.examples.ema_rsi_cross`)."""
