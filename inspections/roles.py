"""The four roles as Django groups, with the permissions each needs.

Kept in sync after every migrate (post_migrate), so a new permission added by a
later app lands in the right groups without a hand-written data migration.
"""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db.models import Q

INSPECTOR = "Inspector"
ANALYST = "Analyst"
TASK_FORCE = "Task force"
ADMINISTRATOR = "Administrator"

REFERENCE_MODELS = ["region", "province", "subregion", "postalcode", "sector", "nacecode", "offencetype"]
DATA_MODELS = ["employer", "declaration", "inspection", "finding", "inspectionchange"]

# (app_label, codename) pairs per role; "view_*" of everything for every role.
ROLE_PERMISSIONS: dict[str, list[tuple[str, str]]] = {
    INSPECTOR: [
        ("workspace", "add_scorejudgement"),
        ("workspace", "add_note"),
        ("workspace", "change_note"),  # their own only: the views and services check the author
        ("workspace", "add_riskprofilecomment"),
        ("inspections", "add_inspection"),
        ("inspections", "change_inspection"),
        ("inspections", "add_finding"),
        ("inspections", "change_finding"),
    ],
    ANALYST: [
        ("workspace", "view_scorejudgement"),  # the judgements per model and reason
        ("inspections", "add_dataimport"),
        ("inspections", "view_dataimport"),
        # Upload and set band cut-offs of model versions; approve or refuse another's
        # (four eyes), activate an approved one or roll back.
        ("scoring", "add_modelversion"),
        ("scoring", "change_modelversion"),
        ("scoring", "approve_modelversion"),
        ("scoring", "activate_modelversion"),
    ],
    TASK_FORCE: [
        ("workspace", "add_scorejudgement"),
        ("workspace", "view_scorejudgement"),
        ("workspace", "add_note"),
        ("workspace", "change_note"),
        ("workspace", "add_riskprofilecomment"),
        ("workspace", "change_riskprofile"),  # the task force writes and keeps the risk profiles
        ("inspections", "add_inspection"),
        ("inspections", "change_inspection"),
        ("inspections", "add_finding"),
        ("inspections", "change_finding"),
        ("inspections", "delete_finding"),
        ("inspections", "record_any_outcome"),
        ("inspections", "add_dataimport"),
        ("inspections", "view_dataimport"),
        ("scoring", "approve_modelversion"),  # the second pair of eyes on an analyst's model
    ],
}


SCORING_MODELS = ["modelversion", "modelevent", "scoringrun", "score"]
WORKSPACE_MODELS = ["note", "riskprofile", "riskprofilecomment"]


def _view_permissions() -> list[Permission]:
    codenames = [f"view_{model}" for model in REFERENCE_MODELS + DATA_MODELS]
    scoring = [f"view_{model}" for model in SCORING_MODELS]
    return list(
        Permission.objects.filter(
            Q(content_type__app_label="inspections", codename__in=codenames)
            | Q(content_type__app_label="scoring", codename__in=scoring)
            | Q(content_type__app_label="workspace", codename__in=[f"view_{m}" for m in WORKSPACE_MODELS])
        )
    )


def roles_sync() -> None:
    """Create the four groups and give each exactly its permissions (idempotent)."""
    views = _view_permissions()
    for role, pairs in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role)
        query = Q(pk__in=[])
        for app_label, codename in pairs:
            query |= Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set([*views, *Permission.objects.filter(query)])
    admin, _ = Group.objects.get_or_create(name=ADMINISTRATOR)
    admin.permissions.set(Permission.objects.all())
