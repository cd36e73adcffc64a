"""The strategy plugin interface: what a strategy is, what it reads, what it may return.

A strategy is a class with
- `name`: a `StrategyName` (a string matching `core.types.STRATEGY_NAME_PATTERN`); allocations, per-strategy
  settings, journal rows and reports are keyed by it;
- `config_model`: its own pydantic settings model (frozen, unknown keys refused), whose JSON schema
  `executor.py strategies show NAME` prints; the configuration's `strategies.<name>` section is validated by it;
- `inputs`: what it reads, `Inputs.SYMBOL` (one symbol's features: `SymbolStrategy`) or `Inputs.PAIR` (two
  symbols and the rolling z-score of their log price ratio: `PairStrategy`);
- a cheap entry rule (`fires` / `laggard`) and a signal builder (`signal`). The engine runs the rule on every
  bar and book, and builds a `Signal` only when an episode starts and can be sized: that split is what keeps a
  replay fast (hundreds of thousands of bars a second), so the rule must be float comparisons only;
- an optional exit rule (`exit_reason`): a reason to close the strategy's open positions at market now (a pair
  that reverted, a cross-down), or None;
- optional protection defaults (`protection`): the take-profit and stop its signals carry, and a trailing
  ladder of its own (None: the risk configuration's `trailing_start_pct` / `trailing_step_pct`);
- optional state of its own (`on_bar`, `state`, `restore`): a symbol strategy that needs more than the engine's
  features (its own indicators, a history) keeps it on its instance, keyed by symbol, and updates it in O(1) from
  each closed bar. The engine calls `on_bar` before the strategy's exit and entry rules see that bar, saves
  `state()` in every checkpoint and hands it back to `restore` on a restart, so a resumed run decides exactly as an
  uninterrupted one. Each engine gets its own instances (`core.strategies.registry.instantiate`).

A strategy only ever receives read-only views of features (`SymbolView`, `PairView`), never the engine, the
portfolio or the exchange, and it must be deterministic: no clock, no randomness, no I/O (the core purity test
covers the built-ins). A strategy from outside `core/` gets views that enforce it (`ReadOnlySymbol`,
`ReadOnlyPair`: setting anything raises); the built-ins, whose source is in `core/` and checked by its tests, read
the engine's features through the same read-only interface without the proxy, which would cost about 7 % of a
replay's time (a property call per attribute read, on every bar). An exception a strategy raises is caught by
the engine (`core.strategies.guard`): it becomes a notice and that strategy is silenced until restart, while the
others go on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from operator import attrgetter
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from core.events import Bar
from core.regime import Regime
from core.types import Signal, StrategyName


class StrategySettings(BaseModel):
    """Base of every strategy's config model: frozen, and an unknown key is refused (a typo is not a default)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


ConfigT = TypeVar("ConfigT", bound=StrategySettings)


class Inputs(StrEnum):
    """What a strategy reads."""

    SYMBOL = "symbol"  # one symbol's features
    PAIR = "pair"  # two symbols' features and the spread between them


class Protection(BaseModel):
    """A strategy's protection defaults for the positions it opens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    take_profit_pct: Decimal = Field(gt=0, lt=100)
    stop_loss_pct: Decimal = Field(gt=0, lt=100)
    # None: the risk configuration's trailing ladder (RiskConfig.trailing_start_pct / trailing_step_pct).
    trailing_start_pct: float | None = Field(default=None, gt=0, le=50)
    trailing_step_pct: float | None = Field(default=None, gt=0, le=50)


class SymbolView(Protocol):
    """One symbol's features as a strategy may read them (nothing here can be set)."""

    @property
    def symbol(self) -> str: ...
    @property
    def time_ms(self) -> int: ...
    @property
    def last_price(self) -> float | None: ...
    @property
    def momentum_pct(self) -> float | None: ...
    @property
    def momentum_window(self) -> int: ...
    @property
    def spread_bps(self) -> float | None: ...
    @property
    def imbalance(self) -> float | None: ...
    @property
    def imbalance_source(self) -> str | None: ...
    @property
    def regime(self) -> Regime | None:
        """The symbol's regime of the last completed UTC hour (`core.regime`); None while it warms up."""
    @property
    def regime_confidence(self) -> float | None: ...


class PairView(Protocol):
    """A pair's spread as a strategy may read it: z is None until the window is full."""

    @property
    def symbol_a(self) -> str: ...
    @property
    def symbol_b(self) -> str: ...
    @property
    def window(self) -> int: ...
    @property
    def z(self) -> float | None: ...
    @property
    def time_ms(self) -> int | None: ...
    @property
    def pair_name(self) -> str: ...


def _forward(name: str) -> property:
    """A read-only property reading `name` from the wrapped object (attrgetter runs in C: a view costs little)."""
    return property(attrgetter(f"_source.{name}"), doc=f"the wrapped features' {name} (read-only)")


