"""Real processes for integration and browser tests: a Celery worker, a gunicorn server."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def test_database_url() -> str:
    """A DATABASE_URL for the database pytest-django created, for child processes."""
    db = connection.settings_dict
    host = db.get("HOST") or ""
    socket_dir = db.get("OPTIONS", {}).get("host")
    user = quote(db.get("USER") or "")
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    if socket_dir and not host:
        return f"postgres://{user}{password}@/{db['NAME']}?host={socket_dir}"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{db['NAME']}"


def child_env(**extra: str) -> dict[str, str]:
    from django.conf import settings

    env = os.environ.copy()
    env.update(DATABASE_URL=test_database_url(), REDIS_URL=settings.REDIS_URL, DEBUG="1", **extra)
    return env


@dataclass
class WorkerProcess:
    """A running `celery worker`: its queue, its main process, what it printed."""

    queue: str
    process: subprocess.Popen[bytes]
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=400))

    def kill(self) -> None:
        """SIGKILL the main process and its pool children at once, as when a machine dies."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)

    def output(self) -> str:
        return "".join(self.lines)


@contextmanager
def celery_worker(**env: str) -> Iterator[str]:
    """A real `celery worker` process on a queue of its own; yields the queue name."""
    with celery_worker_process(**env) as worker:
        yield worker.queue


@contextmanager
def celery_worker_process(*, app: str = "miningwatch", **env: str) -> Iterator[WorkerProcess]:
    """celery_worker, yielding the process too. It runs in a session of its own, so that
    WorkerProcess.kill reaches its pool children and nothing else; `app` may name a test
    module that adjusts the application, `env` adds environment variables."""
    queue = f"test-{uuid.uuid4().hex[:8]}"
    cmd = [
        str(BIN / "celery"),
        "-A",
        app,
        "worker",
        "-Q",
        queue,
        "--concurrency",
        "1",
        "--pool",
        "prefork",
        "--hostname",
        f"{queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "info",
    ]
    # What the worker's tasks send without a queue named stays on its queue, not on the default.
    env = {"CELERY_TASK_DEFAULT_QUEUE": queue, **env}
    process = subprocess.Popen(
        cmd, cwd=ROOT, env=child_env(**env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    worker = WorkerProcess(queue=queue, process=process)
    try:
        _wait_for_line(process, "ready", timeout=60)
        # Keep reading what it prints: a full pipe would block the worker mid-task.
        threading.Thread(target=_drain, args=(process, worker.lines), daemon=True).start()
        yield worker
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)


def _drain(process: subprocess.Popen[bytes], lines: deque[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.decode(errors="replace"))


def _wait_for_line(process: subprocess.Popen[bytes], needle: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline().decode(errors="replace")
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if needle in line:
            return
    raise RuntimeError("process did not become ready:\n" + "".join(seen[-40:]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn_server(**env: str) -> Iterator[str]:
    """The production web server on a free port; yields its base URL (`env` adds variables)."""
    port = free_port()
    cmd = [str(BIN / "gunicorn"), "miningwatch.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2"]
    # A session of its own, stopped as a group: no worker outlives the test.
    process = subprocess.Popen(cmd, cwd=ROOT, env=child_env(SECURE_COOKIES="0", **env), start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_for_http(base + "/health/", timeout=60)
        yield base
    finally:
        _group_stop(process)


def _group_stop(process: subprocess.Popen) -> None:
    """SIGTERM to the process group, then SIGKILL to whatever is left of it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _wait_for_http(url: str, timeout: float) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout}s")
