"""Verbs on data risk: source trust, decisions on the screen's flags, the approval rule, and
what a version's lineage records about the screen. Atomic and audited.

Decisions on ``RiskFlag`` rows: *accepted* (the risk is real: the record is dropped or
quarantined, and never reaches a version) or *dismissed* (a false alarm: the record stays),
or back to *pending*. Source rules (``SourceRule``) take effect at the next ingestion
(``datasets_app.risk_ingest``): blocked sources are dropped, untrusted ones quarantined,
trusted ones raise no flooding flag.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.roles import Action
from accounts.services import require
from audit.services import SYSTEM, Actor, record_event
from datasets_app.models import (
    DataRiskPolicy,
    Dataset,
    DatasetStatus,
    RiskAction,
    RiskDecision,
    RiskFlag,
    SourceRule,
    SourceTrust,
)
from datasets_app.risk_ingest import EVIDENCE_BLOB, flag_row
from datasets_app.services import DatasetStateError
from ops.errors import InvalidField
from vault import services as vault

UNMARKED = "unmarked"  # a source rule set to this is removed
POLICY_SETTING = "require_no_pending_risk_flags"


class RiskStateError(DatasetStateError):
    """The dataset's state or its project's data-risk policy refuses the action (409)."""


# --- source trust --------------------------------------------------------------------------


def set_source_rule(
    actor: Actor, project_id: int, source: str, trust: str, *, note: str = ""
) -> SourceRule | None:
    """Mark ``source`` (a source key) trusted, untrusted or blocked in the project, or remove
    its rule with ``"unmarked"`` (returns None then). Data stewards only; audited with the
    previous trust. Raises InvalidField for an empty or overlong key or an unknown trust."""
    require(actor, project_id, Action.APPROVE_DATASET)
    source = source.strip()
    if not source or len(source) > 200:
        raise InvalidField("source", "must be a source key of 1 to 200 characters")
    if trust != UNMARKED and trust not in SourceTrust.values:
        raise InvalidField("trust", "must be trusted, untrusted, blocked or unmarked")
    with transaction.atomic():
        row = SourceRule.objects.select_for_update().filter(project_id=project_id, source=source)
        previous = row.first()
        before = previous.trust if previous else UNMARKED
        rule = None
        if trust == UNMARKED:
            row.delete()
        else:
            rule, _ = SourceRule.objects.update_or_create(
                project_id=project_id,
                source=source,
                defaults={
                    "trust": trust,
                    "note": note[:500],
                    "updated_by": actor.user,
                    "updated_at": timezone.now(),
                },
            )
        record_event(
            actor,
            "source.trust",
            obj=rule,
            details={"project": project_id, "source": source, "trust": trust, "before": before},
        )
    return rule


def source_rules_for(project_id: int) -> dict[str, str]:
    """The project's source keys and their trust."""
    return dict(SourceRule.objects.filter(project_id=project_id).values_list("source", "trust"))


# --- the approval policy ------------------------------------------------------------------


def policy_for(project_id: int) -> DataRiskPolicy:
    """The project's data-risk policy (defaults when never set; not saved)."""
    row = DataRiskPolicy.objects.filter(project_id=project_id).first()
    return row or DataRiskPolicy(project_id=project_id)


def set_policy(actor: Actor, project_id: int, *, require_no_pending_risk_flags: bool) -> None:
    """Change the project's data-risk policy. Owners only (a project setting); audited."""
    require(actor, project_id, Action.MANAGE_SETTINGS)
    with transaction.atomic():
        DataRiskPolicy.objects.update_or_create(
            project_id=project_id,
            defaults={
                POLICY_SETTING: require_no_pending_risk_flags,
                "updated_by": actor.user,
                "updated_at": timezone.now(),
            },
        )
        record_event(
            actor,
            "project.data_risk_policy",
            details={"project": project_id, POLICY_SETTING: require_no_pending_risk_flags},
        )


