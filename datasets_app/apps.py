from django.apps import AppConfig


class DatasetsConfig(AppConfig):
    """Uploads, cleaning, PII review, approval and frozen dataset versions."""

    name = "datasets_app"
    label = "datasets_app"
    verbose_name = "Datasets"
