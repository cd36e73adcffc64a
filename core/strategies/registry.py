"""The registry: which strategies an engine runs, where each came from, and each one's validated settings.

Pure: it is given strategy classes already imported (the built-ins here; `STRATEGIES=pkg.module:Class` and a
home's trusted files are imported by `runtime.strategy_loader`) and the configuration's `strategies` section,
and checks them together: a class that is not a `SymbolStrategy` / `PairStrategy`, two strategies of one name,
settings or an allocation for a name nobody registered, settings their model refuses, two strategies that need
different momentum windows — each is a `ConfigError` naming the setting, and nothing runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ValidationError

from core.config import StrategyConfig
from core.errors import ConfigError
from core.strategies.base import PairStrategy, Protection, Strategy, StrategySettings, SymbolStrategy
from core.strategies.momentum import Momentum, MomentumConfig
from core.strategies.pattern_echo import PatternEcho
from core.strategies.regime_atr import RegimeAtr
from core.strategies.scalping import Scalping
from core.strategies.stat_arb import StatArb
from core.types import InvalidStrategyName, StrategyName

DEFAULT_MOMENTUM_WINDOW = MomentumConfig.model_fields["window_bars"].default


class OriginKind(StrEnum):
    BUILT_IN = "built-in"
    IMPORT_PATH = "import path"  # STRATEGIES=pkg.module:Class
    TRUSTED_FILE = "trusted file"  # <home>/strategies/FILE.py, pinned by SHA-256


@dataclass(frozen=True, slots=True)
class Origin:
    """Where a strategy came from: `where` is its import path (`module:Class`) or its file; `sha256` the file's
    pinned digest (trusted files only)."""

    kind: OriginKind
    where: str
    sha256: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "where": self.where}
        if self.sha256 is not None:
            out["sha256"] = self.sha256
        return out


@dataclass(frozen=True, slots=True)
class Candidate:
    """A strategy class to register, and where it came from."""

    cls: type
    origin: Origin


def _built_in(cls: type) -> Candidate:
    return Candidate(cls, Origin(OriginKind.BUILT_IN, f"{cls.__module__}:{cls.__qualname__}"))


BUILT_INS: tuple[Candidate, ...] = tuple(_built_in(cls) for cls in (Scalping, Momentum, StatArb))
# Built-ins an engine runs only when the configuration names them (an allocation or a settings section): the seeds'
# strategies keep state and work on every bar, so an engine that does not trade them does not pay for them, and
# a configuration that does not name them decides exactly as before they existed.
OPTIONAL_BUILT_INS: tuple[Candidate, ...] = tuple(_built_in(cls) for cls in (RegimeAtr, PatternEcho))


@dataclass(frozen=True, slots=True)
class Active:
    """A registered strategy with its validated settings."""

    strategy: Strategy[Any]
    config: StrategySettings
    origin: Origin
    protection: Protection | None

    @property
    def name(self) -> StrategyName:
        return StrategyName(self.strategy.name)

    @property
    def built_in(self) -> bool:
        """A built-in's source is in core/, checked by the purity test: it may read the features without a proxy."""
        return self.origin.kind is OriginKind.BUILT_IN


