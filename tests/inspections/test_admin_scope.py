"""The admin applies an inspector's scope to every page of employer data, as the workspace does.

A staff inspector limited to the Walloon Region sees Liège's declarations, inspections and
notes, and neither lists nor opens Antwerp's; forms refuse and do not name Antwerp's employers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from inspections.models import Declaration, Employer, Inspection, InspectorScope, PostalCode, Region
from inspections.roles import INSPECTOR
from tests.factories import DeclarationFactory, EmployerFactory, InspectionFactory, NoteFactory, UserFactory
from workspace.models import Note

pytestmark = pytest.mark.django_db


@dataclass
class Place:
    employer: Employer
    declaration: Declaration
    inspection: Inspection
    note: Note


def place(postal_code: str, name: str, reference: str, author) -> Place:
    employer = EmployerFactory(name=name, postal_code=PostalCode.objects.get(code=postal_code))
    return Place(
        employer=employer,
        declaration=DeclarationFactory(employer=employer),
        inspection=InspectionFactory(employer=employer, reference=reference),
        note=NoteFactory(employer=employer, author=author, text=f"Note on {name}"),
    )


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_inspector():
    """A staff member in the Inspector group, limited to the Walloon Region (BE3)."""
    user = UserFactory(username="staff-wallonie", is_staff=True)
    user.groups.add(Group.objects.get(name=INSPECTOR))
    InspectorScope.objects.create(user=user).regions.set(Region.objects.filter(code="BE3"))
    return user


@pytest.fixture
def places(staff_inspector) -> tuple[Place, Place]:
    """(in scope: Liège, out of scope: Antwerp)."""
    colleague = UserFactory(username="colleague")
    return (
        place("4000", "Nettoyage Liégeois SRL", "INS-LIEGE-1", colleague),
        place("2000", "Antwerpse Schoonmaak BV", "INS-ANTWERP-1", colleague),
    )


@pytest.fixture
def admin_client(client, staff_inspector):
    client.force_login(staff_inspector)
    return client


def _rows(place: Place) -> dict[str, object]:
    """Per admin (app_label, model), the row of this place."""
    return {
        "inspections_declaration": place.declaration,
        "inspections_inspection": place.inspection,
        "workspace_note": place.note,
    }


def _marker(name: str, place: Place) -> str:
    """What the changelist shows of a row: the inspection's reference, or the employer's name."""
    return place.inspection.reference if name == "inspections_inspection" else place.employer.name


@pytest.mark.parametrize("name", ["inspections_declaration", "inspections_inspection", "workspace_note"])
def test_lists_hold_the_scope_only(admin_client, places, name) -> None:
    inside, outside = places
    page = admin_client.get(reverse(f"admin:{name}_changelist"))
    assert page.status_code == 200
    html = page.content.decode()
    assert _marker(name, inside) in html
    assert _marker(name, outside) not in html and outside.employer.name not in html
    assert list(page.context["cl"].result_list) == [_rows(inside)[name]]


@pytest.mark.parametrize("name", ["inspections_declaration", "inspections_inspection", "workspace_note"])
@pytest.mark.parametrize("view", ["change", "history"])
def test_rows_outside_the_scope_do_not_open(admin_client, places, name, view) -> None:
    inside, outside = places
    assert admin_client.get(reverse(f"admin:{name}_{view}", args=[_rows(inside)[name].pk])).status_code == 200
    response = admin_client.get(reverse(f"admin:{name}_{view}", args=[_rows(outside)[name].pk]))
    assert response.status_code == 302 and response["Location"] == reverse("admin:index")
    assert outside.employer.name not in response.content.decode()


def test_a_search_finds_nothing_outside_the_scope(admin_client, places) -> None:
    _inside, outside = places
    page = admin_client.get(reverse("admin:workspace_note_changelist"), {"q": outside.employer.enterprise_number})
    assert list(page.context["cl"].result_list) == []


def test_a_note_on_an_employer_outside_the_scope_is_refused(admin_client, places, staff_inspector) -> None:
    inside, outside = places
    add = reverse("admin:workspace_note_add")
    data = {"author": staff_inspector.pk, "text": "Added in the admin"}
    response = admin_client.post(add, {**data, "employer": outside.employer.pk})
    assert response.status_code == 200 and "employer" in response.context["adminform"].form.errors
    assert not Note.objects.filter(text="Added in the admin").exists()
    assert admin_client.post(add, {**data, "employer": inside.employer.pk}).status_code == 302
    assert Note.objects.get(text="Added in the admin").employer == inside.employer


@pytest.mark.parametrize("name", ["workspace_note", "inspections_inspection"])
def test_the_raw_id_box_names_only_employers_in_the_scope(admin_client, places, name) -> None:
    inside, outside = places
    add = reverse(f"admin:{name}_add")
    assert inside.employer.name in admin_client.get(add, {"employer": inside.employer.pk}).content.decode()
    assert outside.employer.name not in admin_client.get(add, {"employer": outside.employer.pk}).content.decode()


def test_the_employer_lookup_popup_holds_the_scope_only(admin_client, places) -> None:
    inside, outside = places
    popup = admin_client.get(reverse("admin:inspections_employer_changelist"), {"_to_field": "id", "_popup": "1"})
    html = popup.content.decode()
    assert inside.employer.name in html and outside.employer.name not in html


def test_an_empty_scope_shows_nothing_in_the_admin(admin_client, places, staff_inspector) -> None:
    staff_inspector.scope.regions.clear()
    for name in ("inspections_employer", "inspections_declaration", "inspections_inspection", "workspace_note"):
        assert list(admin_client.get(reverse(f"admin:{name}_changelist")).context["cl"].result_list) == []


def test_an_unlimited_staff_member_sees_every_region(client, places) -> None:
    user = UserFactory(username="staff-everywhere", is_staff=True)
    user.groups.add(Group.objects.get(name=INSPECTOR))
    client.force_login(user)
    for name in ("inspections_declaration", "inspections_inspection", "workspace_note"):
        assert len(client.get(reverse(f"admin:{name}_changelist")).context["cl"].result_list) == 2
