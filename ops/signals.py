"""Sending an app's signals after the transaction that caused them commits.

Apps follow each other through signals the producing app declares in its ``signals.py``
(paperless-ngx's pattern): ``datasets_app.signals``, ``trainer.signals``. The producer sends
them with ``send_on_commit`` from the service that made the final write, so a receiver always
reads committed rows and a rolled-back transaction sends nothing.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.dispatch import Signal


def send_on_commit(signal: Signal, sender: type, **arguments: Any) -> None:
    """Send ``signal`` once the current transaction commits (at once outside a transaction);
    never when it rolls back.

    Receivers run robustly (``Signal.send_robust``): one that raises is logged by Django with
    its traceback (logger ``django.dispatch``) and stops neither the other receivers nor the
    producer, whose write is already committed and must stand.
    """
    transaction.on_commit(lambda: signal.send_robust(sender, **arguments))
