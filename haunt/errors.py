"""The domain's one error type. Services raise these; haunt.api.exceptions renders them as
{"error": {"code", "message", "field"}} with the status each class names."""


class DomainError(Exception):
    """A refusal the client can act on (400 unless a subclass says otherwise)."""

    status = 400
    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.code = code or self.code


class NotFound(DomainError):
    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class Unprocessable(DomainError):
    status, code = 422, "unprocessable"


class TooManyAttempts(DomainError):
    """429: try again after `retry_after` seconds (sent as the Retry-After header)."""

    status, code = 429, "throttled"

    def __init__(self, message: str, *, retry_after: int, code: str | None = None, field: str | None = None):
        super().__init__(message, code=code, field=field)
        self.retry_after = retry_after
