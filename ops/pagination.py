"""Paging of the REST API's lists: ``?limit=&offset=`` with bounds."""

from __future__ import annotations

from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request

# Past any table's size, and far below 2**63: SQLite and PostgreSQL refuse larger integers in
# LIMIT/OFFSET, which would turn ?offset=99999999999999999999 into a server error.
MAX_OFFSET = 2**40


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset paging, with ``limit`` clamped to ``max_limit`` and ``offset`` to
    ``MAX_OFFSET`` (a larger one answers an empty page, as any offset past the end does)."""

    max_limit = 1000

    def get_offset(self, request: Request) -> int:
        return min(super().get_offset(request), MAX_OFFSET)
