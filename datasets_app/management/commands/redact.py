"""``manage.py redact INPUT --output OUTPUT``: detect and redact personal data in a file."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import Actor, record_event
from datasets_app.batch_redact import redact_file
from datasets_app.ingestion import IngestionError


class Command(BaseCommand):
    help = (
        "Apply Soberana's PII and secret detection to a file, accept every finding, and write "
        'JSONL {"text": ...} lines in input order.'
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("input", type=Path)
        parser.add_argument("--output", type=Path, required=True)
        parser.add_argument("--language", choices=["auto", "en", "es"], default="auto")
        parser.add_argument(
            "--operator", choices=["placeholder", "surrogate", "mask"], default="placeholder"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        source: Path = options["input"]
        if not source.is_file():
            raise CommandError(f"{source} does not exist or is not a file.")
        # Pseudonyms stay consistent across runs of one installation (keyed by its secret key).
        secret = hashlib.sha256(settings.SECRET_KEY.encode() + b"batch-redact").digest()
        try:
            summary = redact_file(
                source,
                options["output"],
                language=options["language"],
                operator=options["operator"],
                secret=secret,
            )
        except IngestionError as exc:
            raise CommandError(str(exc)) from exc
        record_event(
            Actor(user_agent="manage.py redact"),
            "dataset.batch_redact",
            details={"records": summary.records, "findings": summary.findings},
        )
        self.stdout.write(
            f"Redacted {summary.records} records ({summary.findings} findings, "
            f"{summary.dropped} dropped) into {options['output']}."
        )
