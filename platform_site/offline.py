"""Switches that keep every library in this process off the network.

Imported first by settings, Celery and the training engine's CLI. Values are forced, not
defaulted: an operator's stray ``HF_HUB_OFFLINE=0`` must not turn downloads back on.
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
