"""An OpenAI fine-tuning job's model is deployed only once the gate lets it out: training ends,
the deployment is refused while the audit has not run, then made when an owner overrides (or
the audit passes: ``serving.release.release_cleared``)."""

from __future__ import annotations

from typing import Any

import pytest

from openai_api.models import FineTuneJob

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_fine_tune_is_deployed_once_the_gate_clears_its_model(
    cast: Any, version: Any, approved_version: Any, tiny_base_model: Any, audit_required: None
) -> None:
    from audit.services import Actor
    from openai_api.fine_tuning import deploy_finished
    from privacy.services import override_verdict

    fine_tune = FineTuneJob.objects.create(
        project=cast.project,
        created_by=cast.engineer,
        training_file=approved_version.dataset,
        base_model=tiny_base_model,
        suffix="orders",
        training_job=version.job,
    )
    deploy_finished(version)  # what model_version_stored's receiver does
    fine_tune.refresh_from_db()
    assert fine_tune.deployment is None
    skipped = version.job.events.get(kind="deploy_skipped")
    assert "not_run" in skipped.message

    override_verdict(Actor(user=cast.owner), version, "Reviewed by the DPO.")
    fine_tune.refresh_from_db()
    assert fine_tune.deployment is not None
    assert fine_tune.deployment.model_name == "ft:tiny:acme-support:orders"
