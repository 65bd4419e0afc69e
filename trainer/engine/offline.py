"""Switches that keep every library in this process off the network.

Imported first by the training engine's entry point (``python -m trainer.engine``, also under
torchrun, before torch or transformers load) and, through ``platform_site.offline``, by
settings and Celery. Values are forced, not defaulted: an operator's stray
``HF_HUB_OFFLINE=0`` must not turn downloads back on. Pure ``os``: importing it loads nothing.
"""

from __future__ import annotations

import os

OFFLINE_ENVIRONMENT = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
    "DO_NOT_TRACK": "1",
    "DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "WANDB_DISABLED": "true",
    "WANDB_MODE": "disabled",
    "SPACY_WARNING_IGNORE": "W095",
}


def enforce_offline() -> None:
    """Set the offline switches of huggingface_hub, transformers, datasets and friends."""
    os.environ.update(OFFLINE_ENVIRONMENT)


enforce_offline()
