"""``manage.py create_api_token USERNAME``: print a new bearer token on the last line."""

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import issue_api_token
from audit.services import Actor


class Command(BaseCommand):
    help = "Create an API token for a user and print it once (last line of output)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="cli")
        parser.add_argument("--scopes", default="read,write", help="comma-separated scopes")
        parser.add_argument("--days", type=int, default=90, help="expiry in days; 0 = never")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["username"]).first()
        if user is None:
            raise CommandError(f"No user named {options['username']!r}.")
        scopes = [s.strip() for s in options["scopes"].split(",") if s.strip()]
        issued = issue_api_token(
            Actor(user=user, user_agent="manage.py"),
            user,
            name=options["name"],
            scopes=scopes,
            expires_in_days=options["days"] or None,
        )
        self.stderr.write("Token created; store it now, it is not shown again.")
        self.stdout.write(issued.raw)
