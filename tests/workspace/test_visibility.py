"""An inspector limited to a region sees that region only, and every view reads through visible_to."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import URLPattern, reverse

from inspections.models import DataImport, Employer, Inspection, InspectorScope, PostalCode, ScopedQuerySet
from inspections.roles import ANALYST, TASK_FORCE
from scoring.models import ModelComparison, ModelStatus, ModelUpload, Score, ScoreCount
from tests.factories import InspectionFactory, ModelVersionFactory, NoteFactory
from tests.workspace.support import OFFENCE, SECTOR, limit_to_region, ranks_shown
from workspace import urls as workspace_urls
from workspace.models import ListExport, Note
from workspace.worklists import WorklistRequest, worklist_create

User = get_user_model()

LIST = reverse("workspace:ranked_list")


@pytest.fixture
def walloon(client, walloon_inspector):
    client.force_login(walloon_inspector)
    return client


def _liege(ranked) -> list[Score]:
    return [s for s in ranked.scores if s.subregion_id == "BE332"]


def test_the_list_and_its_counts_hold_the_region_only(ranked, walloon) -> None:
    liege = _liege(ranked)
    response = walloon.get(LIST)
    assert ranks_shown(response) == [s.rank for s in liege]  # 40 rows: one page
    assert not response.context["page"].has_next
    bands = Counter(s.band for s in liege)
    assert response.context["counts"] == {band: bands.get(band, 0) for band in (1, 2, 3, 4)}
    assert response.context["matching"] == 40

    last = walloon.get(LIST, {"page": "last"})
    assert ranks_shown(last) == [s.rank for s in liege]


@pytest.mark.parametrize(
    "query",
    [{"subregion": "BE211"}, {"region": "BE2"}, {"q": "Employer"}, {"band": ["1", "2"], "region": "BE2"}],
)
def test_filters_never_reach_outside_the_region(ranked, walloon, query) -> None:
    response = walloon.get(LIST, query)
    assert response.status_code == 200
    rows = response.context["page"].rows
    assert all(score.subregion_id == "BE332" for score in rows)
    if "q" not in query:
        assert rows == [] and sum(response.context["counts"].values()) == 0
    else:  # every employer is called "Employer …": the counts of the region, from the run's lookup
        bands = Counter(s.band for s in _liege(ranked))
        assert response.context["counts"] == {band: bands.get(band, 0) for band in (1, 2, 3, 4)}


def test_searching_a_number_outside_the_region_finds_nothing(ranked, walloon) -> None:
    flemish = ranked.employer(1)
    response = walloon.get(LIST, {"q": flemish.enterprise_number})
    assert response.context["page"].rows == [] and response.context["matching"] == 0


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_exports_hold_the_region_only(ranked, walloon, walloon_inspector, format) -> None:
    response = walloon.get(reverse("workspace:ranked_list_export", args=[format]))
    assert response.status_code == 200
    if format == "csv":
        numbers = [row[4] for row in list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]]
    else:
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
        numbers = [row[4] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert numbers == [s.employer.enterprise_number for s in _liege(ranked)]
    assert ListExport.objects.get(user=walloon_inspector).rows == 40


def test_home_band_counts_hold_the_region_only(ranked, walloon) -> None:
    response = walloon.get(reverse("home"))
    [(run, counts)] = response.context["band_counts"]
    bands = Counter(s.band for s in _liege(ranked))
    assert run == ranked.run
    assert counts == {band: bands.get(band, 0) for band in (1, 2, 3, 4)}


def test_pages_and_writes_outside_the_region_are_not_found(ranked, walloon, walloon_inspector) -> None:
    flemish, walloon_employer = ranked.employer(1), ranked.employer(3)
    assert walloon_employer.subregion_id == "BE332"
    own_note = NoteFactory(employer=flemish, author=walloon_inspector, text="Written before the limit")
    number = flemish.enterprise_number

    assert walloon.get(reverse("workspace:employer_detail", args=[number])).status_code == 404
    assert walloon.post(reverse("workspace:note_create", args=[number]), {"text": "x"}).status_code == 404
    assert walloon.post(reverse("workspace:target_add", args=[number])).status_code == 404
    edit = reverse("workspace:note_edit", args=[own_note.pk])
    assert walloon.get(edit).status_code == 404
    assert walloon.post(edit, {"text": "changed"}).status_code == 404
    own_note.refresh_from_db()
    assert own_note.text == "Written before the limit"
    assert Note.objects.count() == 1 and not Inspection.objects.exists()

    # Inside the region all of it works.
    number = walloon_employer.enterprise_number
    assert walloon.get(reverse("workspace:employer_detail", args=[number])).status_code == 200
    assert walloon.post(reverse("workspace:note_create", args=[number]), {"text": "ok"}).status_code == 302
    assert walloon.post(reverse("workspace:target_add", args=[number])).status_code == 302


def test_notes_and_targets_outside_the_region_are_not_shown(ranked, client, walloon_inspector, colleague) -> None:
    flemish, liege_a, liege_b = ranked.employer(1), ranked.employer(3), ranked.employer(6)
    NoteFactory(employer=flemish, author=colleague, text="Flemish secret")
    NoteFactory(employer=liege_b, author=colleague, text="Liège note")
    client.force_login(walloon_inspector)
    client.post(reverse("workspace:target_add", args=[liege_a.enterprise_number]))
    # A target planned before the inspector was limited to Wallonia.
    Inspection.objects.create(
        reference="OLD-1",
        employer=flemish,
        inspector=walloon_inspector,
        origin="ranked_list",
        planned_date="2026-01-05",
    )

    home = client.get(reverse("home")).content.decode()
    assert "Liège note" in home and "Flemish secret" not in home
    assert liege_a.name in home and "OLD-1" not in home
    targets = client.get(reverse("workspace:my_targets")).content.decode()
    assert liege_a.name in targets and "OLD-1" not in targets
    page = client.get(reverse("workspace:employer_detail", args=[liege_a.enterprise_number])).content.decode()
    assert "Liège note" in page and "Flemish secret" not in page


def test_a_limit_to_sub_regions_works_like_a_limit_to_regions(ranked, client, inspector) -> None:
    scope = limit_to_region(inspector, "BE1")  # Brussels: none of the fixture's employers
    client.force_login(inspector)
    assert client.get(LIST).context["page"].rows == []
    scope.regions.clear()
    scope.subregions.set(["BE241"])
    assert {s.subregion_id for s in client.get(LIST).context["page"].rows} == {"BE241"}


# --- Every view reads employers, scores and counts through ScopedQuerySet.visible_to -----------

# Views that read no employer, score or count: reference data and the task force's texts only.
READS_NO_EMPLOYER_DATA = {
    "help",  # what bands, percentiles and scores are: the default cut-offs only
    "subregion_options",
    "risk_profiles",
    "risk_profile",
    # The model pages and their API: versions, their figures and history, no employer.
    "model_pairs",
    "model_pair",
    "lists_state",
    "pair_retrain",
    "retrain_all",
    "model_version_decide",
    "model_card",
    "model_upload",
    "model_upload_detail",
    "comparison_new",
    "api_model_versions",
    "api_model_version_decide",
    "api_model_upload",
    "api_schema",
    # The data imports: files, counts and problems as the worker wrote them, no employer read.
    "data_imports",
    "data_import",
    "data_import_report",
    "data_import_again",
    "data_import_rescore",
    "api_data_imports",
    "api_data_import",
}


def _model_requests(user, number: str) -> dict[str, tuple[str, str, dict, set[type]]]:
    """The model pages and the API's: the same check, on versions made for it."""
    version, other, api_version = (
        ModelVersionFactory(sector_id=SECTOR, offence_type_id=OFFENCE, status=ModelStatus.CANDIDATE) for _ in range(3)
    )
    upload = ModelUpload.objects.create(
        sector_id=SECTOR,
        offence_type_id=OFFENCE,
        file=b"",
        file_name="m.skops",
        file_size=0,
        file_sha256="0" * 64,
        uploaded_by=user,
    )
    comparison = ModelComparison.objects.create(
        first=version,
        second=other,
        as_of=dt.date(2026, 12, 1),
        requested_by=user,
        status="done",
        result={"entering": [number], "leaving": []},
    )
    pair = [SECTOR, OFFENCE]
    skops = SimpleUploadedFile("m.skops", b"PK\x03\x04")
    return {
        "model_pairs": ("get", reverse("workspace:model_pairs"), {}, set()),
        "model_pair": ("get", reverse("workspace:model_pair", args=pair), {}, set()),
        "lists_state": ("get", reverse("workspace:lists_state", args=pair), {}, set()),
        "pair_retrain": ("post", reverse("workspace:pair_retrain", args=pair), {}, set()),
        "retrain_all": ("post", reverse("workspace:retrain_all"), {}, set()),
        "model_version_decide": (
            "post",
            reverse("workspace:model_version_decide", args=[version.pk, "refuse"]),
            {"note": "no"},
            set(),
        ),
        "model_card": ("get", reverse("workspace:model_card", args=[version.pk]), {}, set()),
        "model_upload": ("get", reverse("workspace:model_upload"), {}, set()),
        "model_upload_detail": ("get", reverse("workspace:model_upload_detail", args=[upload.pk]), {}, set()),
        "comparison_new": (
            "post",
            reverse("workspace:comparison_new"),
            {"first": version.pk, "second": other.pk},
            set(),
        ),
        "comparison": ("get", reverse("workspace:comparison", args=[comparison.pk]), {}, {Employer}),
        "api_ranked_list": ("get", reverse("workspace:api_ranked_list"), {}, {Score}),
        "api_employer_scores": ("get", reverse("workspace:api_employer_scores", args=[number]), {}, {Employer}),
        "api_model_versions": ("get", reverse("workspace:api_model_versions"), {}, set()),
        "api_model_version_decide": (
            "post",
            reverse("workspace:api_model_version_decide", args=[api_version.pk, "refuse"]),
            {"note": "no"},
            set(),
        ),
        "api_model_upload": (
            "post",
            reverse("workspace:api_model_upload"),
            {"sector": SECTOR, "offence": OFFENCE, "file": skops},
            set(),
        ),
        "api_schema": ("get", reverse("workspace:api_schema"), {}, set()),
        **_import_requests(user),
    }


