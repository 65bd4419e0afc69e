from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The foundation every app builds on: the API error envelope, permissions, pagination, schema
    hooks, security headers, signals sent on commit, lazy imports, health, worker heartbeats and
    the embedded process supervisor. It imports no project app (``tests/test_architecture.py``)."""

    name = "ops"
