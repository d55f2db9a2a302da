"""The cache's Redis URL, derived from the broker's when CACHE_URL is not set."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

# The cache lives in the database after the broker's: clearing it (tests, operators)
# must never flush the broker's queues and bindings.
_DATABASES = 16


def cache_url_for(redis_url: str) -> str:
    """redis://host:6379/1 -> redis://host:6379/2; redis+socket:///path (kombu's) -> unix:///path?db=1."""
    parts = urlsplit(redis_url)
    if parts.scheme == "redis+socket":
        return f"unix://{parts.path}?db=1"
    path = parts.path.strip("/")
    database = int(path) if path.isdigit() else 0
    return urlunsplit((parts.scheme, parts.netloc, f"/{(database + 1) % _DATABASES}", parts.query, ""))