def require_no_pending_flags(dataset: Dataset) -> None:
    """Raise RiskStateError (409, naming the setting) when the project requires that no risk
    flag be pending at approval and some are."""
    if not policy_for(dataset.project_id).require_no_pending_risk_flags:
        return
    pending = dataset.risk_flags.filter(decision=RiskDecision.PENDING).count()
    if pending:
        raise RiskStateError(
            f"{pending} data risk flags are still pending, and this project's setting "
            f'"{POLICY_SETTING}" (approval requires no pending risk flag) is on.'
        )


# --- decisions ------------------------------------------------------------------------------


def decide_risk_flags(
    actor: Actor,
    dataset: Dataset,
    decision: str,
    *,
    action: str = RiskAction.QUARANTINE,
    detector: str | None = None,
    source: str | None = None,
    group: str | None = None,
    ids: Iterable[int] | None = None,
) -> int:
    """Decide every risk flag of the dataset matching all the given filters (by detector, by
    source, by group, by id; none: every pending flag). Returns how many changed. Data
    stewards only, while the dataset needs review; one audit entry for the batch."""
    require(actor, dataset.project_id, Action.REVIEW_PII, obj=dataset)
    if dataset.status != DatasetStatus.NEEDS_REVIEW:
        raise RiskStateError(
            f"Dataset is {dataset.status}; risk flags can only be decided while it needs review."
        )
    if decision not in RiskDecision.values:
        raise InvalidField("decision", "must be pending, accepted or dismissed")
    if action not in RiskAction.values:
        raise InvalidField("action", "must be drop or quarantine")
    flags = _matching(dataset, detector=detector, source=source, group=group, ids=ids)
    with transaction.atomic():
        count = flags.update(
            decision=decision,
            action=action,
            decided_by=actor.user if decision != RiskDecision.PENDING else None,
            decided_at=timezone.now() if decision != RiskDecision.PENDING else None,
        )
        record_event(
            actor,
            "risk.decide",
            obj=dataset,
            details={
                "decision": decision,
                "action": action,
                "count": count,
                "detector": detector,
                "source": source,
                "group": group,
                "ids": sorted(ids)[:100] if ids else None,
            },
        )
    return count


def _matching(
    dataset: Dataset,
    *,
    detector: str | None,
    source: str | None,
    group: str | None,
    ids: Iterable[int] | None,
) -> QuerySet[RiskFlag]:
    flags = dataset.risk_flags.all()
    if ids:
        flags = flags.filter(pk__in=list(ids))
    elif not (detector or source or group):
        flags = flags.filter(decision=RiskDecision.PENDING)
    for name, value in (("detector", detector), ("source", source), ("group", group)):
        if value:
            flags = flags.filter(**{name: value})
    return flags


def add_model_flags(dataset: Dataset, flags: Iterable[Any], summary: dict[str, Any]) -> int:
    """Store flags computed outside ingestion (the perplexity outliers of the training queue:
    ``trainer.perplexity_screen``), replacing any earlier ones of their detectors, and their
    summary under ``screen_summary["perplexity"]``. Only while the dataset needs review (the
    row is locked meanwhile); returns how many were stored. Flags carry no evidence."""
    flags = list(flags)
    detectors = {flag.detector for flag in flags} or {"perplexity"}
    with transaction.atomic():
        row = Dataset.objects.select_for_update().filter(
            pk=dataset.pk, status=DatasetStatus.NEEDS_REVIEW
        )
        locked = row.first()
        if locked is None:
            return 0
        locked.risk_flags.filter(detector__in=detectors).delete()
        RiskFlag.objects.bulk_create(flag_row(dataset.pk, flag) for flag in flags)
        screen = {**(locked.screen_summary or {}), "perplexity": summary}
        row.update(screen_summary=screen)
        record_event(
            SYSTEM,
            "dataset.perplexity_screen",
            obj=locked,
            details={k: v for k, v in summary.items() if k != "base_model"},
        )
    return len(flags)


