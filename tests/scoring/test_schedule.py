"""The nightly retrain and rescore is a row of django_celery_beat's database scheduler."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django_celery_beat.models import PeriodicTask

schedule = importlib.import_module("scoring.migrations.0002_nightly_schedule")


@pytest.mark.django_db
def test_migration_schedules_nightly_task_at_two_in_brussels() -> None:
    task = PeriodicTask.objects.get(name="Nightly retrain and rescore")
    assert task.task == "scoring.nightly" and task.enabled
    assert (task.crontab.minute, task.crontab.hour) == ("0", "2")
    assert (task.crontab.day_of_week, task.crontab.day_of_month, task.crontab.month_of_year) == ("*", "*", "*")
    assert str(task.crontab.timezone) == "Europe/Brussels"


@pytest.mark.django_db
def test_reverse_migration_deletes_the_task_and_forward_again_recreates_it_once() -> None:
    schedule.schedule_delete(apps, None)
    assert not PeriodicTask.objects.filter(name="Nightly retrain and rescore").exists()
    schedule.schedule_create(apps, None)
    schedule.schedule_create(apps, None)
    assert PeriodicTask.objects.filter(name="Nightly retrain and rescore", task="scoring.nightly").count() == 1
