"""Hostile input at every page, parameter and form field, for every role.

Never a 500; nothing written when the input is refused (a 4xx, a form with errors, or an
error message); what is accepted is shown escaped. The pages come from the URL resolver
(`test_every_route_has_hostile_cases` fails for a route added without cases here), the
admin's changelists from its registry and their filter parameters from the changelists
themselves.

The employers, scores, notes and users are built once per module. Every request runs in a
savepoint rolled back after it: an accepted write never changes what the next request
sees, and a failed query never aborts the transaction of the next.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.messages import ERROR
from django.db import connection, transaction
from django.test import Client, RequestFactory
from django.urls import URLResolver, get_resolver, reverse, reverse_lazy

from inspections.models import Employer
from inspections.roles import ADMINISTRATOR, ANALYST, INSPECTOR, TASK_FORCE
from tests.workspace.support import OFFENCE, SECTOR, inspect, limit_to_region, publish_run
from workspace.models import Note, RiskProfile, RiskProfileComment
from workspace.worklists import WorklistRequest, worklist_create

SCRIPT = "<script>alert(1)</script>"
SCRIPT_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"

# Values sent as text: percent-encoded as UTF-8 before they go.
TEXTS = [
    "",
    " ",
    "%",
    "_",
    "-",
    "&",
    "'",
    "\\",
    "...",
    "\x00",
    "a\x00b",
    "%ff",  # the three characters, not a byte
    "x" * 10_000,
    SCRIPT,
    "' OR 1=1 --",
    "=cmd|' /C calc'!A0",
    "../../etc/passwd",
    "１２３",  # full-width digits
    "²",
    "-1",
    "0",
    "99999999999999999999",
    "1e308",
    "NaN",
    "null",
    "\u202eevil",  # a right-to-left override
    "🙂",
    "\r\n=1+1",
    "0403170701",  # the shape of an enterprise number
]
# Sent as they are: invalid UTF-8 (a lone byte, a truncated sequence, an encoded surrogate).
RAW = ["%ff", "%ff%fe", "%c3%28", "%ed%a0%80", "%80"]
# The same parameter twice: a valid-looking value, then a bad one.
REPEATED = [("1", "xx"), ("red", "\x00")]


@dataclass(frozen=True)
class Hostile:
    label: str
    encoded: tuple[str, ...]  # one percent-encoded value per occurrence of the parameter
    text: str | None = None  # what the server decodes, when it is valid UTF-8

    def query(self, name: str) -> str:
        return "&".join(f"{name}={value}" for value in self.encoded)

    @property
    def segment(self) -> str:
        return self.encoded[0]


def _corpus() -> list[Hostile]:
    values = [Hostile(repr(text)[:24], (quote(text, safe=""),), text) for text in TEXTS]
    values += [Hostile(f"raw {raw}", (raw,)) for raw in RAW]
    values += [Hostile(f"repeated {pair!r}", tuple(quote(v, safe="") for v in pair)) for pair in REPEATED]
    return values


CORPUS = _corpus()
# One value of each kind that has broken something somewhere: what every role sends, where
# the page's reference role sends the whole corpus (see Plan).
SHARP = [
    value
    for value in CORPUS
    if value.text in ("", "%", "\x00", "a\x00b", "x" * 10_000, SCRIPT, "１２３", "99999999999999999999", "\u202eevil")
    or value.label in ("raw %ff%fe", "raw %ed%a0%80", f"repeated {REPEATED[1]!r}")
]
# The admin is Django's: a few values per parameter, for the kinds a query can choke on.
ADMIN = [value for value in SHARP if value.text in ("\x00", SCRIPT)]
ADMIN += [value for value in SHARP if value.label == "raw %ff%fe"]

ROLES = ["inspector", "limited_inspector", "analyst", "task_force", "administrator", "anonymous"]


@dataclass(frozen=True)
class Plan:
    """What one role sends to one page. The page's reference role sends hostile values to
    every parameter one by one (the whole corpus on the pages of WHOLE_CORPUS, the sharp
    values elsewhere); the others send the sharp values to the parameters whose handling
    depends on who asks (scope, permissions), and to all of them at once. Sending
    everything as everybody took minutes: a request costs ~15-40 ms."""

    corpus: list[Hostile]
    full: bool

    @property
    def segments(self) -> list[Hostile]:
        return [value for value in self.corpus if len(value.encoded) == 1]  # a path segment: one value


# --- The data: built once per module --------------------------------------------------------


@dataclass
class World:
    users: dict[str, object]
    visible: str  # an enterprise number every role sees (Liège, the limited inspector's region)
    elsewhere: str  # one the limited inspector does not see (Antwerp)
    own_notes: dict[str, int]  # per role, a note the role's user wrote
    other_note: int  # a note by somebody else
    inspection: str = ""  # the reference of an inspection of `visible`
    worklist: int = 0  # a worklist the task force asked for
    version: int = 0  # the model version of the published run


def _user(username: str, group: str, **flags: bool) -> object:
    user = get_user_model().objects.create(username=username, **flags)  # no password: force_login
    user.groups.add(Group.objects.get(name=group))
    return user


def _build() -> World:
    published = publish_run(12)
    visible = next(s.employer for s in published.scores if s.subregion_id == "BE332")
    elsewhere = next(s.employer for s in published.scores if s.subregion_id == "BE211")
    inspection = inspect(visible, published.run.as_of.replace(year=2025), found=True)
    users = {
        "inspector": _user("hostile-inspector", INSPECTOR),
        "limited_inspector": _user("hostile-limited", INSPECTOR),
        "analyst": _user("hostile-analyst", ANALYST),
        "task_force": _user("hostile-taskforce", TASK_FORCE),
        "administrator": _user("hostile-admin", ADMINISTRATOR, is_staff=True, is_superuser=True),
    }
    limit_to_region(users["limited_inspector"], "BE3")
    own = {
        role: Note.objects.create(employer=visible, author=user, text=f"by {role}").pk for role, user in users.items()
    }
    colleague = _user("hostile-colleague", INSPECTOR)
    other = Note.objects.create(employer=visible, author=colleague, text="by a colleague").pk
    profile = RiskProfile.objects.create(sector_id=SECTOR, offence_type_id=OFFENCE, patterns="p", on_site="o")
    RiskProfileComment.objects.create(profile=profile, author=colleague, text="a comment")
    worklist = worklist_create(user=users["task_force"], request=WorklistRequest(SECTOR, OFFENCE, 2), seed=1)
    return World(
        users,
        visible.enterprise_number,
        elsewhere.enterprise_number,
        own,
        other,
        inspection.reference,
        worklist.pk,
        published.run.model_version_id,
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield _build()
        transaction.set_rollback(True)  # leaves the database as the module found it


# --- What the data tables hold --------------------------------------------------------------


def _tables() -> list[str]:
    models = [
        model
        for label in ("inspections", "scoring", "workspace", "auth")
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    ]
    return sorted({model._meta.db_table for model in models})


def _fingerprint() -> tuple:
    """Rows per data table, and a digest of the texts a write could change in place."""
    counts = [f"(SELECT count(*) FROM {connection.ops.quote_name(table)})" for table in _tables()]
    texts = [
        "(SELECT md5(coalesce(string_agg(id || ':' || text, '|' ORDER BY id), '')) FROM workspace_note)",
        "(SELECT md5(coalesce(string_agg(id || ':' || patterns || ':' || on_site, '|' ORDER BY id), ''))"
        " FROM workspace_riskprofile)",
        "(SELECT md5(coalesce(string_agg(id || ':' || name, '|' ORDER BY id), '')) FROM inspections_employer)",
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(counts + texts))
        return tuple(zip([*_tables(), "note texts", "profile texts", "employer names"], cursor.fetchone(), strict=True))


# --- The requests of each page --------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    label: str
    method: str
    url: str
    body: str | None = None  # application/x-www-form-urlencoded, already encoded
    htmx: bool = False
    writes: bool = False
    shown_at: str | None = None  # where an accepted write is shown (checked for escaping)
    sent: Hostile | None = None
    relogin: bool = False


LIST_PARAMS = [
    "sector",
    "offence",
    "region",
    "subregion",
    "band",
    "size_class",
    "legal_form",
    "not_inspected",
    "q",
    "after",
    "before",
    "page",
]
# Not parameters of the list (an export used to store them): sent with the others at once.
LIST_STRAYS = ["search", "size"]


def _gets(
    url: str,
    params: list[str],
    page: str,
    plan: Plan,
    scoped: list[str] | None = None,
    strays: list[str] = (),
    **kwargs,
) -> Iterator[Request]:
    """Each parameter with each hostile value (for other roles than the reference, only
    the `scoped` ones), then every parameter with the same value at once."""
    one_by_one = params if plan.full or scoped is None else scoped
    for value in plan.corpus:
        for name in one_by_one:
            yield Request(f"{page} ?{name}={value.label}", "get", f"{url}?{value.query(name)}", sent=value, **kwargs)
        together = "&".join(value.query(name) for name in [*params, *strays])
        yield Request(f"{page} ?*={value.label}", "get", f"{url}?{together}", sent=value, **kwargs)


def _posts(url: str, fields: list[str], page: str, plan: Plan, base: str = "", **kwargs) -> Iterator[Request]:
    for value in plan.corpus:
        for name in fields:
            body = "&".join(part for part in (base, value.query(name)) if part)
            yield Request(f"{page} {name}={value.label}", "post", url, body=body, sent=value, writes=True, **kwargs)


def _segments(make_url: Callable[[str], str], page: str, plan: Plan, method: str = "get") -> Iterator[Request]:
    for value in plan.segments:
        label = f"{page} path={value.label}"
        yield Request(label, method, make_url(value.segment), writes=method == "post", sent=value)


def _employer_url(route: str, segment: str) -> str:
    return reverse(route, args=["0000000000"]).replace("0000000000", segment)


LIST = reverse_lazy("workspace:ranked_list")
LOGIN = reverse_lazy("login")
ADMIN_LOGIN = reverse_lazy("admin:login")
# The list's parameters whose handling depends on the user's scope.
LIST_SCOPED = ["q", "region", "subregion"]


def _list(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(str(LIST), LIST_PARAMS, "list", plan, scoped=LIST_SCOPED, strays=LIST_STRAYS)


def _list_htmx(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(str(LIST), LIST_PARAMS, "list (htmx)", plan, scoped=["q"], htmx=True)


def _export(format: str) -> Callable[[World, str, Plan], Iterator[Request]]:
    def requests(world: World, role: str, plan: Plan) -> Iterator[Request]:
        url = reverse("workspace:ranked_list_export", args=[format])
        # writes: an export is recorded (ListExport), a refused one must not be.
        page = f"export {format}"
        # The list's filters, as the list sweep sends them: here the search (its ids) and the record.
        yield from _gets(url, LIST_PARAMS, page, plan, scoped=["q"], strays=LIST_STRAYS, writes=True)

    return requests


def _export_formats(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _segments(lambda segment: f"/lists/export.{segment}", "export format", plan)


def _subregion_options(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:subregion_options"), ["region"], "sub-region options", plan)


def _plain(route: str) -> Callable[[World, str, Plan], Iterator[Request]]:
    """Pages without parameters: unknown ones, which they must ignore."""

    def requests(world: World, role: str, plan: Plan) -> Iterator[Request]:
        yield from _gets(reverse(route), ["page", "q", "next"], route, plan, scoped=[])

    return requests


def _employer_detail(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _segments(lambda segment: _employer_url("workspace:employer_detail", segment), "employer", plan)
    # The way back to the list: a path of this site's ranked list only.
    url = reverse("workspace:employer_detail", args=[world.visible])
    yield from _gets(url, ["back"], "employer back", plan, scoped=[])


def _employer_search(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:employer_search"), ["q"], "employer search", plan, scoped=["q"])


def _note_create(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("workspace:note_create", args=[world.visible])
    shown = reverse("workspace:employer_detail", args=[world.visible])
    yield from _posts(url, ["text"], "note", plan, shown_at=shown)
    yield from _posts(url, ["text"], "note (htmx)", plan, htmx=True, shown_at=shown)
    yield from _segments(lambda segment: _employer_url("workspace:note_create", segment), "note", plan, "post")


def _note_edit(world: World, role: str, plan: Plan) -> Iterator[Request]:
    shown = reverse("workspace:employer_detail", args=[world.visible])
    for whose, pk in (("own", world.own_notes.get(role, world.other_note)), ("other", world.other_note)):
        yield from _posts(
            reverse("workspace:note_edit", args=[pk]), ["text"], f"{whose} note edit", plan, shown_at=shown
        )
    yield from _segments(lambda segment: f"/notes/{segment}/edit/", "note edit", plan)
    yield from _segments(lambda segment: f"/notes/{segment}/edit/", "note edit", plan, "post")


def _target_add(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _segments(lambda segment: _employer_url("workspace:target_add", segment), "target", plan, "post")
    # No form fields: stray ones, on an employer the limited inspector does not see.
    yield from _posts(reverse("workspace:target_add", args=[world.elsewhere]), ["next"], "target elsewhere", plan)


def _risk_profile(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("workspace:risk_profile", args=[SECTOR, OFFENCE])
    yield from _posts(url, ["patterns", "on_site"], "profile edit", plan, base="kind=profile", shown_at=url)
    yield from _posts(url, ["text"], "profile comment", plan, base="kind=comment", shown_at=url)
    if plan.full:  # the same for every role: the URL's slugs and the kind of form
        yield from _gets(url, ["kind"], "profile", plan)
        yield from _posts(url, ["kind"], "profile kind", plan, base="text=ok&patterns=p&on_site=o")
        yield from _segments(lambda segment: f"/profiles/{segment}/{OFFENCE}/", "profile sector", plan)
        yield from _segments(lambda segment: f"/profiles/{SECTOR}/{segment}/", "profile offence", plan, "post")


OUTCOME_FIELDS = ["status", "visit_date", "summary"] + [
    f"undeclared_work-{part}" for part in ("checked", "found", "workers", "amount", "report")
]
OUTCOME_BASE = "status=completed&visit_date=2025-01-02&undeclared_work-checked=on&undeclared_work-report=none"


def _outcome(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("workspace:inspection_outcome", args=[world.inspection])
    yield from _posts(url, OUTCOME_FIELDS, "outcome", plan, base=OUTCOME_BASE, shown_at=url)
    if plan.full:
        yield from _segments(lambda segment: f"/inspections/{segment}/outcome/", "outcome", plan)


def _judgement(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("workspace:judgement_record", args=[world.visible, OFFENCE])
    shown = reverse("workspace:employer_detail", args=[world.visible])
    yield from _posts(
        url, ["verdict", "comment", "inspection"], "judgement", plan, base="verdict=agree", shown_at=shown
    )
    if plan.full:
        yield from _segments(
            lambda segment: f"/employers/{world.visible}/judgements/{segment}/", "judgement offence", plan, "post"
        )


def _statistics(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:statistics"), ["export", "page"], "statistics", plan)


def _worklist_new(world: World, role: str, plan: Plan) -> Iterator[Request]:
    fields = ["sector", "offence", "region", "subregion", "size", "inspector"]
    base = f"sector={SECTOR}&offence={OFFENCE}&size=1"
    yield from _posts(reverse("workspace:worklists"), fields, "worklist", plan, base=base)


def _worklist_pages(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _segments(lambda segment: f"/worklists/{segment}/", "worklist", plan)
    yield from _segments(lambda segment: f"/worklists/{segment}/export.csv", "worklist export", plan)
    yield from _gets(reverse("workspace:worklist_detail", args=[world.worklist]), ["page"], "worklist page", plan)


def _target_change(world: World, role: str, plan: Plan) -> Iterator[Request]:
    for action, field_name in (("plan", "planned_date"), ("remove", "reason")):
        url = reverse("workspace:target_change", args=[world.inspection, action])
        yield from _posts(url, [field_name], f"target {action}", plan)
    if plan.full:
        yield from _segments(lambda segment: f"/targets/{world.inspection}/{segment}/", "target action", plan, "post")


def _visit_sheet(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:visit_sheet", args=[world.inspection]), ["page"], "visit sheet", plan)
    if plan.full:
        yield from _segments(lambda segment: f"/targets/{segment}/sheet/", "visit sheet", plan)


def _model_pair(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:model_pair", args=[SECTOR, OFFENCE]), ["page"], "model pair", plan)
    yield from _gets(reverse("workspace:lists_state", args=[SECTOR, OFFENCE]), ["page"], "lists state", plan)
    if plan.full:
        yield from _segments(lambda segment: f"/models/{segment}/{OFFENCE}/", "model pair", plan)
        yield from _segments(lambda segment: f"/models/{SECTOR}/{segment}/lists/", "lists state", plan)
        yield from _segments(lambda segment: f"/models/{segment}/{OFFENCE}/retrain/", "retrain", plan, "post")


def _model_upload(world: World, role: str, plan: Plan) -> Iterator[Request]:
    fields = ["sector", "offence", "description", "red", "orange", "green"]
    base = f"sector={SECTOR}&offence={OFFENCE}&red=0.05&orange=0.15&green=0.4"
    yield from _posts(reverse("workspace:model_upload"), fields, "model upload", plan, base=base)
    if plan.full:
        yield from _segments(lambda segment: f"/models/uploads/{segment}/", "model upload state", plan)


def _comparison(world: World, role: str, plan: Plan) -> Iterator[Request]:
    base = f"first={world.version}&second={world.version}"
    yield from _posts(reverse("workspace:comparison_new"), ["first", "second"], "compare", plan, base=base)
    if plan.full:
        yield from _segments(lambda segment: f"/models/comparisons/{segment}/", "comparison", plan)


def _retrain_all(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _posts(reverse("workspace:retrain_all"), ["page"], "retrain all", plan)


def _model_card(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:model_card", args=[world.version]), ["download"], "model card", plan)
    if plan.full:
        yield from _segments(lambda segment: f"/models/versions/{segment}/card.md", "model card", plan)


def _model_decision(world: World, role: str, plan: Plan) -> Iterator[Request]:
    for decision in ("approve", "refuse", "activate"):
        url = reverse("workspace:model_version_decide", args=[world.version, decision])
        yield from _posts(url, ["note"], f"model {decision}", plan)
    if plan.full:
        yield from _segments(lambda segment: f"/models/versions/{segment}/approve/", "model decision", plan, "post")
        yield from _segments(
            lambda segment: f"/models/versions/{world.version}/{segment}/", "model decision", plan, "post"
        )


def _data_imports(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _posts(reverse("workspace:data_imports"), ["kind"], "data upload", plan, base="kind=employers")
    if plan.full:
        yield from _segments(lambda segment: f"/imports/{segment}/", "data import", plan)
        yield from _segments(lambda segment: f"/imports/{segment}/problems.csv", "import problems", plan)
        yield from _segments(lambda segment: f"/imports/{segment}/again/", "import again", plan, "post")
        yield from _segments(lambda segment: f"/imports/{segment}/rescore/", "import rescore", plan, "post")


def _api_imports(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:api_data_imports"), ["page"], "api imports", plan, scoped=[])
    yield from _posts(reverse("workspace:api_data_imports"), ["kind"], "api import", plan, base="kind=employers")
    if plan.full:
        yield from _segments(lambda segment: f"/api/imports/{segment}/", "api import state", plan)


def _api_list(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("workspace:api_ranked_list")
    yield from _gets(url, [*LIST_PARAMS, "after"], "api list", plan, scoped=LIST_SCOPED, strays=LIST_STRAYS)


def _api_employer(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _segments(lambda segment: _employer_url("workspace:api_employer_scores", segment), "api scores", plan)


def _api_outcome(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("workspace:api_outcome", args=[world.inspection])
    yield from _posts(url, OUTCOME_FIELDS, "api outcome", plan, base=OUTCOME_BASE)
    if plan.full:
        yield from _segments(lambda segment: f"/api/inspections/{segment}/outcome/", "api outcome", plan)


def _api_models(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _gets(reverse("workspace:api_model_versions"), ["sector", "offence"], "api models", plan, scoped=[])
    for decision in ("approve", "refuse", "activate"):
        url = reverse("workspace:api_model_version_decide", args=[world.version, decision])
        yield from _posts(url, ["note"], f"api model {decision}", plan)
    upload = reverse("workspace:api_model_upload")
    fields = ["sector", "offence", "description", "red", "orange", "green"]
    yield from _posts(upload, fields, "api model upload", plan, base=f"sector={SECTOR}&offence={OFFENCE}")
    if plan.full:
        yield from _segments(lambda segment: f"/api/models/{world.version}/{segment}/", "api decision", plan, "post")


def _login(world: World, role: str, plan: Plan) -> Iterator[Request]:
    url = reverse("login")
    yield from _gets(url, ["next"], "login", plan)
    yield from _posts(url, ["username", "password", "next"], "login", plan, base="username=nobody&password=x")


def _logout(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _posts(reverse("logout"), ["next"], "logout", plan, relogin=True)


def _set_language(world: World, role: str, plan: Plan) -> Iterator[Request]:
    yield from _posts(reverse("set_language"), ["language", "next"], "language", plan, base="language=nl")


def _admin_parameters(model_admin: admin.ModelAdmin, user: object) -> list[str]:
    """The changelist's own parameters: search, ordering, page, and each filter's."""
    request = RequestFactory().get("/")
    request.user = user
    changelist = model_admin.get_changelist_instance(request)
    names = ["q", "o", "p", "_to_field"]
    return names + [name for spec in changelist.filter_specs for name in spec.expected_parameters()]


def _changelist(model: type) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _admin_changelists(world: World, role: str, plan: Plan) -> Iterator[Request]:
    for model, model_admin in admin.site._registry.items():
        url, name = _changelist(model), f"admin {model._meta.model_name}"
        params = _admin_parameters(model_admin, world.users["administrator"])
        if role != "administrator":  # not staff: the admin's login page
            yield Request(f"{name} ?*", "get", f"{url}?{'&'.join(f'{p}=%00' for p in params)}")
            continue
        # Search and filters one by one; ordering, page and _to_field with them at once.
        yield from _gets(
            url, params, name, Plan(ADMIN, full=False), scoped=sorted(set(params) - {"o", "p", "_to_field"})
        )


def _admin_objects(world: World, role: str, plan: Plan) -> Iterator[Request]:
    for model in admin.site._registry:
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        url = reverse(f"{prefix}_change", args=["0"]).replace("/0/", "/{}/")
        yield from _segments(url.format, f"admin {model._meta.model_name} object", Plan(ADMIN, full=True))


# Per page: the URL names it covers, its requests, and the role that sends it the whole corpus.
PAGES: dict[str, tuple[set[str], Callable[[World, str, Plan], Iterator[Request]], str]] = {
    "home": ({"home"}, _plain("home"), "inspector"),
    "help": ({"workspace:help"}, _plain("workspace:help"), "inspector"),
    "health": ({"health"}, _plain("health"), "anonymous"),
    "list": ({"workspace:ranked_list"}, _list, "inspector"),
    "list-htmx": ({"workspace:ranked_list"}, _list_htmx, ""),  # the list's code, with another status
    "subregion-options": ({"workspace:subregion_options"}, _subregion_options, "inspector"),
    "export-csv": ({"workspace:ranked_list_export"}, _export("csv"), "limited_inspector"),
    "export-xlsx": ({"workspace:ranked_list_export"}, _export("xlsx"), "inspector"),
    "export-format": ({"workspace:ranked_list_export"}, _export_formats, "inspector"),
    "employer": ({"workspace:employer_detail"}, _employer_detail, "limited_inspector"),
    "employer-search": ({"workspace:employer_search"}, _employer_search, "limited_inspector"),
    "note-create": ({"workspace:note_create"}, _note_create, "inspector"),
    "note-edit": ({"workspace:note_edit"}, _note_edit, "inspector"),
    "target-add": ({"workspace:target_add"}, _target_add, "limited_inspector"),
    "my-targets": ({"workspace:my_targets"}, _plain("workspace:my_targets"), "inspector"),
    "risk-profiles": ({"workspace:risk_profiles"}, _plain("workspace:risk_profiles"), "analyst"),
    "risk-profile": ({"workspace:risk_profile"}, _risk_profile, "task_force"),
    "outcome": ({"workspace:inspection_outcome"}, _outcome, "task_force"),
    "judgement": ({"workspace:judgement_record"}, _judgement, "inspector"),
    "judgements": ({"workspace:judgements"}, _plain("workspace:judgements"), "task_force"),
    "statistics": ({"workspace:statistics"}, _statistics, "inspector"),
    "worklists": ({"workspace:worklists"}, _worklist_new, "task_force"),
    "worklist": ({"workspace:worklist_detail", "workspace:worklist_export"}, _worklist_pages, "task_force"),
    "target-change": ({"workspace:target_change"}, _target_change, "task_force"),
    "visit-sheet": ({"workspace:visit_sheet"}, _visit_sheet, "inspector"),
    "model-pairs": ({"workspace:model_pairs"}, _plain("workspace:model_pairs"), "analyst"),
    "retrain-all": ({"workspace:retrain_all"}, _retrain_all, "analyst"),
    "model-pair": ({"workspace:model_pair", "workspace:lists_state", "workspace:pair_retrain"}, _model_pair, "analyst"),
    "model-decision": ({"workspace:model_version_decide"}, _model_decision, "analyst"),
    "model-card": ({"workspace:model_card"}, _model_card, "task_force"),
    "comparison": ({"workspace:comparison_new", "workspace:comparison"}, _comparison, "analyst"),
    "model-upload": ({"workspace:model_upload", "workspace:model_upload_detail"}, _model_upload, "analyst"),
    "data-imports": (
        {
            "workspace:data_imports",
            "workspace:data_import",
            "workspace:data_import_report",
            "workspace:data_import_again",
            "workspace:data_import_rescore",
        },
        _data_imports,
        "analyst",
    ),
    "api-imports": ({"workspace:api_data_imports", "workspace:api_data_import"}, _api_imports, "analyst"),
    "api-list": ({"workspace:api_ranked_list"}, _api_list, "limited_inspector"),
    "api-employer": ({"workspace:api_employer_scores"}, _api_employer, "limited_inspector"),
    "api-outcome": ({"workspace:api_outcome"}, _api_outcome, "task_force"),
    "api-models": (
        {"workspace:api_model_versions", "workspace:api_model_version_decide", "workspace:api_model_upload"},
        _api_models,
        "analyst",
    ),
    "api-schema": ({"workspace:api_schema"}, _plain("workspace:api_schema"), "inspector"),
    "login": ({"login"}, _login, "anonymous"),
    "logout": ({"logout"}, _logout, "analyst"),
    "set-language": ({"set_language"}, _set_language, "anonymous"),
    "admin-changelists": (set(), _admin_changelists, "administrator"),
    "admin-objects": (set(), _admin_objects, "administrator"),
}


def _route_names(patterns: list, namespace: str | None = None) -> Iterator[str]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = ":".join(part for part in (namespace, pattern.namespace) if part) or None
            if inner != "admin":  # the admin's pages: from its registry, above
                yield from _route_names(pattern.url_patterns, inner)
        elif pattern.name:
            yield f"{namespace}:{pattern.name}" if namespace else pattern.name


def test_every_route_has_hostile_cases() -> None:
    covered = set().union(*(routes for routes, _, _ in PAGES.values()))
    assert set(_route_names(get_resolver().url_patterns)) == covered


# --- Sending them ---------------------------------------------------------------------------


def _refused(response) -> bool:
    """A 4xx, a redirect to a login page, a form with errors, or an error message for the next page."""
    if response.status_code >= 400:
        return True
    if response.status_code == 302 and response["Location"].startswith((str(LOGIN), str(ADMIN_LOGIN))):
        return True
    context = response.context
    for name in ("form", "note_form", "comment_form"):
        form = context.get(name) if context is not None else None
        if form is not None and getattr(form, "errors", None):
            return True
    # The messages this request queued (not those of earlier ones, still in the cookie).
    queued = getattr(getattr(response.wsgi_request, "_messages", None), "_queued_messages", [])
    return any(message.level >= ERROR for message in queued)


def _html(response) -> str | None:
    if not response.get("Content-Type", "").startswith("text/html"):
        return None
    return response.content.decode("utf-8", errors="replace")


@dataclass
class Outcome:
    problems: list[str] = field(default_factory=list)
    sent: int = 0


def _send(client: Client, request: Request) -> object:
    headers = {"HX-Request": "true"} if request.htmx else {}
    if request.method == "get":
        return client.get(request.url, headers=headers)
    return client.post(
        request.url, data=request.body or "", content_type="application/x-www-form-urlencoded", headers=headers
    )


def _where(exc: BaseException) -> str:
    """The project's deepest frame the exception passed through (outside the tests), else the deepest."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "/.venv/" not in f.filename and "/tests/" not in f.filename] or frames[-1:]
    return f"{ours[-1].filename.rsplit('/site-packages/', 1)[-1]}:{ours[-1].lineno}" if ours else "?"


