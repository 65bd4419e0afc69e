"""Property-based contract tests of every operation in ``/api/schema/`` (Schemathesis).

The schema is fetched from the app itself (in-process WSGI, no network). For each operation,
Hypothesis generates requests (valid and invalid ones) and every response must be:

* not a server error (no 5xx);
* of a documented status code;
* of a documented content type;
* shaped as the schema says for that status code.

Calls carry a real API token: a member who is owner, steward and engineer of the project, or
a platform admin for the admin-only operations. Each generated request is sent as generated
(random ids: mostly 404) and, when it names objects in its path or body, again with the ids of
real objects (see ``api_world``), so the views behind the lookups run too. A second test sends
each operation without credentials.

The run is derandomized (the same cases every time) and bounded: Schemathesis's coverage cases
(boundary values, missing fields, wrong types) plus ``max_examples`` generated ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Operations only platform admins may call: the member would get 403 and nothing deeper.
ADMIN_ONLY = {("GET", "users"), ("POST", "users"), ("GET", "audit-events"), ("POST", "projects")}

APP = WSGIHandler()


# Loaded when the module is collected, from the app itself: building the schema reads no row.
schema = schemathesis.openapi.from_wsgi("/api/schema/", APP)
# No probes with methods an operation lacks: Django answers them (405) before any of our code.
schema.config.phases.coverage.unexpected_methods = set()
# The same operations, called without credentials: a few generated requests each suffice.
unauthenticated = schemathesis.openapi.from_dict(schema.raw_schema)
unauthenticated.app = APP
unauthenticated.config.phases.coverage.enabled = False

BOUNDED = settings(
    max_examples=6,
    derandomize=True,
    database=None,  # nothing to replay: derandomized runs find the same cases again
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,  # the world is built once per operation, on purpose
    ],
)


@pytest.fixture(autouse=True)
def keep_test_database_open() -> Iterator[None]:
    """Django closes the database connection when a request ends, which would close the test
    database; its own test client stops that too (Schemathesis calls the bare WSGI app)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


def resource_of(path: str) -> str:
    """``/api/v1/jobs/{id}/`` -> ``jobs``; ``/v1/fine_tuning/jobs/{...}`` -> ``fine_tuning``."""
    parts = [p for p in path.split("/") if p]
    return parts[2] if parts[:2] == ["api", "v1"] else parts[1]


def point_at_real_objects(case: Any, world: Any) -> bool:
    """Replace the ids the case names (in its path, or fields of its body) by ids of real
    objects of the world; True if anything changed."""
    resource = resource_of(case.operation.path)
    changed = False
    if case.path_parameters:
        path = {
            name: world.path_values.get((resource, name), value)
            for name, value in case.path_parameters.items()
        }
        changed, case.path_parameters = path != case.path_parameters, path
    if isinstance(case.body, dict):
        body = {
            name: world.body_values.get((resource, name), value)
            for name, value in case.body.items()
        }
        changed, case.body = changed or body != case.body, body
    return changed


def bearer(case: Any, world: Any) -> dict[str, str]:
    key = (case.operation.method.upper(), resource_of(case.operation.path))
    token = world.admin_token if key in ADMIN_ONLY else world.member_token
    return {"Authorization": f"Bearer {token}"}


@schema.parametrize()
@BOUNDED
def test_every_operation_conforms_to_the_schema(case: Any, api_world: Any) -> None:
    case.call_and_validate(headers=bearer(case, api_world), checks=CHECKS)
    if point_at_real_objects(case, api_world):
        case.call_and_validate(headers=bearer(case, api_world), checks=CHECKS)


@unauthenticated.parametrize()
@settings(BOUNDED, max_examples=2)
def test_every_operation_refuses_callers_without_credentials(case: Any, api_world: Any) -> None:
    """Without a token every operation answers 401 (documented, in its API's error shape)."""
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    point_at_real_objects(case, api_world)  # real objects: existing ids must not leak either
    response = case.call_and_validate(checks=CHECKS)
    assert response.status_code == 401
