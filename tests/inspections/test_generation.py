"""The synthetic-data generator: reproducible, valid, calibrated, and with a signal worth modelling."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, F, Q
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from stdnum.be import vat

from inspections.models import (
    Declaration,
    Employer,
    Finding,
    Inspection,
    InspectionOrigin,
    InspectionStatus,
)
from inspections.services.generation import (
    OFFENCES,
    TRUTH_HEADER,
    GenerationError,
    GenerationSummary,
    _Column,
    _fixed_width_text,
    demo_data_generate,
)

# Enough employers, and ten times the usual inspection rate, for stable rates in a few seconds.
EMPLOYERS = 4000
INSPECTION_RATE = 0.5


@pytest.fixture(scope="module")
def truth_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("truth") / "truth.csv"


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker, truth_path: Path) -> Iterator[GenerationSummary]:
    """One generation shared by the read-only tests below (its truth in truth_path), removed again afterwards."""
    with django_db_blocker.unblock():
        summary = demo_data_generate(
            employers=EMPLOYERS, seed=2026, inspection_rate=INSPECTION_RATE, replace=True, truth=truth_path
        )
        yield summary
        tables = ", ".join(
            connection.ops.quote_name(m._meta.db_table) for m in (Finding, Inspection, Declaration, Employer)
        )
        with connection.cursor() as cursor:
            cursor.execute(f"TRUNCATE {tables} CASCADE")


def _content_hash() -> str:
    """A digest of every generated row, keyed by natural keys rather than database ids."""
    return hashlib.sha256("".join(_table_digests().values()).encode()).hexdigest()


def _table_digests() -> dict[str, str]:
    """A digest of each generated table's rows, keyed by natural keys rather than database ids."""
    querysets = {
        "employers": Employer.objects.order_by("enterprise_number").values_list(
            "enterprise_number", "nsso_number", "name", "legal_form", "nace_id", "sector_id", "joint_committee",
            "postal_code_id", "subregion_id", "start_date", "end_date",
        ),
        "declarations": Declaration.objects.order_by("employer__enterprise_number", "quarter").values_list(
            "employer__enterprise_number", "quarter", "headcount", "fte", "part_time_share", "declared_hours",
            "gross_wages", "temporary_unemployment_days", "hires", "exits", "short_contracts", "posted_workers",
            "social_security_debt",
        ),
        "inspections": Inspection.objects.order_by("reference").values_list(
            "reference", "employer__enterprise_number", "origin", "status", "planned_date", "visit_date", "created_at"
        ),
        "findings": Finding.objects.order_by("inspection__reference", "offence_type_id").values_list(
            "inspection__reference", "offence_type_id", "found", "workers_regularised", "contributions_recovered"
        ),
    }  # fmt: skip
    digests = {}
    for table, queryset in querysets.items():
        digest = hashlib.sha256()
        for row in queryset.iterator(chunk_size=5000):
            digest.update(repr(row).encode())
        digests[table] = digest.hexdigest()
    return digests


# --- Reproducibility and refusal (each in its own transaction) ------------------------


@pytest.mark.django_db
def test_same_seed_gives_the_same_data_and_another_seed_other_data() -> None:
    demo_data_generate(employers=1500, seed=7, replace=True)
    first = _content_hash()
    demo_data_generate(employers=1500, seed=7, replace=True)
    assert _content_hash() == first
    demo_data_generate(employers=1500, seed=8, replace=True)
    assert _content_hash() != first


@pytest.mark.django_db
def test_mechanisms_b_changes_how_fraud_shows_and_nothing_else(tmp_path: Path) -> None:
    """Same seed: the same employers, fraudsters, inspections and findings; other declarations."""
    demo_data_generate(employers=1500, seed=7, replace=True, truth=tmp_path / "a.csv")
    first = _table_digests()
    summary = demo_data_generate(employers=1500, seed=7, replace=True, mechanisms="b", truth=tmp_path / "b.csv")
    second = _table_digests()
    assert summary.mechanisms == "b"
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert {t: first[t] == second[t] for t in first} == {
        "employers": True,
        "declarations": False,
        "inspections": True,
        "findings": True,
    }


@pytest.mark.django_db
def test_rejects_unknown_mechanisms() -> None:
    with pytest.raises(GenerationError, match="mechanisms must be one of a, b"):
        demo_data_generate(employers=10, seed=1, mechanisms="c")
    assert not Employer.objects.exists()


