from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self) -> None:
        from inspections.signals import roles_sync_after_migrate

        # Runs once the last app has migrated, when every permission exists.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="inspections_roles_sync")
