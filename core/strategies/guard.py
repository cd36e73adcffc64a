"""The safe wrapper's rules: what a strategy may hand back, and how its fault is told.

The engine calls a strategy's rule and builder inside `try`; an exception (or a Signal that is not the
strategy's own: another strategy's name, a symbol it was not asked about) silences that strategy until the
process restarts, with one `strategy_fault` notice, and every other strategy goes on. A strategy cannot
trade under another's name and allocation, nor on a symbol it was not shown.
"""

from __future__ import annotations

from core.errors import ExecutorError
from core.types import Signal

MAX_FAULT_TEXT = 300  # the exception's own text, cut: a plugin's message is not trusted to be short


class StrategyFault(ExecutorError):
    """A strategy broke its contract (returned something that is not its own Signal)."""

    code = "STRATEGY_FAULT"

    def __init__(self, strategy: str, reason: str) -> None:
        super().__init__(f"strategy {strategy}: {reason}", strategy=strategy, reason=reason)


def checked_signal(name: str, symbols: tuple[str, ...], signal: object) -> Signal | None:
    """`signal` when it is None or a Signal of strategy `name` on one of `symbols`; StrategyFault otherwise."""
    if signal is None:
        return None
    if not isinstance(signal, Signal):
        raise StrategyFault(name, f"its builder returned {type(signal).__name__}, not a Signal or None")
    if signal.strategy != name:
        raise StrategyFault(name, f"it returned a Signal named {signal.strategy}: a strategy signals under its "
                            "own name only")
    if signal.symbol not in symbols:
        raise StrategyFault(name, f"it returned a Signal on {signal.symbol}, which it was not asked about "
                            f"({', '.join(symbols)})")
    return signal


def fault_message(name: str, symbol: str | None, exc: BaseException) -> str:
    """The notice text: which strategy, where, what it raised; and that it is silenced until restart."""
    text = str(exc)
    if len(text) > MAX_FAULT_TEXT:
        text = text[:MAX_FAULT_TEXT] + "…"
    where = f" on {symbol}" if symbol else ""
    return (f"strategy {name} raised {type(exc).__name__}{where}: {text}; it is silenced until the executor "
            "restarts, the other strategies go on")
