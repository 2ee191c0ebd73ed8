"""The TZ error tree.

Every error a user can cause is a :class:`TzError` with an HTTP status, a user-facing ``message``,
an operator-facing ``log_message`` and a short machine ``reason`` (used as a metrics label)::

    TzError (500)
    ├── InvalidRequest (400)        bad input; ``errors`` maps field names to what is wrong
    ├── Unauthorized (401)          no or invalid token
    ├── Forbidden (403)             valid token, missing scope
    ├── NotFound (404)              unknown object, or one the caller may not see
    ├── Conflict (409)              the object's state forbids the action
    ├── PayloadTooLarge (413)       an upload over its limit
    ├── QuotaExceeded (429)         a per-user limit is reached
    └── BackendUnavailable (503)    the compute or storage backend cannot be reached
"""

from __future__ import annotations


class TzError(Exception):
    """Base class of every error TZ reports to a user.

    Parameters
    ----------
    message
        Text shown to the user; it must never contain secrets or a traceback.
    reason
        Short CamelCase code, stable across versions (``InvalidField``, ``JobNotFound``...).
    log_message
        Extra detail for the operator's log only.
    errors
        For validation errors, ``{field: message}``.
    """

    status_code = 500
    default_reason = "InternalError"

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        log_message: str | None = None,
        errors: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason or self.default_reason
        self.log_message = log_message or message
        self.errors = errors or {}


class InvalidRequest(TzError):
    status_code = 400
    default_reason = "InvalidRequest"

    @classmethod
    def field(cls, name: str, problem: str) -> InvalidRequest:
        """An error about one field, with the field named in the message and in ``errors``."""
        return cls(f"{name}: {problem}", reason="InvalidField", errors={name: problem})


class Unauthorized(TzError):
    status_code = 401
    default_reason = "Unauthorized"


class Forbidden(TzError):
    status_code = 403
    default_reason = "Forbidden"


class NotFound(TzError):
    status_code = 404
    default_reason = "NotFound"


class Conflict(TzError):
    status_code = 409
    default_reason = "Conflict"


class PayloadTooLarge(TzError):
    status_code = 413
    default_reason = "PayloadTooLarge"


class QuotaExceeded(TzError):
    status_code = 429
    default_reason = "QuotaExceeded"


class BackendUnavailable(TzError):
    status_code = 503
    default_reason = "BackendUnavailable"
