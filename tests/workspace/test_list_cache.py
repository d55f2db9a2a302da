"""The ranked list's rendered results are kept in the shared cache, and never outlive their data."""

from __future__ import annotations

import datetime as dt

from django.core.cache import cache
from django.urls import reverse

from inspections.models import DataImport, Employer
from inspections.services.data_imports import data_import_execute
from miningwatch import stamps
from tests.inspections.import_support import EMPLOYER_COLUMNS, csv_write, employer_row
from tests.workspace.support import OFFENCE, SECTOR, inspect, publish_run, ranks_shown, table_rows

LIST = reverse("workspace:ranked_list")
QUERY = {"sector": SECTOR, "offence": OFFENCE}


def test_the_same_list_again_is_served_from_the_cache(ranked, logged_in, django_assert_num_queries) -> None:
    first = logged_in.get(LIST, QUERY)
    # The user, their regions, their open worklist employers (the cache key holds them),
    # permissions (two, for the navigation), and the form's check of the chosen sector and
    # offence type (two; the form is rendered on every page): no run or score query.
    with django_assert_num_queries(7):
        again = logged_in.get(LIST, QUERY)
    assert again.status_code == 200
    assert table_rows(again.content.decode(), "ranked-table") == table_rows(first.content.decode(), "ranked-table")


def test_an_htmx_request_gets_the_cached_results_too(ranked, logged_in) -> None:
    logged_in.get(LIST, QUERY)
    partial = logged_in.get(LIST, QUERY, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="ranked-table"' in partial and "<html" not in partial


def test_a_new_inspection_shows_at_once(ranked, logged_in, django_capture_on_commit_callbacks) -> None:
    logged_in.get(LIST, QUERY)
    with django_capture_on_commit_callbacks(execute=True):
        inspect(ranked.employer(1), dt.date(2026, 3, 2), found=True, offence=OFFENCE)
    rows = table_rows(logged_in.get(LIST, QUERY).content.decode(), "ranked-table")
    assert rows[0][-1].endswith(": found")


def test_a_renamed_employer_shows_at_once(ranked, logged_in, django_capture_on_commit_callbacks) -> None:
    logged_in.get(LIST, QUERY)
    employer = Employer.objects.get(pk=ranked.employer(1).pk)
    employer.name = "Renamed Cleaning BV"
    with django_capture_on_commit_callbacks(execute=True):
        employer.save()
    assert "Renamed Cleaning BV" in logged_in.get(LIST, QUERY).content.decode()


def _import(path, django_capture_on_commit_callbacks) -> DataImport:
    data_import = DataImport.objects.create(kind=DataImport.Kind.EMPLOYERS, file_path=str(path))
    with django_capture_on_commit_callbacks(execute=True):
        data_import_execute(data_import_id=data_import.pk)
    data_import.refresh_from_db()
    return data_import


def test_a_successful_import_forgets_the_rendered_lists(db, tmp_path, django_capture_on_commit_callbacks) -> None:
    before = _stamps_now()
    path = csv_write(tmp_path / "employers.csv", [employer_row(1)], EMPLOYER_COLUMNS)
    assert _import(path, django_capture_on_commit_callbacks).status == DataImport.Status.SUCCEEDED
    assert _stamps_now()[1] != before[1] and _stamps_now()[0] == before[0]


def test_a_refused_import_keeps_the_rendered_lists(db, tmp_path, django_capture_on_commit_callbacks) -> None:
    before = _stamps_now()
    path = csv_write(tmp_path / "employers.csv", [employer_row(1, enterprise_number="0123456789")], EMPLOYER_COLUMNS)
    assert _import(path, django_capture_on_commit_callbacks).status == DataImport.Status.REFUSED
    assert _stamps_now() == before


def test_a_new_run_replaces_the_list_at_once(ranked, logged_in, django_capture_on_commit_callbacks) -> None:
    before = logged_in.get(LIST, QUERY)
    assert before.context["run"] == ranked.run
    newer = publish_run(30)
    with django_capture_on_commit_callbacks(execute=True):
        stamps.stamp_bump(stamps.SCORES)  # what scoring_run_execute does when it publishes
    after = logged_in.get(LIST, QUERY)
    assert after.context["run"] == newer.run
    assert ranks_shown(after) == list(range(1, 31))


def test_inspectors_of_other_regions_never_share_a_rendered_list(ranked, client, inspector, walloon_inspector) -> None:
    client.force_login(inspector)
    everywhere = client.get(LIST, QUERY).content.decode()
    client.force_login(walloon_inspector)
    walloon = client.get(LIST, QUERY).content.decode()
    assert "Antwerp" in {row[4] for row in table_rows(everywhere, "ranked-table")}
    assert {row[4] for row in table_rows(walloon, "ranked-table")} == {"Liège"}


def test_each_language_has_its_own_rendered_list(ranked, logged_in) -> None:
    english = logged_in.get(LIST, QUERY).content.decode()
    dutch = logged_in.get(LIST, QUERY, HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert table_rows(english, "ranked-table")[0][1] == "red"
    assert table_rows(dutch, "ranked-table")[0][1] == "rood"


def test_a_lost_stamp_only_makes_new_keys(ranked, logged_in) -> None:
    logged_in.get(LIST, QUERY)
    cache.delete("stamp:" + stamps.SCORES)  # evicted, or Redis restarted
    again = logged_in.get(LIST, QUERY)
    assert again.status_code == 200 and again.context["run"] == ranked.run  # rendered anew


def _stamps_now() -> list[str]:
    return stamps.stamps_read(stamps.SCORES, stamps.INSPECTIONS)
