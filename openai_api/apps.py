from django.apps import AppConfig


class OpenAIApiConfig(AppConfig):
    """The OpenAI-compatible API under ``/v1/``: models, chat completions, completions, files
    and fine-tuning jobs. It follows datasets and training through their signals."""

    name = "openai_api"
    verbose_name = "OpenAI-compatible API"

    def ready(self) -> None:
        from openai_api import signals

        signals.connect()
