"""The one exception type inside the oracle; it always becomes an error document at the edge."""

from __future__ import annotations

from typing import Any

from oracle.model import ErrorBody, ErrorCode, OracleFailure


class OracleError(Exception):
    """A typed failure: ``code`` is one of the documented error codes, ``details`` is JSON-safe."""

    def __init__(self, code: ErrorCode, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message
        self.details = details or {}

    def to_result(self, request_id: int | str | None = None) -> OracleFailure:
        return OracleFailure(
            id=request_id, error=ErrorBody(code=self.code, message=self.message, details=self.details)
        )
