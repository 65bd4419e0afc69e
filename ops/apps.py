from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health, security headers, bootstrap and the embedded process supervisor."""

    name = "ops"
