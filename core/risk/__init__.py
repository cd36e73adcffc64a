"""The risk engine: the only gate between a signal (or a trade request, or LLM advice) and an order.

`gate` refuses or sizes entries, `sizing` holds the Kelly arithmetic, `breakers` the equity circuit breakers,
`trailing` the stop ladder and `clamp` the rule that advice can only tighten. Nothing here blocks an exit.
"""

from core.risk.breakers import (
    BreakerEvent,
    BreakerLevel,
    BreakerState,
    manual_kill,
    reset_kill,
    update_breakers,
)
from core.risk.clamp import ALL_SYMBOLS, advice_pauses, clamp_advice
from core.risk.errors import InvalidRiskInput
from core.risk.gate import RiskContext, entry_blockers, evaluate_entry, evaluate_manual_entry
from core.risk.sizing import KellyBasis, KellySizing, KellySource, full_kelly, kelly_sizing
from core.risk.trailing import trailing_stop

__all__ = [
    "ALL_SYMBOLS",
    "BreakerEvent",
    "BreakerLevel",
    "BreakerState",
    "InvalidRiskInput",
    "KellyBasis",
    "KellySizing",
    "KellySource",
    "RiskContext",
    "advice_pauses",
    "clamp_advice",
    "entry_blockers",
    "evaluate_entry",
    "evaluate_manual_entry",
    "full_kelly",
    "kelly_sizing",
    "manual_kill",
    "reset_kill",
    "trailing_stop",
    "update_breakers",
]
