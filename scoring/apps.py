from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _runs_changed(sender: Any, **kwargs: Any) -> None:
    """A run deleted (admin): lists rendered from it are stale. Publishing bumps the stamp itself."""
    from miningwatch import stamps

    stamps.stamp_bump(stamps.SCORES)


class ScoringConfig(AppConfig):
    name = "scoring"
    verbose_name = _("Scoring")

    def ready(self) -> None:
        from django.db.models.signals import post_delete

        from scoring.models import ScoringRun

        post_delete.connect(_runs_changed, sender=ScoringRun, dispatch_uid="scoring_runs_changed")
