"""Every endpoint of the URL configuration, discovered by walking the resolver, with the
concrete URL, request body and client each security test needs to call it.

Methods come from the views themselves: DRF viewset action maps, the handlers of class-based
views, and ``require_http_methods`` on function views (an unrestricted function view counts as
GET, plus any method the caller lists for it). The Django admin and DRF's duplicate
``.<format>`` routes are left out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpResponse
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.resolvers import RegexPattern

IGNORED_METHODS = {"options", "head", "trace"}


@dataclass(frozen=True)
class Endpoint:
    """One URL pattern: ``key`` is its name, prefixed ``api:`` under ``/api/`` (page and API
    names collide, e.g. ``dataset-approve``)."""

    key: str
    route: str
    chain: tuple[Any, ...]
    callback: Callable[..., Any]
    methods: frozenset[str]

    @property
    def is_api(self) -> bool:
        """DRF views answer 401/403 as JSON; pages redirect to sign-in."""
        return getattr(self.callback, "cls", None) is not None

    @property
    def resource(self) -> str:
        """First path segment after the API prefix: ``datasets``, ``jobs``, ``account``…"""
        path = re.sub(r"^api/v\d+/", "", self.route.replace("^", ""))
        return path.split("/", 1)[0]

    @property
    def has_object(self) -> bool:
        """True when the URL names an object (it has path parameters)."""
        return any(pattern.regex.groupindex for pattern in self.chain)

    def url(self, params: dict[str, Any]) -> str:
        """The concrete URL with each path parameter taken from ``params``."""
        parts = []
        for pattern in self.chain:
            text = str(pattern)
            if isinstance(pattern, RegexPattern):
                text = re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: str(params[m[1]]), text)
                text = text.lstrip("^").rstrip("$").replace("\\", "")
            else:
                text = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(params[m[1]]), text)
            parts.append(text)
        url = "/" + "".join(parts)
        match = resolve(url)
        assert match.func is self.callback, f"{url} resolves to another view than {self.key}"
        return url


def _walk(patterns: list[Any], chain: tuple[Any, ...] = ()) -> Iterator[tuple[tuple, Any]]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            yield from _walk(entry.url_patterns, chain + (entry.pattern,))
        elif isinstance(entry, URLPattern):
            yield chain + (entry.pattern,), entry


def _required_methods(view: Callable[..., Any]) -> set[str] | None:
    """Methods named by ``require_http_methods`` anywhere in the decorator chain."""
    func: Any = view
    while func is not None:
        for cell in getattr(func, "__closure__", None) or ():
            try:
                value = cell.cell_contents
            except ValueError:  # an empty cell
                continue
            if (
                isinstance(value, list | tuple)
                and value
                and all(isinstance(v, str) and v.isupper() for v in value)
            ):
                return set(value)
        func = getattr(func, "__wrapped__", None)
    return None


def view_methods(callback: Callable[..., Any]) -> set[str]:
    """The HTTP methods a view answers (besides OPTIONS/HEAD)."""
    actions = getattr(callback, "actions", None)
    if actions:
        return {method.upper() for method in actions}
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is not None:
        return {
            method.upper()
            for method in view_class.http_method_names
            if method not in IGNORED_METHODS and hasattr(view_class, method)
        }
    return _required_methods(callback) or {"GET"}


def discover_endpoints(extra_methods: dict[str, set[str]] | None = None) -> list[Endpoint]:
    """Every endpoint of the project, in URL configuration order."""
    found: list[Endpoint] = []
    for chain, pattern in _walk(get_resolver().url_patterns):
        if "format" in pattern.pattern.regex.groupindex:
            continue  # DRF's ``.json`` twin of a route: the same view
        route = "".join(str(p) for p in chain)
        if route.startswith("static/"):
            continue
        name = pattern.name or route
        key = f"api:{name}" if route.startswith("api/") else name
        methods = view_methods(pattern.callback) | (extra_methods or {}).get(key, set())
        found.append(Endpoint(key, route, chain, pattern.callback, frozenset(methods)))
    return found


# --- what to send -------------------------------------------------------------------------


def upload_file() -> SimpleUploadedFile:
    return SimpleUploadedFile(
        "notes.jsonl",
        b'{"text": "The printer is broken again."}\n',
        content_type="application/jsonl",
    )


# Review verbs act on the dataset that needs review; every other dataset URL names the approved
# one. Approving it again answers 409, but only after the role check, which is what the matrix
# tests; and reading it needs no redaction, whose first use loads spaCy (tens of seconds here).
REVIEW_ENDPOINTS = {
    "api:dataset-findings",
    "api:dataset-decide",
    "api:dataset-bulk-decision",
    "api:dataset-add-finding",
    "dataset-bulk-decision",
    "dataset-review",
    "api:dataset-risk-flags",
    "api:dataset-risk-decision",
    "dataset-risk-decision",
    "dataset-undo-decision",
}
CHUNK_BODY = b'{"text": "The printer is broken again."}\n'


def make_upload(side: Any) -> Any:
    """A chunked upload started by the steward of ``side``, awaiting its one chunk."""
    from datasets_app.models import ChunkedUpload
    from vault.services import create_data_key

    key, _ = create_data_key("upload")
    return ChunkedUpload.objects.create(
        project=side.project,
        created_by=side.users["steward"],
        filename="notes.jsonl",
        total_size=len(CHUNK_BODY),
        chunk_size=64 * 1024,
        upload_key=key,
    )


def path_params(endpoint: Endpoint, world: Any, side: Any) -> dict[str, Any]:
    """Ids for the endpoint's path parameters: objects of ``side`` (a project of the world)."""
    dataset = side.review_dataset if endpoint.key in REVIEW_ENDPOINTS else side.approved_dataset
    by_resource: dict[str, Callable[[], dict[str, Any]]] = {
        "datasets": lambda: {"pk": dataset.pk, "finding_id": side.finding.pk},
        "jobs": lambda: {"pk": side.job.pk},
        "projects": lambda: {"pk": side.project.pk, "user_id": side.users["viewer"].pk},
        "tokens": lambda: {"pk": side.spare_token.pk},
        "model-versions": lambda: {"pk": side.model_version.pk},
        "base-models": lambda: {"pk": world.base_model.pk},
        "audit-events": lambda: {"pk": world.audit_event.pk},
        "uploads": lambda: {"pk": make_upload(side).pk, "index": 0},
        "deployments": lambda: {"pk": side.deployment.pk, "key_id": side.deployment_key.pk},
        # The OpenAI-compatible API: the side's deployed model, file and fine-tuning job.
        "v1": lambda: {
            "model": side.deployment.model_name,
            "file_id": f"file-{dataset.pk}",
            "fine_tuning_job_id": f"ftjob-{side.fine_tune.pk}",
        },
        # Evaluation: sets, runs, judge runs, reports (of a model version), blind arena.
        "evaluation-sets": lambda: {"pk": side.evaluation_set.pk},
        "evaluation-runs": lambda: {"pk": side.evaluation_run.pk},
        "judge-runs": lambda: {"pk": side.judge_run.pk},
        "evaluation-reports": lambda: {"pk": side.model_version.pk},
        "arena-rounds": lambda: {"pk": side.arena_round.pk},
        "arena-matches": lambda: {"pk": side.arena_match.pk},
    }
    pages = {
        "model-version-page": lambda: {"pk": side.model_version.pk},  # under /jobs/
        "evaluation-report-page": lambda: {"pk": side.model_version.pk},
        "evaluation-versions-page": lambda: {"pk": side.project.pk},
        "arena-page": lambda: {"pk": side.arena_round.pk},
    }
    if endpoint.key in pages:
        return pages[endpoint.key]()
    make = by_resource.get(endpoint.resource)
    if make is None:
        raise LookupError(f"No object to put in the path of {endpoint.route}: add one.")
    return make()


