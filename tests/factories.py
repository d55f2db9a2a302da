"""factory_boy factories over the reference data loaded by migrations."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from inspections.models import (
    Declaration,
    Employer,
    Finding,
    Inspection,
    InspectionOrigin,
    InspectionStatus,
    LegalForm,
    NaceCode,
    OffenceType,
    PostalCode,
)


def valid_enterprise_number(n: int) -> str:
    """The n-th valid KBO/BCE number: 8 digits then 97 - (those mod 97)."""
    base = 3_000_000 + n
    return f"{base:08d}{97 - base % 97:02d}"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("correct horse battery staple")


class EmployerFactory(DjangoModelFactory):
    class Meta:
        model = Employer

    enterprise_number = factory.Sequence(valid_enterprise_number)
    nsso_number = factory.Sequence(lambda n: f"{100000000 + n}")
    name = factory.Sequence(lambda n: f"Employer {n} BV")
    legal_form = LegalForm.BV
    nace = factory.LazyFunction(lambda: NaceCode.objects.get(code="43.320"))
    joint_committee = "124"
    postal_code = factory.LazyFunction(lambda: PostalCode.objects.get(code="3000"))
    start_date = dt.date(2015, 1, 1)


class DeclarationFactory(DjangoModelFactory):
    class Meta:
        model = Declaration

    employer = factory.SubFactory(EmployerFactory)
    quarter = dt.date(2024, 1, 1)
    headcount = 10
    fte = Decimal("8.50")
    part_time_share = Decimal("0.300")
    declared_hours = 4200
    gross_wages = Decimal("120000.00")
    temporary_unemployment_days = 0
    hires = 1
    exits = 1
    short_contracts = 0
    posted_workers = 0
    social_security_debt = Decimal("0.00")


class InspectionFactory(DjangoModelFactory):
    class Meta:
        model = Inspection

    reference = factory.Sequence(lambda n: f"INS-2024-{n:06d}")
    employer = factory.SubFactory(EmployerFactory)
    origin = InspectionOrigin.RANDOM_CONTROL
    status = InspectionStatus.COMPLETED
    visit_date = factory.LazyFunction(lambda: dt.date(2024, 3, random.randint(1, 28)))


class FindingFactory(DjangoModelFactory):
    class Meta:
        model = Finding

    inspection = factory.SubFactory(InspectionFactory)
    offence_type = factory.LazyFunction(lambda: OffenceType.objects.get(code="undeclared_work"))
    found = False
