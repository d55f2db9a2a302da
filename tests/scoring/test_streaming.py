"""Feature rows read while PostgreSQL writes them: the same rows as a finished COPY, errors kept."""

from __future__ import annotations

import threading

import pandas as pd
import pytest
from django.db import connection, transaction
from psycopg2 import errors as pg_errors

from inspections.services.generation import demo_data_generate
from scoring.features.computation import SECTOR_TARGETS, features_read
from scoring.features.streaming import copy_followed

from .conftest import AS_OF, GENERATED_EMPLOYERS, GENERATED_SEED, INSPECTION_RATE, SECTOR

# Transactional: the COPY runs on a connection of its own, which sees committed rows only.
# serialized_rollback: the flush after each test would drop the reference data.
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

NUMBERS = "COPY (SELECT g, g * 2 FROM generate_series(1, 200000) g) TO STDOUT"
FAILING = "COPY (SELECT 1 / (g - 5000) FROM generate_series(1, 10000) g) TO STDOUT"
# In the select list, not FROM: FROM would collect every row before the first is sent.
ENDLESS = "COPY (SELECT generate_series(1, 1000000000)) TO STDOUT"


def _copying() -> bool:
    return "mw-copy-out" in {thread.name for thread in threading.enumerate()}


def test_a_followed_copy_reads_every_row() -> None:
    with copy_followed(NUMBERS) as out:
        lines = out.read().decode().splitlines()
    assert len(lines) == 200_000
    assert lines[0] == "1\t2" and lines[-1] == "200000\t400000"
    assert not _copying()


def test_features_read_while_copied_equal_the_finished_copy() -> None:
    demo_data_generate(employers=GENERATED_EMPLOYERS, seed=GENERATED_SEED, inspection_rate=INSPECTION_RATE)
    params = {"sector": SECTOR, "as_of": AS_OF}
    assert not connection.in_atomic_block  # the streaming path
    followed = pd.concat(features_read(targets=SECTOR_TARGETS, params=params, chunk_rows=97), ignore_index=True)
    with transaction.atomic():  # the spooled path
        spooled = pd.concat(features_read(targets=SECTOR_TARGETS, params=params), ignore_index=True)
    assert len(followed) > 100
    pd.testing.assert_frame_equal(followed, spooled)


def test_an_error_of_the_copy_reaches_the_reader() -> None:
    with pytest.raises(pg_errors.DivisionByZero), copy_followed(FAILING) as out:
        out.read()
    assert not _copying()


def test_a_reader_that_gives_up_cancels_the_copy() -> None:
    with pytest.raises(RuntimeError, match="enough"), copy_followed(ENDLESS) as out:
        out.read(10)
        raise RuntimeError("enough")
    assert not _copying()  # cancelled: a billion rows would take minutes
