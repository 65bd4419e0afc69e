from django.apps import AppConfig


class EvaluationConfig(AppConfig):
    """Evaluation sets, evaluation runs (lm-eval inside the platform) and their metrics."""

    name = "evaluation"

    def ready(self) -> None:
        from evaluation import pages

        pages.register()
