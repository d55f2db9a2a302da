"""Row rules: enterprise numbers, scopes, constraints the database enforces."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from inspections.models import Employer, InspectorScope, SubRegion, enterprise_number_validate
from tests.factories import DeclarationFactory, EmployerFactory, FindingFactory, UserFactory


@pytest.mark.parametrize("number", ["0403170701", "0202239951"])
def test_valid_enterprise_numbers(number: str) -> None:
    enterprise_number_validate(number)


@pytest.mark.parametrize(
    ("number", "code"),
    [("0403170702", "checksum"), ("403170701", "format"), ("04031707O1", "format"), ("2403170701", "checksum")],
)
def test_invalid_enterprise_numbers(number: str, code: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        enterprise_number_validate(number)
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    ("number", "why"),
    [
        ("403170701", "it must have 10 digits"),
        ("0403.170.701", "it must be made of digits, e.g. 0403170701"),
        ("BE0403170701", "it must be made of digits, e.g. 0403170701"),
        ("2403170701", "it must start with 0 or 1"),
        ("0403170702", "the last two digits (the mod-97 check) do not match the first eight"),
    ],
)
def test_an_invalid_enterprise_number_says_why(number: str, why: str) -> None:
    """The stored form is 10 digits: a form python-stdnum reads is still refused, saying why."""
    with pytest.raises(ValidationError) as excinfo:
        enterprise_number_validate(number)
    assert excinfo.value.messages == [f"'{number}' is not a valid enterprise number: {why}."]


def test_an_import_accepts_the_forms_python_stdnum_reads() -> None:
    enterprise_number_validate("BE 0403.170.701", stored=False)
    with pytest.raises(ValidationError, match="the mod-97 check"):
        enterprise_number_validate("BE 0403.170.702", stored=False)


@pytest.mark.django_db
def test_employer_save_derives_sector_and_subregion() -> None:
    employer = EmployerFactory(nace_id="56.101", postal_code_id="9000")
    assert employer.sector_id == "hospitality"
    assert employer.subregion_id == "BE234"


@pytest.mark.django_db
def test_database_refuses_end_before_start() -> None:
    with pytest.raises(IntegrityError):
        EmployerFactory(start_date=dt.date(2020, 1, 1), end_date=dt.date(2019, 1, 1))


@pytest.mark.django_db
def test_database_refuses_quarter_not_starting_a_quarter() -> None:
    with pytest.raises(IntegrityError):
        DeclarationFactory(quarter=dt.date(2024, 2, 1))


@pytest.mark.django_db
def test_database_refuses_recovery_without_finding() -> None:
    with pytest.raises(IntegrityError):
        FindingFactory(found=False, workers_regularised=2)


User = get_user_model()


@pytest.mark.django_db
def test_scope_by_region_and_subregion_unite() -> None:
    user = UserFactory()
    assert InspectorScope.subregion_codes_for(user) is None
    scope = InspectorScope.objects.create(user=user)
    # A fresh user object each time, as each request has: the codes are kept on the user.
    assert InspectorScope.subregion_codes_for(User.objects.get(pk=user.pk)) == []  # an empty scope shows nothing
    scope.subregions.set(SubRegion.objects.filter(code="BE242"))
    scope.regions.set([SubRegion.objects.get(code="BE100").region])
    assert InspectorScope.subregion_codes_for(User.objects.get(pk=user.pk)) == ["BE100", "BE242"]
    assert InspectorScope.subregion_codes_for(user) is None  # what this user object read first


@pytest.mark.django_db
def test_visible_to_anonymous_is_empty() -> None:
    from django.contrib.auth.models import AnonymousUser

    EmployerFactory()
    assert not Employer.objects.visible_to(AnonymousUser()).exists()
