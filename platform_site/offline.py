"""The offline switches for the web, worker and beat processes: the engine's own table
(``trainer.engine.offline``, which the engine's entry point imports first when it runs alone
under torchrun), applied when settings or Celery import this module."""

from __future__ import annotations

from trainer.engine.offline import OFFLINE_ENVIRONMENT, enforce_offline

__all__ = ["OFFLINE_ENVIRONMENT", "enforce_offline"]

enforce_offline()
