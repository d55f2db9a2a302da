"""Benchmark: response time of the ranked list page for many filter combinations.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mw_bench_scoring \\
        .venv/bin/python bench/bench_list.py [--repeat 3] [--cold] [--explain 5] [--seed 7]

It runs with DEBUG off, as in production (a throw-away SECRET_KEY unless one is set):
with DEBUG on, Django records every query and WhiteNoise looks for changed files (measured
with --cold: p95 41.7 ms with DEBUG on against 32.7 ms off, the same p50).

Needs 1,000,000 generated employers scored for the 4 offence types of every sector with
the current code (bench/bench_training.py --rescore), so that Score carries the list
columns and each run has its ScoreCount rows. Through Django's test Client, in this
process, with a logged-in superuser (no region limit: the largest lists), it requests
workspace:ranked_list for every sector x offence x filter kind below, first page and
last page (?page=last): one untimed warm-up request, then --repeat timed ones each.
It checks every response is 200 and holds rows (when the filters match any employer).

Filter kinds: none, region, sub-region, band (red), band (orange + green), size class,
legal form, not inspected in the last 12 months, search by name, search by an
enterprise-number prefix, and combinations of them. The values (region, sub-region,
legal form, name word, number prefix) are drawn per (sector, offence) with --seed.

With --http URL it requests a running server instead (gunicorn, DEBUG=0), with a
session of the same superuser written to the session store (no login form); the
EXPLAIN part still runs in process. --print-session prints such a session key (for wrk).

The rendered results of a list are kept in the shared cache (workspace/views_lists.py): the
timed requests after the warm-up are served from it. With --cold the rendered results of
the query are deleted before every timed request, so
that every timed request renders its page from the database (the user's session stays
cached, as it does while somebody browses). A process keeps each published run's
lookup (2 MB, read once: workspace.selectors.band_counts_looked_up) whatever the filters;
--forget-lookups forgets them before every timed request too (the first search of a run).

It prints p50 / p95 / max per kind, per page (first / last) and overall, the slowest
combinations, and with --explain N the SQL of the N slowest with their slowest statement
run under EXPLAIN ANALYZE. Target: p95 at most 50 ms for every kind, first and last page.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "bench-only-" + "x" * 50)
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model  # noqa: E402
from django.contrib.sessions.backends.cached_db import SessionStore  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.db import connection, reset_queries  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402

from inspections.models import Employer, OffenceType, Region, Sector, SubRegion  # noqa: E402
from scoring.models import Score, ScoringRun  # noqa: E402
from scoring.services.runs import runs_unanalysed  # noqa: E402
from workspace.selectors import run_lookups_forget  # noqa: E402

TARGET_MS = 50.0
USER = "bench_list"
NAME_WORDS = ["Jacobs", "Peeters", "Dubois", "Renovation", "Lavage", "Diner", "Fils", "Zonen", "Bouw", "Clean"]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def kinds(rng: random.Random, sector: str) -> list[tuple[str, dict[str, str | list[str]]]]:
    """(kind, filters) for one sector: every filter alone, then combinations."""
    region = rng.choice(list(Region.objects.values_list("code", flat=True)))
    subregions = list(SubRegion.objects.values_list("code", "region_id"))
    subregion = rng.choice(subregions)[0]
    subregion_in_region = rng.choice([code for code, parent in subregions if parent == region])
    # An employer among the sector's first thousand ids: its number's first digits.
    number = Employer.objects.filter(sector_id=sector).order_by("id")[rng.randrange(1000)].enterprise_number
    legal = rng.choice(["BV", "EZ", "NV", "VZW"])
    word = rng.choice(NAME_WORDS)
    return [
        ("none", {}),
        ("region", {"region": region}),
        ("subregion", {"subregion": subregion}),
        ("band red", {"band": ["1"]}),
        ("band orange+green", {"band": ["2", "3"]}),
        ("size class", {"size_class": [rng.choice(["2", "3", "4"])]}),
        ("legal form", {"legal_form": legal}),
        ("not inspected 12 m", {"not_inspected": "12"}),
        ("search name", {"q": word}),
        ("search number prefix", {"q": number[:4]}),
        ("region+band", {"region": region, "band": ["1"]}),
        (
            "subregion+band+size",
            {"region": region, "subregion": subregion_in_region, "band": ["1", "2"], "size_class": ["1"]},
        ),
        ("legal+not inspected+band", {"legal_form": legal, "not_inspected": "12", "band": ["1"]}),
        (
            "region+size+legal+not insp.",
            {"region": region, "size_class": ["3"], "legal_form": "NV", "not_inspected": "24"},
        ),
        ("region+search name", {"region": region, "q": word}),
        ("band+search number", {"band": ["1"], "q": number[:6]}),
    ]


def url_of(sector: str, offence: str, filters: dict, last: bool) -> str:
    pairs = [("sector", sector), ("offence", offence)]
    for name, value in filters.items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, item))
    if last:
        pairs.append(("page", "last"))
    return f"{reverse('workspace:ranked_list')}?{urlencode(pairs)}"


def bench_user():
    user, _ = get_user_model().objects.get_or_create(
        username=USER, defaults={"is_superuser": True, "is_staff": True, "email": "bench@example.org"}
    )
    return user


def client_logged_in() -> Client:
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(bench_user())
    return client


class HttpClient:
    """GET over HTTP (a running gunicorn) with a session cookie; the shape of the test Client's get."""

    def __init__(self, base: str, session_key: str) -> None:
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=30)
        self.headers = {"Cookie": f"sessionid={session_key}", "Host": parts.netloc}

    def get(self, url: str) -> SimpleNamespace:
        self.connection.request("GET", url, headers=self.headers)
        response = self.connection.getresponse()
        return SimpleNamespace(status_code=response.status, content=response.read())