class _ReadOnly:
    __slots__ = ("_source",)

    def __init__(self, source: object) -> None:
        object.__setattr__(self, "_source", source)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only: a strategy cannot change {name}")


class ReadOnlySymbol(_ReadOnly):
    """A `SymbolView` that enforces it: every attribute is a property without a setter over the engine's features,
    and nothing else can be set. What the engine hands to a strategy from outside `core/`."""

    __slots__ = ()

    symbol = _forward("symbol")
    time_ms = _forward("time_ms")
    last_price = _forward("last_price")
    momentum_pct = _forward("momentum_pct")
    momentum_window = _forward("momentum_window")
    spread_bps = _forward("spread_bps")
    imbalance = _forward("imbalance")
    imbalance_source = _forward("imbalance_source")
    regime = _forward("regime")
    regime_confidence = _forward("regime_confidence")


class ReadOnlyPair(_ReadOnly):
    """A `PairView` that enforces it, over the engine's spread."""

    __slots__ = ()

    symbol_a = _forward("symbol_a")
    symbol_b = _forward("symbol_b")
    window = _forward("window")
    z = _forward("z")
    time_ms = _forward("time_ms")
    pair_name = _forward("pair_name")


class Strategy(ABC, Generic[ConfigT]):
    """What every strategy declares. Subclass `SymbolStrategy` or `PairStrategy`, not this."""

    name: ClassVar[StrategyName]
    config_model: ClassVar[type[StrategySettings]]
    inputs: ClassVar[Inputs]
    summary: ClassVar[str] = ""

    def protection(self, config: ConfigT) -> Protection | None:
        """The take-profit, stop and trailing defaults of its positions; None: the signal's own percents and the
        risk configuration's trailing ladder."""
        return None

    def momentum_window(self, config: ConfigT) -> int | None:
        """The window, in bars, of the `momentum_pct` feature this strategy reads (None: it reads none). The
        engine keeps one momentum window per symbol, so two strategies asking for different ones are refused."""
        return None


class SymbolStrategy(Strategy[ConfigT]):
    """A strategy of one symbol's features."""

    inputs: ClassVar[Inputs] = Inputs.SYMBOL

    @abstractmethod
    def fires(self, features: SymbolView, config: ConfigT) -> bool:
        """The entry rule alone, float comparisons only: run on every bar and book."""

    @abstractmethod
    def signal(self, features: SymbolView, config: ConfigT, now_ms: int) -> Signal | None:
        """The validated Signal when the rule holds, else None; built only when an episode starts."""

    def exit_reason(self, features: SymbolView, config: ConfigT) -> str | None:
        """Why this strategy's open position on the symbol should be closed at market now, or None (the default:
        its take-profit and stop close it). Run on every bar of a symbol it holds."""
        return None

    @property
    def has_exit_rule(self) -> bool:
        return type(self).exit_reason is not SymbolStrategy.exit_reason

    def on_bar(self, bar: Bar, config: ConfigT) -> None:
        """Update this strategy's own state for `bar.symbol` from a closed bar, in O(1). Called on every closed bar
        of a traded symbol (data outages included: indicators must see every bar), before the strategy's exit and
        entry rules run on it. The default keeps no state."""

    def state(self) -> dict[str, Any]:
        """This strategy's own state, JSON-able, for the checkpoint (the default: none)."""
        return {}

    def restore(self, state: Mapping[str, Any], config: ConfigT) -> None:
        """Take back the `state()` of a checkpoint. A state it cannot read must raise: the engine then silences the
        strategy with a notice rather than let it decide on a state it does not have."""

    @property
    def has_bar_hook(self) -> bool:
        return type(self).on_bar is not SymbolStrategy.on_bar


class PairStrategy(Strategy[ConfigT]):
    """A strategy of two symbols and the spread between them. The engine keeps the spread (`PairSpread`) of the
    pair and window it names, updated once both legs have a bar of the same close time."""

    inputs: ClassVar[Inputs] = Inputs.PAIR

    @abstractmethod
    def pair(self, config: ConfigT) -> tuple[str, str]:
        """The two symbols (A, B) of the spread log(A / B)."""

    @abstractmethod
    def window(self, config: ConfigT) -> int:
        """The spread's rolling window, in bars."""

    @abstractmethod
    def laggard(self, pair: PairView, a: SymbolView, b: SymbolView, config: ConfigT) -> SymbolView | None:
        """The entry rule alone: the leg to buy now, or None. Float comparisons only, run on every pair bar."""

    @abstractmethod
    def signal(self, pair: PairView, a: SymbolView, b: SymbolView, config: ConfigT, now_ms: int) -> Signal | None:
        """The validated Signal on the leg to buy, else None."""

    def exit_reason(self, pair: PairView, config: ConfigT) -> str | None:
        """Why this strategy's open positions should be closed at market now (e.g. the spread reverted), or None."""
        return None

    @property
    def has_exit_rule(self) -> bool:
        return type(self).exit_reason is not PairStrategy.exit_reason
