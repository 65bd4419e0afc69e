from django.apps import AppConfig


class ServingConfig(AppConfig):
    """Private serving: deployments, their keys, usage and rate limits, model loading and
    generation, export, the playground."""

    name = "serving"

    def ready(self) -> None:
        from serving import schema  # noqa: F401  (registers the bearer scheme's extension)
