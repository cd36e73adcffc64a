"""Loading strategy plugins: `STRATEGIES=pkg.module:Class,...` and a home's trusted files.

- The built-ins are always registered (`core.strategies.registry.BUILT_INS`).
- `STRATEGIES` names more classes by import path; each must import and be a strategy class, or nothing starts.
- `<home>/strategies/*.py` are a person's own files. Each is loaded only while its SHA-256 is the one pinned in
  the home's journal by `executor.py strategies trust FILE`; a new or changed file is refused (not loaded, with
  the command that would trust it), and the rest go on. The bytes that are hashed are the bytes that run: the
  file is read once, checked, then compiled from that copy.
- The home's `strategies.json` (optional) holds allocations and per-strategy settings keyed by name, and the
  manual trades' section: `{"allocation": {"momentum": 0.3, ...}, "momentum": {"min_rise_pct": 1.0},
  "my_cross": {...}, "manual": {"take_profit_pct": "2", "stop_loss_pct": "1"}}`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import re
import sys
import types
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.config import ExecutorConfig, ManualTradeConfig, RiskConfig, StrategyConfig
from core.errors import ConfigError, ExecutorError
from core.strategies.base import PairStrategy, SymbolStrategy
from core.strategies.registry import Candidate, Origin, OriginKind, StrategySet
from memory.strategy_trust import TrustedFile, read_trusted
from runtime.home import Home

STRATEGIES_ENV = "STRATEGIES"
SETTINGS_FILE = "strategies.json"
STRATEGY_FOLDER = "strategies"
# pkg.module:Class (dotted module, one class name)
_IMPORT_PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$")
# The package the trusted files' modules are registered under in sys.modules (pydantic resolves annotations there).
USER_PACKAGE = "executor_home_strategies"


class StrategyFileRefused(ExecutorError):
    """A file of `<home>/strategies/` that is not loaded: new, changed since it was trusted, or not loadable."""

    code = "STRATEGY_FILE_REFUSED"


@dataclass(frozen=True, slots=True)
class RefusedFile:
    file: str
    sha256: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"file": self.file, "sha256": self.sha256, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class LoadedStrategies:
    strategies: StrategySet
    refused: tuple[RefusedFile, ...]


def strategy_folder(home: Home) -> Path:
    return home.root / STRATEGY_FOLDER


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def import_paths(env: Mapping[str, str]) -> list[str]:
    """The import paths `STRATEGIES` names (blank: none); ConfigError for one that is not `pkg.module:Class`."""
    raw = env.get(STRATEGIES_ENV, "")
    paths = [p.strip() for p in raw.split(",") if p.strip()]
    for path in paths:
        if not _IMPORT_PATH.match(path):
            raise ConfigError(STRATEGIES_ENV, path, "expected pkg.module:Class (comma-separated for several)")
    return paths


def imported(path: str) -> Candidate:
    """The class at `pkg.module:Class`; ConfigError naming STRATEGIES when it cannot be imported."""
    module_name, class_name = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # an ImportError, or whatever the module raises while it is imported
        raise ConfigError(STRATEGIES_ENV, path, f"cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(STRATEGIES_ENV, path, f"{module_name} has no {class_name}")
    return Candidate(cls, Origin(OriginKind.IMPORT_PATH, path))


def file_candidates(path: Path, data: bytes, digest: str) -> list[Candidate]:
    """The strategy classes a trusted file defines, compiled from `data` (the bytes whose digest was checked).

    Raises StrategyFileRefused when the file does not run or defines no strategy class."""
    module_name = f"{USER_PACKAGE}.{path.stem}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    sys.modules.setdefault(USER_PACKAGE, types.ModuleType(USER_PACKAGE))
    sys.modules[module_name] = module
    try:
        exec(compile(data, str(path), "exec"), module.__dict__)
    except Exception as exc:
        sys.modules.pop(module_name, None)
        raise StrategyFileRefused(f"{path.name} failed to load: {type(exc).__name__}: {exc}", file=path.name,
                                  sha256=digest) from None
    classes = [value for value in vars(module).values()
               if isinstance(value, type) and value.__module__ == module_name
               and issubclass(value, (SymbolStrategy, PairStrategy)) and not getattr(value, "__abstractmethods__", ())]
    if not classes:
        raise StrategyFileRefused(f"{path.name} defines no strategy class (a subclass of SymbolStrategy or "
                                  "PairStrategy)", file=path.name, sha256=digest)
    origin = Origin(OriginKind.TRUSTED_FILE, str(path), digest)
    return [Candidate(cls, origin) for cls in classes]


def trust_hint(home: Home, name: str) -> str:
    return f"python executor.py strategies trust {strategy_folder(home) / name} --home {home.root}"


def home_candidates(home: Home, pins: Mapping[str, TrustedFile]) -> tuple[list[Candidate], list[RefusedFile]]:
    """The strategy classes of the home's trusted files, and the files refused (new, changed, unloadable)."""
    folder = strategy_folder(home)
    if not folder.is_dir():
        return [], []
    candidates: list[Candidate] = []
    refused: list[RefusedFile] = []
    for path in sorted(folder.glob("*.py")):
        try:
            data = path.read_bytes()
        except OSError as exc:
            refused.append(RefusedFile(path.name, "", f"cannot be read: {exc.strerror or exc}"))
            continue
        digest = sha256_of(data)
        pin = pins.get(path.name)
        if pin is None:
            refused.append(RefusedFile(path.name, digest, f"not trusted: {path.name} is new; after reading it, a "
                                       f"person trusts it with `{trust_hint(home, path.name)}`"))
            continue
        if pin.sha256 != digest:
            refused.append(RefusedFile(path.name, digest, f"changed since it was trusted (pinned sha256 {pin.sha256}, "
                                       f"now {digest}); after reading the change, trust it again with "
                                       f"`{trust_hint(home, path.name)}`"))
            continue
        try:
            candidates.extend(file_candidates(path, data, digest))
        except StrategyFileRefused as exc:
            refused.append(RefusedFile(path.name, digest, exc.message))
    return candidates, refused