def _check(client: Client, request: Request, outcome: Outcome) -> None:
    before = _fingerprint() if request.writes else None
    try:
        response = _send(client, request)
    except Exception as exc:  # the view raised: a 500 in production
        outcome.problems.append(f"{request.label}: {type(exc).__name__}: {exc} ({_where(exc)})")
        return
    if response.status_code >= 500:
        outcome.problems.append(f"{request.label}: status {response.status_code}")
        return
    html = _html(response)
    if html is not None and SCRIPT in html:
        outcome.problems.append(f"{request.label}: {SCRIPT} shown unescaped")
    if not request.writes:
        return
    if _refused(response):
        if _fingerprint() != before:
            changed = [name for (name, a), (_, b) in zip(before, _fingerprint(), strict=True) if a != b]
            outcome.problems.append(f"{request.label}: refused ({response.status_code}) yet changed {changed}")
    elif request.shown_at and request.sent is not None and request.sent.text == SCRIPT:
        page = client.get(request.shown_at).content.decode()
        if SCRIPT in page or SCRIPT_ESCAPED not in page:
            outcome.problems.append(f"{request.label}: accepted, not shown escaped at {request.shown_at}")


def _client(world: World, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users[role])
    return client


ADMIN_OWN_PARAMETERS = {"q", "o", "p", "_to_field"}


