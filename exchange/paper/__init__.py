"""The paper exchange: a deterministic Binance Spot matching simulator behind the Exchange port."""

from exchange.paper.simulator import PaperExchange

__all__ = ["PaperExchange"]
