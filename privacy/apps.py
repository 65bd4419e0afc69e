from django.apps import AppConfig


class PrivacyConfig(AppConfig):
    """Privacy audits of model versions, the project policy and the release gate."""

    name = "privacy"

    def ready(self) -> None:
        from privacy import gate, pages, report_section, signals

        signals.connect()
        gate.register()
        pages.register()
        report_section.register()
