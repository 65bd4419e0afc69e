"""The authorization matrix: every endpoint of the URL configuration, every method it answers,
requested as every kind of caller, against an explicit table of who may do what.

Endpoints are discovered from the resolver, so a new URL without a rule in ``EXPECTED`` fails
("new endpoint without an authorization rule"). Outcomes:

* allowed: anything but 401/403/404/405/5xx (a 400 or 409 from validation is fine), and a page
  shows no refusal;
* anonymous: 401 from the API, a redirect to sign-in from pages;
* signed in but outside the project (the outsider, and the platform admin, who is not a member
  of the project): 404 for the project's objects;
* a member whose role lacks the action: 403 from the API (and the denial is audited), a refusal
  message from pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from security_endpoints import (
    Endpoint,
    call,
    discover_endpoints,
    page_refused,
    request_kwargs,
    upload_file,
    url_for,
)

from accounts.roles import ROLE_ACTIONS, Action, Role
from audit.models import AuditEvent

ROLES = ("anonymous", "outsider", "viewer", "engineer", "steward", "owner", "admin")
SIGNED_IN = frozenset(ROLES) - {"anonymous"}
EVERYONE = frozenset(ROLES)
MEMBERS = frozenset({"viewer", "engineer", "steward", "owner"})


@dataclass(frozen=True)
class Rule:
    """Who may call an endpoint. ``scope`` says what the others get:

    open: only anonymous callers are turned away; platform: signed-in callers who are not
    platform admins get 403; personal: the object belongs to one user, everyone else gets 404;
    project: members whose role lacks the action get 403, non-members ``non_member`` (404).
    """

    allowed: frozenset[str]
    scope: str = "project"
    non_member: str = "not_found"


def project(*roles: str, non_member: str = "not_found") -> Rule:
    return Rule(frozenset(roles), "project", non_member)


OPEN_TO_SIGNED_IN = Rule(SIGNED_IN, "open")
PUBLIC = Rule(EVERYONE, "open")
ADMIN_ONLY = Rule(frozenset({"admin"}), "platform")
ALL_MEMBERS = Rule(MEMBERS, "project")

EXPECTED: dict[tuple[str, str], Rule] = {
    # Sign-in, health, API root, schema and docs.
    ("healthz", "GET"): PUBLIC,
    ("login", "GET"): PUBLIC,
    ("login", "POST"): PUBLIC,
    ("login", "PUT"): PUBLIC,  # Django's form views treat PUT as POST
    ("logout", "POST"): PUBLIC,
    ("api:api-root", "GET"): OPEN_TO_SIGNED_IN,
    ("api:schema", "GET"): PUBLIC,  # drf-spectacular serves the schema to anyone (see docs)
    ("api:api-docs", "GET"): PUBLIC,
    ("two-factor-setup", "GET"): OPEN_TO_SIGNED_IN,
    ("two-factor-setup", "POST"): OPEN_TO_SIGNED_IN,
    ("two-factor-verify", "GET"): OPEN_TO_SIGNED_IN,
    ("two-factor-verify", "POST"): OPEN_TO_SIGNED_IN,
    # Personal API tokens page: each user sees and revokes only their own.
    ("api-tokens", "GET"): OPEN_TO_SIGNED_IN,
    ("api-tokens", "POST"): OPEN_TO_SIGNED_IN,
    # Users, projects, members, tokens.
    ("api:user-list", "GET"): ADMIN_ONLY,
    ("api:user-list", "POST"): ADMIN_ONLY,
    ("api:project-list", "GET"): OPEN_TO_SIGNED_IN,  # each sees their own projects
    ("api:project-list", "POST"): ADMIN_ONLY,
    ("api:project-detail", "GET"): Rule(MEMBERS | {"admin"}),
    ("api:project-members", "GET"): Rule(MEMBERS | {"admin"}),
    ("api:project-members", "POST"): project("owner", "admin"),
    ("api:project-detail", "PATCH"): project("owner", "admin"),
    ("api:project-remove-member", "DELETE"): project("owner", "admin"),
    ("project-settings", "GET"): project("owner", "admin"),
    ("project-settings", "POST"): project("owner", "admin"),
    ("project-members-page", "GET"): project("owner", "admin"),
    ("project-members-page", "POST"): project("owner", "admin"),
    ("api:token-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:token-list", "POST"): OPEN_TO_SIGNED_IN,
    ("api:token-detail", "DELETE"): Rule(frozenset({"owner"}), "personal"),
    # Datasets and PII review.
    ("api:dataset-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:dataset-list", "POST"): project("steward", "owner"),
    ("api:dataset-detail", "GET"): ALL_MEMBERS,
    ("api:dataset-detail", "DELETE"): project("steward", "owner"),
    ("api:dataset-add-finding", "POST"): project("steward"),
    ("api:dataset-approve", "POST"): project("steward"),
    ("api:dataset-reopen", "POST"): project("steward"),
    ("api:dataset-reidentification", "POST"): project("owner"),
    ("api:dataset-bulk-decision", "POST"): project("steward"),
    ("api:dataset-decide", "POST"): project("steward"),
    ("api:dataset-findings", "GET"): project("steward"),
    ("api:dataset-records", "GET"): project("engineer", "steward", "owner"),
    # Cleaning examples quote raw text: the raw-read rule (VIEW_RAW_DATA).
    ("api:dataset-cleaning-examples", "GET"): project("steward"),
    ("api:dataset-versions", "GET"): ALL_MEMBERS,
    # Data risk (issue 14): flags and their decisions are review (REVIEW_PII; evidence quotes
    # raw text: VIEW_RAW_DATA too), the per-source summary names source keys only (members),
    # source trust is a steward's call (APPROVE_DATASET), the approval policy a setting.
    ("api:dataset-risk-flags", "GET"): project("steward"),
    ("api:dataset-risk-decision", "POST"): project("steward"),
    ("api:dataset-sources", "GET"): ALL_MEMBERS,
    ("api:project-source-rules", "GET"): ALL_MEMBERS,
    ("api:project-source-rules", "POST"): project("steward"),
    ("api:project-data-risk-policy", "GET"): ALL_MEMBERS,
    ("api:project-data-risk-policy", "PATCH"): project("owner"),
    # Chunked uploads: starting needs upload rights; an upload is its uploader's alone.
    ("api:upload-list", "POST"): project("steward", "owner"),
    ("api:upload-detail", "GET"): Rule(frozenset({"steward"}), "personal"),
    ("api:upload-chunk", "PUT"): Rule(frozenset({"steward"}), "personal"),
    ("api:upload-complete", "POST"): Rule(frozenset({"steward"}), "personal"),
    # Base models, jobs, model versions.
    ("api:base-model-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:base-model-detail", "GET"): OPEN_TO_SIGNED_IN,
    ("api:job-list", "GET"): OPEN_TO_SIGNED_IN,
    # The dataset is named in the body: outside the project it reads as "No such dataset".
    ("api:job-list", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("api:job-estimate", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("api:job-detail", "GET"): ALL_MEMBERS,
    ("api:job-cancel", "POST"): project("engineer", "owner"),
    ("api:job-checkpoints", "GET"): ALL_MEMBERS,
    ("api:job-events", "GET"): ALL_MEMBERS,
    ("api:model-version-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:model-version-detail", "GET"): ALL_MEMBERS,
    # The audit trail.
    ("api:audit-event-list", "GET"): ADMIN_ONLY,
    ("api:audit-event-detail", "GET"): ADMIN_ONLY,
    ("audit-explorer", "GET"): ADMIN_ONLY,
    ("audit-export", "GET"): ADMIN_ONLY,
    # Deployments (serving/api): deploying and keys need DEPLOY_MODEL, export EXPORT_MODEL. The
    # model version is named in the body: outside the project it reads as "No such model version".
    ("api:deployment-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:deployment-list", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("api:deployment-detail", "GET"): ALL_MEMBERS,
    ("api:deployment-detail", "PATCH"): project("engineer", "owner"),
    ("api:deployment-stop", "POST"): project("engineer", "owner"),
    ("api:deployment-keys", "GET"): ALL_MEMBERS,
    ("api:deployment-keys", "POST"): project("engineer", "owner"),
    ("api:deployment-revoke-key", "POST"): project("engineer", "owner"),
    ("api:deployment-usage", "GET"): ALL_MEMBERS,
    ("api:deployment-query-content", "POST"): project("owner"),
    ("api:model-export-list", "POST"): project("owner", non_member="bad_request"),
    # Privacy audit of a model version (re-run: who launches jobs; override: owners) and the
    # project's privacy policy (owners change it).
    ("api:model-version-privacy-audit", "GET"): ALL_MEMBERS,
    ("api:model-version-privacy-audit", "POST"): project("engineer", "owner"),
    ("api:model-version-privacy-audit-override", "POST"): project("owner"),
    ("api:project-privacy-policy", "GET"): ALL_MEMBERS,
    ("api:project-privacy-policy", "PATCH"): project("owner"),
    # The OpenAI-compatible API (/v1/, OpenAI-shaped errors). Base models are open to every
    # signed-in caller; a deployed model (the path's model) exists only for its project.
    ("openai-models", "GET"): OPEN_TO_SIGNED_IN,
    ("openai-model", "GET"): ALL_MEMBERS,
    ("openai-chat", "POST"): OPEN_TO_SIGNED_IN,
    ("openai-completions", "POST"): OPEN_TO_SIGNED_IN,
    ("openai-files", "GET"): OPEN_TO_SIGNED_IN,
    ("openai-files", "POST"): project("steward", "owner"),  # the project is named
    ("openai-file", "GET"): ALL_MEMBERS,
    ("openai-file", "DELETE"): project("steward", "owner"),
    ("openai-ft-jobs", "GET"): OPEN_TO_SIGNED_IN,
    # The training file is named in the body: outside the project it reads as "No such file".
    ("openai-ft-jobs", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("openai-ft-job", "GET"): ALL_MEMBERS,
    ("openai-ft-job-cancel", "POST"): project("engineer", "owner"),
    ("openai-ft-job-events", "GET"): ALL_MEMBERS,
    ("openai-ft-job-checkpoints", "GET"): ALL_MEMBERS,
    # Evaluation (evaluation/api): reading needs VIEW_RESULTS (every member); bundles need
    # UPLOAD_DATA; sets from a dataset, runs, judge runs and arena rounds LAUNCH_JOB, cancelling
    # CANCEL_JOB. A project, set or dataset named in the body reads as "No such ..." outside it.
    ("api:evaluation-set-list", "GET"): OPEN_TO_SIGNED_IN,
    # A caller who may upload to no project is refused before the bundle is stored (403).
    ("api:evaluation-set-list", "POST"): project("steward", "owner", non_member="forbidden"),
    ("api:evaluation-set-from-dataset", "POST"): project(
        "engineer", "owner", non_member="bad_request"
    ),
    ("api:evaluation-set-detail", "GET"): ALL_MEMBERS,
    ("api:evaluation-run-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:evaluation-run-list", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("api:evaluation-run-detail", "GET"): ALL_MEMBERS,
    ("api:evaluation-run-cancel", "POST"): project("engineer", "owner"),
    ("api:evaluation-run-comparison", "GET"): ALL_MEMBERS,
    ("api:judge-run-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:judge-run-list", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("api:judge-run-detail", "GET"): ALL_MEMBERS,
    # The report (model card) of a model version; side by side lists only visible versions.
    ("api:evaluation-report-detail", "GET"): ALL_MEMBERS,
    ("api:evaluation-report-markdown", "GET"): ALL_MEMBERS,
    ("api:evaluation-report-side-by-side", "GET"): OPEN_TO_SIGNED_IN,
    # The blind arena: rounds are made and closed by who launches jobs; the world's round lets
    # viewers (its voter role) and the steward (named) vote. Only voters see an open round's
    # matches; no response names a model before the round is closed (results: 409 until then).
    ("api:arena-round-list", "GET"): OPEN_TO_SIGNED_IN,
    ("api:arena-round-list", "POST"): project("engineer", "owner", non_member="bad_request"),
    ("api:arena-round-detail", "GET"): ALL_MEMBERS,
    ("api:arena-round-close", "POST"): project("engineer", "owner"),
    ("api:arena-round-results", "GET"): ALL_MEMBERS,
    ("api:arena-match-list", "POST"): project("viewer", "steward", non_member="bad_request"),
    ("api:arena-match-detail", "GET"): project("viewer", "steward"),
    ("api:arena-match-vote", "POST"): project("viewer", "steward"),
    # Pages.
    ("home", "GET"): OPEN_TO_SIGNED_IN,
    ("playground", "GET"): OPEN_TO_SIGNED_IN,
    ("serving-usage", "GET"): OPEN_TO_SIGNED_IN,
    ("dataset-upload", "GET"): OPEN_TO_SIGNED_IN,
    # The form offers only projects where the user may upload: others read as a bad choice.
    ("dataset-upload", "POST"): project("steward", "owner", non_member="refused"),
    ("dataset-page", "GET"): ALL_MEMBERS,
    ("dataset-review", "GET"): project("steward"),
    ("dataset-approve", "POST"): project("steward"),
    ("dataset-bulk-decision", "POST"): project("steward"),
    ("dataset-undo-decision", "POST"): project("steward"),
    ("dataset-delete", "POST"): project("steward", "owner"),
    ("dataset-risk-decision", "POST"): project("steward"),
    ("dataset-source-trust", "POST"): project("steward"),
    ("job-new", "GET"): ALL_MEMBERS,
    ("job-new", "POST"): project("engineer", "owner"),
    ("job-new-estimate", "POST"): project("engineer", "owner"),
    ("job-page", "GET"): ALL_MEMBERS,
    ("model-version-page", "GET"): ALL_MEMBERS,
    # The models list shows each caller their projects' versions; comparing names versions.
    ("models-page", "GET"): OPEN_TO_SIGNED_IN,
    ("models-compare-page", "GET"): ALL_MEMBERS,
    ("job-cancel", "POST"): project("engineer", "owner"),
    ("arena-page", "GET"): project("viewer", "steward"),  # the round's voters
    ("evaluation-report-page", "GET"): ALL_MEMBERS,
    # Deployment pages (serving/views.py): the API's services decide, so the same roles. The
    # deploy form offers only versions the user may deploy: others read as a bad choice.
    ("deployments-page", "GET"): OPEN_TO_SIGNED_IN,
    ("deployments-page", "POST"): project("engineer", "owner", non_member="refused"),
    ("deployment-page", "GET"): ALL_MEMBERS,
    ("deployment-stop-page", "POST"): project("engineer", "owner"),
    ("deployment-pii-filter-page", "POST"): project("engineer", "owner"),
    ("deployment-key-create", "POST"): project("engineer", "owner"),
    ("deployment-key-revoke", "POST"): project("engineer", "owner"),
    ("model-export-page", "GET"): project("owner"),
    ("model-export-page", "POST"): project("owner"),
    ("evaluation-versions-page", "GET"): ALL_MEMBERS,
}

# Methods of unrestricted function views that the table covers beyond GET.
EXTRA_METHODS = {key: {method} for key, method in EXPECTED if method != "GET"}
ENDPOINTS = discover_endpoints(EXTRA_METHODS)
KNOWN_BUGS: dict[tuple[str, str, str], str] = {}


def expected_outcome(rule: Rule, role: str, endpoint: Endpoint) -> str:
    """What ``role`` must get from ``endpoint`` under ``rule``."""
    if role in rule.allowed:
        return "allowed"
    if role == "anonymous":
        return "unauthenticated" if endpoint.is_api else "sign_in"
    if rule.scope == "personal":
        return "not_found"
    if rule.scope == "platform" or (rule.scope == "project" and role in MEMBERS):
        return "forbidden" if endpoint.is_api else "refused"
    return rule.non_member


def _cells() -> list[Any]:
    cells = []
    for endpoint in ENDPOINTS:
        for method in sorted(endpoint.methods):
            key = (endpoint.key, method)
            roles = ROLES if key in EXPECTED else ("no-rule",)
            for role in roles:
                marks = []
                if (endpoint.key, method, role) in KNOWN_BUGS:
                    reason = KNOWN_BUGS[(endpoint.key, method, role)]
                    marks.append(pytest.mark.xfail(strict=True, reason=reason))
                cells.append(
                    pytest.param(
                        endpoint, method, role, marks=marks, id=f"{endpoint.key}-{method}-{role}"
                    )
                )
    return cells


def _assert_outcome(outcome: str, response: Any, endpoint: Endpoint, label: str) -> None:
    status = response.status_code
    where = f"{label} answered {status}"
    if outcome == "allowed":
        assert status < 500 and status not in (401, 403, 404, 405), where
        assert endpoint.is_api or not page_refused(response), f"{where}: the page refused"
    elif outcome == "unauthenticated":
        assert status == 401, where
    elif outcome == "sign_in":
        assert status == 302 and response["Location"].startswith("/login/"), where
    elif outcome == "forbidden":
        assert status == 403, where
    elif outcome == "not_found":
        assert status == 404, where
    elif outcome == "bad_request":
        assert status == 400, where
    elif outcome == "refused":
        assert status < 500 and page_refused(response), f"{where}: expected a refusal"
    else:
        raise AssertionError(f"unknown outcome {outcome}")


@pytest.mark.parametrize(("endpoint", "method", "role"), _cells())
def test_endpoint_answers_each_role_as_the_table_says(
    endpoint: Endpoint, method: str, role: str, world: Any
) -> None:
    rule = EXPECTED.get((endpoint.key, method))
    if rule is None:
        pytest.fail(
            f"new endpoint without an authorization rule: {method} /{endpoint.route} "
            f"({endpoint.key}); add it to EXPECTED in {__file__}"
        )
    url = url_for(endpoint, method, world, world.a)
    client = world.api(role) if endpoint.is_api else world.page(role)
    before = AuditEvent.objects.filter(outcome="denied").count()
    response = call(client, method, url, **request_kwargs(endpoint.key, method, world, world.a))
    outcome = expected_outcome(rule, role, endpoint)
    _assert_outcome(outcome, response, endpoint, f"{method} {url} as {role} (expected {outcome})")
    if outcome == "forbidden" and rule.scope == "project":
        assert AuditEvent.objects.filter(outcome="denied").count() > before, "denial not audited"


def test_every_rule_names_an_endpoint_that_exists() -> None:
    known = {(e.key, m) for e in ENDPOINTS for m in e.methods}
    stale = sorted(set(EXPECTED) - known)
    assert not stale, f"rules for endpoints that no longer exist: {stale}"


def test_every_endpoint_and_method_has_a_rule() -> None:
    missing = sorted({(e.key, m) for e in ENDPOINTS for m in e.methods} - set(EXPECTED))
    assert not missing, f"new endpoint without an authorization rule: {missing}"


def test_raw_records_are_for_data_stewards_only(world: Any) -> None:
    url = f"/api/v1/datasets/{world.a.review_dataset.pk}/records/?raw=1"
    answers = {role: world.api(role).get(url).status_code for role in ROLES}
    assert answers == {
        "anonymous": 401,
        "outsider": 404,
        "admin": 404,
        "viewer": 403,
        "engineer": 403,
        "owner": 403,
        "steward": 200,
    }
    assert AuditEvent.objects.filter(action="dataset.view_raw", outcome="allowed").count() == 1


def test_role_actions_match_the_documented_policy() -> None:
    """Pins roles.py: a change of who may do what must be deliberate (and update the docs)."""
    viewer = {Action.VIEW_PROJECT, Action.VIEW_RESULTS}
    engineer = viewer | {
        Action.VIEW_REDACTED_DATA,
        Action.LAUNCH_JOB,
        Action.CANCEL_JOB,
        Action.DEPLOY_MODEL,
    }
    steward = viewer | {
        Action.UPLOAD_DATA,
        Action.VIEW_RAW_DATA,
        Action.REVIEW_PII,
        Action.APPROVE_DATASET,
        Action.VIEW_REDACTED_DATA,
        Action.DELETE_DATASET,
    }
    owner = engineer | {
        Action.MANAGE_MEMBERS,
        Action.MANAGE_SETTINGS,
        Action.DELETE_PROJECT,
        Action.DELETE_DATASET,
        Action.UPLOAD_DATA,
        Action.EXPORT_MODEL,
        Action.REIDENTIFY,
        Action.READ_QUERY_CONTENT,
    }
    assert {role: set(actions) for role, actions in ROLE_ACTIONS.items()} == {
        Role.VIEWER: viewer,
        Role.ENGINEER: engineer,
        Role.STEWARD: steward,
        Role.OWNER: owner,
    }
    assert Action.VIEW_RAW_DATA not in ROLE_ACTIONS[Role.OWNER]


# --- uploads that are refused must leave nothing behind ------------------------------------
# The encrypting upload handler runs when the body is parsed, which can happen before the view
# decides who the caller is or what their role allows.


def _stored() -> tuple[int, set[str]]:
    from django.conf import settings

    from vault.models import DataKey

    return DataKey.objects.count(), {p.name for p in Path(settings.BLOB_DIR).iterdir()}


def test_anonymous_page_upload_stores_nothing(world: Any) -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")
    before = _stored()
    response = client.post(
        "/datasets/new/",
        {
            "file": upload_file(),
            "project": world.a.project.pk,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert _stored() == before


def test_refused_page_upload_leaves_no_key_or_blob(world: Any) -> None:
    before = _stored()
    body = request_kwargs("dataset-upload", "POST", world, world.a)
    assert page_refused(world.page("viewer").post("/datasets/new/", **body))
    assert _stored() == before


def test_refused_api_upload_leaves_no_key_or_blob(world: Any) -> None:
    before = _stored()
    body = request_kwargs("api:dataset-list", "POST", world, world.a)
    assert world.api("viewer").post("/api/v1/datasets/", **body).status_code == 403
    assert _stored() == before


# --- token scopes -------------------------------------------------------------------------
# A token may be narrower than its user: reads need "read", writes "write" (admin implies
# both). Each API cell is called by a role the table allows, with a token lacking the scope.

SCOPE_BUG = (
    "the viewset does not apply ops.permissions.TokenScopes, so the token's scopes are ignored"
)
KNOWN_SCOPE_BUGS: set[tuple[str, str]] = set()  # fixed: TokenScopes is a default permission
PREFERRED_CALLERS = ("viewer", "engineer", "steward", "owner", "outsider", "admin")
# Every user-token scope allows inference (serving.auth.INFERENCE_SCOPES): only a token that
# carries none of them is refused there.
INFERENCE_ENDPOINTS = {"openai-models", "openai-model", "openai-chat", "openai-completions"}


def _scope_cells() -> list[Any]:
    cells = []
    for endpoint in ENDPOINTS:
        for method in sorted(endpoint.methods):
            rule = EXPECTED.get((endpoint.key, method))
            if not endpoint.is_api or rule is None or "anonymous" in rule.allowed:
                continue  # public endpoints need no token at all
            caller = next(role for role in PREFERRED_CALLERS if role in rule.allowed)
            marks = []
            if (endpoint.key, method) in KNOWN_SCOPE_BUGS:
                marks.append(pytest.mark.xfail(strict=True, reason=SCOPE_BUG))
            cells.append(
                pytest.param(
                    endpoint, method, caller, marks=marks, id=f"{endpoint.key}-{method}-{caller}"
                )
            )
    return cells


@pytest.mark.parametrize(("endpoint", "method", "caller"), _scope_cells())
def test_token_without_the_needed_scope_is_refused(
    endpoint: Endpoint, method: str, caller: str, world: Any
) -> None:
    from rest_framework.test import APIClient

    from accounts.models import ApiToken
    from accounts.services import issue_api_token
    from audit.services import Actor

    user = world.users[caller]
    scopes = ["inference"] if method in ("GET", "HEAD") else ["read"]
    issued = issue_api_token(Actor(), user, scopes=scopes)
    if endpoint.key in INFERENCE_ENDPOINTS:
        scopes = []
        ApiToken.objects.filter(pk=issued.token.pk).update(scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.raw}")
    url = url_for(endpoint, method, world, world.a)
    response = call(client, method, url, **request_kwargs(endpoint.key, method, world, world.a))
    assert response.status_code == 403, (
        f"{method} {url} with scopes {scopes}: {response.status_code}"
    )


# --- deployment keys ----------------------------------------------------------------------
# A deployment key (sobk_…) may list and query its own deployment and nothing else.


def test_deployment_key_is_not_a_user_token(world: Any) -> None:
    """The native API does not know deployment keys (401); files and fine-tuning jobs of the
    OpenAI-compatible API are for users only (403)."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.a.deployment_key_raw}")
    for url in ("/api/v1/deployments/", f"/api/v1/deployments/{world.a.deployment.pk}/keys/"):
        assert client.get(url).status_code == 401, url
    body = request_kwargs("api:deployment-keys", "POST", world, world.a)
    keys = f"/api/v1/deployments/{world.a.deployment.pk}/keys/"
    assert client.post(keys, **body).status_code == 401
    for url in (
        "/v1/files",
        "/v1/fine_tuning/jobs",
        f"/v1/files/file-{world.a.approved_dataset.pk}",
    ):
        response = client.get(url)
        assert response.status_code == 403, url
        assert response.json()["error"]["code"] == "permission_denied"
    models = client.get("/v1/models").json()["data"]
    assert [m["id"] for m in models] == [world.a.deployment.model_name]


