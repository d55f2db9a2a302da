"""Every write of the workspace checks the role's permission (inspections.roles), not the login only.

Refused writes answer 403 and change no row; the pages show no button or form for a write
the user may not make.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client
from django.urls import reverse

from inspections.models import Employer, Inspection
from inspections.roles import ADMINISTRATOR, ANALYST, INSPECTOR, ROLE_PERMISSIONS, TASK_FORCE
from tests.factories import EmployerFactory, NoteFactory
from tests.workspace.conftest import user_in
from workspace.models import Note, RiskProfile, RiskProfileComment

ROLES = [INSPECTOR, ANALYST, TASK_FORCE, ADMINISTRATOR]
PROFILE = reverse("workspace:risk_profile", args=["cleaning", "undeclared_work"])

Write = Callable[[Client, Employer, Note], object]

# Per write: the permission it needs ("app_label.codename") and the request that makes it.
WRITES: dict[str, tuple[str, Write]] = {
    "note create": (
        "workspace.add_note",
        lambda client, employer, note: client.post(
            reverse("workspace:note_create", args=[employer.enterprise_number]), {"text": "New note"}
        ),
    ),
    "note edit": (
        "workspace.change_note",
        lambda client, employer, note: client.post(reverse("workspace:note_edit", args=[note.pk]), {"text": "Edited"}),
    ),
    "target add": (
        "inspections.add_inspection",
        lambda client, employer, note: client.post(reverse("workspace:target_add", args=[employer.enterprise_number])),
    ),
    "risk profile edit": (
        "workspace.change_riskprofile",
        lambda client, employer, note: client.post(PROFILE, {"kind": "profile", "patterns": "P", "on_site": "S"}),
    ),
    "risk profile comment": (
        "workspace.add_riskprofilecomment",
        lambda client, employer, note: client.post(PROFILE, {"kind": "comment", "text": "Seen on site"}),
    ),
}


def role_may(role: str, permission: str) -> bool:
    """What ROLE_PERMISSIONS grants; administrators hold every permission (roles_sync)."""
    app_label, codename = permission.split(".")
    return role == ADMINISTRATOR or (app_label, codename) in ROLE_PERMISSIONS[role]


def rows() -> tuple:
    """Everything a workspace write could change."""
    return (
        list(Note.objects.order_by("pk").values_list("pk", "text", "updated_at")),
        list(Inspection.objects.order_by("pk").values_list("pk", "reference", "status")),
        list(RiskProfile.objects.order_by("pk").values_list("pk", "patterns", "on_site", "updated_at")),
        list(RiskProfileComment.objects.order_by("pk").values_list("pk", "text")),
    )


def test_the_matrix_holds_both_answers() -> None:
    """Not vacuous: some roles may make each write, and the analyst none of them."""
    for permission, _write in WRITES.values():
        assert any(role_may(role, permission) for role in ROLES)
        assert not role_may(ANALYST, permission)
    assert not role_may(INSPECTOR, "workspace.change_riskprofile")


@pytest.mark.parametrize("action", list(WRITES))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_makes_exactly_the_writes_its_permissions_allow(db, client, role, action) -> None:
    user = user_in(role)
    employer = EmployerFactory()
    note = NoteFactory(employer=employer, author=user, text="Written by the user")  # their own: editable
    permission, write = WRITES[action]
    client.force_login(user)
    before = rows()

    response = write(client, employer, note)

    if role_may(role, permission):
        assert response.status_code in (200, 302), (role, action, response.status_code)
        assert rows() != before, f"{role} may {action}, but nothing was written"
    else:
        assert response.status_code == 403, (role, action, response.status_code)
        assert rows() == before, f"{role} may not {action}, yet rows changed"


def test_a_refused_note_through_htmx_is_refused_too(db, client) -> None:
    analyst = user_in(ANALYST)
    employer = EmployerFactory()
    client.force_login(analyst)
    url = reverse("workspace:note_create", args=[employer.enterprise_number])
    response = client.post(url, {"text": "x"}, headers={"HX-Request": "true"})
    assert response.status_code == 403 and not Note.objects.exists()


def test_the_note_edit_form_is_refused_without_the_permission(db, client) -> None:
    analyst = user_in(ANALYST)
    note = NoteFactory(author=analyst, text="Written while an inspector")
    client.force_login(analyst)
    assert client.get(reverse("workspace:note_edit", args=[note.pk])).status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_the_pages_offer_only_the_writes_the_role_may_make(db, client, role) -> None:
    user = user_in(role)
    employer = EmployerFactory()
    note = NoteFactory(employer=employer, author=user)
    client.force_login(user)

    page = client.get(reverse("workspace:employer_detail", args=[employer.enterprise_number])).content.decode()
    assert (reverse("workspace:note_create", args=[employer.enterprise_number]) in page) == role_may(
        role, "workspace.add_note"
    )
    assert ("Add to my targets" in page) == role_may(role, "inspections.add_inspection")
    assert (reverse("workspace:note_edit", args=[note.pk]) in page) == role_may(role, "workspace.change_note")

    profile = client.get(PROFILE).content.decode()
    assert ('name="kind" value="comment"' in profile) == role_may(role, "workspace.add_riskprofilecomment")
    assert ('name="kind" value="profile"' in profile) == role_may(role, "workspace.change_riskprofile")
