"""`manage.py retrain` and `manage.py rescore`: the services the nightly task runs, by hand."""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from inspections.models import Employer, Inspection
from scoring.models import ModelStatus, ModelVersion, RunStatus, Score, ScoringRun
from tests.scoring.conftest import AS_OF, OFFENCE, SECTOR, generated_data


@pytest.fixture(scope="module")
def data(django_db_setup, django_db_blocker) -> Iterator[None]:
    with generated_data(django_db_blocker):
        yield


def _call(name: str, *args: str) -> str:
    out = StringIO()
    call_command(name, *args, stdout=out, stderr=StringIO(), verbosity=0)
    return out.getvalue()


@pytest.mark.django_db
def test_retrain_then_rescore_publish_scores_for_every_active_employer(data) -> None:
    # No inspection in hospitality: that pair is refused, reported, and does not stop cleaning.
    Inspection.objects.filter(employer__sector="hospitality").delete()
    pair = ["--offence", OFFENCE, "--as-of", AS_OF.isoformat()]

    retrained = _call("retrain", "--sector", "hospitality", "--sector", SECTOR, *pair)

    version = ModelVersion.objects.get()
    assert (version.sector_id, version.offence_type_id, version.status) == (SECTOR, OFFENCE, ModelStatus.ACTIVE)
    lines = retrained.splitlines()
    assert lines[0].split() == ["sector", "offence", "version", "status", "AUC", "lift", "note"]
    cleaning_row = next(line for line in lines if line.startswith(SECTOR)).split()
    assert cleaning_row[:4] == [SECTOR, OFFENCE, str(version.pk), "active"]
    low, high = version.metrics["intervals"]["roc_auc"]
    assert cleaning_row[4:6] == [f"{version.metrics['roc_auc']:.3f}", f"({low:.3f}-{high:.3f})"]
    controls = version.metrics["random_controls"]["validation_rows"]
    assert f"on {controls} random controls" in next(line for line in lines if line.startswith(SECTOR))
    hospitality_row = next(line for line in lines if line.startswith("hospitality"))
    assert "refused" in hospitality_row and "No completed inspection" in hospitality_row
    assert "1 of 2 new versions activated." in retrained

    rescored = _call("rescore", "--sector", SECTOR, *pair)

    run = ScoringRun.objects.get()
    assert run.status == RunStatus.SUCCEEDED and run.model_version == version and run.as_of == AS_OF
    employers = set(Employer.objects.filter(sector=SECTOR).active_on(AS_OF).values_list("pk", flat=True))
    assert set(Score.objects.filter(run=run).values_list("employer_id", flat=True)) == employers
    run_row = next(line for line in rescored.splitlines() if line.startswith(str(run.pk))).split()
    assert run_row[:6] == [str(run.pk), SECTOR, OFFENCE, str(version.pk), "succeeded", str(len(employers))]
    assert "red" in run_row and "blue" in run_row
    assert "1 of 1 runs published." in rescored


@pytest.mark.django_db
def test_rescore_without_active_model_scores_nothing() -> None:
    assert "nothing scored" in _call("rescore", "--sector", SECTOR)
    assert not ScoringRun.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("command", ["retrain", "rescore"])
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sector", "mining"], "Unknown sector 'mining'. Valid codes: cleaning, construction, hospitality."),
        (
            ["--sector", SECTOR, "--offence", "theft"],
            "Unknown offence type 'theft'. Valid codes: bogus_self_employment, part_time_abuse, "
            "temporary_layoff_fraud, undeclared_work.",
        ),
        (["--as-of", "2026-13-01"], "--as-of must be a date as YYYY-MM-DD (e.g. 2026-10-01), not '2026-13-01'."),
        (["--as-of", "1/10/2026"], "--as-of must be a date as YYYY-MM-DD (e.g. 2026-10-01), not '1/10/2026'."),
    ],
)
def test_bad_arguments_are_refused_in_words_and_change_nothing(command: str, args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as refused:
        _call(command, *args)
    assert str(refused.value) == message
    assert not ModelVersion.objects.exists()
    assert not ScoringRun.objects.exists()
