from django.apps import AppConfig


class ServingConfig(AppConfig):
    """Private serving: the OpenAI-compatible API, deployments, keys, usage, playground."""

    name = "serving"

    def ready(self) -> None:
        from serving import schema, signals  # noqa: F401  (schema registers an extension)

        signals.connect()