# --- reading ------------------------------------------------------------------------------


def excluded_records(dataset: Dataset) -> dict[int, str]:
    """Record index -> "drop" or "quarantine" for every record with an accepted risk flag
    (quarantine wins when both apply): these never reach a version."""
    excluded: dict[int, str] = {}
    rows = dataset.risk_flags.filter(decision=RiskDecision.ACCEPTED).values_list(
        "record_index", "action"
    )
    for index, action in rows.order_by().iterator():
        if excluded.get(index) != RiskAction.QUARANTINE:
            excluded[index] = action
    return excluded


def read_evidence(dataset: Dataset, lines: Iterable[int | None]) -> dict[int, str]:
    """The evidence of the given evidence lines (escaped text quoting records: raw data), read
    from the encrypted blob in one pass. The caller has authorized a raw read."""
    wanted = {line for line in lines if line is not None}
    if not wanted or dataset.data_key_id is None:
        return {}
    found: dict[int, str] = {}
    last = max(wanted)
    with vault.open_blob(dataset.data_key, EVIDENCE_BLOB) as stream:
        for number, line in enumerate(stream):
            if number in wanted:
                found[number] = str(json.loads(line).get("evidence", ""))
            if number >= last:
                break
    return found


def source_summary(dataset: Dataset) -> list[dict[str, Any]]:
    """Per source key: records screened, flags by detector, flags by decision, its trust,
    and records dropped because it is blocked; most flagged first. Source keys only."""
    screen = dataset.screen_summary or {}
    rows: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"records": 0, "flags": {}, "decisions": {}, "blocked": 0}
    )
    for source, counts in (screen.get("by_source") or {}).items():
        rows[source]["records"] = int(counts.get("records", 0))
    for source, blocked in (screen.get("blocked") or {}).items():
        rows[source]["blocked"] = int(blocked)
    grouped = (
        dataset.risk_flags.order_by()
        .values_list("source", "detector", "decision")
        .annotate(n=Count("id"))
    )
    for source, detector, decision, count in grouped:
        row = rows[source]
        row["flags"][detector] = row["flags"].get(detector, 0) + count
        row["decisions"][decision] = row["decisions"].get(decision, 0) + count
    trust = source_rules_for(dataset.project_id)
    summary = [
        {"source": source, "trust": trust.get(source, UNMARKED), **row}
        for source, row in rows.items()
    ]
    summary.sort(key=lambda r: (-sum(r["flags"].values()), -r["records"], r["source"]))
    return summary


def lineage(dataset: Dataset) -> dict[str, Any]:
    """What an approved version records about the screen: its version, counts per detector,
    blocked records, and every decision (grouped by detector, source, group, decision,
    action and who decided, with the record indices)."""
    screen = dataset.screen_summary or {}
    decisions: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    rows = dataset.risk_flags.order_by("record_index").values_list(
        "detector", "source", "group", "decision", "action", "decided_by__username", "record_index"
    )
    for *key, index in rows.iterator():
        decisions[tuple(key)].append(index)
    by_decision: Counter[str] = Counter()
    for key, indices in decisions.items():
        by_decision[key[3]] += len(indices)
    return {
        "version": screen.get("version"),
        "skipped": bool(screen.get("skipped")),
        "records": screen.get("records"),
        "counts": screen.get("counts", {}),
        "blocked": screen.get("blocked", {}),
        "suppressed_trusted": screen.get("suppressed_trusted", 0),
        "flags_by_decision": dict(by_decision),
        "decisions": [
            {
                "detector": detector,
                "source": source,
                "group": group,
                "decision": decision,
                "action": action if decision == RiskDecision.ACCEPTED else None,
                "decided_by": by or ("system" if decision != RiskDecision.PENDING else None),
                "records": indices,
            }
            for (detector, source, group, decision, action, by), indices in decisions.items()
        ],
    }
