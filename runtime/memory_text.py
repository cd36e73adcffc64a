"""`memory …` answers as short text for a person (the JSON envelope holds the same, whole)."""

from __future__ import annotations

import json
from typing import Any

from core.display import utc_text


def memory_text(action: str, data: dict[str, Any]) -> str:
    match action:
        case "history":
            return _history(data)
        case "show":
            return (f"version {data['version']} ({_origin(data)}, {utc_text(data['written_ms'])})\n"
                    f"{json.dumps(data['learned'], indent=2, ensure_ascii=False)}")
        case "diff":
            lines = [f"version {data['from']} -> {data['to']}: {len(data['changes'])} change(s)"]
            lines += [f"  {c['path']}: {json.dumps(c['old'])} -> {json.dumps(c['new'])}" for c in data["changes"]]
            return "\n".join(lines)
        case "rollback":
            return "\n".join([data["message"], *data["notices"]])
        case "adapt":
            return _adapt(data)
        case _:
            raise ValueError(f"no text form for memory {action}")


def _adapt(data: dict[str, Any]) -> str:
    adaptation = data["adaptation"]
    lines = [data["message"]]
    for name, row in adaptation["evidence"].items():
        score = "" if row["score_pct"] is None else f", score {row['score_pct']:+.4f}% per trade"
        lines.append(f"  {name}: {row['before']:.4f} -> {row['after']:.4f} ({row['role']}, {row['closed_trades']} "
                     f"closed trades{score})")
    return "\n".join([*lines, *data["notices"]])


def _origin(row: dict[str, Any]) -> str:
    return f"rollback to version {row['rolled_back_from']}" if row["reason"] == "rollback" else row["reason"]


def _history(data: dict[str, Any]) -> str:
    current = data["current"]
    lines = [f"current version: {current if current is not None else 'none yet'} ({data['folder']})"]
    for row in data["versions"]:
        if row["valid"]:
            lines.append(f"  v{row['version']}  {utc_text(row['written_ms'])}  {_origin(row)}")
        else:
            lines.append(f"  v{row['version']}  REFUSED: {row['refused']}")
    for rb in data["rollbacks"]:
        lines.append(f"rollback {utc_text(rb['time_ms'])} by {rb['actor']}: version {rb['restored_version']} "
                     f"restored as version {rb['new_version']} (was {rb['previous_version']})")
    return "\n".join(lines)