@pytest.mark.django_db
def test_refuses_to_add_to_existing_employers_unless_replacing() -> None:
    demo_data_generate(employers=200, seed=1, replace=True)
    with pytest.raises(GenerationError, match="already holds 200 employers"):
        demo_data_generate(employers=300, seed=2)
    assert Employer.objects.count() == 200
    demo_data_generate(employers=300, seed=2, replace=True)
    assert Employer.objects.count() == 300


@pytest.mark.django_db
def test_rejects_an_end_quarter_that_does_not_start_a_quarter() -> None:
    with pytest.raises(GenerationError, match="first day of a quarter"):
        demo_data_generate(employers=10, seed=1, end_quarter=dt.date(2026, 8, 1))


@pytest.mark.django_db
def test_command_prints_the_summary(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("generate_data", employers=300, seed=3, replace=True, verbosity=0)
    assert "300 employers" in capsys.readouterr().out
    assert Employer.objects.count() == 300


@pytest.mark.django_db
def test_command_takes_the_mechanisms_and_a_truth_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "truth.csv"
    call_command("generate_data", "--mechanisms", "b", "--truth", str(path), employers=300, seed=3, replace=True)
    out = capsys.readouterr().out
    assert "fraud mechanisms b" in out and f"Ground truth written to {path}" in out
    assert path.read_text().splitlines()[0] == ",".join(TRUTH_HEADER)


def test_fixed_width_text_is_what_copy_reads() -> None:
    text = _fixed_width_text(
        [
            _Column(np.array([7, 1234])),
            _Column(np.array([5, 123456]), decimals=2),
            _Column(np.array(["2024-01-01", "2026-07-01"], dtype="datetime64[D]")),
        ]
    )
    assert text == b"0007\t0000.05\t2024-01-01\n1234\t1234.56\t2026-07-01\n"


# --- The shared generation --------------------------------------------------------------


@pytest.mark.django_db
def test_summary_matches_the_tables(generated: GenerationSummary) -> None:
    assert Employer.objects.count() == generated.employers == EMPLOYERS
    assert Declaration.objects.count() == generated.declarations
    assert Inspection.objects.count() == generated.inspections
    assert Finding.objects.count() == generated.findings
    assert Finding.objects.filter(found=True).count() == generated.offences_found


@pytest.mark.django_db
def test_enterprise_numbers_are_valid_and_unique(generated: GenerationSummary) -> None:
    numbers = list(Employer.objects.values_list("enterprise_number", flat=True))
    assert all(vat.is_valid(number) for number in numbers)
    assert len(set(numbers)) == len(numbers)
    nsso = list(Employer.objects.values_list("nsso_number", flat=True))
    assert len(set(nsso)) == len(nsso) and all(len(n) == 10 and n.isdigit() for n in nsso)


@pytest.mark.django_db
def test_sector_mix_and_denormalised_columns(generated: GenerationSummary) -> None:
    shares = {
        row["sector_id"]: row["n"] / EMPLOYERS for row in Employer.objects.values("sector_id").annotate(n=Count("id"))
    }
    assert shares["construction"] == pytest.approx(0.55, abs=0.03)
    assert shares["hospitality"] == pytest.approx(0.30, abs=0.03)
    assert shares["cleaning"] == pytest.approx(0.15, abs=0.03)
    assert not Employer.objects.exclude(sector_id=F("nace__sector_id")).exists()
    assert not Employer.objects.exclude(subregion_id=F("postal_code__subregion_id")).exists()
    assert not Employer.objects.exclude(joint_committee=F("sector__joint_committee")).exists()
    assert Employer.objects.filter(end_date__isnull=False).exists()


@pytest.mark.django_db
def test_at_least_eight_quarters_only_while_active(generated: GenerationSummary) -> None:
    quarters = sorted(set(Declaration.objects.values_list("quarter", flat=True)))
    assert len(quarters) == 12 and quarters[-1] == dt.date(2026, 7, 1)
    closed_before = Declaration.objects.filter(employer__end_date__lte=F("quarter")).count()
    not_started = Declaration.objects.filter(employer__start_date__gte=F("quarter") + dt.timedelta(days=92)).count()
    assert closed_before == not_started == 0


@pytest.mark.django_db
def test_declarations_are_internally_consistent(generated: GenerationSummary) -> None:
    declarations = Declaration.objects.all()
    assert not declarations.filter(fte__gt=F("headcount")).exists()
    assert not declarations.filter(Q(part_time_share__lt=0) | Q(part_time_share__gt=1)).exists()
    assert not declarations.filter(short_contracts__gt=F("hires")).exists()
    frame = pd.DataFrame.from_records(declarations.values("fte", "declared_hours", "gross_wages")).astype(float)
    hours_per_fte = frame.declared_hours.sum() / frame.fte.sum()
    wage_per_hour = frame.gross_wages.sum() / frame.declared_hours.sum()
    assert 380 < hours_per_fte < 470
    assert 14 < wage_per_hour < 25
    for model in (Employer, Declaration, Inspection, Finding):  # field validators, on a sample
        for row in model.objects.order_by("?")[:40]:
            row.full_clean()


@pytest.mark.django_db
def test_every_origin_and_status(generated: GenerationSummary) -> None:
    origins = set(Inspection.objects.values_list("origin", flat=True))
    assert origins == set(InspectionOrigin.values)
    statuses = dict(Inspection.objects.values_list("status").annotate(n=Count("id")))
    assert statuses[InspectionStatus.COMPLETED] > 0.9 * generated.inspections
    assert statuses[InspectionStatus.PLANNED] > 0 and statuses[InspectionStatus.CANCELLED] > 0
    imposed = Inspection.objects.filter(origin__in=["prosecutor", "other_service", "complaint"]).count()
    assert imposed / generated.inspections == pytest.approx(0.70, abs=0.04)
    assert not Finding.objects.exclude(inspection__status=InspectionStatus.COMPLETED).exists()
    assert not Inspection.objects.filter(inspector__isnull=False).exists()
    per_inspection = Finding.objects.values("inspection_id").annotate(n=Count("id")).values_list("n", flat=True)
    assert set(per_inspection) == {1, 2, 3, 4}


@pytest.mark.django_db
def test_random_control_hit_rate_is_near_the_reference_baseline(generated: GenerationSummary) -> None:
    controls = Inspection.objects.filter(origin=InspectionOrigin.RANDOM_CONTROL, status=InspectionStatus.COMPLETED)
    hits = controls.filter(findings__found=True).distinct().count()
    assert controls.count() == generated.random_controls > 400
    assert hits / controls.count() == pytest.approx(generated.random_control_hit_rate)
    assert 0.10 < generated.random_control_hit_rate < 0.22  # the reference baseline is about 16 %
    imposed = Inspection.objects.filter(origin=InspectionOrigin.COMPLAINT, status=InspectionStatus.COMPLETED)
    assert imposed.filter(findings__found=True).distinct().count() / imposed.count() > 0.3  # aimed, so higher


@pytest.mark.django_db
def test_truth_file_lists_every_employer_and_its_offences(generated: GenerationSummary, truth_path: Path) -> None:
    with truth_path.open(newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0]) == TRUTH_HEADER == (
        "enterprise_number", "sector", "undeclared_work", "part_time_abuse", "bogus_self_employment",
        "temporary_layoff_fraud",
    )  # fmt: skip
    truth = pd.DataFrame(rows[1:], columns=rows[0]).set_index("enterprise_number")
    assert dict(Employer.objects.values_list("enterprise_number", "sector_id")) == truth["sector"].to_dict()
    flags = truth[list(OFFENCES)].astype(int)
    assert set(np.unique(flags)) == {0, 1}
    shares = flags.mean()
    assert all(0.02 < share < 0.2 for share in shares), shares  # each offence: a minority of employers
    assert 0.2 < flags.any(axis=1).mean() < 0.45, flags.any(axis=1).mean()


