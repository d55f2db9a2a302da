"""Every page needs a login; the home page counts what the user may see, in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inspections.models import InspectorScope, Region
from tests.factories import EmployerFactory, UserFactory


@pytest.mark.django_db
def test_home_requires_login(client) -> None:
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


@pytest.mark.django_db
def test_admin_requires_login(client) -> None:
    assert client.get("/admin/").status_code == 302


@pytest.mark.django_db
def test_health_is_public(client) -> None:
    assert client.get(reverse("health")).json() == {"status": "ok"}


@pytest.mark.django_db
def test_home_counts_per_sector_and_region(client, django_assert_num_queries) -> None:
    EmployerFactory.create_batch(3)  # postal code 3000 Leuven: Flemish Region, construction
    EmployerFactory(postal_code_id="1000", nace_id="81.210")  # Brussels, cleaning
    user = UserFactory()
    client.force_login(user)
    # user (the session is cached), scope, counts, regions, sectors; published runs and
    # their band counts; targets; recent notes.
    with django_assert_num_queries(10):  # with the user's permissions (two): the navigation is by role
        response = client.get(reverse("home"))
    counts = response.context["counts"]
    assert counts.total == 4
    by_sector = {sector.code: (cells, total) for sector, cells, total in counts.rows}
    region_codes = [region.code for region in counts.regions]
    assert by_sector["construction"][0][region_codes.index("BE2")] == 3
    assert by_sector["cleaning"][0][region_codes.index("BE1")] == 1
    assert b"sector-region-counts" in response.content


@pytest.mark.django_db
def test_inspector_limited_to_region_sees_only_that_region(client) -> None:
    EmployerFactory.create_batch(2)  # Flemish
    EmployerFactory(postal_code_id="1000")  # Brussels
    user = UserFactory()
    scope = InspectorScope.objects.create(user=user)
    scope.regions.set(Region.objects.filter(code="BE1"))
    client.force_login(user)
    assert client.get(reverse("home")).context["counts"].total == 1


@pytest.mark.django_db
def test_closed_employers_are_not_counted(client) -> None:
    import datetime as dt

    EmployerFactory(end_date=dt.date(2020, 1, 1))
    EmployerFactory()
    client.force_login(UserFactory())
    assert client.get(reverse("home")).context["counts"].total == 1
