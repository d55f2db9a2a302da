"""The periodic tasks in the admin: schedules in words beside their cron text, and "run
now" saying that it queued the task rather than ran it."""

from __future__ import annotations

import pytest
from celery.app.task import Task
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from scoring.schedules import cron_in_words
from tests.factories import UserFactory


def _words(cron: str) -> str | None:
    minute, hour, day_of_month, month_of_year, day_of_week = cron.split()
    return cron_in_words(
        minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year, day_of_week=day_of_week
    )


@pytest.mark.parametrize(
    ("cron", "words"),
    [
        ("0 2 * * *", "every day at 02:00"),
        ("30 6 * * 1", "every Monday at 06:30"),
        ("0 7 * * 0", "every Sunday at 07:00"),
        ("0 7 * * 7", "every Sunday at 07:00"),
        ("0 7 * * sat", "every Saturday at 07:00"),
        ("0 7 * * 1-5", "on weekdays at 07:00"),
        ("15 22 * * 1,3,5", "on Monday, Wednesday and Friday at 22:15"),
        ("0 3 1 * *", "on day 1 of every month at 03:00"),
        ("15 * * * *", "every hour at minute 15"),
        ("*/10 * * * *", "every 10 minutes"),
        ("* * * * *", "every minute"),
    ],
)
def test_common_cron_forms_in_words(cron, words) -> None:
    assert _words(cron) == words


@pytest.mark.parametrize(
    "cron", ["0 2 * 1 *", "0 */4 * * *", "0 2 1 * 1", "0 25 * * *", "61 2 * * *", "0 2 * * 1-3", "0 2 * * xyz"]
)
def test_other_forms_give_none_for_the_cron_text(cron) -> None:
    assert _words(cron) is None


@pytest.fixture
def admin_client(client, db):
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def test_the_nightly_schedule_is_shown_in_words_beside_its_cron(admin_client) -> None:
    html = admin_client.get(reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert "every day at 02:00 (0 2 * * *, Europe/Brussels)" in html
    crontabs = admin_client.get(reverse("admin:django_celery_beat_crontabschedule_changelist")).content.decode()
    assert "every day at 02:00" in crontabs


def test_a_rare_form_shows_its_cron_text(admin_client) -> None:
    CrontabSchedule.objects.create(minute="0", hour="*/4", timezone="Europe/Brussels")
    html = admin_client.get(reverse("admin:django_celery_beat_crontabschedule_changelist")).content.decode()
    assert "0 */4 * * * (Europe/Brussels)" in html


def test_run_now_says_the_task_was_queued(admin_client, monkeypatch) -> None:
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, **kwargs: sent.append((self.name, kwargs)))
    task = PeriodicTask.objects.get(task="scoring.nightly")
    response = admin_client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "run_tasks", "_selected_action": [task.pk]},
        follow=True,
    )
    html = response.content.decode()
    assert [name for name, _ in sent] == ["scoring.nightly"]
    assert sent[0][1]["headers"] == {"periodic_task_name": task.name}
    assert "1 task was queued" in html and "successfully run" not in html


def test_run_now_of_an_unknown_task_queues_nothing(admin_client, monkeypatch) -> None:
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, **kwargs: sent.append(self.name))
    known = PeriodicTask.objects.get(task="scoring.nightly")
    unknown = PeriodicTask.objects.create(name="Gone", task="nowhere.gone", crontab=known.crontab)
    response = admin_client.post(
        reverse("admin:django_celery_beat_periodictask_changelist"),
        {"action": "run_tasks", "_selected_action": [known.pk, unknown.pk]},
        follow=True,
    )
    assert sent == [] and "No task was queued" in response.content.decode()