def test_revoked_deployment_key_answers_401_in_openai_shape(world: Any) -> None:
    from rest_framework.test import APIClient

    from audit.services import Actor
    from serving import services

    services.revoke_deployment_key(Actor(user=world.users["engineer"]), world.a.deployment_key)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {world.a.deployment_key_raw}")
    response = client.get("/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert AuditEvent.objects.filter(action="deployment_key.use", outcome="denied").exists()


def test_anonymous_openai_call_answers_401_in_openai_shape(world: Any) -> None:
    response = world.api("anonymous").get("/v1/models")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_open_arena_round_names_no_model(world: Any) -> None:
    """Blindness: before a round closes, neither the round, its match nor its results name a
    model (results answer 409), even to the voters and to who created the round."""
    side = world.a
    names = {side.model_version.name, world.base_model.name}
    for role in ("viewer", "steward", "engineer", "owner"):
        client = world.api(role)
        round_body = client.get(f"/api/v1/arena-rounds/{side.arena_round.pk}/").json()
        assert round_body["models"] == []
        assert client.get(f"/api/v1/arena-rounds/{side.arena_round.pk}/results/").status_code == 409
        match = client.get(f"/api/v1/arena-matches/{side.arena_match.pk}/")
        text = match.content.decode()
        assert "model_a" not in text and not any(name in text for name in names)
