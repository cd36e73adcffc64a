"""`doctor`: is this machine ready to trade? Each check reads, never writes and never places an order.

`model` (the check ids, statuses and the report), `binance` (connectivity, clock skew, key permissions, the
user-data subscription, the universe's symbol rules), `services` (notifiers and LLM endpoints). The tool
`tools/doctor.py` runs them with the configuration, home and lock checks.
"""
