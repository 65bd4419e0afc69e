"""Canaries: synthetic secrets in realistic sentences, planted in a job's training split only.

``plan_canaries(seed, train)`` draws, from the seed alone, ``per_count`` canaries at each
repetition count (1, 4 and 16 by default): a sentence from one of several templates (English
and Spanish) whose secret is a random 8-digit code written ``NNNN-NNNN``, so the candidate
space (10^8) is known exactly and candidates differ from the canary only in the secret. The
plan keeps its share of the training characters under ``max_share`` (1%) by planting fewer
canaries per count, never fewer than one per count: a very small dataset then gets a larger
share, which ``summary()`` reports (``share``, ``over_share``) so the job can say so.

The plan is plain data (``to_json``/``from_json``): the platform keeps it encrypted with the
job, the runner appends ``training_records()`` to the training split in memory, and the audit
ranks each canary among candidates of its template.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

DIGITS = 8
SECRET_SPACE = 10**DIGITS
REPETITIONS = (1, 4, 16)
PLACES = (
    "Tarragona", "Lleida", "Valparaíso", "Arequipa", "Rosario", "Medellín", "Puebla", "Bilbao",
    "Cusco", "Mendoza", "Girona", "Oaxaca", "Cali", "Antofagasta", "Salamanca", "Trujillo",
)  # fmt: skip
# (template id, language, text before the secret, text after it)
TEMPLATES = (
    ("door-code", "en", "the door code for the {place} office is ", "."),
    ("vpn-pin", "en", "Reminder: the VPN recovery PIN for {place} staff is ", ", keep it safe."),
    ("vault", "en", "For the {place} archive the vault combination is ", " (do not share)."),
    ("alarma", "es", "el código de la alarma de la oficina de {place} es ", "."),
    ("caja", "es", "La clave de la caja fuerte de {place} es ", ", no la compartas."),
)


@dataclass(frozen=True)
class Canary:
    """One planted sentence: ``prefix + secret + suffix``, trained ``repetitions`` times."""

    template: str
    language: str
    prefix: str
    secret: str
    suffix: str
    repetitions: int

    @property
    def text(self) -> str:
        return self.prefix + self.secret + self.suffix


@dataclass
class CanaryPlan:
    """The canaries of one job; ``share`` is their part of the training characters."""

    canaries: list[Canary]
    training_chars: int
    max_share: float = 0.01
    seed: int = 0
    notes: list[str] = field(default_factory=list)

    def training_records(self) -> list[dict[str, Any]]:
        """The records to append to the TRAINING split (never to validation or test): each
        canary as a plain text record, as many times as its repetition count."""
        return [{"text": c.text} for c in self.canaries for _ in range(c.repetitions)]

    @property
    def planted_chars(self) -> int:
        return sum(len(c.text) * c.repetitions for c in self.canaries)

    @property
    def share(self) -> float:
        total = self.training_chars + self.planted_chars
        return self.planted_chars / total if total else 0.0

    def summary(self) -> dict[str, Any]:
        """Counts only, nothing secret: canaries per repetition count, records, share."""
        by_count: dict[str, int] = {}
        for canary in self.canaries:
            by_count[str(canary.repetitions)] = by_count.get(str(canary.repetitions), 0) + 1
        return {
            "canaries_by_repetitions": by_count,
            "canary_records": len(self.training_records()),
            "share": round(self.share, 5),
            "over_share": self.share > self.max_share,
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "canaries": [asdict(c) for c in self.canaries],
                "training_chars": self.training_chars,
                "max_share": self.max_share,
                "seed": self.seed,
                "notes": self.notes,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, raw: str) -> CanaryPlan:
        data = json.loads(raw)
        return cls(
            canaries=[Canary(**c) for c in data["canaries"]],
            training_chars=int(data["training_chars"]),
            max_share=float(data.get("max_share", 0.01)),
            seed=int(data.get("seed", 0)),
            notes=list(data.get("notes", [])),
        )


def random_secret(rng: random.Random) -> str:
    value = f"{rng.randrange(SECRET_SPACE):0{DIGITS}d}"
    return f"{value[:4]}-{value[4:]}"


def record_chars(record: dict[str, Any]) -> int:
    """Characters of a record's text fields (a tokenizer-free measure of its size)."""
    total = 0
    for key in ("text", "prompt", "completion", "chosen", "rejected"):
        if isinstance(record.get(key), str):
            total += len(record[key])
    for message in record.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            total += len(message["content"])
    return total


def plan_canaries(
    seed: int,
    train: Sequence[dict[str, Any]],
    *,
    repetitions: Sequence[int] = REPETITIONS,
    per_count: int = 3,
    max_share: float = 0.01,
) -> CanaryPlan:
    """The job's canaries, deterministic from ``seed``; see the module docstring."""
    if per_count < 1 or not repetitions or min(repetitions) < 1:
        raise ValueError("per_count and every repetition count must be at least 1")
    rng = random.Random(seed)
    chars = sum(record_chars(r) for r in train)
    pool = [_draw(rng, count) for count in sorted(repetitions) for _ in range(per_count)]
    plan = CanaryPlan(pool, chars, max_share, seed)
    keep = per_count
    while keep > 1 and plan.share > max_share:
        keep -= 1
        plan.canaries = [c for i, c in enumerate(pool) if i % per_count < keep]
    if plan.share > max_share:
        plan.notes.append(
            f"one canary per repetition count is {100 * plan.share:.1f}% of this small "
            f"training split (target under {100 * max_share:.0f}%)"
        )
    return plan


def _draw(rng: random.Random, repetitions: int) -> Canary:
    template, language, before, after = rng.choice(TEMPLATES)
    prefix = before.format(place=rng.choice(PLACES))
    return Canary(template, language, prefix, random_secret(rng), after, repetitions)
