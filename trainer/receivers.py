"""What ``trainer`` does when other apps' signals arrive (connected in ``TrainerConfig.ready``).

``datasets_app.signals.ingestion_finished`` with ``needs_review``: queue the dataset's
perplexity screen on the training queue (``PERPLEXITY_SCREEN`` setting).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.dispatch import receiver

from datasets_app.signals import ingestion_finished

logger = logging.getLogger(__name__)


@receiver(ingestion_finished, dispatch_uid="trainer.perplexity_screen")
def queue_perplexity_screen(sender: Any, dataset_id: int, outcome: str, **kwargs: Any) -> None:
    """Send the perplexity screen's message (ids only); a broker error is logged: the screen
    is advisory and ingestion already succeeded."""
    if outcome != "needs_review" or not settings.PERPLEXITY_SCREEN:
        return
    from trainer.tasks import screen_perplexity

    try:
        screen_perplexity.delay(dataset_id)
    except Exception:  # kombu's connection errors have no common base worth naming
        logger.warning("dataset %s: could not queue the perplexity screen", dataset_id)
