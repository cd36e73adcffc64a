"""`executor.py strategies list|show NAME|trust FILE`: what a home runs, and a person's trust in a file.

`list` and `show` print the registered strategies (built-ins, `STRATEGIES` import paths, the home's trusted
files), each with its settings, their JSON schema, its protection defaults and where it came from (a trusted
file with its pinned SHA-256), and the files of `<home>/strategies/` that are refused. `trust FILE` pins a
file's SHA-256 in the home's journal after checking that it loads and registers: a person's command, never an
agent tool.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from core.errors import InvalidArgument
from core.strategies.registry import OPTIONAL_BUILT_INS, StrategySet
from memory.journal import Journal
from memory.strategy_trust import read_trusted
from runtime.home import Home
from runtime.limits import actor
from runtime.strategy_loader import (
    SETTINGS_FILE,
    catalog_entry,
    file_candidates,
    home_candidates,
    home_settings,
    import_paths,
    imported,
    load_strategies,
    strategy_folder,
    trust_file,
)


def catalog(home: Home, name: str | None = None) -> dict[str, Any]:
    """`strategies list` (name None) or `strategies show NAME`."""
    config, _manual = home_settings(home)
    loaded = load_strategies(home, os.environ, config)
    entries = [catalog_entry(a, config.allocation) for a in loaded.strategies.active]
    where = {"folder": str(strategy_folder(home)), "settings_file": str(home.root / SETTINGS_FILE)}
    if name is None:
        dormant = [{"name": str(c.cls.name), "summary": c.cls.summary, "origin": c.origin.as_dict(),
                    "enable": f"name it in {SETTINGS_FILE}, e.g. {{\"allocation\": {{\"{c.cls.name}\": 0.1}}}}"}
                   for c in OPTIONAL_BUILT_INS if c.cls.name not in loaded.strategies.by_name]
        return {"strategies": entries, "not_enabled": dormant, "refused_files": [r.as_dict() for r in loaded.refused],
                **where}
    for entry in entries:
        if entry["name"] == name:
            return {"strategy": entry, **where}
    known = [e["name"] for e in entries]
    raise InvalidArgument(f"no registered strategy is named {name!r}; registered: {', '.join(known)}", name=name,
                          known=known)


def trust(home: Home, target: Path, now_ms: int) -> dict[str, Any]:
    """Pin `target`'s SHA-256 once it loads and registers beside the home's other strategies."""
    path, data, digest = trust_file(home, target)
    config, _manual = home_settings(home)
    candidates = file_candidates(path, data, digest)
    others, _refused = home_candidates(home, read_trusted(home.journal))
    others = [c for c in others if c.origin.where != str(path)]
    registered = StrategySet.resolve(config, (*(imported(p) for p in import_paths(os.environ)), *others,
                                              *candidates))
    names = [str(a.name) for a in registered.active if a.origin.where == str(path)]
    with Journal(home.journal) as journal:
        previous = journal.trust.pin(path.name, digest, actor=actor(), time_ms=now_ms)
    return {"file": str(path), "sha256": digest, "previous_sha256": None if previous is None else previous.sha256,
            "strategies": names}


def render(data: dict[str, Any]) -> str:
    """The short text of `strategies list|show|trust`."""
    if "sha256" in data and "strategies" in data and isinstance(data["strategies"], list) \
            and all(isinstance(n, str) for n in data["strategies"]):
        was = f" (was {data['previous_sha256']})" if data.get("previous_sha256") else ""
        return (f"trusted {data['file']}\n  sha256 {data['sha256']}{was}\n  strategies: "
                f"{', '.join(data['strategies'])}")
    lines: list[str] = []
    entries = data["strategies"] if "strategies" in data else [data["strategy"]]
    for entry in entries:
        origin = entry["origin"]
        source = origin["kind"] + f": {origin['where']}" + (f" (sha256 {origin['sha256']})" if "sha256" in origin
                                                           else "")
        lines.append(f"{entry['name']}  [{entry['inputs']}]  allocation {entry['allocation']:g}  — {entry['summary']}")
        lines.append(f"  from {source}")
        lines.append(f"  settings {json.dumps(entry['config'], sort_keys=True)}")
        if "strategy" in data:
            lines.append(f"  schema {json.dumps(entry['config_schema'], sort_keys=True)}")
    for refused in data.get("refused_files", []):
        lines.append(f"refused {refused['file']} (sha256 {refused['sha256']}): {refused['reason']}")
    lines.append(f"files: {data['folder']}   settings: {data['settings_file']}")
    return "\n".join(lines)
