"""An inspector's day in the workspace, in a real browser against gunicorn.

Ranked list filtered by region then sub-region (htmx, no full reload), the last page, an
employer's page with its chart and declaration table, a note, a target, a CSV export, the
keyboard, and the same list in Dutch.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse
from django.utils import translation

from inspections.models import SubRegion
from inspections.roles import INSPECTOR
from tests.factories import DeclarationFactory, UserFactory
from tests.workspace.support import publish_run
from workspace.models import Note

# serialized_rollback: the flush after a transactional test would drop the reference data.
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

N = 300  # three sub-regions in turn: 100 employers in Halle-Vilvoorde (BE241), two pages of 50
SUBREGION = "BE241"
REGION = "BE2"
TARGET_RANK = N - 1  # the riskiest-last employer of BE241: ranks 2, 5, ..., 299
PASSWORD = "correct horse battery staple"
NOTE = "Van at the back door at 6:00 <b>not bold</b> & <script>window.injected = 1</script>"

# A marker on window disappears with a full page load: proof that htmx swapped in place.
MARK = "window.__stayed = 'yes'"
STAYED = "window.__stayed === 'yes'"

CANVAS_INKED = """(canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let inked = 0;
  for (let i = 3; i < data.length; i += 4) { if (data[i] !== 0) { inked += 1; } }
  return inked;
}"""


def _nl(message: str) -> str:
    """The Dutch of a message as the catalogue has it now (English while not translated yet)."""
    with translation.override("nl"):
        return translation.gettext(message)


def _tab_to(page, element_id: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} cannot be reached with Tab")


def _ranks(page) -> list[int]:
    cells = page.locator("#ranked-table tbody tr td:first-child").all_inner_texts()
    return [int(cell.replace(",", "").replace(".", "")) for cell in cells]


def test_inspector_filters_opens_notes_targets_exports(live_server_url: str, browser_page, tmp_path: Path) -> None:
    published = publish_run(N, names={TARGET_RANK: "Schoonmaak Zonder Zorgen BV"})
    target = published.employer(TARGET_RANK)
    for i, quarter in enumerate([dt.date(2025, m, 1) for m in (1, 4, 7, 10)] + [dt.date(2026, m, 1) for m in (1, 4)]):
        DeclarationFactory(
            employer=target,
            quarter=quarter,
            headcount=12 + 3 * i,
            fte=Decimal("9.50") + i,
            part_time_share=Decimal("0.350") + Decimal("0.05") * i,
            temporary_unemployment_days=40 * i,
        )
    inspector = UserFactory(username="ines", password=PASSWORD, first_name="Ines", last_name="Peeters")
    inspector.groups.add(Group.objects.get(name=INSPECTOR))
    colleague = UserFactory(username="koen", first_name="Koen", last_name="Maes")
    Note.objects.create(employer=target, author=colleague, text="Older note from a colleague.")
    halle = SubRegion.objects.get(code=SUBREGION)
    in_halle = [s for s in published.scores if s.subregion_id == SUBREGION]

    page = browser_page
    page.goto(live_server_url + "/accounts/login/")
    page.fill("#id_username", "ines")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("#sector-region-counts")

    # Ranked lists, from the main navigation.
    page.click("nav >> text=Ranked lists")
    page.wait_for_selector("#ranked-table")
    assert _ranks(page)[:3] == [1, 2, 3]
    page.evaluate(MARK)

    # Keyboard: the filters are reached with Tab, and the focus shows.
    page.locator("body").focus()
    _tab_to(page, "id_sector")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none", outline
    _tab_to(page, "id_region", limit=5)
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") != "none"

    # The region first: the sub-region list follows it (htmx), and the list narrows.
    all_options = page.locator("#id_subregion option").count()
    page.select_option("#id_region", REGION)
    page.wait_for_function(
        "() => !document.querySelector('#id_subregion option[value=BE332]')"
        " && !!document.querySelector('#id_subregion option[value=BE241]')"
    )
    assert 1 < page.locator("#id_subregion option").count() < all_options
    page.select_option("#id_subregion", SUBREGION)
    page.wait_for_function(
        "(name) => { const cells = [...document.querySelectorAll('#ranked-table tbody tr td:nth-child(5)')];"
        " return cells.length > 0 && cells.every(c => c.textContent.trim() === name); }",
        arg=halle.name,
    )
    assert page.evaluate(STAYED), "the filters reloaded the whole page"
    assert "subregion=BE241" in page.url and "region=BE2" in page.url  # pushed: a link to share
    assert _ranks(page) == [s.rank for s in in_halle[:50]]
    assert f"{len(in_halle)} employers" in page.inner_text(".band-counts")

    # The last page: its last rank is the highest of the filtered list.
    page.click("#ranked-results .pager >> text=Last")
    page.wait_for_function("() => new URLSearchParams(location.search).get('page') === 'last'")
    page.wait_for_function(
        "(rank) => document.querySelector('#ranked-table tbody tr:last-child td').textContent.trim() === rank",
        arg=str(TARGET_RANK),
    )
    ranks = _ranks(page)
    assert ranks == [s.rank for s in in_halle[-50:]]
    assert ranks[-1] == max(s.rank for s in in_halle) == TARGET_RANK
    assert page.evaluate(STAYED), "paging reloaded the whole page"

    # The CSV export has the filtered rows, not the page's.
    with page.expect_download() as download_info:
        page.click("#ranked-results >> text=Export CSV")
    download = download_info.value
    saved = tmp_path / "export.csv"
    download.save_as(saved)
    rows = list(csv.reader(io.StringIO(saved.read_bytes().decode("utf-8-sig"))))
    assert rows[0][:6] == ["Rank", "Band", "Percentile", "Score", "Enterprise number", "Name"]
    assert rows[0][6] == "Sub-region"
    assert [int(row[0]) for row in rows[1:]] == [s.rank for s in in_halle]
    assert {row[6] for row in rows[1:]} == {halle.name}

    # The employer's page: the chart is drawn, the figures are in a table too.
    page.click(f"#ranked-table >> text={target.name}")
    page.wait_for_selector("#declaration-chart")
    assert page.inner_text("h1") == target.name
    # The scripts come last in the page: wait for them rather than race them.
    page.wait_for_function("() => typeof window.Chart === 'function'")
    page.wait_for_function("() => !!window.Chart.getChart(document.getElementById('declaration-chart'))")
    assert page.locator("#declaration-chart").evaluate(CANVAS_INKED) > 500, "the chart canvas is blank"
    # Quarterly points joined by straight lines: a curve would draw values never declared.
    tensions = page.evaluate(
        "() => { const chart = window.Chart.getChart(document.getElementById('declaration-chart'));"
        " return chart.data.datasets.map((_, i) => chart.getDatasetMeta(i).dataset.options.tension); }"
    )
    assert tensions == [0, 0, 0, 0]
    page.click("text=The figures as a table")
    table = page.locator("#declaration-table")
    assert table.is_visible()
    assert table.locator("tbody tr").count() == 6
    assert table.locator("tbody tr").first.locator("td").first.inner_text() == "12"

    # A note through htmx: on top, without a reload, its HTML shown as text.
    page.evaluate(MARK)
    page.fill("#id_text", NOTE)
    page.click("#notes button[type=submit]")
    page.wait_for_function("() => document.querySelectorAll('#note-list li').length === 2")
    first = page.locator("#note-list li").first
    assert first.locator(".note-text").inner_text() == NOTE
    assert first.locator(".note-text b, .note-text script").count() == 0
    assert page.locator("#note-list li").nth(1).locator(".note-text").inner_text() == "Older note from a colleague."
    assert page.evaluate("window.injected === undefined")
    assert page.input_value("#id_text") == ""
    assert page.evaluate(STAYED), "posting a note reloaded the whole page"

    # Add to my targets: the button becomes the state; My targets lists the employer.
    page.click("#target-button button")
    page.wait_for_selector("#target-button .target-state")
    assert "Among your targets" in page.inner_text("#target-button")
    assert page.locator("#target-button button").count() == 0
    assert page.evaluate(STAYED), "adding a target reloaded the whole page"
    page.click("#target-button >> text=My targets")
    page.wait_for_selector("#targets-table")
    assert target.name in page.inner_text("#targets-table")

    # Dutch: the language attribute, the navigation, the headings, decimal commas.
    page.select_option("#language-select", "nl")
    page.wait_for_selector("html[lang=nl]")
    assert page.inner_text("h1") == _nl("My targets")
    assert _nl("Overview") in page.inner_text("header nav")
    page.goto(f"{live_server_url}{reverse('workspace:ranked_list')}?region={REGION}&subregion={SUBREGION}")
    page.wait_for_selector("#ranked-table")
    assert page.evaluate("document.documentElement.lang") == "nl"
    assert page.inner_text("h1") == _nl("Ranked lists")
    percentiles = page.locator("#ranked-table tbody tr td:nth-child(3)").all_inner_texts()
    assert percentiles[0] == f"{in_halle[0].percentile:.1f}".replace(".", ",")  # 99,3
    assert all("," in cell and "." not in cell for cell in percentiles)
