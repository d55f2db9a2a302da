"""The cache's Redis database is never the broker's: clearing it must not drop queued tasks."""

from __future__ import annotations

import pytest

from miningwatch.redis_urls import cache_url_for


@pytest.mark.parametrize(
    ("broker", "cache"),
    [
        ("redis://127.0.0.1:6379/1", "redis://127.0.0.1:6379/2"),
        ("redis://redis:6379", "redis://redis:6379/1"),
        ("redis://:secret@redis.example.org:6380/15", "redis://:secret@redis.example.org:6380/0"),
        (
            "rediss://redis.example.org:6380/0?ssl_cert_reqs=required",
            "rediss://redis.example.org:6380/1?ssl_cert_reqs=required",
        ),
        ("redis+socket:///srv/mw/var/redis/redis.sock", "unix:///srv/mw/var/redis/redis.sock?db=1"),
    ],
)
def test_the_cache_takes_the_next_database(broker: str, cache: str) -> None:
    assert cache_url_for(broker) == cache


def test_the_running_cache_is_not_the_broker(settings) -> None:
    assert settings.CACHES["default"]["LOCATION"] != settings.CELERY_BROKER_URL
