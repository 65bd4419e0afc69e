"""A project's audit thresholds: the engine's defaults (``trainer.engine.privacy``), with what
the project's owners changed on top (``PrivacyPolicy.thresholds``)."""

from __future__ import annotations

import math
from typing import Any

from privacy import engine
from privacy.models import PrivacyPolicy


def thresholds_for(project_id: int) -> dict[str, float]:
    """The thresholds an audit of the project's models is judged by now."""
    changed = (
        PrivacyPolicy.objects.filter(project_id=project_id)
        .values_list("thresholds", flat=True)
        .first()
    )
    return {**engine.default_thresholds(), **(changed or {})}


def validate_changes(changes: Any) -> dict[str, float]:
    """The changes as ``{measure: number}``; raises ``AuditRequestError`` naming the first
    unknown measure or bad value (a number, finite and not negative)."""
    from privacy.services import AuditRequestError

    if not isinstance(changes, dict):
        raise AuditRequestError("thresholds", "must be an object of measure: number")
    known = engine.default_thresholds()
    cleaned: dict[str, float] = {}
    for name, value in changes.items():
        if name not in known:
            raise AuditRequestError(
                f"thresholds.{name}"[:80], f"unknown measure; one of {', '.join(sorted(known))}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise AuditRequestError(f"thresholds.{name}", "must be a number")
        if value < 0:
            raise AuditRequestError(f"thresholds.{name}", "must not be negative")
        cleaned[name] = value
    return cleaned