def _import_requests(user) -> dict[str, tuple[str, str, dict, set[type]]]:
    """The data import pages and their API, on an import that failed and one that succeeded."""
    report = settings.IMPORT_UPLOAD_DIR / "report-1.csv"
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text("line,column,reason\n")
    failed = DataImport.objects.create(
        kind="employers", file_path="", status="failed", created_by=user, report_path=str(report)
    )
    done = DataImport.objects.create(kind="employers", file_path="", status="succeeded", created_by=user)
    return {
        "data_imports": ("get", reverse("workspace:data_imports"), {}, set()),
        "data_import": ("get", reverse("workspace:data_import", args=[failed.pk]), {}, set()),
        "data_import_report": ("get", reverse("workspace:data_import_report", args=[failed.pk]), {}, set()),
        "data_import_again": ("post", reverse("workspace:data_import_again", args=[failed.pk]), {}, set()),
        "data_import_rescore": ("post", reverse("workspace:data_import_rescore", args=[done.pk]), {}, set()),
        "api_data_imports": ("get", reverse("workspace:api_data_imports"), {}, set()),
        "api_data_import": ("get", reverse("workspace:api_data_import", args=[failed.pk]), {}, set()),
    }


def _requests(ranked, note, outcome, worklist, user) -> dict[str, tuple[str, str, dict, set[type]]]:
    """Per URL name: method, URL, data, and the models it must read through visible_to."""
    number = ranked.employer(3).enterprise_number
    return {
        **_model_requests(user, number),
        "api_outcome": ("get", reverse("workspace:api_outcome", args=[outcome.reference]), {}, {Employer}),
        # A limited user's band counts come from the scores (see ScoreCount's docstring).
        "ranked_list": ("get", reverse("workspace:ranked_list"), {}, {Score}),
        "ranked_list_export": ("get", reverse("workspace:ranked_list_export", args=["csv"]), {}, {Score}),
        "employer_detail": ("get", reverse("workspace:employer_detail", args=[number]), {}, {Employer}),
        "employer_search": ("get", reverse("workspace:employer_search"), {"q": "employer"}, {Employer}),
        "note_create": ("post", reverse("workspace:note_create", args=[number]), {"text": "n"}, {Employer}),
        "target_add": ("post", reverse("workspace:target_add", args=[number]), {}, {Employer}),
        "note_edit": ("get", reverse("workspace:note_edit", args=[note.pk]), {}, {Employer}),
        "my_targets": ("get", reverse("workspace:my_targets"), {}, {Employer}),
        "subregion_options": ("get", reverse("workspace:subregion_options"), {"region": "BE2"}, set()),
        "risk_profiles": ("get", reverse("workspace:risk_profiles"), {}, set()),
        "risk_profile": ("get", reverse("workspace:risk_profile", args=["cleaning", "undeclared_work"]), {}, set()),
        "home": ("get", reverse("home"), {}, {Employer, ScoreCount}),
        "help": ("get", reverse("workspace:help"), {}, set()),
        "inspection_outcome": (
            "get",
            reverse("workspace:inspection_outcome", args=[outcome.reference]),
            {},
            {Employer},
        ),
        "judgement_record": (
            "post",
            reverse("workspace:judgement_record", args=[number, OFFENCE]),
            {"verdict": "agree"},
            {Employer},
        ),
        "judgements": ("get", reverse("workspace:judgements"), {}, {Employer}),
        "statistics": ("get", reverse("workspace:statistics"), {}, {Employer}),
        "target_change": (
            "post",
            reverse("workspace:target_change", args=[outcome.reference, "remove"]),
            {"reason": "closed"},
            {Employer},
        ),
        "visit_sheet": ("get", reverse("workspace:visit_sheet", args=[outcome.reference]), {}, {Employer}),
        "worklists": ("get", reverse("workspace:worklists"), {}, {Employer}),
        "worklist_detail": ("get", reverse("workspace:worklist_detail", args=[worklist.pk]), {}, {Employer}),
        "worklist_export": ("get", reverse("workspace:worklist_export", args=[worklist.pk]), {}, {Employer}),
    }


