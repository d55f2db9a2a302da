"""The periodic tasks as the admin shows and runs them: a cron schedule in words, and
"run now", which queues a task for a worker (it does not run it)."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from celery import current_app
from django.utils.dates import WEEKDAYS
from django.utils.text import get_text_list
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

if TYPE_CHECKING:
    from django.db.models import QuerySet
    from django_celery_beat.models import PeriodicTask

_NUMBER = re.compile(r"^\d{1,2}$")
_EVERY = re.compile(r"^\*/(\d{1,2})$")
# Cron counts the days of the week from Sunday (0, and 7 again); Django's WEEKDAYS from Monday (0).
_CRON_DAYS = {"0": 6, "7": 6, "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5}
_CRON_DAYS |= {name: index for index, name in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}


def cron_in_words(*, minute: str, hour: str, day_of_month: str, month_of_year: str, day_of_week: str) -> str | None:
    """The common cron forms in words, in the reader's language: "every day at 02:00",
    "every Monday at 06:30", "on weekdays at 07:00", "on day 1 of every month at 03:00",
    "every hour at minute 15", "every 10 minutes". None for any other form: the caller
    shows the cron text (better than words that might be wrong)."""
    if month_of_year != "*":
        return None
    if hour == "*" and day_of_month == "*" and day_of_week == "*":
        return _every_hour(minute)
    if not (_NUMBER.match(minute) and _NUMBER.match(hour)) or int(minute) > 59 or int(hour) > 23:
        return None
    time = f"{int(hour):02d}:{int(minute):02d}"
    if day_of_month == "*" and day_of_week == "*":
        return _("every day at %(time)s") % {"time": time}
    if day_of_week == "*" and _NUMBER.match(day_of_month) and 1 <= int(day_of_month) <= 31:
        return _("on day %(day)s of every month at %(time)s") % {"day": int(day_of_month), "time": time}
    if day_of_month == "*":
        return _weekdays(day_of_week, time)
    return None


def _every_hour(minute: str) -> str | None:
    if minute == "*":
        return _("every minute")
    if _NUMBER.match(minute) and int(minute) <= 59:
        return _("every hour at minute %(minute)s") % {"minute": int(minute)}
    every = _EVERY.match(minute)
    if every and 1 <= int(every.group(1)) <= 59:
        return _("every %(n)s minutes") % {"n": int(every.group(1))}
    return None


def _weekdays(day_of_week: str, time: str) -> str | None:
    if day_of_week.lower() in ("1-5", "mon-fri"):
        return _("on weekdays at %(time)s") % {"time": time}
    days = [_CRON_DAYS.get(part) for part in day_of_week.lower().split(",")]
    if None in days:
        return None
    names = [str(WEEKDAYS[day]) for day in sorted(set(days))]
    if len(names) == 1:
        return _("every %(day)s at %(time)s") % {"day": names[0], "time": time}
    days_text = get_text_list(names, pgettext("the last two of a list", "and"))
    return _("on %(days)s at %(time)s") % {"days": days_text, "time": time}


class UnknownTask(Exception):
    """A periodic task names a Celery task that no module registers."""


def periodic_tasks_queue(*, periodic_tasks: QuerySet[PeriodicTask]) -> int:
    """Queue each periodic task now, with its arguments and queue, as beat would; returns how
    many were queued. A worker runs them when it is free: they have not run yet. Nothing is
    queued if one names an unknown task. Raises what the broker raises when Redis cannot
    be reached (miningwatch.queueing.QUEUE_ERRORS)."""
    current_app.loader.import_default_modules()
    found = [(current_app.tasks.get(periodic.task), periodic) for periodic in periodic_tasks]
    for task, periodic in found:
        if task is None:
            raise UnknownTask(periodic.task)
    for task, periodic in found:
        options = {"queue": periodic.queue} if periodic.queue else {}
        task.apply_async(
            args=json.loads(periodic.args or "[]"),
            kwargs=json.loads(periodic.kwargs or "{}"),
            headers={"periodic_task_name": periodic.name},
            **options,
        )
    return len(found)
