"""The review workspace: highlighted records, filters, sampling and the residual-leak estimate.

The statistics and the highlighting are pure functions (unit-tested alone); ``workspace``
assembles a page of the workspace for a reviewer through the audited services.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

PAGE_SIZE = 10
MAX_SAMPLE = 2000
Z_95 = 1.959963984540054


# --- statistics ------------------------------------------------------------------------------


def wilson_interval(successes: int, trials: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion.

    Takes ``successes`` out of ``trials`` (0 <= successes <= trials) and the normal quantile
    ``z`` (1.96 for 95 %). Returns ``(low, high)`` within [0, 1]; ``(0.0, 1.0)`` when there are
    no trials (nothing is known). Raises ValueError for impossible counts.
    """
    if trials < 0 or not 0 <= successes <= trials:
        raise ValueError("need 0 <= successes <= trials")
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # At p = 0 or 1 the exact bound is 0 or 1; rounding must not leave it a hair inside.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class LeakEstimate:
    """What a reviewed sample says about personal data the detector would let through.

    ``rate`` is the share of true personal-data spans the detector missed (spans the reviewer
    had to add, over those plus the detector's accepted findings), with its 95 % Wilson
    interval; ``record_rate`` the share of sampled records holding at least one missed span.
    Rejected findings are false alarms: they say nothing about leaks and are reported apart.
    """

    records: int
    confirmed: int
    rejected: int
    missed: int
    pending: int
    records_with_miss: int
    rate: float
    low: float
    high: float
    record_rate: float
    record_low: float
    record_high: float

    @property
    def precision(self) -> float | None:
        """Share of decided detector findings the reviewer confirmed (None before any)."""
        decided = self.confirmed + self.rejected
        return self.confirmed / decided if decided else None


def estimate_residual_leak(
    *,
    records: int,
    confirmed: int,
    rejected: int,
    missed: int,
    pending: int = 0,
    records_with_miss: int = 0,
) -> LeakEstimate:
    """The residual leak rate of a reviewed sample of ``records`` records (see LeakEstimate).

    Pending findings are left out (decide them all for an unbiased figure). Raises ValueError
    for negative counts or more records with a miss than records.
    """
    if min(records, confirmed, rejected, missed, pending, records_with_miss) < 0:
        raise ValueError("counts must not be negative")
    if records_with_miss > records:
        raise ValueError("records_with_miss cannot exceed records")
    true_spans = confirmed + missed
    low, high = wilson_interval(missed, true_spans)
    record_low, record_high = wilson_interval(records_with_miss, records)
    return LeakEstimate(
        records=records,
        confirmed=confirmed,
        rejected=rejected,
        missed=missed,
        pending=pending,
        records_with_miss=records_with_miss,
        rate=missed / true_spans if true_spans else 0.0,
        low=low,
        high=high,
        record_rate=records_with_miss / records if records else 0.0,
        record_low=record_low,
        record_high=record_high,
    )


def sample_indices(record_count: int, size: int, seed: int) -> list[int]:
    """A sorted simple random sample of ``size`` record indices (all of them when fewer);
    the same seed always gives the same sample."""
    size = max(0, min(size, record_count))
    return sorted(random.Random(seed).sample(range(record_count), size))