class StrategySet:
    """The strategies an engine runs, in registration order (built-ins first), each with its settings."""

    def __init__(self, active: Iterable[Active]) -> None:
        self.active: tuple[Active, ...] = tuple(active)
        self.by_name: dict[StrategyName, Active] = {a.name: a for a in self.active}
        self.symbol: tuple[Active, ...] = tuple(a for a in self.active if isinstance(a.strategy, SymbolStrategy))
        self.pair: tuple[Active, ...] = tuple(a for a in self.active if isinstance(a.strategy, PairStrategy))
        self.momentum_window = _momentum_window(self.active)

    @property
    def names(self) -> tuple[StrategyName, ...]:
        return tuple(self.by_name)

    def config_of(self, name: str) -> StrategySettings:
        return self.by_name[StrategyName(name)].config

    @classmethod
    def resolve(cls, config: StrategyConfig, extra: Iterable[Candidate] = ()) -> StrategySet:
        """The built-ins (the optional ones only when `config` names them) and `extra`, checked, each with its
        `strategies.<name>` settings from `config`."""
        named = set(config.allocation) | set(config.settings)
        candidates = (*BUILT_INS, *(c for c in OPTIONAL_BUILT_INS if c.cls.name in named), *extra)
        strategies: dict[StrategyName, tuple[Strategy[Any], Origin]] = {}
        for candidate in candidates:
            strategy = instantiate(candidate)
            if strategy.name in strategies:
                raise ConfigError("STRATEGIES", candidate.origin.where,
                                  f"a strategy named {strategy.name} is already registered (from "
                                  f"{strategies[strategy.name][1].where}); names must be unique")
            strategies[strategy.name] = (strategy, candidate.origin)
        for setting, names in (("strategies.allocation", config.allocation), ("strategies", config.settings)):
            unknown = sorted(set(names) - set(strategies))
            if unknown:
                raise ConfigError(f"{setting}.{unknown[0]}", None,
                                  f"no registered strategy is named {unknown[0]} (registered: "
                                  f"{', '.join(strategies)})", known=list(strategies))
        active = []
        for name, (strategy, origin) in strategies.items():
            settings = settings_of(strategy, config.settings.get(name, {}))
            active.append(Active(strategy, settings, origin, strategy.protection(settings)))
        return cls(active)


def instantiate(candidate: Candidate) -> Strategy[Any]:
    """An instance of a candidate class, refused with the reason when it is not a usable strategy."""
    cls, where = candidate.cls, candidate.origin.where
    if not isinstance(cls, type) or not issubclass(cls, (SymbolStrategy, PairStrategy)):
        raise ConfigError("STRATEGIES", where, "not a strategy class: subclass core.strategies.base.SymbolStrategy "
                          "or PairStrategy")
    try:
        name = StrategyName(getattr(cls, "name", None))  # type: ignore[arg-type]
    except InvalidStrategyName as exc:
        raise ConfigError("STRATEGIES", where, str(exc)) from None
    model = getattr(cls, "config_model", None)
    if not isinstance(model, type) or not issubclass(model, StrategySettings):
        raise ConfigError("STRATEGIES", where, f"{name}.config_model must subclass "
                          "core.strategies.base.StrategySettings")
    try:
        strategy: Strategy[Any] = cls()
    except TypeError as exc:  # an abstract method left out, or an __init__ that wants arguments
        raise ConfigError("STRATEGIES", where, f"cannot be instantiated: {exc}") from None
    return strategy


def settings_of(strategy: Strategy[Any], values: Mapping[str, Any] | BaseModel) -> StrategySettings:
    """The strategy's settings from the configuration's `strategies.<name>` section (its model's defaults for
    what is not given); ConfigError naming `strategies.<name>.<field>` when its model refuses them."""
    data = values.model_dump() if isinstance(values, BaseModel) else dict(values)
    try:
        return strategy.config_model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err.get("loc", ()))
        setting = f"strategies.{strategy.name}" + (f".{field}" if field else "")
        raise ConfigError(setting, data.get(field), err.get("msg", "invalid")) from None


def _momentum_window(active: Iterable[Active]) -> int:
    """The one momentum window the features keep: the one every strategy that reads momentum asks for."""
    wanted = {a.name: w for a in active if (w := a.strategy.momentum_window(a.config)) is not None}
    windows = set(wanted.values())
    if len(windows) > 1:
        raise ConfigError("strategies", wanted, "strategies read momentum over different windows; the features "
                          "keep one per symbol: give them the same window_bars")
    return windows.pop() if windows else DEFAULT_MOMENTUM_WINDOW
