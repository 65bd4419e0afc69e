from django.apps import AppConfig


class TrainerConfig(AppConfig):
    """Base models, training jobs (the state machine), checkpoints and model versions."""

    name = "trainer"