@pytest.mark.django_db
def test_findings_follow_the_truth_but_inspectors_miss_some(generated: GenerationSummary, truth_path: Path) -> None:
    truth = pd.read_csv(truth_path, dtype={"enterprise_number": str}).set_index("enterprise_number")
    findings = pd.DataFrame.from_records(
        Finding.objects.values_list("inspection__employer__enterprise_number", "offence_type_id", "found"),
        columns=["enterprise_number", "offence", "found"],
    )
    commits = [truth.at[number, offence] == 1 for number, offence in findings[["enterprise_number", "offence"]].values]
    findings["commits"] = commits
    # Almost every offence found is one the employer commits; only a few false findings.
    assert findings.loc[findings.found, "commits"].mean() > 0.9
    assert findings.loc[~findings.commits, "found"].mean() < 0.02
    # Checking an offence the employer commits finds it often, but not always: inspectors
    # miss some, and a fraud that starts later cannot be found before it starts.
    assert 0.5 < findings.loc[findings.commits, "found"].mean() < 0.85


@pytest.mark.django_db
def test_a_multivariate_model_beats_any_single_column(generated: GenerationSummary) -> None:
    """Per offence, on employers checked for it: a small model's precision in its top 5 %
    against the best single column (either direction, chosen with hindsight)."""
    _multivariate_check()


