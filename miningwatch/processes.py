"""Run the web server, a Celery worker and beat side by side until Ctrl-C (for `make demo`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence


def processes_run(commands: dict[str, Sequence[str]], *, on_stop: list[object] | None = None) -> int:
    """Start every command, wait until one exits or we are interrupted, stop them all.

    Returns the exit code to use: 0 after Ctrl-C, else the code of the first process that died.
    """
    children = {name: subprocess.Popen(list(cmd), env=os.environ.copy()) for name, cmd in commands.items()}
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    # Both handled explicitly: a shell that starts us in the background ignores SIGINT.
    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    exit_code = 0
    try:
        while not stop_requested:
            dead = {name: p.returncode for name, p in children.items() if p.poll() is not None}
            if dead:
                name, code = next(iter(dead.items()))
                sys.stderr.write(f"{name} stopped (exit code {code}); stopping the others\n")
                exit_code = code or 1
                break
            time.sleep(0.5)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _stop_all(children)
    return exit_code


def _stop_all(children: dict[str, subprocess.Popen[bytes]]) -> None:
    for process in children.values():
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in children.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