def test_every_view_reads_through_visible_to(
    ranked, client, walloon_inspector, colleague, monkeypatch, settings, tmp_path
) -> None:
    settings.IMPORT_UPLOAD_DIR = tmp_path
    # Nothing queued: a retry or a rescore would send a task to the broker.
    monkeypatch.setattr("workspace.views_imports.rescore_request", lambda **kwargs: None)
    monkeypatch.setattr("workspace.views_imports.data_import_retry", lambda **kwargs: kwargs["data_import"])
    # Every view open to them (the task force's too), still limited to Wallonia.
    walloon_inspector.groups.add(Group.objects.get(name=TASK_FORCE), Group.objects.get(name=ANALYST))
    note = NoteFactory(employer=ranked.employer(3), author=walloon_inspector)
    outcome = InspectionFactory(employer=ranked.employer(3), inspector=walloon_inspector)
    request = WorklistRequest(SECTOR, OFFENCE, 2, inspector=colleague)  # given away: not blinded for them
    worklist = worklist_create(user=User.objects.get(pk=walloon_inspector.pk), request=request, seed=1)
    requests = _requests(ranked, note, outcome, worklist, walloon_inspector)
    # A new workspace view must be listed here, and so be checked.
    names = {p.name for p in workspace_urls.urlpatterns if isinstance(p, URLPattern)}
    assert names | {"home"} == set(requests)
    assert {name for name, (*_, models) in requests.items() if not models} == READS_NO_EMPLOYER_DATA

    calls: list[type] = []
    original = ScopedQuerySet.visible_to

    def recording(self, user):
        calls.append(self.model)
        return original(self, user)

    monkeypatch.setattr(ScopedQuerySet, "visible_to", recording)
    client.force_login(walloon_inspector)
    for name, (method, url, data, models) in requests.items():
        calls.clear()
        response = getattr(client, method)(url, data)
        assert response.status_code in (200, 202, 302), (name, response.status_code)
        assert models <= set(calls), f"{name} read {models - set(calls)} without visible_to"


