"""The poisoning screen during ingestion: source trust applied, flags stored as they come.

``IngestScreen`` sees each kept record once, as parsed (before cleaning strips invisible
characters, so hidden Unicode is still there to be caught), under its provenance source key,
in the order records are stored (so a flag's ``record_index`` is the stored record's).
Flags are written as ``RiskFlag`` rows batch by batch, in the same transaction as a lease
renewal; their evidence, which quotes data, goes to the encrypted ``risk_evidence.jsonl``
blob, one line per flag. Memory: the screen's own bounds plus one batch of flags.

Source trust (``SourceRule``) is applied here: records of a blocked source never get this far
(``ingestion.clean_stream`` drops and counts them), a trusted source's flooding flags are not
stored (counted as suppressed), and every record of an untrusted source gets a ``source``
flag, accepted as quarantine, which a steward may dismiss.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

from django.db import transaction
from django.utils import timezone

from datasets_app.ingest_lease import IngestLease
from datasets_app.models import RiskAction, RiskDecision, RiskFlag, SourceRule, SourceTrust

EVIDENCE_BLOB = "risk_evidence.jsonl"
SOURCE_DETECTOR = "source"
UNTRUSTED_REASON = "source: marked untrusted by a data steward (quarantined at ingestion)"
# Flags of these detectors are not raised for a trusted source: a partner's templates are
# floods by form.
TRUSTED_SKIPS = frozenset({"flooding"})


def source_rules(project_id: int) -> dict[str, frozenset[str]]:
    """The project's source keys by trust (``"trusted"``, ``"untrusted"``, ``"blocked"``)."""
    found: dict[str, set[str]] = {trust.value: set() for trust in SourceTrust}
    for source, trust in SourceRule.objects.filter(project_id=project_id).values_list(
        "source", "trust"
    ):
        found[trust].add(source)
    return {trust: frozenset(sources) for trust, sources in found.items()}


def group_of(source: str) -> str:
    """The group shared by every flag of one untrusted source (a hash, never the key)."""
    return "source-" + hashlib.blake2b(source.encode(), digest_size=8).hexdigest()


class IngestScreen:
    """Runs the screen over kept records and stores its flags (see the module docstring)."""

    def __init__(
        self, lease: IngestLease, evidence_out: Any, rules: dict[str, frozenset[str]]
    ) -> None:
        from datasets_app.pipeline.screen import Screen  # here: loads numpy and datasketch

        self.lease = lease
        self.screen = Screen()
        self.evidence_out = evidence_out
        self.trusted = rules.get(SourceTrust.TRUSTED, frozenset())
        self.untrusted = rules.get(SourceTrust.UNTRUSTED, frozenset())
        self.pending: list[Any] = []
        self.records = 0
        self.lines = 0
        self.suppressed = 0
        self.by_detector: Counter[str] = Counter()
        self.quarantined_at_ingestion = 0

    def observe(self, view: dict[str, Any]) -> None:
        """Screens one kept record (a plain dict whose ``source`` is its source key)."""
        from datasets_app.pipeline.screen import Flag

        index = self.records
        self.records += 1
        self.pending += self.screen.observe(view, index)
        source = view.get("source", "")
        if source in self.untrusted:
            self.quarantined_at_ingestion += 1
            self.pending.append(
                Flag(index, SOURCE_DETECTOR, UNTRUSTED_REASON, 1.0, source, "", group_of(source))
            )

    def flush(self, *, final: bool = False) -> None:
        """Stores the flags decided so far (all of them when ``final``), renewing the lease
        in the same transaction. Raises ``IngestLeaseLost`` when the lease is gone."""
        if final:
            self.pending += self.screen.finish()
        flags, self.pending = self.pending, []
        rows = [self._row(flag) for flag in flags if self._kept(flag)]
        with transaction.atomic():
            self.lease.keep_alive()
            if rows:
                RiskFlag.objects.bulk_create(rows, batch_size=1000)

    def _kept(self, flag: Any) -> bool:
        if flag.detector in TRUSTED_SKIPS and flag.source in self.trusted:
            self.suppressed += 1
            return False
        return True

    def _row(self, flag: Any) -> RiskFlag:
        self.by_detector[flag.detector] += 1
        line = None
        if flag.evidence:
            line = self.lines
            self.evidence_out.write(json.dumps({"evidence": flag.evidence}).encode() + b"\n")
            self.lines += 1
        untrusted = flag.detector == SOURCE_DETECTOR
        return flag_row(
            self.lease.dataset_id,
            flag,
            evidence_line=line,
            decision=RiskDecision.ACCEPTED if untrusted else RiskDecision.PENDING,
            action=RiskAction.QUARANTINE,
            decided_at=timezone.now() if untrusted else None,
        )

    def summary(self, blocked: Counter[str]) -> dict[str, Any]:
        """What the dataset row keeps: the screen's report (version, counts per detector and
        per source key, notes), flags stored by detector, trust effects, blocked counts."""
        report = self.screen.report().to_dict()
        report.pop("flags", None)
        report.pop("config", None)
        return {
            **report,
            "stored_flags": dict(self.by_detector),
            "suppressed_trusted": self.suppressed,
            "quarantined_untrusted": self.quarantined_at_ingestion,
            "blocked": dict(blocked),
            "blocked_total": sum(blocked.values()),
        }


def discard_risk_flags(dataset_id: int) -> None:
    """Delete every risk flag of a dataset (a failed or interrupted ingestion's set)."""
    RiskFlag.objects.filter(dataset_id=dataset_id).delete()


def flag_row(dataset_id: int, flag: Any, **decision: Any) -> RiskFlag:
    """An unsaved RiskFlag row for one screen flag (``datasets_app.pipeline.screen``), its
    free-text columns cut to their widths and its score rounded; ``decision`` sets the rest
    (evidence line, decision, action)."""
    return RiskFlag(
        dataset_id=dataset_id,
        record_index=flag.record_index,
        detector=flag.detector,
        reason=flag.reason[:300],
        score=round(float(flag.score), 4),
        field=flag.field[:64],
        group=flag.group[:64],
        source=flag.source[:200],
        **decision,
    )
