"""The errors of the four operations, as botocore's rest-json parser reads them.

An error answer carries its exception name in the `x-amzn-ErrorType` header (botocore takes the
part before any `:`) and `{"message": ...}` as its body; the HTTP status is the one the service
model gives the exception.
"""

from __future__ import annotations

STATUS_OF = {
    "ValidationException": 400,
    "ConflictException": 400,
    "ServiceQuotaExceededException": 400,
    "AccessDeniedException": 403,
    "ResourceNotFoundException": 404,
    "ModelTimeoutException": 408,
    "ModelErrorException": 424,
    "ThrottlingException": 429,
    "ModelNotReadyException": 429,
    "InternalServerException": 500,
    "ServiceUnavailableException": 503,
}
"""HTTP status of each exception in botocore's `bedrock` (2023-04-20) and `bedrock-runtime`
(2023-09-30, the Model* ones) service models."""
CODE_OF = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}
"""The exception an injected fault of that status answers."""


class BedrockError(Exception):
    """One error answer: the exception name (`code`), its message and its HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status if status is not None else STATUS_OF.get(code, 400)


def validation(message: str) -> BedrockError:
    return BedrockError("ValidationException", message)


def constraint(value: object, member: str, rule: str) -> BedrockError:
    """The AWS wording of one failed constraint on a request member."""
    shown = "null" if value is None else f"'{value}'"
    return validation(
        f"1 validation error detected: Value {shown} at '{member}' failed to satisfy constraint: {rule}"
    )
