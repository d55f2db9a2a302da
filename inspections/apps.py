from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_delete, post_migrate, post_save
from django.utils.translation import gettext_lazy as _


class InspectionsConfig(AppConfig):
    name = "inspections"
    verbose_name = _("Inspections")

    def ready(self) -> None:
        from inspections.models import Employer, Finding, Inspection
        from inspections.signals import data_changed, roles_sync_after_migrate

        # Runs once the last app has migrated, when every permission exists.
        post_migrate.connect(roles_sync_after_migrate, dispatch_uid="inspections_roles_sync")
        for model in (Employer, Inspection, Finding):
            for signal in (post_save, post_delete):
                signal.connect(data_changed, sender=model, dispatch_uid=f"inspections_data_changed_{model.__name__}")
