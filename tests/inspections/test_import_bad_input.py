"""Files the imports must refuse: each gives a clear message (line, column, reason) and
leaves the database exactly as it was (row counts and a checksum of every row)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from django.test import override_settings

from inspections.services.imports import (
    ImportResult,
    declaration_import,
    employer_import,
    inspection_import,
)
from tests.factories import EmployerFactory

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
    problems,
)

pytestmark = pytest.mark.django_db

HEADER = ",".join(EMPLOYER_COLUMNS)


@pytest.fixture(autouse=True)
def _stored(tmp_path: Path) -> None:
    """Something in every table, so that 'unchanged' means something."""
    good = [employer_row(n) for n in range(3)]
    assert employer_import(path=csv_write(tmp_path / "stored-employers.csv", good, EMPLOYER_COLUMNS)).ok
    declarations = [declaration_row(0)]
    assert declaration_import(path=csv_write(tmp_path / "stored-decl.csv", declarations, DECLARATION_COLUMNS)).ok
    inspections = [inspection_row("INS-0", 0)]
    assert inspection_import(path=csv_write(tmp_path / "stored-insp.csv", inspections, INSPECTION_COLUMNS)).ok


def refused(importer: Callable[..., ImportResult], path: Path) -> ImportResult:
    """Run the import; it must refuse the file and change nothing."""
    before = db_state()
    result = importer(path=path)
    assert not result.ok
    assert (result.rows_created, result.rows_updated, result.rows_unchanged) == (0, 0, 0)
    assert result.error_count >= len(result.errors) > 0
    assert db_state() == before
    return result


def employers_refused(tmp_path: Path, text: str | bytes) -> list[tuple[int, str, str]]:
    path = tmp_path / "employers.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return problems(refused(employer_import, path))


def employers_with(tmp_path: Path, **values: str) -> list[tuple[int, str, str]]:
    """Two good rows and a third with `values`: the problems of that third row (line 4)."""
    rows = [employer_row(10), employer_row(11), employer_row(12, **values)]
    return employers_refused(tmp_path, csv_text(rows, EMPLOYER_COLUMNS))


# --- Not a CSV text file ---------------------------------------------------------------------


def test_empty_file(tmp_path):
    assert employers_refused(tmp_path, b"") == [(0, "", "The file is empty.")]
    assert employers_refused(tmp_path, b"\xef\xbb\xbf\n \n") == [(0, "", "The file is empty: it has no header line.")]


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)) + chunk(b"IDAT", pixels)


def _xlsx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (_png(), "a PNG image"),
        (_xlsx(), "a ZIP archive (an Excel .xlsx or OpenDocument workbook is one)"),
        ("enterprise_number\n".encode("utf-16"), "UTF-16 text"),
        (b"%PDF-1.4\n...", "a PDF document"),
    ],
)
def test_binary_files_renamed_csv(tmp_path, content, kind):
    [(line, column, reason)] = employers_refused(tmp_path, content)
    assert (line, column) == (0, "")
    assert reason.startswith(f"This is not a CSV text file: it looks like {kind};")
    assert "CSV UTF-8" in reason


def test_nul_bytes_mean_binary(tmp_path):
    [(line, _, reason)] = employers_refused(tmp_path, b"\x00\x01\x02binary" * 10)
    assert (line, reason.startswith("This is not a CSV text file (it holds binary data)")) == (0, True)
    rows = [employer_row(n) for n in range(200)]  # beyond the first 8 KiB, the line is given
    text = csv_text(rows, EMPLOYER_COLUMNS) + "x\x00y\n"
    [(line, column, reason)] = employers_refused(tmp_path, text)
    assert (line, column) == (202, "")
    assert reason.startswith("This line holds a NUL byte: this is not a CSV text file;")


def test_latin1_bytes_are_refused_with_line_and_column(tmp_path):
    rows = [employer_row(1), employer_row(2, name="Café Brasserie BV"), employer_row(3, name="Ré")]
    text = csv_text(rows, EMPLOYER_COLUMNS).encode("latin-1")
    found = employers_refused(tmp_path, text)
    assert [(line, column) for line, column, _ in found] == [(3, "name"), (4, "name")]
    assert found[0][2].startswith("Not UTF-8 text (byte 0xE9 in 'Employer") or "0xE9" in found[0][2]
    assert "CSV UTF-8" in found[0][2]


def test_latin1_header(tmp_path):
    text = (HEADER + ",été\n").encode("latin-1")
    [(line, _, reason)] = employers_refused(tmp_path, text)
    assert line == 1 and reason.startswith("The header is not UTF-8 text (byte 0xE9)")


# --- Header ----------------------------------------------------------------------------------


def test_missing_and_unknown_columns(tmp_path):
    text = HEADER.replace("nace_code", "nace").replace(",end_date", "") + "\n"
    assert employers_refused(tmp_path, text) == [
        (1, "nace_code", "This column is missing from the header."),
        (1, "end_date", "This column is missing from the header."),
        (1, "nace", f"Unknown column; the columns are: {', '.join(EMPLOYER_COLUMNS)}."),
    ]


def test_missing_header(tmp_path):
    rows = csv_text([employer_row(1), employer_row(2)], EMPLOYER_COLUMNS).split("\n", 1)[1]
    found = employers_refused(tmp_path, rows)
    assert found[0] == (1, "enterprise_number", "This column is missing from the header.")
    assert {column for _, column, _ in found} >= {enterprise_number(1), "bouwbedrijf 1 bv"}


def test_duplicated_column_and_no_delimiter(tmp_path):
    text = HEADER + ",name\n"
    assert employers_refused(tmp_path, text) == [(1, "name", "This column appears more than once in the header.")]
    [(line, _, reason)] = employers_refused(tmp_path, "just some text\nmore text\n")
    assert line == 1 and reason.startswith("The header has no ',' or ';' between column names")


def test_header_line_too_long(tmp_path):
    [(line, _, reason)] = employers_refused(tmp_path, "x" * 200_000 + "\n")
    assert (line, reason) == (1, "The first line is too long to be a header.")


# --- Structure -------------------------------------------------------------------------------


def test_wrong_column_count_on_lines(tmp_path):
    text = csv_text([employer_row(1), employer_row(2), employer_row(3)], EMPLOYER_COLUMNS)
    lines = text.splitlines()
    lines[1] += ",extra"
    lines[3] = ",".join(lines[3].split(",")[:5])
    found = employers_refused(tmp_path, "\n".join(lines) + "\n")
    assert found == [
        (2, "", "10 value(s) where the header has 9; quote values that contain the delimiter."),
        (4, "", "5 value(s) where the header has 9; quote values that contain the delimiter."),
    ]


def test_line_numbers_count_quoted_line_breaks_and_blank_lines(tmp_path):
    text = (
        csv_text([employer_row(1, name="two\nlines")], EMPLOYER_COLUMNS)
        + "\n\n"
        + csv_text([employer_row(2, postal_code="0000")], EMPLOYER_COLUMNS).split("\n", 1)[1]
    )
    assert employers_refused(tmp_path, text) == [
        (2, "name", "The value holds a tab, a line break or another control character."),
        (6, "postal_code", "'0000' is not a known Belgian postal code."),
    ]


def test_stray_and_unclosed_quotes(tmp_path):
    text = csv_text([employer_row(1)], EMPLOYER_COLUMNS) + 'x,1,Café "De Hoek" BV,BV\n'
    [(line, _, reason)] = employers_refused(tmp_path, text)
    assert line == 3 and reason.startswith('A quote (") inside a value that is not itself enclosed in quotes.')
    text = csv_text([employer_row(1)], EMPLOYER_COLUMNS) + '0403170701,"unclosed\n,,,\n'
    assert employers_refused(tmp_path, text) == [(3, "", "A quoted value starts on this line and is never closed.")]


def test_an_unclosed_quote_is_listed_before_the_bad_lines_it_swallows(tmp_path):
    rows = csv_text([employer_row(1)], EMPLOYER_COLUMNS).encode("utf-8")
    text = rows + b'0403170701,"unclosed\n' + b"caf\xe9\n" * 5
    path = tmp_path / "employers.csv"
    path.write_bytes(text)
    result = employer_import(path=path, max_errors=2)
    assert result.error_count == 6
    assert problems(result)[0] == (3, "", "A quoted value starts on this line and is never closed.")


def test_once_values_cannot_be_read_only_that_is_reported(tmp_path, monkeypatch):
    from inspections.services.imports import reading

    monkeypatch.setattr(reading, "CHUNK_ROWS", 2)  # the bad dates are in chunks checked before
    rows = [employer_row(n, start_date="2024-02-30") for n in range(5)]
    text = csv_text(rows, EMPLOYER_COLUMNS).encode("utf-8") + "0403170701,,Caf\xe9\n".encode("latin-1")
    found = employers_refused(tmp_path, text)
    assert [(line, column) for line, column, _ in found] == [(7, "name")]
    assert found[0][2].startswith("Not UTF-8 text")


def test_lone_carriage_returns(tmp_path):
    text = csv_text([employer_row(1), employer_row(2)], EMPLOYER_COLUMNS).replace("\n", "\r")
    assert employers_refused(tmp_path, text) == [
        (
            1,
            "",
            "Lines end with a carriage return (CR) alone: save the file with Windows (CRLF) or Unix (LF) line endings.",
        )
    ]
    text = csv_text([employer_row(1), employer_row(2)], EMPLOYER_COLUMNS)
    text = text.replace("Bouwbedrijf 1", "Bouw\rbedrijf")
    [(line, _, reason)] = employers_refused(tmp_path, text)
    assert line == 2 and reason.startswith("A carriage return (CR) without a line feed")


@override_settings(IMPORT_MAX_CELL_CHARS=1000)
def test_a_ten_million_character_cell(tmp_path):
    rows = [employer_row(1), employer_row(2, name="x" * 10_000_000), employer_row(3)]
    assert employers_refused(tmp_path, csv_text(rows, EMPLOYER_COLUMNS)) == [
        (3, "name", "The value has 10000000 characters; at most 1000 are allowed.")
    ]


# --- Values: employers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("0403170702", "the last two digits (the mod-97 check) do not match the first eight"),
        ("04031707", "it must have 10 digits"),
        ("040317070123", "it must have 10 digits"),
        ("04031707AB", "it must be made of digits, e.g. 0403170701"),
        ("2403170797", "it must start with 0 or 1"),
    ],
)
def test_invalid_enterprise_numbers(tmp_path, value, why):
    assert employers_with(tmp_path, enterprise_number=value) == [
        (4, "enterprise_number", f"'{value}' is not a valid enterprise number: {why}.")
    ]


def test_unknown_codes(tmp_path):
    found = employers_with(tmp_path, nace_code="43.32", postal_code="9999", legal_form="GmbH", joint_committee="12")
    assert found == [
        (4, "legal_form", "'GmbH' is not a known legal form; use one of: BV, NV, CV, COMMV, VOF, VZW, EZ, FOREIGN."),
        (4, "nace_code", "'43.32' is not a known NACE-BEL code (written like 43.320)."),
        (4, "joint_committee", "'12' is not a joint committee (e.g. 124 or 302.01)."),
        (4, "postal_code", "'9999' is not a known Belgian postal code."),
    ]


def test_codes_stored_as_written_must_be_written_exactly(tmp_path):
    from inspections.models import NaceCode

    sector = NaceCode.objects.first().sector_id
    NaceCode.objects.create(code="X1.000", name_en="x", name_nl="x", name_fr="x", sector_id=sector)
    assert employers_with(tmp_path, nace_code="x1.000") == [
        (4, "nace_code", "'x1.000' is not a known NACE-BEL code (written like 43.320).")
    ]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"start_date": "2024-02-30"},
            ("start_date", "'2024-02-30' is not a real date (no day 30 in month 2 of 2024)."),
        ),
        (
            {"start_date": "30/01/2024"},
            ("start_date", "'30/01/2024' is not a date in the form YYYY-MM-DD (e.g. 2024-03-31)."),
        ),
        ({"end_date": "2024-13-01"}, ("end_date", "'2024-13-01' is not a real date (no day 1 in month 13 of 2024).")),
        ({"start_date": "0024-01-01"}, ("start_date", "'0024-01-01': the year must be between 1800 and 2199.")),
        ({"end_date": "2014-12-31"}, ("end_date", "The end date 2014-12-31 is before the start date.")),
        ({"name": ""}, ("name", "A value is required.")),
        (
            {"nsso_number": "12345"},
            ("nsso_number", "'12345' is not a social-security employer number (9 or 10 digits)."),
        ),
        ({"name": "x" * 201}, ("name", "The value has 201 characters; at most 200 are allowed.")),
    ],
)
def test_bad_employer_values(tmp_path, values, expected):
    assert employers_with(tmp_path, **values) == [(4, *expected)]


def test_duplicate_keys_in_the_file(tmp_path):
    rows = [
        employer_row(10),
        employer_row(11),
        employer_row(10, nsso_number=""),
        employer_row(12, nsso_number="500000011"),
    ]
    assert employers_refused(tmp_path, csv_text(rows, EMPLOYER_COLUMNS)) == [
        (4, "enterprise_number", "The same enterprise number is already on line 2."),
        (5, "nsso_number", "The same social-security number is already on line 3."),
    ]


def test_duplicates_across_chunks(tmp_path, monkeypatch):
    from inspections.services.imports import reading

    monkeypatch.setattr(reading, "CHUNK_ROWS", 2)
    rows = [employer_row(n) for n in range(7)] + [
        employer_row(3, nsso_number=""),
        employer_row(20, nsso_number="500000005"),
    ]
    assert employers_refused(tmp_path, csv_text(rows, EMPLOYER_COLUMNS)) == [
        (9, "enterprise_number", "The same enterprise number is already on line 5."),
        (10, "nsso_number", "The same social-security number is already on line 7."),
    ]


def test_social_security_number_of_another_employer(tmp_path):
    found = employers_with(tmp_path, nsso_number="500000001")  # employer 1's, stored by the fixture
    assert found == [
        (4, "nsso_number", f"This social-security number already belongs to employer {enterprise_number(1)}.")
    ]


def test_every_row_is_checked_and_the_first_100_are_listed(tmp_path):
    rows = [employer_row(n, postal_code="0000" if n % 2 else "3000", nace_code="1") for n in range(300)]
    result = refused(employer_import, csv_write(tmp_path / "many.csv", rows, EMPLOYER_COLUMNS))
    assert (result.rows_read, result.error_count, len(result.errors)) == (300, 450, 100)
    assert result.errors[0].line == 2 and result.errors[-1].line == 68
    assert [p.column for p in result.errors[:3]] == ["nace_code", "nace_code", "postal_code"]


def test_a_bad_last_row_undoes_the_whole_file(tmp_path, monkeypatch):
    from inspections.services.imports import reading
    from miningwatch import bulk

    monkeypatch.setattr(reading, "CHUNK_ROWS", 5)  # earlier chunks are already sent to COPY
    monkeypatch.setattr(bulk, "BULK_MIN_ROWS", 1)  # and the indexes dropped
    rows = [employer_row(n) for n in range(40)] + [employer_row(99, start_date="2024-02-30")]
    result = refused(employer_import, csv_write(tmp_path / "late.csv", rows, EMPLOYER_COLUMNS))
    assert problems(result) == [(42, "start_date", "'2024-02-30' is not a real date (no day 30 in month 2 of 2024).")]


# --- Values: declarations -----------------------------------------------------------------------


def declarations_with(tmp_path: Path, **values: str) -> list[tuple[int, str, str]]:
    rows = [declaration_row(1), declaration_row(2, **values)]
    path = csv_write(tmp_path / "declarations.csv", rows, DECLARATION_COLUMNS)
    return problems(refused(declaration_import, path))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({"headcount": "-3"}, ("headcount", "'-3' is negative; it must be 0 or more.")),
        ({"hires": "two"}, ("hires", "'two' is not a whole number (digits only, e.g. 12).")),
        ({"declared_hours": "12.5"}, ("declared_hours", "'12.5' is not a whole number (digits only, e.g. 12).")),
        ({"exits": "99999999999"}, ("exits", "'99999999999' is too large (at most 2147483647).")),
        ({"quarter": "2024-Q5"}, ("quarter", "'2024-Q5': a year has quarters Q1 to Q4.")),
        ({"quarter": "2024-07-01"}, ("quarter", "'2024-07-01' is not a quarter in the form YYYY-Qn (e.g. 2024-Q3).")),
        ({"fte": "11"}, ("fte", "11 full-time equivalents is more than the headcount.")),
        ({"fte": "8,5"}, ("fte", "'8,5': write decimals with a dot, e.g. 8.5.")),
        ({"fte": "8.555"}, ("fte", "'8.555' has more than 2 decimals.")),
        ({"part_time_share": "1.2"}, ("part_time_share", "'1.2' is above 1.")),
        ({"part_time_share": "-0.1"}, ("part_time_share", "'-0.1' is negative; it must be 0 or more.")),
        ({"gross_wages": "abc"}, ("gross_wages", "'abc' is not a number (e.g. 1234.50).")),
        ({"social_security_debt": ""}, ("social_security_debt", "A value is required.")),
    ],
)
def test_bad_declaration_values(tmp_path, values, expected):
    assert declarations_with(tmp_path, **values) == [(3, *expected)]


def test_declaration_of_an_unknown_employer(tmp_path):
    assert declarations_with(tmp_path, enterprise_number=enterprise_number(50)) == [
        (
            3,
            "enterprise_number",
            f"No employer with enterprise number {enterprise_number(50)} in the database: import the employers first.",
        )
    ]


def test_duplicate_declaration_in_the_file(tmp_path):
    assert declarations_with(tmp_path, enterprise_number=enterprise_number(1)) == [
        (3, "quarter", "This employer already has a declaration for this quarter on line 2.")
    ]


# --- Values: inspections --------------------------------------------------------------------------


def inspections_refused(tmp_path: Path, rows: list[dict[str, str]]) -> list[tuple[int, str, str]]:
    path = csv_write(tmp_path / "inspections.csv", rows, INSPECTION_COLUMNS)
    return problems(refused(inspection_import, path))


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            {"origin": "tip-off"},
            (
                "origin",
                "'tip-off' is not a known origin; use one of: prosecutor, other_service, complaint, ranked_list, "
                "own_initiative, random_control.",
            ),
        ),
        (
            {"status": "done"},
            ("status", "'done' is not a known status; use one of: planned, in_progress, completed, cancelled."),
        ),
        (
            {"offence_type": "theft"},
            (
                "offence_type",
                "'theft' is not a known offence type; use one of: bogus_self_employment, part_time_abuse, "
                "temporary_layoff_fraud, undeclared_work.",
            ),
        ),
        ({"inspector": "nobody"}, ("inspector", "No user with the username 'nobody'.")),
        ({"found": "maybe"}, ("found", "'maybe' is not one of true/false, 1/0, yes/no.")),
        ({"visit_date": ""}, ("visit_date", "A completed inspection needs a visit date.")),
        (
            {"planned_date": "", "visit_date": "", "status": "planned"},
            ("planned_date", "Give a planned date or a visit date (or both)."),
        ),
        (
            {"found": "false"},
            ("workers_regularised", "Nothing can be regularised or recovered when no offence was found."),
        ),
        ({"contributions_recovered": "-5"}, ("contributions_recovered", "'-5' is negative; it must be 0 or more.")),
        ({"workers_regularised": "-1"}, ("workers_regularised", "'-1' is negative; it must be 0 or more.")),
    ],
)
def test_bad_inspection_values(tmp_path, values, expected):
    found = inspections_refused(tmp_path, [inspection_row("INS-9", 1), inspection_row("INS-10", 2, **values)])
    assert found[0] == (3, *expected)


def test_rows_of_one_inspection_must_agree(tmp_path):
    rows = [
        inspection_row("INS-9", 1),
        inspection_row("INS-9", 1, "part_time_abuse", status="in_progress", visit_date="2024-03-06"),
        inspection_row("INS-9", 1, "undeclared_work", found="0", workers_regularised="0", contributions_recovered="0"),
    ]
    assert inspections_refused(tmp_path, rows) == [
        (3, "status", "Differs from the same reference on line 2 ('completed'); rows of one inspection must agree."),
        (
            3,
            "visit_date",
            "Differs from the same reference on line 2 ('2024-03-05'); rows of one inspection must agree.",
        ),
        (4, "offence_type", "This reference already has this offence type on line 2."),
    ]


def test_inspection_of_an_unknown_employer(tmp_path):
    EmployerFactory()  # in the database, but not this one
    found = inspections_refused(tmp_path, [inspection_row("INS-9", 77)])
    assert found == [
        (
            2,
            "enterprise_number",
            f"No employer with enterprise number {enterprise_number(77)} in the database: import the employers first.",
        )
    ]


@override_settings(IMPORT_MAX_CELL_CHARS=50)
def test_a_long_cell_spread_over_short_lines(tmp_path):
    rows = [employer_row(1), employer_row(2, name="\n".join(["x" * 20] * 5))]
    assert employers_refused(tmp_path, csv_text(rows, EMPLOYER_COLUMNS)) == [
        (3, "name", "The value has 104 characters; at most 50 are allowed.")
    ]
