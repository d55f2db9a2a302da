"""The nightly retrain and rescore, in django_celery_beat's database scheduler.

Administrators change the time (or disable the task) in the admin, under Periodic
tasks; this migration only creates the default: every day at 02:00, Brussels time.
Written by hand: it changes no model.
"""

from django.db import migrations

TASK_NAME = "Nightly retrain and rescore"
TIMEZONE = "Europe/Brussels"


def schedule_create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    crontab, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="2", day_of_week="*", day_of_month="*", month_of_year="*", timezone=TIMEZONE
    )
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "scoring.nightly",
            "crontab": crontab,
            "enabled": True,
            "description": "Retrain every (sector, offence) model, activate those that pass the gates, then rescore every sector.",
        },
    )
    _beat_notify(PeriodicTasks)


def schedule_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTask.objects.filter(name=TASK_NAME).delete()
    _beat_notify(PeriodicTasks)


def _beat_notify(PeriodicTasks):
    # Historical models skip django_celery_beat's signals: a running beat rereads its
    # schedule only when this change marker moves.
    from django.utils import timezone

    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


class Migration(migrations.Migration):
    dependencies = [
        ("scoring", "0001_scoring_engine"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
