"""The exceptions services raise for a refusal, by kind; the API maps each kind to one status.

Apps subclass these (``accounts.services.PermissionDenied``, ``datasets_app.services
.DatasetStateError``, ``trainer.services.JobRequestError`` …) so that the API error envelope
(``ops.api.exception_handler``) knows them without importing any app. Plain Python: importing
this module loads nothing.
"""

from __future__ import annotations


class ActionDenied(Exception):
    """The actor may not take this action on this object (403: the object is visible, the
    role does not allow the action)."""


class StateConflict(Exception):
    """The object is not in a state that allows this action (409)."""

    status_code = 409


class InvalidField(ValueError):
    """A request field is invalid (400); ``field`` names it, ``message`` says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