def request_kwargs(key: str, method: str, world: Any, side: Any) -> dict[str, Any]:
    """A valid body for the request (so that authorization, not validation, decides), and
    for a few pages the query string they need."""
    from security_world import PASSWORD

    json_bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("api:user-list", "POST"): {"username": "newcomer", "password": "Another-Long-pw-99"},
        ("api:project-list", "POST"): {"name": "Gamma"},
        # Owners change roles of current members (adding people is for platform admins).
        ("api:project-members", "POST"): {
            "username": side.users["viewer"].username,
            "role": "viewer",
            "add": True,
        },
        ("api:project-detail", "PATCH"): {"require_distinct_approver": True},
        ("api:token-list", "POST"): {"name": "ci", "scopes": ["read"]},
        ("api:dataset-add-finding", "POST"): {
            "record_index": 1,
            "field": "text",
            "start": 0,
            "end": 6,
            "entity_type": "PERSON",
        },
        ("api:dataset-bulk-decision", "POST"): {"decision": "accept"},
        ("api:dataset-reidentification", "POST"): {"reason": "Legal hold check for the matrix"},
        ("api:upload-list", "POST"): {
            "filename": "notes.jsonl",
            "total_size": len(CHUNK_BODY),
            "project": side.project.pk,
        },
        ("api:upload-complete", "POST"): {"name": "new"},
        ("api:dataset-decide", "POST"): {"decision": "accept"},
        ("api:dataset-risk-decision", "POST"): {"decision": "dismissed"},
        ("api:project-source-rules", "POST"): {"source": "wiki", "trust": "trusted"},
        ("api:project-data-risk-policy", "PATCH"): {"require_no_pending_risk_flags": True},
        ("api:job-list", "POST"): {
            "dataset": side.approved_dataset.pk,
            "method": "lora",
            "base_model": world.base_model.pk,
            "hyperparameters": {"max_steps": 2, "seq_len": 32},
        },
        ("api:job-estimate", "POST"): {
            "dataset": side.approved_dataset.pk,
            "method": "lora",
            "base_model": world.base_model.pk,
            "hyperparameters": {"max_steps": 2, "seq_len": 32},
        },
        **serving_bodies(world, side),
        **evaluation_bodies(world, side),
    }
    if (key, method) in json_bodies:
        return {"data": json_bodies[(key, method)], "format": "json"}
    if (key, method) == ("api:upload-chunk", "PUT"):
        return {"data": CHUNK_BODY, "content_type": "application/octet-stream"}
    if (key, method) == ("api:dataset-list", "POST"):
        return {
            "data": {"file": upload_file(), "project": side.project.pk, "name": "new"},
            "format": "multipart",
        }
    if (key, method) == ("api:evaluation-set-list", "POST"):
        bundle = SimpleUploadedFile("tasks.zip", b"not a zip", content_type="application/zip")
        return {
            "data": {"bundle": bundle, "project": side.project.pk, "name": "bundle"},
            "format": "multipart",
        }
    if (key, method) == ("openai-files", "POST"):
        return {
            "data": {"file": upload_file(), "purpose": "fine-tune", "project": side.project.pk},
            "format": "multipart",
        }
    form_bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("dataset-upload", "POST"): {
            "project": side.project.pk,
            "name": "new",
            "file": upload_file(),
            "operator": "placeholder",
        },
        ("dataset-bulk-decision", "POST"): {"decision": "accepted"},
        ("dataset-risk-decision", "POST"): {"decision": "dismissed"},
        ("dataset-source-trust", "POST"): {"source": "wiki", "trust": "trusted"},
        ("job-new", "POST"): {
            "dataset": side.approved_dataset.pk,
            "method": "lora",
            "max_steps": 2,
            "learning_rate": 0.001,
            "batch_size": 1,
            "seq_len": 32,
            "checkpoint_every": 1,
            "base_model": world.base_model.pk,
        },
        ("project-members-page", "POST"): {
            "username": side.users["viewer"].username,
            "role": "viewer",
        },
        ("deployments-page", "POST"): {"model_version": side.model_version.pk, "suffix": "new"},
        ("deployment-key-create", "POST"): {"name": "ci", "rate_limit_rpm": 10},
        ("deployment-pii-filter-page", "POST"): {"enabled": "1"},
        ("model-export-page", "POST"): {
            "password": PASSWORD,
            "weights": "safetensors",
            "format": "encrypted",
            "passphrase": "a long export passphrase",
        },
        ("two-factor-setup", "POST"): {"code": "000000"},
        ("two-factor-verify", "POST"): {"code": "000000"},
        ("job-new-estimate", "POST"): {
            "dataset": side.approved_dataset.pk,
            "method": "lora",
            "max_steps": 2,
            "learning_rate": 0.001,
            "batch_size": 1,
            "seq_len": 32,
            "checkpoint_every": 1,
            "base_model": world.base_model.pk,
        },
    }
    if (key, method) in form_bodies:
        return {"data": form_bodies[(key, method)]}
    return {}


