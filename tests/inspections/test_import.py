"""CSV imports that succeed: created, updated and unchanged rows; formats; the command
and the DataImport record. Refused files are in test_import_bad_input.py."""

from __future__ import annotations

import datetime as dt
import random
import string
from decimal import Decimal

import numpy as np
import pytest
from django.db import connection
from stdnum.be import vat

from inspections.models import Declaration, Employer, Finding, Inspection
from inspections.services.imports import declaration_import, employer_import, inspection_import
from inspections.services.imports.checks import Problems, RowChecks
from miningwatch import bulk
from tests.factories import EmployerFactory, InspectionFactory, UserFactory

from .import_support import (
    DECLARATION_COLUMNS,
    EMPLOYER_COLUMNS,
    INSPECTION_COLUMNS,
    csv_text,
    csv_write,
    db_state,
    declaration_row,
    employer_row,
    enterprise_number,
    inspection_row,
)

pytestmark = pytest.mark.django_db


def _employers_file(tmp_path, count=3, **options):
    return csv_write(tmp_path / "employers.csv", [employer_row(n) for n in range(count)], EMPLOYER_COLUMNS, **options)


# --- Employers --------------------------------------------------------------------------


def test_employers_are_created_with_derived_sector_and_subregion(tmp_path):
    result = employer_import(path=_employers_file(tmp_path))
    assert result.ok, result.errors
    assert (result.rows_read, result.rows_created, result.rows_updated, result.rows_unchanged) == (3, 3, 0, 0)
    employer = Employer.objects.get(enterprise_number=enterprise_number(1))
    assert employer.name == "Bouwbedrijf 1 BV"
    assert employer.nsso_number == "500000001"
    assert employer.nace_id == "43.320"
    assert employer.sector_id == "construction"
    assert employer.postal_code_id == "3000"
    assert employer.subregion_id == "BE242"  # Leuven
    assert employer.start_date == dt.date(2015, 3, 1)
    assert employer.end_date is None
    assert employer.updated_at is not None


def test_reimporting_the_same_file_changes_nothing(tmp_path):
    path = _employers_file(tmp_path)
    employer_import(path=path)
    before = db_state()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM inspections_employer ORDER BY id")
        versions = cursor.fetchall()
    result = employer_import(path=path)
    assert (result.rows_created, result.rows_updated, result.rows_unchanged) == (0, 0, 3)
    assert db_state() == before
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, xmin::text FROM inspections_employer ORDER BY id")
        assert cursor.fetchall() == versions  # no row was rewritten, not even identically


def test_a_changed_row_is_updated_and_only_it(tmp_path):
    employer_import(path=_employers_file(tmp_path))
    untouched = Employer.objects.get(enterprise_number=enterprise_number(0)).updated_at
    rows = [employer_row(0), employer_row(1, name="Nieuwe Naam BV", postal_code="1000", end_date="2024-06-30")]
    result = employer_import(path=csv_write(tmp_path / "changed.csv", rows, EMPLOYER_COLUMNS))
    assert (result.rows_created, result.rows_updated, result.rows_unchanged) == (0, 1, 1)
    changed = Employer.objects.get(enterprise_number=enterprise_number(1))
    assert (changed.name, changed.subregion_id, changed.end_date) == ("Nieuwe Naam BV", "BE100", dt.date(2024, 6, 30))
    assert Employer.objects.get(enterprise_number=enterprise_number(0)).updated_at == untouched
    assert Employer.objects.count() == 3  # employers absent from a file are kept


def test_bom_semicolons_crlf_and_column_order_are_accepted(tmp_path):
    columns = list(reversed(EMPLOYER_COLUMNS))
    path = csv_write(
        tmp_path / "excel.csv", [employer_row(n) for n in range(2)], columns, delimiter=";", bom=True, newline="\r\n"
    )
    result = employer_import(path=path)
    assert (result.ok, result.rows_created) == (True, 2)
    assert Employer.objects.filter(enterprise_number=enterprise_number(1), name="Bouwbedrijf 1 BV").exists()