def home_settings(home: Home) -> tuple[StrategyConfig, ManualTradeConfig]:
    """The home's `strategies.json`: allocations and per-strategy settings by name, and the `manual` section (a
    trade asked for without --tp / --sl); the defaults without the file."""
    path = home.root / SETTINGS_FILE
    if not path.exists():
        return StrategyConfig(), ManualTradeConfig()
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(str(path), None, f"not readable JSON: {exc}") from None
    if not isinstance(values, dict):
        raise ConfigError(str(path), None, "must be a JSON object")
    manual = values.pop("manual", {})
    try:
        return StrategyConfig.model_validate(values), ManualTradeConfig.model_validate(manual)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise ConfigError(f"{path}:{where}" if where else str(path), err.get("input"),
                          err.get("msg", "invalid")) from None


def home_config(home: Home, risk: RiskConfig) -> ExecutorConfig:
    """The configuration a process of the home runs with: its risk limits, and the home's strategy settings."""
    strategies, manual = home_settings(home)
    return ExecutorConfig(risk=risk, strategies=strategies, manual=manual)


def load_strategies(home: Home, env: Mapping[str, str], config: StrategyConfig) -> LoadedStrategies:
    """Every strategy this home runs, with its settings from `config`: built-ins, `STRATEGIES`, trusted files (the
    refused ones listed). ConfigError when an import path or a strategy's settings are wrong."""
    extra = [imported(path) for path in import_paths(env)]
    files, refused = home_candidates(home, read_trusted(home.journal))
    return LoadedStrategies(StrategySet.resolve(config, (*extra, *files)), tuple(refused))


def strategies_for_safety(home: Home, env: Mapping[str, str],
                          config: StrategyConfig) -> tuple[StrategySet, ConfigError | None]:
    """The strategies a safety control (pause, resume, kill) or a read (status) restores a saved engine with, and the
    configuration problem if there is one. A broken `strategies.json`, `STRATEGIES` path or strategy setting must
    never keep a person from stopping the executor or seeing its state: the problem gives the built-ins with their
    default settings (which decide nothing in a control or a read) and is returned to be shown. Anything that
    trades (run, backtest, trade, scan) loads strictly and refuses with the problem instead."""
    try:
        return load_strategies(home, env, config).strategies, None
    except ConfigError as exc:
        return StrategySet.resolve(StrategyConfig()), exc


def trust_file(home: Home, target: Path) -> tuple[Path, bytes, str]:
    """The file `strategies trust` is asked to pin: it must be a `.py` directly in `<home>/strategies/`, the only
    place files are loaded from. Returns its path, its bytes and their digest."""
    folder = strategy_folder(home).resolve()
    candidate = target if target.is_absolute() or target.parent != Path() else folder / target
    path = candidate.expanduser().resolve()
    if path.parent != folder or path.suffix != ".py":
        raise StrategyFileRefused(f"{target} is not a .py file directly in {folder}: only files there are loaded, "
                                  "so only they can be trusted", file=str(target), folder=str(folder))
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise StrategyFileRefused(f"cannot read {path}: {exc.strerror or exc}", file=str(path)) from None
    return path, data, sha256_of(data)


def catalog_entry(active: Any, allocation: Mapping[str, float]) -> dict[str, Any]:
    """One strategy as `strategies list|show` prints it."""
    strategy = active.strategy
    return {
        "name": str(active.name),
        "inputs": strategy.inputs.value,
        "summary": strategy.summary,
        "origin": active.origin.as_dict(),
        "allocation": allocation.get(active.name, 0.0),
        "config": active.config.model_dump(mode="json"),
        "config_schema": strategy.config_model.model_json_schema(),
        "protection": None if active.protection is None else active.protection.model_dump(mode="json"),
        "exit_rule": strategy.has_exit_rule,
    }
