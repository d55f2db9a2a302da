"""The words of employer names (EmployerWord), kept by the employer table's triggers."""

from __future__ import annotations

import pytest
from django.db import connection

from inspections.models import Employer, EmployerWord, PostalCode
from inspections.services.imports import employer_import
from inspections.services.imports.kinds import EMPLOYER_COLUMNS
from miningwatch import bulk
from tests.factories import EmployerFactory
from tests.inspections.import_support import csv_write, employer_row

pytestmark = pytest.mark.django_db


def _words(employer: Employer) -> set[tuple[str, str, str]]:
    rows = EmployerWord.objects.filter(employer_id=employer.pk).values_list("word", "sector_id", "subregion_id")
    return set(rows)


def _found(text: str, sector: str = "construction", subregions: list[str] | None = None) -> set[int]:
    return set(EmployerWord.objects.employer_ids(text, sector=sector, subregions=subregions))


def test_a_new_employer_has_the_distinct_lower_case_words_of_its_name() -> None:
    employer = EmployerFactory(name="Bouwwerken JANSSENS & Janssens-Zonen (Café 2) BV")
    words = {word for word, _, _ in _words(employer)}
    assert words == {"bouwwerken", "janssens", "zonen", "café", "2", "bv"}
    assert {(sector, place) for _, sector, place in _words(employer)} == {("construction", "BE242")}


def test_a_renamed_or_moved_employer_has_its_new_words_only() -> None:
    employer = EmployerFactory(name="Peeters Bouw")
    employer.name = "Dubois Construct"
    employer.postal_code = PostalCode.objects.get(code="1000")
    employer.save()
    assert _words(employer) == {("dubois", "construction", "BE100"), ("construct", "construction", "BE100")}


def test_an_update_that_keeps_name_and_place_keeps_the_words() -> None:
    employer = EmployerFactory(name="Peeters Bouw")
    Employer.objects.filter(pk=employer.pk).update(joint_committee="124.00")
    assert {word for word, _, _ in _words(employer)} == {"peeters", "bouw"}


def test_deleted_and_truncated_employers_leave_no_words() -> None:
    kept, gone = EmployerFactory(name="Peeters Bouw"), EmployerFactory(name="Dubois Bouw")
    gone.delete()
    assert EmployerWord.objects.filter(employer_id=gone.pk).count() == 0
    assert _words(kept)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the factories' deferred checks, first
        cursor.execute("TRUNCATE inspections_employer CASCADE")
    assert EmployerWord.objects.count() == 0


def test_search_by_word_starts_in_any_order_and_case() -> None:
    bouw = EmployerFactory(name="Bouwwerken Janssens BV")
    other = EmployerFactory(name="Janssen Schilderwerken")
    assert _found("jans bouw") == {bouw.pk}
    assert _found("JANSSEN") == {bouw.pk, other.pk}
    assert _found("werken") == set()  # the start of a word, not its middle
    assert _found("janssens janssens") == {bouw.pk}


def test_search_within_sub_regions_and_sector() -> None:
    leuven = EmployerFactory(name="Janssens BV")
    brussels = EmployerFactory(name="Janssens NV", postal_code=PostalCode.objects.get(code="1000"))
    assert _found("janssens", subregions=["BE100"]) == {brussels.pk}
    assert _found("janssens", subregions=["BE242", "BE100"]) == {leuven.pk, brussels.pk}
    assert _found("janssens", sector="hospitality") == set()


@pytest.mark.parametrize("text", ["", "  ", "&|!:*()", "%", "_", "'; DROP TABLE x; --"])
def test_a_search_without_words_or_with_operators_finds_nothing_and_fails_not(text: str) -> None:
    EmployerFactory(name="Janssens BV")
    assert _found(text) == set()


def test_a_bulk_import_fills_the_words_and_rebuilds_their_index(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    rows = [employer_row(n, name=f"Aannemer{n} Peeters") for n in range(3)]
    assert employer_import(path=csv_write(tmp_path / "employers.csv", rows, EMPLOYER_COLUMNS)).ok
    assert len(_found("peeters")) == 3
    assert len(_found("aannemer1")) == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'employer_word_prefix'")
        assert "(sector_id, word, subregion_id, employer_id)" in cursor.fetchone()[0]
    renamed = [employer_row(0, name="Dubois")]
    assert employer_import(path=csv_write(tmp_path / "renamed.csv", renamed, EMPLOYER_COLUMNS)).rows_updated == 1
    assert len(_found("peeters")) == 2
    assert len(_found("dubois")) == 1
