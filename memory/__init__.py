"""Persistence at the edge: the write-ahead SQLite journal and the memory files of a data directory.

- `memory.journal`: `Journal` (orders, fills, decisions, clamps, breaker events, equity, LLM calls, errors,
  the command queue) and its typed errors.
- `memory.files`: `write_json_atomic`, `read_json`, `MemoryStore`, `CorruptMemory`.
- `memory.redact`: `mask_secret`, `redact`, `redact_text` for anything persisted or shown.
"""
