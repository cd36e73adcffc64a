"""The one client path to every LLM (issue 13, section 2): LM Studio scouts and the DeepSeek analyzer talk
through the pinned `openai` package, one client per role, with a wall-clock deadline, counted attempts,
priced usage, budgets read from the journal, and answers validated with pydantic.

Modules: `settings` (the environment, validated), `pricing` (dollars per call, exact), `budget` (spend
against the daily and monthly limits), `attempts` (every HTTP attempt counted at the transport), `fence`
(outside text made safe to put in a prompt), `results` (ok / invalid / unavailable), `client` (the call).
"""
