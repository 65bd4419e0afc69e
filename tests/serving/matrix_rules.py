"""Authorization rules of the serving endpoints, for ``tests/security/test_authorization_matrix``.

Not a test module: the lead merges these into ``EXPECTED`` (``EXPECTED.update(serving_rules(
project, ALL_MEMBERS, OPEN_TO_SIGNED_IN))``). The security world then needs, per project
side: a deployment (``side.deployment``) with a key (``side.deployment_key``), and path
parameters ``pk``/``key_id`` for ``deployments``; for the ``v1`` routes ``model`` (a base model
name), ``file_id`` (``file-<approved dataset id>``) and ``fine_tuning_job_id``
(``ftjob-<id>`` of a FineTuneJob on that dataset). All ``/v1/`` routes have the resource
``v1`` in ``security_endpoints.path_params``; ``test_idor`` needs the same parameters for project
B (``model`` = B's deployment name answers 404 to A's members). ``api:model-export-list`` needs
a body ``{"model_version", "password" (the caller's), "passphrase" (12+ characters)}``.
"""

from __future__ import annotations

from typing import Any

ENGINEERS = ("engineer", "owner")


def serving_rules(
    project: Any, all_members: Any, open_to_signed_in: Any
) -> dict[tuple[str, str], Any]:
    """Who may call each serving endpoint (same vocabulary as the matrix)."""
    return {
        # Native deployments API.
        ("api:deployment-list", "GET"): open_to_signed_in,
        ("api:deployment-list", "POST"): project(*ENGINEERS, non_member="bad_request"),
        ("api:deployment-detail", "GET"): all_members,
        ("api:deployment-detail", "PATCH"): project(*ENGINEERS),
        ("api:deployment-stop", "POST"): project(*ENGINEERS),
        ("api:deployment-keys", "GET"): all_members,
        ("api:deployment-keys", "POST"): project(*ENGINEERS),
        ("api:deployment-revoke-key", "POST"): project(*ENGINEERS),
        ("api:deployment-usage", "GET"): all_members,
        ("api:model-export-list", "POST"): project("owner", non_member="bad_request"),
        # OpenAI-compatible API: base models are open to every signed-in caller.
        ("openai-models", "GET"): open_to_signed_in,
        ("openai-model", "GET"): open_to_signed_in,
        ("openai-chat", "POST"): open_to_signed_in,
        ("openai-completions", "POST"): open_to_signed_in,
        ("openai-files", "GET"): open_to_signed_in,
        ("openai-files", "POST"): project("steward", "owner", non_member="forbidden"),
        ("openai-file", "GET"): all_members,
        ("openai-file", "DELETE"): project("steward", "owner"),
        ("openai-ft-jobs", "GET"): open_to_signed_in,
        ("openai-ft-jobs", "POST"): project(*ENGINEERS, non_member="bad_request"),
        ("openai-ft-job", "GET"): all_members,
        ("openai-ft-job-cancel", "POST"): project(*ENGINEERS),
        ("openai-ft-job-events", "GET"): all_members,
        ("openai-ft-job-checkpoints", "GET"): all_members,
        # Pages.
        ("playground", "GET"): open_to_signed_in,
        ("serving-usage", "GET"): open_to_signed_in,
    }
