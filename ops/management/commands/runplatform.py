"""``manage.py runplatform``: web server + Celery worker + beat in the foreground."""

from __future__ import annotations

import logging
import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from ops.supervisor import Supervisor, platform_services


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and Celery beat until Ctrl-C."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, **options: Any) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        port = options["port"]
        self.stdout.write(
            self.style.SUCCESS(
                f"Soberana on http://127.0.0.1:{port}/ (data in {settings.DATA_DIR}). Ctrl-C stops."
            )
        )
        Supervisor(platform_services(port, settings.DATA_DIR)).run()