def test_quoted_values_spaces_blank_lines_and_written_forms_of_numbers(tmp_path):
    text = (
        "enterprise_number,nsso_number,name,legal_form,nace_code,joint_committee,postal_code,start_date,end_date\n"
        f" BE {enterprise_number(1)[:4]}.{enterprise_number(1)[4:7]}.{enterprise_number(1)[7:]} ,"
        ' 500000001 ,"Schoonmaak, Poets & Co ""De Bezem"" BV",bv , 81.210,121,1000 , 2010-01-31,\n'
        "\n"
        f"{enterprise_number(2)[1:]},,Horeca 2,VZW,56.101,302,9000,2001-05-01,2020-12-31\n"
        "\n\n"
    )
    path = tmp_path / "quoted.csv"
    path.write_text(text, encoding="utf-8")
    result = employer_import(path=path)
    assert result.ok, result.errors
    assert result.rows_read == 2
    first = Employer.objects.get(enterprise_number=enterprise_number(1))
    assert first.name == 'Schoonmaak, Poets & Co "De Bezem" BV'
    assert (first.legal_form, first.nsso_number, first.sector_id) == ("BV", "500000001", "cleaning")
    second = Employer.objects.get(enterprise_number=enterprise_number(2))  # old 9-digit form
    assert (second.nsso_number, second.end_date) == (None, dt.date(2020, 12, 31))


def test_backslashes_and_accents_survive_copy(tmp_path):
    rows = [employer_row(1, name="Café \\N Back\\slash ëàç 東京")]
    result = employer_import(path=csv_write(tmp_path / "odd.csv", rows, EMPLOYER_COLUMNS))
    assert result.ok, result.errors
    assert Employer.objects.get().name == "Café \\N Back\\slash ëàç 東京"
    assert employer_import(path=tmp_path / "odd.csv").rows_unchanged == 1