def session_for(user) -> str:
    """A session of this user in the configured session store (what logging in writes)."""
    store = SessionStore()
    store[SESSION_KEY] = str(user.pk)
    store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    store[HASH_SESSION_KEY] = user.get_session_auth_hash()
    store.create()
    return store.session_key


def pages_forget() -> None:
    """Empty the cache of what a list page keeps by its query: its rendered results.
    Sessions stay, as they do for a user who is browsing the lists."""
    client = cache._cache.get_client()
    for key in client.scan_iter(match="mw:*ranked-results:*", count=1000):
        client.delete(key)


def timed_get(client: Client | HttpClient, url: str) -> tuple[float, int, bytes]:
    start = time.perf_counter()
    response = client.get(url)
    seconds = time.perf_counter() - start
    reset_queries()
    return seconds * 1000, response.status_code, response.content


def explain(client: Client, url: str) -> None:
    """The statements of one request, the slowest under EXPLAIN ANALYZE."""
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    queries = sorted(captured.captured_queries, key=lambda query: float(query["time"]), reverse=True)
    print(f"\n{url}: {len(queries)} statements, slowest {float(queries[0]['time']) * 1000:.1f} ms")
    for query in queries[:3]:
        print(f"  {float(query['time']) * 1000:7.1f} ms  {query['sql'][:300]}")
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + queries[0]["sql"])
        for (line,) in cursor.fetchall():
            print("    " + line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3, help="timed requests per URL (after one warm-up)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--explain", type=int, default=0, help="EXPLAIN ANALYZE the slowest statement of N URLs")
    parser.add_argument("--sector", action="append", help="only these sectors (default: all)")
    parser.add_argument("--http", help="request a running server at this base URL (e.g. http://127.0.0.1:8077)")
    parser.add_argument("--print-session", action="store_true", help="print a session key of the bench user, exit")
    parser.add_argument(
        "--cold", action="store_true", help="empty the shared cache before every timed request (nothing cached)"
    )
    parser.add_argument(
        "--forget-lookups", action="store_true", help="forget the runs' lookups before every timed request"
    )
    args = parser.parse_args()
    if args.print_session:
        print(session_for(bench_user()))
        return
    rng = random.Random(args.seed)
    client = HttpClient(args.http, session_for(bench_user())) if args.http else client_logged_in()
    sectors = args.sector or list(Sector.objects.order_by("pk").values_list("pk", flat=True))
    offences = list(OffenceType.objects.order_by("pk").values_list("pk", flat=True))
    published = {(run.sector_id, run.offence_type_id): run for run in ScoringRun.objects.published()}
    missing = [pair for pair in ((s, o) for s in sectors for o in offences) if pair not in published]
    if missing:
        raise SystemExit(f"no published run for {missing}: run bench/bench_training.py --rescore first")
    unanalysed = runs_unanalysed(run_ids=[run.pk for run in published.values()])
    if unanalysed:
        raise SystemExit(
            f"published runs {unanalysed} have no planner statistics: their figures would depend on when "
            "autovacuum analyses them. Rescore them with the current code, which analyses a run before publishing it."
        )
    unlisted = Score.objects.filter(run__in=list(published.values()), subregion__isnull=True).exists()
    if unlisted:
        raise SystemExit("published scores without the list columns: rescore with the current code")
    scored = sum(run.employers_scored for run in published.values())
    print(
        f"{scored:,} scores in {len(published)} published runs; {os.cpu_count()} cores; "
        f"{args.repeat} timed requests per URL after one warm-up; "
        f"{'HTTP ' + args.http if args.http else 'test Client in process'}, DEBUG={settings.DEBUG}, "
        f"{'cold: the cache emptied before every timed request' if args.cold else 'warm: rendered pages cached'}",
        flush=True,
    )
    times: dict[tuple[str, str], list[float]] = defaultdict(list)
    per_url: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    for sector in sectors:
        combinations = kinds(rng, sector)
        for offence in offences:
            for kind, filters in combinations:
                for last in (False, True):
                    url = url_of(sector, offence, filters, last)
                    timed_get(client, url)  # warm-up
                    for _ in range(args.repeat):
                        if args.cold:
                            pages_forget()
                        if args.forget_lookups:
                            run_lookups_forget()
                        ms, status, content = timed_get(client, url)
                        if status != 200:
                            errors.append(f"{status} {url}")
                        times[(kind, "last" if last else "first")].append(ms)
                        per_url[url].append(ms)
    every = [ms for values in times.values() for ms in values]
    print(f"\n{len(every)} timed requests, {len(per_url)} URLs, {len(errors)} errors")
    for error in errors[:10]:
        print("  " + error)
    print("\n| filter kind | page | p50 ms | p95 ms | max ms | p95 <= 50 ms |")
    print("|---|---|---|---|---|---|")
    met = not errors  # timings of error pages (a redirect, a 400) prove nothing
    for (kind, page), values in times.items():
        p95 = percentile(values, 0.95)
        met &= p95 <= TARGET_MS
        print(
            f"| {kind} | {page} | {statistics.median(values):.1f} | {p95:.1f} | {max(values):.1f} | "
            f"{'yes' if p95 <= TARGET_MS else 'NO'} |"
        )
    for page in ("first", "last"):
        values = [ms for (kind, which), items in times.items() if which == page for ms in items]
        print(
            f"| all | {page} | {statistics.median(values):.1f} | {percentile(values, 0.95):.1f} | "
            f"{max(values):.1f} | {'yes' if percentile(values, 0.95) <= TARGET_MS else 'NO'} |"
        )
    overall = percentile(every, 0.95)
    print(
        f"| all | both | {statistics.median(every):.1f} | {overall:.1f} | {max(every):.1f} | "
        f"{'yes' if overall <= TARGET_MS else 'NO'} |"
    )
    slowest = sorted(per_url.items(), key=lambda item: statistics.median(item[1]), reverse=True)
    print("\nslowest URLs (median of the timed requests):")
    for url, values in slowest[:10]:
        print(f"  {statistics.median(values):7.1f} ms  {url}")
    print(
        f"\ntarget p95 <= {TARGET_MS:.0f} ms for every kind and page: {'met' if met else 'NOT met'}; "
        f"overall p95 {overall:.1f} ms"
    )
    explainer = client_logged_in()
    for url, _ in slowest[: args.explain]:
        explain(explainer, url)


if __name__ == "__main__":
    main()
