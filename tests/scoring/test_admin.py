"""The admin of model versions: band cut-offs and notes change while a version is a candidate only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from scoring.models import ModelStatus, ModelVersion
from tests.factories import ModelVersionFactory, UserFactory

pytestmark = pytest.mark.django_db

CHANGE = {"red": "0.1", "orange": "0.2", "green": "0.5", "review_note": "wider bands"}


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_a_candidate_s_band_cut_offs_change_in_the_admin(admin_client) -> None:
    version = ModelVersionFactory(status=ModelStatus.CANDIDATE)

    response = admin_client.post(reverse("admin:scoring_modelversion_change", args=[version.pk]), CHANGE)

    assert response.status_code == 302
    assert ModelVersion.objects.get(pk=version.pk).band_cutoffs == {"red": 0.1, "orange": 0.2, "green": 0.5}


@pytest.mark.parametrize("status", [ModelStatus.APPROVED, ModelStatus.ACTIVE, ModelStatus.RETIRED])
def test_an_approved_or_live_version_cannot_be_changed_in_the_admin(admin_client, status) -> None:
    version = ModelVersionFactory(status=status, band_cutoffs={"red": 0.05, "orange": 0.15, "green": 0.4})
    url = reverse("admin:scoring_modelversion_change", args=[version.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, CHANGE)

    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert page.content.decode().count("Band cut-offs") == 1
    assert response.status_code == 403
    assert ModelVersion.objects.get(pk=version.pk).band_cutoffs["red"] == 0.05
