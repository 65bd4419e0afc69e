"""Signals that ``datasets_app`` sends; other apps connect receivers in their own
``signals.py`` (in their ``AppConfig.ready``) and never get called by name from here.

Every signal is sent with ``ops.signals.send_on_commit`` after the service's final write has
committed; a rolled-back transaction sends nothing. ``sender`` is the ``Dataset`` class.
Receivers must accept ``**kwargs`` (Django passes ``signal`` too) and must not assume they run
in the process that served the request: ingestion ends in a worker.
"""

from __future__ import annotations

from django.dispatch import Signal

#: Ingestion of a dataset ended, in the worker that held its lease (or the sweeper that gave up
#: on it). Arguments: ``dataset_id: int``; ``outcome: str``, ``"needs_review"`` (findings stored,
#: waiting for a steward) or ``"failed"`` (``Dataset.error`` says why, findings discarded).
ingestion_finished = Signal()

#: A dataset was approved: its reviewed records were frozen as a new ``DatasetVersion``, by a
#: steward or automatically (``auto_approve_redaction``). Arguments: ``dataset: Dataset``
#: (status ``approved``), ``version: DatasetVersion`` (the new version).
dataset_approved = Signal()
