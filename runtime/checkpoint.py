"""The engine's checkpoint as a typed document: what `run`, `backtest` and a tool acting on a stopped engine save,
and what each of them (and every reader) checks before restoring anything from it.

The checkpoint is venue-neutral: the engine's state, the run's mode (`RunMode`) and the venue it traded on
(`VenueKind`), the symbol rules it traded under, and the venue's own state only for a venue that keeps one (the
paper simulator's books and balances under `paper`; an exchange keeps its state itself, so a Binance venue saves
none). A document that fails validation is refused with `CheckpointInvalid`, naming the file and the field.

Checkpoints written before `venue` (and before `mode`) existed still load: the mode is read from the kind of the
source id (`runtime.checkpoint_mode`) and the venue from the mode, the way those versions picked them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.engine import STATE_VERSION
from core.errors import ExecutorError
from core.filters import SymbolRules
from runtime.checkpoint_mode import UNKNOWN_MODE, checkpoint_mode
from runtime.run_mode import RunMode
from runtime.venues import VenueKind, venue_for


class CheckpointInvalid(ExecutorError):
    """A stored checkpoint that is not one this version can restore: which file, which field, what is wrong."""

    code = "STATE_UNREADABLE"

    def __init__(self, path: Path, field: str, problem: str) -> None:
        super().__init__(f"the checkpoint stored in {path} is not valid: {field}: {problem}; put back a backup of the "
                         "journal (`python executor.py backup` makes one), or use another --home",
                         file=str(path), field=field, problem=problem)


class EngineState(BaseModel):
    """The parts of `Engine.to_state` every restore relies on; the rest is the engine's own (`Engine.from_state`)."""

    model_config = ConfigDict(extra="allow")

    version: int
    symbols: list[str]
    now_ms: int = Field(ge=0)
    portfolio: dict[str, Any]
    holdings: dict[str, dict[str, Any]]

    @model_validator(mode="after")
    def _this_version(self) -> EngineState:
        if self.version != STATE_VERSION:
            raise ValueError(f"engine state version {self.version} is not {STATE_VERSION}")
        return self


class Checkpoint(BaseModel):
    """One saved checkpoint. Fields not named here are kept as they are (a newer writer's additions survive)."""

    model_config = ConfigDict(extra="allow")

    source_id: str = Field(min_length=1)
    mode: RunMode
    # None only for a mode this version saves no venue for (a reader can still show it; nothing restores it).
    venue: VenueKind | None = None
    cursor: int = Field(default=0, ge=0)
    finished: bool = False
    confirmation_channel: str | None = None
    rules: dict[str, SymbolRules] | None = None
    engine: EngineState
    paper: dict[str, Any] | None = None  # the paper simulator's state; only a paper venue keeps one

    @model_validator(mode="before")
    @classmethod
    def _older_versions(cls, data: Any) -> Any:
        """Fill `mode` and `venue` the way the versions that did not save them chose them (`checkpoint_mode`: a
        `mode` that is not a string is read from the source id; one that names no mode of ours stays, and fails)."""
        if not isinstance(data, Mapping):
            return data
        filled = dict(data)
        mode = checkpoint_mode(filled)
        if mode != UNKNOWN_MODE:
            filled["mode"] = mode
        if filled.get("venue") is None and mode in (RunMode.REPLAY, RunMode.PAPER):
            filled["venue"] = venue_for(RunMode(mode))
        return filled

    @model_validator(mode="after")
    def _venue_state(self) -> Checkpoint:
        if self.venue is VenueKind.PAPER and self.paper is None:
            raise ValueError("a paper venue's checkpoint needs the simulator's state (`paper`)")
        return self

    def document(self) -> dict[str, Any]:
        """The JSON document the journal stores; a remote venue's has no `paper` part at all."""
        return self.model_dump(mode="json", exclude={"paper"} if self.paper is None else None)

    def engine_state(self) -> dict[str, Any]:
        return self.engine.model_dump(mode="json")


def load_checkpoint(document: Mapping[str, Any], path: Path) -> Checkpoint:
    """The checkpoint stored in `path` (the journal, or an older version's checkpoint file), validated."""
    try:
        return Checkpoint.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(the document)"
        raise CheckpointInvalid(path, field, first["msg"]) from None
