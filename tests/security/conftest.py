"""Fixtures of the security tests: the world (see security_world.py), built once per module
inside a transaction rolled back when the module ends.

Each test still requests ``db`` (through the ``world`` fixture), so its own changes roll back
to a savepoint and the next test sees the world unchanged. Blob files written by a test stay on
disk (orphans under keys that no longer exist), which is harmless.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import transaction
from security_world import World, build_world


@pytest.fixture(scope="module")
def security_world(django_db_setup: Any, django_db_blocker: Any) -> Iterator[World]:
    """The world, created once per module and rolled back at its end."""
    with django_db_blocker.unblock():
        block = transaction.atomic()
        block.__enter__()
        try:
            yield build_world()
        finally:
            transaction.set_rollback(True)
            block.__exit__(None, None, None)


@pytest.fixture
def world(security_world: World, db: Any) -> World:
    """The module's world; this test's own changes are rolled back after it."""
    return security_world
