from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The top of the layers: what gathers several apps. The dashboard, the 404 handler that
    answers in each API's error shape, ``manage.py bootstrap`` and the worker heartbeat (which
    asks ``trainer`` what a worker can run). No app imports it."""

    name = "console"
