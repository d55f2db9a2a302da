from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WorkspaceConfig(AppConfig):
    """The inspector's workspace: ranked lists, employer pages, notes, targets, risk profiles."""

    name = "workspace"
    verbose_name = _("Workspace")
