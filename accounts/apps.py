from django.apps import AppConfig


class AccountsConfig(AppConfig):
    """Projects, memberships with roles, and API tokens."""

    name = "accounts"

    def ready(self) -> None:
        from accounts import schema, signals  # noqa: F401
