"""``manage.py bootstrap``: admin user, a default project, the default base model. Idempotent."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser

from accounts.models import Membership, Project
from accounts.roles import Role
from platform_site.env import env_str


class Command(BaseCommand):
    help = "Create the admin user and default project, and register the default base model."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--skip-model",
            action="store_true",
            help="do not convert/register the default base model",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        admin = self._ensure_admin()
        project, _ = Project.objects.get_or_create(name="Default")
        # The first admin is every role of the default project so the skeleton flow works
        # out of the box; real deployments add stewards and engineers as separate people.
        for role in (Role.OWNER, Role.STEWARD, Role.ENGINEER):
            Membership.objects.get_or_create(project=project, user=admin, role=role)
        if not options["skip_model"]:
            from trainer.base_models import ensure_default_base_model

            model = ensure_default_base_model()
            self.stdout.write(f"Default base model: {model.name} at {model.path}")

    def _ensure_admin(self) -> Any:
        users = get_user_model()
        admin = users.objects.filter(username="admin").first()
        if admin is not None:
            return admin
        password = env_str("SOBERANA_ADMIN_PASSWORD")
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        admin = users.objects.create_superuser("admin", "", password)
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"Created user 'admin' with password: {password}\n"
                    "It is shown only once. Set SOBERANA_ADMIN_PASSWORD to choose it yourself."
                )
            )
        return admin