def test_a_file_with_only_a_header_imports_nothing_and_succeeds(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text(",".join(EMPLOYER_COLUMNS), encoding="utf-8")  # not even a final line feed
    result = employer_import(path=path)
    assert (result.ok, result.rows_read, result.rows_created) == (True, 0, 0)


def test_an_existing_employer_keeps_its_id_and_relations(tmp_path):
    employer = EmployerFactory(enterprise_number=enterprise_number(0), nsso_number="500000000")
    InspectionFactory(employer=employer)
    result = employer_import(path=_employers_file(tmp_path, count=2))
    assert (result.rows_created, result.rows_updated) == (1, 1)
    employer.refresh_from_db()
    assert employer.name == "Bouwbedrijf 0 BV"
    assert employer.inspections.count() == 1


def test_bulk_mode_restores_every_index_and_constraint(tmp_path, monkeypatch):
    def definitions() -> list[tuple[str, ...]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'inspections_employer' "
                "UNION ALL SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = 'inspections_employer'::regclass ORDER BY 1, 2"
            )
            return cursor.fetchall()

    before = definitions()
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    result = employer_import(path=_employers_file(tmp_path, count=5))
    assert (result.ok, result.rows_created) == (True, 5)
    assert definitions() == before
    assert len(before) > 10


def test_bulk_mode_counts_rows_not_blank_lines(tmp_path, monkeypatch):
    incoming = []

    def wanted(cursor, table, rows):
        incoming.append(rows)
        return False

    monkeypatch.setattr(bulk, "bulk_mode_wanted", wanted)
    text = csv_text([employer_row(1)], EMPLOYER_COLUMNS) + "\n \r\n" * 30_000
    path = tmp_path / "blank.csv"
    path.write_text(text, encoding="utf-8")
    result = employer_import(path=path)
    assert (result.ok, result.rows_created, incoming) == (True, 1, [1])


def test_copy_stream_overlaps_several_chunks(tmp_path, monkeypatch):
    from inspections.services.imports import reading

    monkeypatch.setattr(reading, "CHUNK_ROWS", 7)
    rows = [employer_row(n) for n in range(50)]
    result = employer_import(path=csv_write(tmp_path / "chunks.csv", rows, EMPLOYER_COLUMNS))
    assert (result.ok, result.rows_created) == (True, 50)
    result = employer_import(path=csv_write(tmp_path / "again.csv", rows[::-1], EMPLOYER_COLUMNS))
    assert (result.rows_created, result.rows_unchanged) == (0, 50)


# --- The enterprise number rule -----------------------------------------------------------


def _candidates(count: int) -> list[str]:
    """Random and edge-case strings around the enterprise-number rule."""
    rng = random.Random(97)
    valid = [f"{b:08d}{97 - b % 97:02d}" for b in (rng.randrange(0, 20_000_000) for _ in range(count // 4))]
    edge = ["", "0", "0000000000", "0000000097", "0000000194", "1999999999", "2000000097", "0403170701", "403170701"]
    edge += ["BE0403170701", "be 0403.170.701", "(0)403170701", "0403-170-701", "04031707O1", "０４０３１７０７０１"]
    edge += [
        "0403170701\n",
        " 0403170701 ",
        "BE403170701",
        "BEBE0403170701",
        "04031707012",
        "٠٤٠٣١٧٠٧٠١",
        "0403170701.",
    ]
    out = list(edge)
    for number in valid:
        kind = rng.randrange(8)
        if kind == 0:  # one digit changed
            i = rng.randrange(10)
            number = number[:i] + str((int(number[i]) + rng.randrange(1, 10)) % 10) + number[i + 1 :]
        elif kind == 1:
            number = f"{number[:4]}.{number[4:7]}.{number[7:]}"
        elif kind == 2:
            number = "BE" + number
        elif kind == 3:
            number = number[1:]
        elif kind == 4:
            number = number[:-1]
        elif kind == 5:
            number = str(rng.randrange(2, 10)) + number[1:]
        out.append(number)
    alphabet = string.digits * 6 + string.ascii_letters + " .-/()BE\t"
    while len(out) < count:
        out.append("".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 14))))
        out.append("".join(rng.choice(string.digits) for _ in range(10)))
    return out


def test_vectorised_enterprise_number_rule_agrees_with_stdnum():
    candidates = _candidates(120_000)
    problems = Problems(limit=10)
    rows = RowChecks(
        lines=np.arange(len(candidates)), cells={"n": np.array(candidates, dtype=object)}, problems=problems
    )
    numbers, valid, keys = rows.enterprise_numbers_check("n")
    expected = np.array([vat.is_valid(value) for value in candidates])
    disagree = [value for value, a, b in zip(candidates, valid, expected, strict=True) if a != b]
    assert not disagree, disagree[:20]
    assert problems.count == len(candidates) - expected.sum()  # each invalid number reported
    assert 10_000 < expected.sum() < len(candidates) - 10_000  # both outcomes well represented
    for value, number, ok, key in zip(candidates[:5000], numbers, valid, keys, strict=False):
        if ok:
            assert number == vat.compact(value) and key == int(number)


# --- Declarations -------------------------------------------------------------------------------


def _declarations_setup(tmp_path):
    employer_import(path=_employers_file(tmp_path))
    rows = [declaration_row(n) for n in range(3)] + [declaration_row(0, quarter="2024-q4", fte="9.25")]
    return csv_write(tmp_path / "declarations.csv", rows, DECLARATION_COLUMNS)


def test_declarations_are_created_then_unchanged_then_updated(tmp_path):
    path = _declarations_setup(tmp_path)
    result = declaration_import(path=path)
    assert result.ok, result.errors
    assert (result.rows_read, result.rows_created) == (4, 4)
    declaration = Declaration.objects.get(
        employer__enterprise_number=enterprise_number(0), quarter=dt.date(2024, 10, 1)
    )
    assert (declaration.fte, declaration.part_time_share) == (Decimal("9.25"), Decimal("0.300"))
    before = db_state()
    again = declaration_import(path=path)  # 8.5 in the file, 8.50 stored: the same number
    assert (again.rows_created, again.rows_updated, again.rows_unchanged) == (0, 0, 4)
    assert db_state() == before
    rows = [declaration_row(1, headcount="12", gross_wages="130000.5")]
    changed = declaration_import(path=csv_write(tmp_path / "changed.csv", rows, DECLARATION_COLUMNS))
    assert (changed.rows_updated, changed.rows_unchanged) == (1, 0)
    declaration = Declaration.objects.get(employer__enterprise_number=enterprise_number(1))
    assert (declaration.headcount, declaration.gross_wages) == (12, Decimal("130000.50"))


# --- Inspections ----------------------------------------------------------------------------------


def test_inspections_and_findings_are_upserted(tmp_path):
    employer_import(path=_employers_file(tmp_path))
    UserFactory(username="inspector.jan")
    nothing = {"workers_regularised": "", "contributions_recovered": ""}
    rows = [
        inspection_row("INS-1", 0, inspector="inspector.jan"),
        inspection_row("INS-1", 0, "temporary_layoff_fraud", found="no", inspector="inspector.jan", **nothing),
        inspection_row("INS-2", 1, status="planned", visit_date="", found="0", **nothing),
    ]
    path = csv_write(tmp_path / "inspections.csv", rows, INSPECTION_COLUMNS)
    result = inspection_import(path=path)
    assert result.ok, result.errors
    assert (result.rows_read, result.rows_created) == (3, 3)
    inspection = Inspection.objects.get(reference="INS-1")
    assert inspection.inspector.username == "inspector.jan"
    assert inspection.findings.count() == 2
    assert Finding.objects.get(inspection=inspection, offence_type="undeclared_work").contributions_recovered == 1500
    assert Inspection.objects.get(reference="INS-2").visit_date is None
    before = db_state()
    again = inspection_import(path=path)
    assert (again.rows_created, again.rows_updated, again.rows_unchanged) == (0, 0, 3)
    assert db_state() == before
    created = Inspection.objects.get(reference="INS-2").created_at
    rows[2] = inspection_row("INS-2", 1, status="completed", found="yes")
    changed = inspection_import(path=csv_write(tmp_path / "changed.csv", rows, INSPECTION_COLUMNS))
    assert (changed.rows_created, changed.rows_updated, changed.rows_unchanged) == (0, 1, 2)
    assert Inspection.objects.get(reference="INS-2").status == "completed"
    assert Inspection.objects.get(reference="INS-2").created_at == created  # kept by an update
    # A finding added to an inspection that changes is created, and its sibling updated.
    rows += [inspection_row("INS-2", 1, "part_time_abuse", status="cancelled", found="no", **nothing)]
    rows[2] = inspection_row("INS-2", 1, status="cancelled", found="yes")
    grown = inspection_import(path=csv_write(tmp_path / "grown.csv", rows, INSPECTION_COLUMNS))
    assert (grown.rows_created, grown.rows_updated, grown.rows_unchanged) == (1, 1, 2)


def test_header_names_ignore_case_and_spaces(tmp_path):
    path = _employers_file(tmp_path, count=1)
    text = path.read_text(encoding="utf-8").split("\n", 1)
    header = ", ".join(f" {name.upper()} " for name in EMPLOYER_COLUMNS)
    path.write_text(header + "\n" + text[1], encoding="utf-8")
    assert employer_import(path=path).rows_created == 1


def test_declarations_in_bulk_mode(tmp_path, monkeypatch):
    employer_import(path=_employers_file(tmp_path, count=5))  # its foreign-key checks are still pending
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)
    rows = [declaration_row(n, quarter=f"2023-Q{q}") for n in range(5) for q in range(1, 5)]
    result = declaration_import(path=csv_write(tmp_path / "many.csv", rows, DECLARATION_COLUMNS, delimiter=";"))
    assert (result.ok, result.rows_created) == (True, 20)
    assert Declaration.objects.filter(quarter=dt.date(2023, 10, 1)).count() == 5
