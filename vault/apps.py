from django.apps import AppConfig


class VaultConfig(AppConfig):
    """Per-artifact data keys, wrapped by the master key; the encrypted blob store."""

    name = "vault"