def serving_bodies(world: Any, side: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """JSON bodies of the serving endpoints. Chat and completion bodies ask for ``n=2``, which
    the server refuses (400) once the caller is authenticated: the world's base model has no
    weights to load, and which model a caller may query is tested in ``test_idor``."""
    from security_world import PASSWORD

    question = [{"role": "user", "content": "Is the printer fixed?"}]
    return {
        ("api:deployment-list", "POST"): {"model_version": side.model_version.pk, "suffix": "new"},
        ("api:deployment-detail", "PATCH"): {"pii_filter": True},
        ("api:deployment-keys", "POST"): {"name": "ci", "rate_limit_rpm": 10},
        ("api:deployment-query-content", "POST"): {"reason": "Incident review for the matrix"},
        ("api:model-export-list", "POST"): {
            "model_version": side.model_version.pk,
            "password": PASSWORD,
            "passphrase": "a long export passphrase",
        },
        ("openai-chat", "POST"): {"model": world.base_model.name, "messages": question, "n": 99},
        ("openai-completions", "POST"): {"model": world.base_model.name, "prompt": "Hi", "n": 99},
        ("openai-ft-jobs", "POST"): {
            "training_file": f"file-{side.approved_dataset.pk}",
            "model": world.base_model.name,
            "hyperparameters": {"max_steps": 2, "seq_len": 32},
        },
    }


def evaluation_bodies(world: Any, side: Any) -> dict[tuple[str, str], dict[str, Any]]:
    """JSON bodies of the evaluation endpoints. A new match names the closed round, so that a
    voter gets 409 (no model is loaded) once the voter check has passed."""
    return {
        ("api:evaluation-set-from-dataset", "POST"): {
            "dataset": side.approved_dataset.pk,
            "name": "from the test split",
        },
        ("api:evaluation-run-list", "POST"): {
            "evaluation_set": side.evaluation_set.pk,
            "model_version": side.model_version.pk,
            "limit": 1,
        },
        ("api:judge-run-list", "POST"): {
            "project": side.project.pk,
            "mode": "rubric",
            "criteria": "Helpful",
            "model_version": side.model_version.pk,
            "items": [{"request": "Is the printer fixed?", "answer": "Yes."}],
        },
        ("api:arena-round-list", "POST"): {
            "project": side.project.pk,
            "name": "another round",
            "model_versions": [side.model_version.pk],
            "voter_role": "viewer",
        },
        ("api:arena-match-list", "POST"): {"round": side.closed_round.pk, "prompt": "Hi"},
        ("api:arena-match-vote", "POST"): {"choice": "a"},
    }


QUERY_STRINGS: dict[str, Callable[[Any], str]] = {
    "job-new": lambda side: f"?dataset={side.approved_dataset.pk}",
    "models-compare-page": lambda side: f"?versions={side.model_version.pk}",
    "api:evaluation-run-comparison": lambda side: f"?base={side.evaluation_run.pk}",
    "api:evaluation-report-side-by-side": lambda side: f"?project={side.project.pk}",
}
# Requests that destroy their object get a fresh one, so the shared world stays intact.
DESTRUCTIVE = {
    ("api:dataset-detail", "DELETE"): "pk",
    ("dataset-delete", "POST"): "pk",
    ("openai-file", "DELETE"): "file_id",
}


def url_for(endpoint: Endpoint, method: str, world: Any, side: Any) -> str:
    """The URL to call ``endpoint`` on the objects of ``side`` (one of the world's projects)."""
    from security_world import make_review_dataset

    params: dict[str, Any] = {}
    if endpoint.has_object:
        params = path_params(endpoint, world, side)
        param = DESTRUCTIVE.get((endpoint.key, method))
        if param is not None:
            fresh = make_review_dataset(side.project, side.users["steward"]).pk
            params[param] = fresh if param == "pk" else f"file-{fresh}"
    query = QUERY_STRINGS.get(endpoint.key, lambda _side: "")(side)
    return endpoint.url(params) + query


def call(client: Any, method: str, url: str, **kwargs: Any) -> HttpResponse:
    """Send one request with the test client's verb method."""
    return getattr(client, method.lower())(url, **kwargs)


# Pages refuse a member whose role lacks the action with a message or a form error rather than
# a status code; these are the phrases they use.
REFUSAL_MARKERS = ("does not allow", "not one of the available choices")


def page_refused(response: HttpResponse) -> bool:
    """True when a page answered 403/404 or showed a refusal (message or form error)."""
    if response.status_code in (403, 404):
        return True
    request = getattr(response, "wsgi_request", None)
    storage = getattr(request, "_messages", None)
    texts = [str(m) for m in storage] if storage is not None else []
    if not getattr(response, "streaming", False):
        texts.append(response.content.decode("utf-8", "replace"))
    return any(marker in text for text in texts for marker in REFUSAL_MARKERS)
