"""The poisoning screen's perplexity outliers, on the training queue (the ingestion worker
never loads PyTorch).

After ingestion (``ingestion_finished``, see ``trainer.receivers``) the task
``trainer.tasks.screen_perplexity`` scores the dataset's records under the default base model
(all of them up to ``PERPLEXITY_SCREEN_SAMPLE``, a fixed sample above that:
``records_to_score``), judges the scores with ``perplexity_outliers`` (both tails: gibberish
and machine text above, verbatim boilerplate below) and stores the flags through
``datasets_app.risk.add_model_flags``, which keeps them only while the dataset still needs
review. Record text is decrypted in memory only.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from django.conf import settings

from datasets_app import ingestion, risk
from datasets_app.models import Dataset, DatasetStatus
from datasets_app.provenance import stored_source
from trainer.models import BaseModel
from vault import services as vault

logger = logging.getLogger(__name__)
DETECTOR = "perplexity"


def screen_dataset_perplexity(dataset_id: int) -> int:
    """Score, judge and flag one dataset; returns how many flags were stored (0 when the
    dataset no longer needs review or no default base model is installed)."""
    from datasets_app.pipeline.screen import PerplexityScore, perplexity_outliers, records_to_score

    dataset = Dataset.objects.filter(pk=dataset_id, status=DatasetStatus.NEEDS_REVIEW).first()
    base = BaseModel.objects.filter(is_default=True).first()
    if dataset is None or dataset.data_key_id is None or base is None:
        return 0
    budget = settings.PERPLEXITY_SCREEN_SAMPLE
    indices = records_to_score(dataset.record_count, budget, seed=dataset.pk)
    texts, sources = _read(dataset, set(indices))
    perplexities = _score(base.path, [texts[i] for i in indices])
    scores = [
        PerplexityScore(index, value, sources[index])
        for index, value in zip(indices, perplexities, strict=True)
    ]
    # The text-statistics outliers of ingestion are "outlier"; these are told apart.
    flags = [dataclasses.replace(f, detector=DETECTOR) for f in perplexity_outliers(scores)]
    summary = {
        "base_model": base.name,
        "scored": len(indices),
        "records": dataset.record_count,
        "sampled": len(indices) < dataset.record_count,
        "flagged": len(flags),
    }
    return risk.add_model_flags(dataset, flags, summary)


def _read(dataset: Dataset, wanted: set[int]) -> tuple[dict[int, str], dict[int, str]]:
    """The trained text and source key of the wanted records (one pass over the blob)."""
    texts: dict[int, str] = {}
    sources: dict[int, str] = {}
    with vault.open_blob(dataset.data_key, ingestion.RECORDS_BLOB) as stream:
        for index, line in enumerate(stream):
            if index in wanted:
                record = json.loads(line)
                texts[index] = ingestion.trained_text(record)
                sources[index] = stored_source(record)
    return texts, sources


def _score(model_dir: str, texts: list[str]) -> list[float]:
    import torch

    from trainer.engine.models import load_causal_lm, load_tokenizer
    from trainer.engine.record_scoring import record_perplexities

    cuda = torch.cuda.is_available()
    tokenizer: Any = load_tokenizer(model_dir)
    model = load_causal_lm(model_dir, dtype=torch.bfloat16 if cuda else torch.float32)
    model.to("cuda" if cuda else "cpu").eval()
    try:
        return record_perplexities(model, tokenizer, texts)
    finally:
        del model
        if cuda:
            torch.cuda.empty_cache()