def test_the_recording_would_catch_a_view_that_bypasses_visible_to(ranked, rf, walloon_inspector, monkeypatch) -> None:
    """The check above is not vacuous: a read straight from the manager records nothing."""
    calls: list[type] = []
    original = ScopedQuerySet.visible_to
    monkeypatch.setattr(
        ScopedQuerySet, "visible_to", lambda self, user: calls.append(self.model) or original(self, user)
    )
    list(Employer.objects.filter(subregion_id="BE211")[:1])
    assert calls == []
    list(Employer.objects.visible_to(walloon_inspector)[:1])
    assert calls == [Employer]


# --- A scope that names no region fails closed ------------------------------------------------

EMPTY_SCOPE = "Your account is limited to a scope with no regions"


def test_an_empty_scope_shows_nothing_and_says_so(ranked, client, inspector) -> None:
    InspectorScope.objects.create(user=inspector)  # no region, no sub-region
    client.force_login(inspector)

    listed = client.get(LIST)
    assert listed.context["page"].rows == [] and listed.context["matching"] == 0
    assert EMPTY_SCOPE in listed.content.decode()
    home = client.get(reverse("home"))
    assert EMPTY_SCOPE in home.content.decode()
    assert all(n == 0 for _run, counts in home.context["band_counts"] for n in counts.values())
    assert home.context["counts"].total == 0
    number = ranked.employer(1).enterprise_number
    assert client.get(reverse("workspace:employer_detail", args=[number])).status_code == 404
    export = client.get(reverse("workspace:ranked_list_export", args=["csv"]))
    assert len(list(csv.reader(io.StringIO(export.content.decode("utf-8-sig"))))) == 1  # the header only


