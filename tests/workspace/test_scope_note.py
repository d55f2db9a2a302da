"""A region-limited inspector is told their scope on the home page and the ranked list."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.workspace.support import limit_to_region

pytestmark = pytest.mark.django_db

PAGES = [reverse("home"), reverse("workspace:ranked_list")]


@pytest.mark.parametrize("url", PAGES)
def test_a_limited_inspector_sees_their_scope(client, ranked, walloon_inspector, url) -> None:
    client.force_login(walloon_inspector)
    html = client.get(url).content.decode()
    assert 'id="scope-note"' in html and "Walloon Region" in html


@pytest.mark.parametrize("url", PAGES)
def test_regions_and_sub_regions_are_named_together(client, ranked, inspector, url) -> None:
    scope = limit_to_region(inspector, "BE2")
    scope.subregions.set(["BE332"])
    client.force_login(inspector)
    html = client.get(url).content.decode()
    assert "Your scope: Flemish Region and Liège." in html


@pytest.mark.parametrize("url", PAGES)
def test_users_without_a_scope_are_told_nothing(logged_in, ranked, url) -> None:
    assert 'id="scope-note"' not in logged_in.get(url).content.decode()


def test_an_empty_scope_gets_its_own_message_only(client, ranked, inspector) -> None:
    limit_to_region(inspector, "XX")  # names no region
    client.force_login(inspector)
    html = client.get(reverse("home")).content.decode()
    assert 'id="scope-note"' not in html and "limited to a scope with no regions" in html


def test_the_scope_is_named_in_the_readers_language(client, ranked, walloon_inspector) -> None:
    client.force_login(walloon_inspector)
    html = client.get(reverse("home"), headers={"accept-language": "fr"}).content.decode()
    assert "Région wallonne" in html
