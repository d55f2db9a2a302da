"""A data upload in the browser: a file with two bad rows is refused with its report, the
corrected file is imported by a real worker, a rescore follows, and the new employers are
in the ranked list."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from inspections.roles import ANALYST
from inspections.services.generation import demo_data_generate
from scoring.models import ModelStatus
from scoring.services.training import model_retrain
from scoring.services.versions import model_version_activate
from tests.browser.support import PASSWORD, login
from tests.factories import UserFactory
from tests.inspections.import_support import EMPLOYER_COLUMNS, csv_text, employer_row
from tests.processes import celery_worker_process, gunicorn_server
from tests.scoring.conftest import AS_OF, GENERATED_SEED, INSPECTION_RATE, OFFENCE, SECTOR

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

NEW = [employer_row(n, name=f"Glansrijk Schoonmaak {n} BV", nace_code="81.210", postal_code="1000") for n in range(3)]


def _file(tmp_path, rows: list[dict[str, str]]) -> str:
    path = tmp_path / "employers.csv"
    path.write_text(csv_text(rows, EMPLOYER_COLUMNS), encoding="utf-8")
    return str(path)


def test_a_refused_upload_then_the_corrected_one_then_the_new_employers_in_the_list(
    transactional_db, browser_page, tmp_path
) -> None:
    demo_data_generate(employers=1500, seed=GENERATED_SEED, inspection_rate=INSPECTION_RATE, replace=True)
    version = model_retrain(sector=SECTOR, offence=OFFENCE, as_of=AS_OF)
    if version.status != ModelStatus.ACTIVE:
        model_version_activate(version=version)  # this test is about imports, not the quality gates
    UserFactory(username="ana", password=PASSWORD).groups.add(Group.objects.get(name=ANALYST))
    bad = [*NEW, employer_row(7, postal_code="0000"), employer_row(8, start_date="2015-02-30")]
    uploads = {"IMPORT_UPLOAD_DIR": str(tmp_path / "uploads")}
    page = browser_page
    with (
        celery_worker_process(**uploads) as worker,
        gunicorn_server(CELERY_TASK_DEFAULT_QUEUE=worker.queue, **uploads) as base,
    ):
        login(page, base, "ana")
        page.click("nav >> text=Data imports")
        page.check("input[name=kind][value=employers]")
        page.set_input_files("#id_file", _file(tmp_path, bad))
        page.click("button:has-text('Send')")
        page.wait_for_selector("text=Refused: nothing was imported.", timeout=60_000)
        problems = page.inner_text("#import-problems")
        assert "'0000' is not a known Belgian postal code." in problems
        assert "no day 30 in month 2 of 2015" in problems
        assert page.locator("#import-problems tbody tr").count() == 2
        assert page.locator("text=Download every problem (CSV)").count() == 1

        page.click("text=Data imports")
        page.check("input[name=kind][value=employers]")
        page.set_input_files("#id_file", _file(tmp_path, NEW))
        page.click("button:has-text('Send')")
        page.wait_for_selector("text=3 rows read: 3 created, 0 changed, 0 unchanged.", timeout=60_000)
        page.click("button:has-text('Rescore now')")
        page.wait_for_selector("text=Rescored since this import: 1 list is up to date.", timeout=120_000)

        page.click("#import-state >> text=Ranked lists")
        page.select_option("#id_sector", SECTOR)
        page.select_option("#id_offence", OFFENCE)
        page.fill("#id_q", "Glansrijk")  # the list's own search, not the navigation bar's
        page.keyboard.press("Enter")
        page.wait_for_selector("#ranked-results >> text=Glansrijk Schoonmaak 0 BV")
        rows = page.inner_text("#ranked-results")
        assert all(f"Glansrijk Schoonmaak {n} BV" in rows for n in range(3)), worker.output()[-2000:]
