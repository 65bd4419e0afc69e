"""``manage.py rotate_master_key``: re-wrap every data key under a new master key."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

import envelope
from audit.services import Actor
from vault.services import master_key_provider, rotate_master_key


class Command(BaseCommand):
    help = (
        "Re-wrap every data key under a new master key without re-encrypting data. With the "
        "embedded key file, the new key replaces it (the old one is kept as master.key.old "
        "until you delete it). With SOBERANA_MASTER_KEY, pass --new-key-file and update the "
        "variable afterwards."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--new-key-file", help="file holding the new key (base64 or hex)")

    def handle(self, *args: Any, **options: Any) -> None:
        old = master_key_provider()
        if options["new_key_file"]:
            new = envelope.LocalMasterKeyProvider.from_file(options["new_key_file"])
        elif settings.MASTER_KEY:
            raise CommandError("SOBERANA_MASTER_KEY is set: pass --new-key-file.")
        else:
            new = self._new_embedded_key()
        count = rotate_master_key(Actor(user_agent="manage.py"), old, new)
        if not options["new_key_file"] and not settings.MASTER_KEY:
            self._swap_embedded_key_files()
        self.stdout.write(self.style.SUCCESS(f"Re-wrapped {count} data keys under {new.key_id}."))

    def _new_embedded_key(self) -> envelope.MasterKeyProvider:
        staged = Path(settings.MASTER_KEY_PATH).with_suffix(".new")
        fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_bytes(32).hex())
        return envelope.LocalMasterKeyProvider.from_file(staged)

    def _swap_embedded_key_files(self) -> None:
        current = Path(settings.MASTER_KEY_PATH)
        os.replace(current, current.with_suffix(".old"))
        os.replace(current.with_suffix(".new"), current)
        self.stderr.write(
            f"Old master key kept at {current.with_suffix('.old')}: delete it once "
            "backups hold the new key."
        )
