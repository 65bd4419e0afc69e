"""The checks a model version must pass before it leaves the training side: deployed (served)
or exported (its weights downloaded).

``serving`` knows no check itself. A higher app registers one in its ``AppConfig.ready``
(``register_release_check``): ``privacy`` refuses a model version whose privacy audit failed or
has not run. ``check_release`` asks them all, in registration order, and returns the first
refusal; deployment creation (``serving.services.create_deployment``, hence the API and the
OpenAI layer's automatic deployment) and model export (``serving.export.export_model``) call it
and answer 409 naming the failed measure.

A check that newly clears a version (an audit passed, an override) sends ``release_cleared``,
so whoever waits to deploy it (the OpenAI layer's fine-tuned model names) can try again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from django.dispatch import Signal

from ops.errors import StateConflict
from trainer.models import ModelVersion

ReleaseAction = Literal["deploy", "export"]
RELEASE_ACTIONS: tuple[ReleaseAction, ...] = ("deploy", "export")

#: A model version now passes the release checks that held it back. Sender ``ModelVersion``.
#: Arguments: ``model_version: ModelVersion``, ``check: str`` (the check that cleared it).
#: Sent on commit by the app that registered the check.
release_cleared = Signal()


@dataclass(frozen=True)
class ReleaseRefusal:
    """Why a model version may not be released: the ``check`` that refused (``privacy``), the
    ``measure`` that failed (``canary_exposure``, ``not_run`` ...) and a sentence for people."""

    check: str
    measure: str
    message: str


class ReleaseRefused(StateConflict):
    """A release check refused the version (409); ``refusal`` says which and why."""

    def __init__(self, refusal: ReleaseRefusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


ReleaseCheck = Callable[[ModelVersion, ReleaseAction], ReleaseRefusal | None]
_CHECKS: dict[str, ReleaseCheck] = {}


def register_release_check(name: str, check: ReleaseCheck) -> None:
    """Add (or replace, by ``name``: ``ready`` may run twice) a check; called from an
    ``AppConfig.ready``."""
    _CHECKS[name] = check


def check_release(version: ModelVersion, action: ReleaseAction) -> ReleaseRefusal | None:
    """The first refusal of the registered checks for ``action`` on ``version``, or None."""
    for check in list(_CHECKS.values()):
        refusal = check(version, action)
        if refusal is not None:
            return refusal
    return None