# Pages whose reference role sends the whole corpus; the others' send the sharp values to
# every parameter. (An export or a home page costs two list pages.)
WHOLE_CORPUS = {
    "list",
    "subregion-options",
    "employer",
    "employer-search",
    "note-create",
    "note-edit",
    "target-add",
    "risk-profile",
}
WHOLE_CORPUS |= {"login", "set-language", "export-format"}


def _plan(page: str, role: str) -> Plan:
    full = PAGES[page][2] == role
    return Plan(CORPUS if full and page in WHOLE_CORPUS else SHARP, full)


def _run(world: World, role: str, page: str) -> Outcome:
    client, outcome = _client(world, role), Outcome()
    for request in PAGES[page][1](world, role, _plan(page, role)):
        if request.relogin and role != "anonymous":
            client.force_login(world.users[role])
        point = transaction.savepoint()
        try:
            _check(client, request, outcome)
        finally:
            transaction.savepoint_rollback(point)
            # Back before the request: a query it failed no longer spoils the transaction.
            transaction.set_rollback(False)
        outcome.sent += 1
    return outcome


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("page", list(PAGES))
def test_hostile_input_never_fails_and_refused_input_changes_nothing(world, db, page, role) -> None:
    outcome = _run(world, role, page)
    assert outcome.sent > 0
    assert not outcome.problems, f"{len(outcome.problems)} of {outcome.sent}:\n" + "\n".join(outcome.problems[:40])


