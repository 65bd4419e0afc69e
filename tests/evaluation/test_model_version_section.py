"""The model-version page links the version's evaluation report and model card (the section
``evaluation.pages`` registers with ``trainer.pages``)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.trainer.runs import make_finished_run

pytestmark = pytest.mark.django_db


def _page(user: Any, pk: int) -> tuple[int, str]:
    client = Client()
    client.force_login(user)
    response = client.get(f"/jobs/model-versions/{pk}/")
    return response.status_code, response.content.decode()


def test_model_version_page_links_the_report_card_and_side_by_side(
    cast: Any, approved_version: Any
) -> None:
    version = make_finished_run(approved_version, name="support-v1")
    status, page = _page(cast.viewer, version.pk)
    assert status == 200
    assert 'id="evaluation-report"' in page
    assert f'href="/evaluation/reports/{version.pk}/"' in page
    assert f'href="/api/v1/evaluation-reports/{version.pk}/model-card.md/"' in page
    assert f'href="/evaluation/projects/{version.project_id}/versions/"' in page


def test_the_linked_report_opens_for_the_same_member(cast: Any, approved_version: Any) -> None:
    version = make_finished_run(approved_version, name="support-v1")
    client = Client()
    client.force_login(cast.viewer)
    assert client.get(f"/evaluation/reports/{version.pk}/").status_code == 200


def test_outsiders_get_no_page_and_no_section(cast: Any, approved_version: Any) -> None:
    version = make_finished_run(approved_version, name="support-v1")
    status, page = _page(cast.outsider, version.pk)
    assert status == 404 and 'id="evaluation-report"' not in page
