"""The admin's user list shows each user's roles and regional scope, in a fixed number of queries."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from inspections.models import InspectorScope, Region
from inspections.roles import ANALYST, INSPECTOR
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

USERS = reverse("admin:auth_user_changelist")


def _inspector(username: str, region: str | None) -> object:
    user = UserFactory(username=username)
    user.groups.add(Group.objects.get(name=INSPECTOR))
    if region is not None:
        InspectorScope.objects.create(user=user).regions.set(Region.objects.filter(code=region))
    return user


@pytest.fixture
def admin_client(client):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    root.groups.add(Group.objects.get(name=ANALYST))
    client.force_login(root)
    return client


def test_roles_and_scopes_are_columns(admin_client) -> None:
    _inspector("liege", "BE3")
    _inspector("everywhere", None)
    InspectorScope.objects.create(user=UserFactory(username="nowhere"))
    html = admin_client.get(USERS).content.decode()
    assert "Walloon Region" in html and "all regions" in html and "none (sees no employer)" in html
    assert INSPECTOR in html and ANALYST in html


def test_no_query_per_user(admin_client) -> None:
    _inspector("one", "BE3")
    with CaptureQueriesContext(connection) as few:
        admin_client.get(USERS)
    for n in range(8):
        _inspector(f"more{n}", "BE2" if n % 2 else None)
    with CaptureQueriesContext(connection) as many:
        html = admin_client.get(USERS).content.decode()
    assert "more7" in html
    assert len(many) == len(few)
