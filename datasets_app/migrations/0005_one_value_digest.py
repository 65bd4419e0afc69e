"""Findings' value digests recomputed with the one normalization (``datasets_app.digests``):
ingestion had folded case and blanks only, so "612 34 56 78" and "612345678" grouped apart in
review while redaction gave them one placeholder. Datasets whose records are shredded keep
their (now meaningless) digests; nothing else changes."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def recompute(apps: Any, schema_editor: Any) -> None:
    from datasets_app.digests import recompute_digests

    dataset_model = apps.get_model("datasets_app", "Dataset")
    finding_model = apps.get_model("datasets_app", "Finding")
    with_findings = finding_model.objects.values_list("dataset_id", flat=True).distinct()
    for dataset in dataset_model.objects.filter(pk__in=with_findings):
        recompute_digests(dataset, finding_model)


class Migration(migrations.Migration):
    dependencies = [("datasets_app", "0004_ingest_lease"), ("vault", "0001_initial")]

    operations = [migrations.RunPython(recompute, migrations.RunPython.noop)]
