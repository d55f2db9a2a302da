"""Two versions on the same data (scoring.services.comparisons) and the page that shows them."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from inspections.roles import ANALYST, INSPECTOR
from scoring.models import ComparisonStatus, ModelComparison, ModelStatus
from scoring.services.comparisons import comparison_execute, comparison_request
from scoring.services.versions import VersionRefused
from tests.factories import ModelVersionFactory, UserFactory
from tests.scoring.support import OFFENCE, SECTOR, model_file, stored_version
from tests.workspace.support import text

from .conftest import generated_data


@pytest.fixture(scope="module")
def inspected(django_db_setup, django_db_blocker) -> Iterator[None]:
    with generated_data(django_db_blocker):
        yield


def _analyst():
    user = UserFactory(username="analyst")
    user.groups.add(Group.objects.get(name=ANALYST))
    return user


@pytest.mark.django_db
def test_the_same_file_twice_gives_the_same_figures_and_another_model_differs(
    inspected, django_capture_on_commit_callbacks
) -> None:
    original, again, other = stored_version(model_file(0)), stored_version(model_file(0)), stored_version(model_file(1))
    analyst = _analyst()

    with django_capture_on_commit_callbacks(execute=False) as queued:
        same = comparison_request(first=original, second=again, user=analyst)
        different = comparison_request(first=original, second=other, user=analyst)
        repeated = comparison_request(first=original, second=again, user=analyst)
    same, different = comparison_execute(comparison_id=same.pk), comparison_execute(comparison_id=different.pk)

    assert len(queued) == 2 and repeated.pk == same.pk  # asked for again today: the same comparison
    figures = same.result["figures"]
    assert same.status == ComparisonStatus.DONE
    assert figures[str(original.pk)] == figures[str(again.pk)]
    assert same.result["red_jaccard"] == 1.0 and same.result["entering_count"] == 0
    assert same.result["validation_rows"] > 0 and sum(same.result["histograms"][0]) == same.result["population"]
    assert different.result["red_jaccard"] < 1.0
    entering = different.result["entering"]
    assert len(entering) == min(25, different.result["entering_count"]) and all(len(n) == 10 for n in entering)


@pytest.mark.django_db
def test_versions_of_different_pairs_the_same_version_or_an_inspector_are_refused() -> None:
    analyst, inspector = _analyst(), UserFactory(username="inspector")
    inspector.groups.add(Group.objects.get(name=INSPECTOR))
    first = ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE)
    elsewhere = ModelVersionFactory(sector_id="construction", offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE)

    with pytest.raises(VersionRefused, match="same sector"):
        comparison_request(first=first, second=elsewhere, user=analyst)
    with pytest.raises(VersionRefused, match="two different"):
        comparison_request(first=first, second=first, user=analyst)
    with pytest.raises(PermissionDenied):
        comparison_request(first=first, second=elsewhere, user=inspector)
    assert not ModelComparison.objects.exists()


@pytest.mark.django_db
def test_a_file_that_fails_its_check_ends_the_comparison_with_the_reason(django_capture_on_commit_callbacks) -> None:
    first = ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE)
    second = ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE)
    with django_capture_on_commit_callbacks(execute=False):
        comparison = comparison_request(first=first, second=second, user=_analyst())

    done = comparison_execute(comparison_id=comparison.pk)

    assert done.status == ComparisonStatus.FAILED and done.message


@pytest.mark.django_db
def test_the_page_shows_both_versions_side_by_side(inspected, client, django_capture_on_commit_callbacks) -> None:
    first, second = stored_version(model_file(0)), stored_version(model_file(1))
    client.force_login(_analyst())

    with django_capture_on_commit_callbacks(execute=False):
        response = client.post(reverse("workspace:comparison_new"), {"first": first.pk, "second": second.pk})
    comparison = ModelComparison.objects.get()
    waiting = client.get(reverse("workspace:comparison", args=[comparison.pk]), HTTP_HX_REQUEST="true")
    comparison_execute(comparison_id=comparison.pk)
    page = client.get(response["Location"]).content.decode()

    assert 'hx-trigger="every 2s"' in waiting.content.decode()
    assert f"Version {first.pk}" in text(page) and "ROC AUC" in page and 'id="comparison-data"' in page
    assert "Red bands in common (Jaccard)" in text(page)
    refused = client.post(reverse("workspace:comparison_new"), {"first": first.pk, "second": "x"}, follow=True)
    assert "Choose two versions to compare" in text(refused.content.decode())