def test_users_without_a_scope_see_everything_and_no_message(ranked, client, inspector, walloon_inspector) -> None:
    client.force_login(inspector)
    listed = client.get(LIST)
    assert listed.context["matching"] == len(ranked.scores)
    assert EMPTY_SCOPE not in listed.content.decode()
    assert EMPTY_SCOPE not in client.get(reverse("home")).content.decode()
    client.force_login(walloon_inspector)
    assert EMPTY_SCOPE not in client.get(LIST).content.decode()


# --- An employer that moved since the run is listed by where it is now -----------------------


def _move_to_antwerp(employer: Employer) -> None:
    employer.postal_code = PostalCode.objects.get(code="2000")
    employer.save()  # the sub-region follows the postal code; the run's scores keep BE332


def test_an_employer_moved_out_of_the_region_leaves_the_list_at_once(ranked, walloon) -> None:
    moved = ranked.employer(3)
    assert moved.subregion_id == "BE332"
    _move_to_antwerp(moved)
    response = walloon.get(LIST)
    liege = [s for s in _liege(ranked) if s.employer_id != moved.pk]
    assert ranks_shown(response) == [s.rank for s in liege]
    assert walloon.get(LIST, {"q": moved.enterprise_number}).context["page"].rows == []
    # The band counts stay as of the run until the next one (see ScoreCount).
    bands = Counter(s.band for s in _liege(ranked))
    assert response.context["counts"] == {band: bands.get(band, 0) for band in (1, 2, 3, 4)}


@pytest.mark.parametrize("format", ["csv", "xlsx"])
def test_an_employer_moved_out_of_the_region_leaves_the_exports(ranked, walloon, format) -> None:
    moved = ranked.employer(3)
    _move_to_antwerp(moved)
    response = walloon.get(reverse("workspace:ranked_list_export", args=[format]))
    if format == "csv":
        numbers = [row[4] for row in list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))[1:]]
    else:
        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True).worksheets[0]
        numbers = [row[4] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert moved.enterprise_number not in numbers
    assert numbers == [s.employer.enterprise_number for s in _liege(ranked) if s.employer_id != moved.pk]


def test_only_limited_users_pay_for_the_employers_current_place(ranked, inspector, walloon_inspector) -> None:
    """Unlimited users keep the scores-only query (pinned query counts, performance budgets)."""
    unlimited = str(Score.objects.visible_to(inspector).filter(run=ranked.run).query)
    limited = str(Score.objects.visible_to(walloon_inspector).filter(run=ranked.run).query)
    assert unlimited == str(Score.objects.filter(run=ranked.run).query)
    assert '"inspections_employer"' not in unlimited
    assert '"inspections_employer"."subregion_id" IN' in limited


@pytest.mark.parametrize("language", ["nl", "fr"])
def test_the_empty_scope_message_is_translated(language) -> None:
    from django.utils import translation

    message = (
        "Your account is limited to a scope with no regions: you see no employers. "
        "Ask an administrator to set your regions."
    )
    with translation.override(language):
        assert translation.gettext(message) != message