@pytest.mark.django_db
def test_a_multivariate_model_beats_any_single_column_with_mechanisms_b() -> None:
    """The same with the other set of mechanisms (generated in this test's transaction)."""
    demo_data_generate(employers=EMPLOYERS, seed=2026, inspection_rate=INSPECTION_RATE, replace=True, mechanisms="b")
    _multivariate_check()


def _multivariate_check() -> None:
    features, labels = _employer_features(), _offence_labels()
    results = {}
    for offence in OFFENCES:
        y = labels[offence].dropna()
        X = features.reindex(y.index)
        X = X.fillna(X.median())
        target = y.to_numpy().astype(int)
        model = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.08, max_leaf_nodes=8, random_state=0)
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        score = cross_val_predict(model, X, target, cv=folds, method="predict_proba")[:, 1]
        single = max(_precision_at(sign * X[c].to_numpy(), target) for c in X.columns for sign in (1, -1))
        results[offence] = (_precision_at(score, target), single, target.mean())
    assert any(model > single + 0.03 for model, single, _ in results.values()), results
    assert all(model > 1.5 * base for model, _, base in results.values()), results


def _precision_at(score: np.ndarray, target: np.ndarray, share: float = 0.05) -> float:
    top = max(1, round(share * target.size))
    return float(target[np.argsort(-score, kind="stable")[:top]].mean())


def _employer_features() -> pd.DataFrame:
    """Simple per-employer aggregates over all declared quarters."""
    d = pd.DataFrame.from_records(
        Declaration.objects.values(
            "employer_id", "quarter", "headcount", "fte", "part_time_share", "declared_hours", "gross_wages",
            "temporary_unemployment_days", "hires", "exits", "short_contracts", "posted_workers",
            "social_security_debt",
        )
    )  # fmt: skip
    numeric = ["fte", "part_time_share", "gross_wages", "social_security_debt"]
    d[numeric] = d[numeric].astype(float)
    workers = d.headcount.clip(lower=1)
    d = d.assign(
        fte_ratio=d.fte / workers,
        hours_per_fte=d.declared_hours / d.fte.clip(lower=0.01),
        wage_per_hour=d.gross_wages / d.declared_hours.clip(lower=1),
        churn=(d.hires + d.exits) / workers,
        short_share=d.short_contracts / d.hires.clip(lower=1),
        layoff_days=d.temporary_unemployment_days / workers,
        posted=d.posted_workers / workers,
        debt=d.social_security_debt / d.gross_wages.clip(lower=1),
        late=d.quarter >= dt.date(2025, 10, 1),
    )
    columns = ["headcount", "fte_ratio", "part_time_share", "hours_per_fte", "wage_per_hour", "churn"]
    columns += ["short_share", "layoff_days", "posted", "debt"]
    features = d.groupby("employer_id")[columns].mean()
    late, early = (
        d[d.late == flag].groupby("employer_id")[["layoff_days", "headcount"]].mean() for flag in (True, False)
    )
    features["layoff_trend"] = late.layoff_days - early.layoff_days
    features["headcount_trend"] = np.log(late.headcount.clip(lower=1) / early.headcount.clip(lower=1))
    employers = pd.DataFrame.from_records(Employer.objects.values("id", "sector_id", "legal_form", "start_date"))
    employers = employers.set_index("id").reindex(features.index)
    features["sector"] = employers.sector_id.astype("category").cat.codes
    features["legal_form"] = employers.legal_form.astype("category").cat.codes
    features["age_days"] = [(dt.date(2026, 10, 1) - start).days for start in employers.start_date]
    return features


def _offence_labels() -> pd.DataFrame:
    """Per employer and offence checked: was it ever found (NaN when never checked)."""
    rows = pd.DataFrame.from_records(Finding.objects.values("inspection__employer_id", "offence_type_id", "found"))
    return rows.groupby(["inspection__employer_id", "offence_type_id"]).found.max().unstack().astype(float)
