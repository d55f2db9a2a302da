"""Benchmark: a declarations file sent through the upload page, imported by a real worker.

    DATABASE_URL=postgres://root@127.0.0.1:5432/mw_l1m REDIS_URL=redis://127.0.0.1:6379/5 \\
        python bench/bench_upload.py --rows 1000000

Needs generated data (`manage.py generate_data --employers 1000000 ...`). It writes a CSV
of `--rows` declarations for two quarters after the generated ones (the latest generated
quarters' figures, relabelled), starts gunicorn (DEBUG off) and a Celery worker (one
process, as in production), logs in as an analyst through a session, and for each repeat:

- POSTs the file to /imports/ as a browser does (multipart, CSRF token);
- polls the import's record until it is finished;
- reads the peak resident memory (VmHWM) of the worker's pool process;
- deletes the declarations it created, so that the next repeat imports the same rows.

It prints the time of the POST (upload, checks of the header, storing), the time to done
(from the start of the POST), the worker's peak RSS, and the medians.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "miningwatch.settings")
os.environ.setdefault("DEBUG", "1")
# The web server's too: a session's hash is keyed by it.
os.environ.setdefault("SECRET_KEY", "bench-upload-" + "x" * 50)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.contrib.sessions.backends.cached_db import SessionStore  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart  # noqa: E402

from inspections.models import DataImport, Declaration  # noqa: E402
from inspections.roles import ANALYST, roles_sync  # noqa: E402
from inspections.services.imports.kinds import DECLARATION_COLUMNS as COLUMNS  # noqa: E402
from tests.processes import free_port  # noqa: E402

BIN = Path(sys.executable).parent
NEW_QUARTERS = ("2026-10-01", "2027-01-01")  # after the generator's last quarter (2026-07-01)


def declarations_file(rows: int, folder: Path) -> Path:
    """`rows` declarations of the two latest generated quarters, as the next two quarters."""
    path = folder / "declarations.csv"
    figures = ", ".join(f"d.{name}" for name in COLUMNS[2:])
    sql = f"""
        COPY (
            SELECT e.enterprise_number,
                   CASE d.quarter WHEN '2026-07-01' THEN '2026-Q4' ELSE '2027-Q1' END, {figures}
            FROM inspections_declaration d JOIN inspections_employer e ON e.id = d.employer_id
            WHERE d.quarter IN ('2026-04-01', '2026-07-01')
            ORDER BY d.quarter DESC, d.employer_id LIMIT {int(rows)}
        ) TO STDOUT WITH (FORMAT csv, HEADER false)"""
    with open(path, "w", encoding="utf-8") as handle, connection.cursor() as cursor:
        handle.write(",".join(COLUMNS) + "\n")
        cursor.copy_expert(sql, handle)
    return path


def analyst_session() -> str:
    from django.contrib.auth import get_user_model

    roles_sync()
    user, _ = get_user_model().objects.get_or_create(username="bench-analyst")
    user.groups.add(Group.objects.get(name=ANALYST))
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def post_upload(base: str, session_key: str, path: Path) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    opener.addheaders = [("Cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}")]
    opener.open(base + "/imports/").read()
    token = next(cookie.value for cookie in jar if cookie.name == settings.CSRF_COOKIE_NAME)
    with open(path, "rb") as handle:
        body = encode_multipart(BOUNDARY, {"kind": "declarations", "file": handle})
    cookies = f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={token}"
    request = urllib.request.Request(
        base + "/imports/",
        data=body,
        method="POST",
        headers={"Content-Type": MULTIPART_CONTENT, "X-CSRFToken": token, "Cookie": cookies, "Referer": base},
    )
    no_redirect = urllib.request.build_opener(_NoRedirect)
    try:
        answer = no_redirect.open(request, timeout=600)
    except urllib.error.HTTPError as exc:
        if exc.code != 302 or "/imports/" not in exc.headers.get("Location", ""):
            raise RuntimeError(f"upload answered {exc.code}: {exc.read()[:2000]!r}") from None
    else:
        raise RuntimeError(f"upload answered {answer.status}, not a redirect: {answer.read()[-3000:]!r}")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the 302 to the import's page is the answer
        return None


def peak_rss_mib(worker: subprocess.Popen) -> float:
    """The largest VmHWM among the worker's processes (its pool child does the import)."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(worker.pid) or status.parent.name == str(worker.pid):
            peaks.append(int(fields.get("VmHWM", "0 kB").split()[0]) / 1024)
    return max(peaks, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    env = {
        **os.environ,
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_COOKIES": "0",
        "CELERY_TASK_DEFAULT_QUEUE": queue,
        "IMPORT_UPLOAD_DIR": str(folder / "uploads"),
        "IMPORT_UPLOAD_MAX_MB": "1000",
    }
    path = declarations_file(args.rows, folder)
    print(f"file: {args.rows:,} rows, {path.stat().st_size / 2**20:.1f} MiB")
    session_key = analyst_session()
    port = free_port()
    web = subprocess.Popen(
        [str(BIN / "gunicorn"), "miningwatch.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "--timeout", "600"], cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    totals, posts, peaks, worker = [], [], [], None
    try:
        time.sleep(4)
        for repeat in range(args.repeat):
            worker = subprocess.Popen(
                [str(BIN / "celery"), "-A", "miningwatch", "worker", "-Q", queue, "--concurrency", "1",
                 "--loglevel", "warning", "--without-gossip", "--without-mingle"], cwd=ROOT, env=env,
            )  # fmt: skip
            time.sleep(6)
            before = DataImport.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
            start = time.perf_counter()
            post_upload(f"http://127.0.0.1:{port}", session_key, path)
            posts.append(time.perf_counter() - start)
            data_import = DataImport.objects.filter(pk__gt=before).get()
            while not data_import.finished:
                time.sleep(0.25)
                data_import.refresh_from_db()
            totals.append(time.perf_counter() - start)
            peaks.append(peak_rss_mib(worker))
            worker.terminate()
            worker.wait(60)
            print(
                f"repeat {repeat + 1}: {data_import.status} ({data_import.message}); POST {posts[-1]:.1f} s, "
                f"done after {totals[-1]:.1f} s, worker peak RSS {peaks[-1]:.0f} MiB"
            )
            Declaration.objects.filter(quarter__in=NEW_QUARTERS).delete()
    finally:
        if worker is not None and worker.poll() is None:
            worker.terminate()
        os.killpg(web.pid, 15)
        web.wait(30)
    print(
        f"median of {len(totals)}: POST {statistics.median(posts):.1f} s, done after "
        f"{statistics.median(totals):.1f} s, worker peak RSS {statistics.median(peaks):.0f} MiB"
    )


if __name__ == "__main__":
    main()
