"""Signals that ``trainer`` sends; other apps connect receivers in their own ``signals.py``
(in their ``AppConfig.ready``) and are never called by name from here.

Every signal is sent with ``ops.signals.send_on_commit`` from the fenced write that moved the
job row (see ``trainer.models``), after it committed: a worker that lost its lease sends
nothing, and neither does a rolled-back transaction. Receivers run in the worker (training
queue) or the beat process, must accept ``**kwargs`` and must not raise on purpose: a failure
is logged and changes nothing for the job. ``sender`` is the class of the main argument.
"""

from __future__ import annotations

from django.dispatch import Signal

#: A training job reached a terminal status. Sender ``TrainingJob``. Arguments:
#: ``job: TrainingJob`` (read after the write), ``status: str``, one of ``"succeeded"``,
#: ``"failed"`` (``job.error`` says why) or ``"cancelled"``. Sent by the runner's fenced finish,
#: by the sweeper when a job exhausts its attempts, and when a queued job is cancelled.
job_finished = Signal()

#: A succeeded job's trained model is stored, encrypted, as a ``ModelVersion`` and its
#: evaluation is due. Sender ``ModelVersion``. Arguments: ``model_version: ModelVersion``,
#: ``job: TrainingJob``. Sent once per job, in the same transaction as the move to
#: ``succeeded`` (after ``job_finished``).
model_version_stored = Signal()

#: The evaluation of a model version ended. Sender ``ModelVersion``. Arguments:
#: ``model_version: ModelVersion`` (``metrics`` filled when done); ``outcome: str``, ``"done"``
#: or ``"failed"`` (``job.evaluation_error`` says why; the trained model is unaffected).
evaluation_finished = Signal()