# Their filters are on booleans, numbers and dates, whose values Django's admin checks.
ADMIN_FILTERS_CHECKED = {"auth.user", "inspections.declaration"}


def _admin_filter_cases() -> list:
    return [
        pytest.param(model, id=f"admin-{model._meta.label_lower}")
        for model, model_admin in admin.site._registry.items()
        if model_admin.list_filter and model._meta.label_lower not in ADMIN_FILTERS_CHECKED
    ]


NUL_CASES = [
    ("list-subregion-nul", "/lists/?region=BE3&subregion=%00"),
    ("list-region-nul", "/lists/?region=a%00b&subregion=BE332"),
    ("export-csv-subregion-nul", "/lists/export.csv?region=BE3&subregion=%00"),
    ("export-xlsx-region-nul", "/lists/export.xlsx?region=%00&subregion=BE332"),
    ("subregion-options-nul", "/lists/subregions/?region=%00"),
    ("nul-in-a-parameter-name", "/lists/?sec%00tor=construction"),
]


@pytest.mark.parametrize("path", [pytest.param(path, id=name) for name, path in NUL_CASES])
def test_a_nul_character_in_a_parameter_gets_a_400_with_a_message(world, db, path) -> None:
    response = _client(world, "inspector").get(path)
    assert response.status_code == 400
    assert "NUL character" in response.content.decode()


def test_a_nul_character_in_a_form_changes_nothing(world, db) -> None:
    client = _client(world, "inspector")
    employer = Employer.objects.visible_to(world.users["inspector"]).first()
    notes = Note.objects.count()
    response = client.post(reverse("workspace:note_create", args=[employer.enterprise_number]), {"text": "a\x00b"})
    assert response.status_code in (200, 302) and Note.objects.count() == notes


@pytest.mark.parametrize("model", _admin_filter_cases())
def test_a_nul_character_in_an_admin_filter_gets_a_400(world, db, model) -> None:
    client, outcome = _client(world, "administrator"), Outcome()
    params = _admin_parameters(admin.site._registry[model], world.users["administrator"])
    for name in sorted(set(params) - ADMIN_OWN_PARAMETERS):
        point = transaction.savepoint()
        _check(client, Request(f"?{name}=%00", "get", f"{_changelist(model)}?{name}=%00"), outcome)
        transaction.savepoint_rollback(point)
        transaction.set_rollback(False)
    assert not outcome.problems, outcome.problems
