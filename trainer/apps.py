from django.apps import AppConfig


class TrainerConfig(AppConfig):
    """Base models, training jobs (the state machine), checkpoints and model versions."""

    name = "trainer"

    def ready(self) -> None:
        from datasets_app.versioning import use_stats_tokenizer
        from trainer.base_models import default_stats_tokenizer

        use_stats_tokenizer(default_stats_tokenizer)
        from trainer import receivers  # noqa: F401  (connects them)
