"""Strategies: plugins that read a symbol's features (or a pair's spread) and return long-entry Signals.

Spot is long-only, so every Signal is a wish to buy; `core.risk` sizes it, clamps it or refuses it.
The interface is `core.strategies.base`; the built-ins (scalping, momentum, stat-arb) are ordinary plugins of
it, and `core.strategies.registry` puts them together with the configured ones. Each strategy comes as a
cheap entry rule (float comparisons) and a signal builder: the engine runs the rule on every bar and book and
builds a Signal only when an episode starts, because a replay pushes hundreds of thousands of bars a second
through it and a lasting signal would otherwise be built on every one of them.
"""
