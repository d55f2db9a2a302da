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


# --- Scoring and workspace (tests/workspace) -------------------------------------------


class ModelVersionFactory(DjangoModelFactory):
    class Meta:
        model = "scoring.ModelVersion"

    sector_id = "cleaning"
    offence_type_id = "bogus_self_employment"
    status = "active"
    artifact = b"not a real artifact"
    artifact_sha256 = "0" * 64
    features = factory.LazyFunction(lambda: ["wage_per_fte_vs_sector", "part_time_share", "headcount"])
    training_from = dt.date(2020, 1, 1)
    training_to = dt.date(2025, 6, 30)
    validation_to = dt.date(2026, 6, 30)
    training_rows = 1000
    validation_rows = 200
    training_data_sha256 = "1" * 64
    sklearn_version = "1.5.0"
    metrics = factory.LazyFunction(dict)
    origin = "test"


class ScoringRunFactory(DjangoModelFactory):
    class Meta:
        model = "scoring.ScoringRun"

    model_version = factory.SubFactory(ModelVersionFactory)
    sector_id = factory.SelfAttribute("model_version.sector_id")
    offence_type_id = factory.SelfAttribute("model_version.offence_type_id")
    as_of = dt.date(2026, 10, 1)
    status = "succeeded"
    started_at = factory.LazyFunction(lambda: dt.datetime(2026, 10, 1, 2, 0, tzinfo=dt.UTC))
    finished_at = factory.LazyFunction(lambda: dt.datetime(2026, 10, 1, 3, 0, tzinfo=dt.UTC))
    data_quarter = dt.date(2026, 7, 1)  # the latest quarter ended by as_of


class ScoreFactory(DjangoModelFactory):
    class Meta:
        model = "scoring.Score"

    run = factory.SubFactory(ScoringRunFactory)
    employer = factory.SubFactory(EmployerFactory)
    rank = factory.Sequence(lambda n: n + 1)
    score = 0.5
    percentile = 50.0
    band = 4
    reason_1 = "wage_per_fte_vs_sector"
    reason_1_value = -0.38
    subregion_id = factory.SelfAttribute("employer.subregion_id")
    size_class = 1
    legal_form = factory.SelfAttribute("employer.legal_form")
    visit_recency = 4


class ScoreCountFactory(DjangoModelFactory):
    class Meta:
        model = "scoring.ScoreCount"

    run = factory.SubFactory(ScoringRunFactory)
    subregion_id = "BE242"
    size_class = 1
    legal_form = LegalForm.BV
    visit_recency = 4
    band = 4
    employers = 1


class NoteFactory(DjangoModelFactory):
    class Meta:
        model = "workspace.Note"

    employer = factory.SubFactory(EmployerFactory)
    author = factory.SubFactory(UserFactory)
    text = factory.Sequence(lambda n: f"Note {n}: seen on site")
