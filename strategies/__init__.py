"""Strategy plugins shipped with the project as examples, loaded by import path (`STRATEGIES=pkg.module:Class`).

`executor.py` puts the repository root on `sys.path` (Python does, for the script's folder), so
`strategies.examples.<module>:<Class>` imports from any working directory."""
