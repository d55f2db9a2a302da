"""Retrain on demand from the model pages: queued once per pair, followed until it ends."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.urls import reverse

from inspections.models import OffenceType, Sector
from inspections.roles import ANALYST, TASK_FORCE
from scoring.selectors import retrain_state
from scoring.services.versions import VersionRefused, pair_retrain_request, retrain_key
from tests.factories import UserFactory
from tests.processes import celery_worker
from tests.workspace.support import OFFENCE, SECTOR, text

RETRAIN = reverse("workspace:pair_retrain", args=[SECTOR, OFFENCE])
PAIR = reverse("workspace:model_pair", args=[SECTOR, OFFENCE])


def _login(client, role: str, name: str):
    user = UserFactory(username=name)
    user.groups.add(Group.objects.get(name=role))
    client.force_login(user)
    return user


@pytest.fixture(autouse=True)
def _no_retrain_followed():
    cache.delete(retrain_key(SECTOR, OFFENCE))
    yield
    cache.delete(retrain_key(SECTOR, OFFENCE))


@pytest.mark.django_db
def test_a_retrain_is_queued_once_and_the_page_follows_it(client, django_capture_on_commit_callbacks) -> None:
    _login(client, ANALYST, "analyst")

    with django_capture_on_commit_callbacks(execute=False) as queued:
        first = client.post(RETRAIN, follow=True)
        second = client.post(RETRAIN, follow=True)

    assert len(queued) == 1
    assert "A retrain is queued" in text(first.content.decode())
    assert "already under way" in text(second.content.decode())
    page = text(client.get(PAIR).content.decode())
    assert "Retraining, asked for by analyst" in page


@pytest.mark.django_db
def test_the_task_force_does_not_retrain(client) -> None:
    _login(client, TASK_FORCE, "lead")
    assert client.post(RETRAIN).status_code == 403
    assert cache.get(retrain_key(SECTOR, OFFENCE)) is None


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_real_worker_runs_the_retrain_and_the_page_says_how_it_ended() -> None:
    analyst = UserFactory(username="analyst")
    analyst.groups.add(Group.objects.get(name=ANALYST))
    with celery_worker() as queue:
        pair_retrain_request(sector=SECTOR, offence=OFFENCE, user=analyst, queue=queue)
        deadline = time.monotonic() + 120
        while (state := retrain_state(sector=SECTOR, offence=OFFENCE)).running and time.monotonic() < deadline:
            time.sleep(0.5)

    # No inspection yet: the worker reports that no version could be made, and why.
    assert state.state == "SUCCESS" and state.by == "analyst"
    assert "No completed inspection" in state.result["refused"]


@pytest.mark.django_db
def test_a_click_while_another_is_being_queued_is_refused(django_capture_on_commit_callbacks) -> None:
    analyst = UserFactory(username="analyst")
    analyst.groups.add(Group.objects.get(name=ANALYST))
    cache.add(f"{retrain_key(SECTOR, OFFENCE)}:claim", 1, 30)  # another request is replacing the entry
    try:
        with (
            pytest.raises(VersionRefused, match="already being queued"),
            django_capture_on_commit_callbacks() as queued,
        ):
            pair_retrain_request(sector=SECTOR, offence=OFFENCE, user=analyst)
    finally:
        cache.delete(f"{retrain_key(SECTOR, OFFENCE)}:claim")
    assert queued == [] and cache.get(retrain_key(SECTOR, OFFENCE)) is None


@pytest.mark.django_db
def test_retrain_all_queues_one_task_per_pair_and_the_overview_follows_them(
    client, django_capture_on_commit_callbacks
) -> None:
    _login(client, ANALYST, "analyst")
    pairs = [
        (sector, offence)
        for sector in Sector.objects.values_list("pk", flat=True)
        for offence in OffenceType.objects.values_list("pk", flat=True)
    ]
    try:
        with django_capture_on_commit_callbacks(execute=False) as queued:
            response = client.post(reverse("workspace:retrain_all"), follow=True)
        page = response.content.decode()

        assert len(queued) == len(pairs) == 12
        assert f"{len(pairs)} retrains are queued" in text(page)
        assert page.count("under way") == 12 and 'hx-trigger="every 5s"' in page
    finally:
        for sector, offence in pairs:
            cache.delete(retrain_key(sector, offence))
