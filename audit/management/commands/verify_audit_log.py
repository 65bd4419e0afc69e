"""``manage.py verify_audit_log``: check the hash chain; exit 1 naming the first broken entry."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from audit.services import verify_chain


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain and name the first broken entry."

    def handle(self, *args: Any, **options: Any) -> None:
        report = verify_chain()
        if report.first_broken_id is not None or report.reason:
            where = f"entry {report.first_broken_id}" if report.first_broken_id else "the chain"
            raise CommandError(f"Audit log broken at {where}: {report.reason}.")
        self.stdout.write(self.style.SUCCESS(f"Audit log intact: {report.checked} entries."))