def index_runs(indices: Iterable[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indices as ``(offset, length)``: [3, 4, 5, 9] -> [(3, 3), (9, 1)]."""
    runs: list[tuple[int, int]] = []
    for index in sorted(set(indices)):
        if runs and runs[-1][0] + runs[-1][1] == index:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
        else:
            runs.append((index, 1))
    return runs


# --- highlighting ----------------------------------------------------------------------------


class Span(Protocol):
    pk: Any
    start: int
    end: int
    entity_type: str
    decision: str
    score: float


_UNSAFE_CLASS = re.compile(r"[^A-Za-z0-9_-]")


def _text(piece: str) -> str:
    """Escape record text for HTML. A carriage return becomes a character reference, because
    the HTML parser would otherwise fold CR LF into LF and shift every offset after it."""
    return escape(piece).replace("\r", "&#13;")


def _mark(span: Span, piece: str) -> str:
    kind = _UNSAFE_CLASS.sub("_", span.entity_type)
    return (
        f'<mark class="pii pii-{kind} is-{escape(span.decision)}" data-finding="{escape(span.pk)}" '
        f'data-type="{escape(span.entity_type)}" tabindex="-1" '
        f'title="{escape(span.entity_type)} {span.score:.2f} ({escape(span.decision)})">'
        f"{_text(piece)}</mark>"
    )


def highlight(text: str, spans: Sequence[Span]) -> SafeString:
    """``text`` as HTML with each span wrapped in a ``<mark>`` naming its finding and type.

    Every piece of text (and every attribute) is escaped, so text holding markup or script is
    shown, never run. Overlapping spans are clipped to the part not already marked; spans
    outside the text are clipped to it or left out.
    """
    parts: list[str] = []
    cursor = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(span.start, cursor), min(span.end, len(text))
        if start >= end:
            continue
        parts.append(_text(text[cursor:start]))
        parts.append(_mark(span, text[start:end]))
        cursor = end
    parts.append(_text(text[cursor:]))
    return mark_safe("".join(parts))  # noqa: S308 - every piece above went through escape()


# --- the workspace page ----------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewFilters:
    """What the reviewer asked to see: findings of a type, a decision, a minimum score; a
    random ``sample`` of records (0: none) drawn with ``seed``; the 1-based ``page``."""

    entity_type: str = ""
    decision: str = ""
    min_score: float | None = None
    sample: int = 0
    seed: int = 0
    page: int = 1

    @classmethod
    def from_query(cls, query: Any, default_seed: int) -> ReviewFilters:
        """Read the filters from a query dict; malformed numbers fall back to the defaults."""
        return cls(
            entity_type=query.get("type", "")[:40],
            decision=query.get("decision", "")
            if query.get("decision") in ("pending", "accepted", "rejected")
            else "",
            min_score=_number(query.get("min_score"), float, None),
            sample=max(0, min(_number(query.get("sample"), int, 0) or 0, MAX_SAMPLE)),
            seed=_number(query.get("seed"), int, default_seed) or 0,
            page=max(1, _number(query.get("page"), int, 1) or 1),
        )

    @property
    def narrows(self) -> bool:
        return bool(self.entity_type or self.decision or self.min_score is not None)


def _number(raw: Any, kind: type, default: Any) -> Any:
    try:
        return kind(raw) if raw not in (None, "") else default
    except (TypeError, ValueError):
        return default


def filter_findings(findings: Any, filters: ReviewFilters) -> Any:
    """The findings queryset narrowed by the type, decision and score filters."""
    if filters.entity_type:
        findings = findings.filter(entity_type=filters.entity_type)
    if filters.decision:
        findings = findings.filter(decision=filters.decision)
    if filters.min_score is not None:
        findings = findings.filter(score__gte=filters.min_score)
    return findings


def record_indices(dataset: Any, findings: Any, filters: ReviewFilters) -> list[int] | None:
    """Which records the workspace walks through: a sample, those with matching findings, or
    None for every record in order."""
    if filters.sample:
        return sample_indices(dataset.record_count, filters.sample, filters.seed)
    if filters.narrows:
        return sorted(set(findings.values_list("record_index", flat=True)))
    return None


def read_page(
    actor: Any, dataset: Any, indices: list[int] | None, page: int
) -> list[tuple[int, dict[str, Any]]]:
    """``(index, record)`` pairs of one page of raw records, each read through the audited
    ``services.read_records`` (one read per run of consecutive indices)."""
    from datasets_app import services

    if indices is None:
        offset = (page - 1) * PAGE_SIZE
        rows = services.read_records(actor, dataset, offset=offset, limit=PAGE_SIZE, raw=True)
        return list(enumerate(rows, start=offset))
    wanted = indices[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    pairs: list[tuple[int, dict[str, Any]]] = []
    for offset, length in index_runs(wanted):
        rows = services.read_records(actor, dataset, offset=offset, limit=length, raw=True)
        pairs.extend(enumerate(rows, start=offset))
    return pairs


def render_records(pairs: list[tuple[int, dict[str, Any]]], findings: Any) -> list[dict[str, Any]]:
    """Each record's fields as highlighted HTML, with the findings shown on it."""
    from datasets_app.ingestion import record_fields

    by_place: dict[tuple[int, str], list[Any]] = {}
    for finding in findings.filter(record_index__in=[i for i, _ in pairs]):
        by_place.setdefault((finding.record_index, finding.field), []).append(finding)
    rendered = []
    for index, record in pairs:
        fields = [
            {"name": name, "html": highlight(text, by_place.get((index, name), []))}
            for name, text in record_fields(record)
        ]
        shown = [f for name, _ in record_fields(record) for f in by_place.get((index, name), [])]
        rendered.append({"index": index, "fields": fields, "findings": shown})
    return rendered


def sample_estimate(findings: Any, indices: list[int]) -> LeakEstimate:
    """The residual-leak estimate from the reviewer's decisions on the sampled records."""
    in_sample = findings.filter(record_index__in=indices)
    detected = in_sample.filter(added_by_reviewer=False)
    added = in_sample.filter(added_by_reviewer=True)
    return estimate_residual_leak(
        records=len(indices),
        confirmed=detected.filter(decision="accepted").count(),
        rejected=detected.filter(decision="rejected").count(),
        pending=detected.filter(decision="pending").count(),
        missed=added.count(),
        records_with_miss=added.values("record_index").distinct().count(),
    )
