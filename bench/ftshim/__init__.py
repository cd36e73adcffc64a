"""What freqtrade needs to backtest offline beside us: a market list served on 127.0.0.1, its config, its strategy."""
