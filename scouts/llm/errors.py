"""Typed errors of the LLM client. Each names what a person must look at: the variable, the budget, the role."""

from __future__ import annotations

from decimal import Decimal

from core.errors import ExecutorError


class LlmError(ExecutorError):
    """Base of the LLM client's errors; `role` is the client's role (`scout`, `analyzer`)."""

    code = "LLM_ERROR"


class LlmConfigError(LlmError):
    """The server refused our configuration (401: a wrong or revoked key): not worth retrying."""

    code = "LLM_CONFIG"

    def __init__(self, role: str, variable: str, status: int, reason: str) -> None:
        super().__init__(f"{role}: the server answered {status} ({reason}); check {variable}",
                         role=role, setting=variable, status=status)
        self.variable = variable


class NoBalance(LlmError):
    """DeepSeek answered 402: the account has no balance. Calls of the role stop until `reset_stop` or a restart."""

    code = "LLM_NO_BALANCE"

    def __init__(self, role: str, variable: str) -> None:
        super().__init__(f"{role}: 402 insufficient balance on the account of {variable}; calls stopped until the "
                         "account is topped up and the process restarted (or the stop reset)",
                         role=role, setting=variable, status=402)


class BudgetReached(LlmError):
    """A budget (`DEEPSEEK_DAILY_BUDGET_USD`, …) is used up: the call is refused before anything is sent."""

    code = "LLM_BUDGET_REACHED"

    def __init__(self, role: str, budget: str, limit: Decimal | int, used: Decimal | int) -> None:
        super().__init__(f"{role}: budget {budget}={limit} reached (used {used}); call refused before sending",
                         role=role, budget=budget, limit=limit, used=used)
        self.budget = budget
        self.limit = limit
        self.used = used


class DeadlineExceeded(LlmError):
    """The whole logical call (every attempt, every back-off) did not finish within the role's deadline."""

    code = "LLM_DEADLINE"

    def __init__(self, role: str, variable: str, deadline_s: float, attempts: int) -> None:
        super().__init__(f"{role}: no answer within {variable}={deadline_s:g} s ({attempts} attempt(s))",
                         role=role, setting=variable, deadline_s=deadline_s, attempts=attempts)


class ServerFailed(LlmError):
    """The server answered an error status (after the retries that fit in the deadline), or the connection failed."""

    code = "LLM_SERVER_ERROR"

    def __init__(self, role: str, status: int | None, reason: str) -> None:
        where = "connection failed" if status is None else f"HTTP {status}"
        super().__init__(f"{role}: {where}: {reason}", role=role, status=status)
        self.status = status


class UnpricedModel(LlmError):
    """A paid role's model has no price: refusing to call is cheaper than an unbounded bill."""

    code = "LLM_UNPRICED_MODEL"

    def __init__(self, model: str, variable: str) -> None:
        super().__init__(f"model {model!r} has no price; add it to {variable} before calling it",
                         model=model, setting=variable)
