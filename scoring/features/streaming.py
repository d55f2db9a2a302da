"""Reading a COPY's output while PostgreSQL is still writing it.

PostgreSQL computes the features of a sector on one core for most of a rescore; Python
used to wait for the last row before scoring the first. Here a
thread runs the COPY, on a connection of its own, into a temporary file at C speed, and
the caller reads that file as far as it has been written: the second core scores the
first chunks while PostgreSQL computes the next.
"""

from __future__ import annotations

import io
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

_POLL_SECONDS = 0.005


class _Following(io.RawIOBase):
    """A file read up to where a writer has got; the end once the writer is done."""

    def __init__(self, path: str, done: threading.Event) -> None:
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 (closed with this reader)
        self._done = done

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        while True:
            done = self._done.is_set()  # read before the file: what was written before "done" is there
            count = self._file.readinto(buffer) or 0
            if count or done:
                return count
            self._done.wait(_POLL_SECONDS)

    def close(self) -> None:
        self._file.close()
        super().close()


@contextmanager
def copy_followed(sql: str, *, alias: str = "default") -> Iterator[io.BufferedReader]:
    """The output of `COPY (...) TO STDOUT` as a file, readable while the COPY runs.

    The COPY runs on a connection of its own: it sees committed data only, so callers
    inside a transaction must not use this. An error of the COPY is raised on leaving;
    leaving early (an exception) cancels the COPY.
    """
    done, failure, running = threading.Event(), [], {}
    with tempfile.NamedTemporaryFile(prefix="mw-copy-") as spool:

        def produce() -> None:
            connection = connections[alias]  # this thread's own connection
            try:
                connection.ensure_connection()
                running["connection"] = connection.connection  # psycopg2's, for cancel()
                with connection.cursor() as cursor:
                    cursor.cursor.copy_expert(sql, spool)
                spool.flush()
            except BaseException as exc:
                failure.append(exc)
            finally:
                connection.close()
                done.set()

        producer = threading.Thread(target=produce, name="mw-copy-out", daemon=True)
        producer.start()
        reader = io.BufferedReader(_Following(spool.name, done), buffer_size=1 << 20)
        try:
            yield reader
        except BaseException:
            if "connection" in running and not done.is_set():
                running["connection"].cancel()  # thread-safe in psycopg2
            raise
        finally:
            reader.close()
            producer.join()
        if failure:
            raise failure[0]
