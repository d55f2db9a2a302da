from __future__ import annotations

from typing import Any

from miningwatch import stamps


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    from inspections.roles import roles_sync

    roles_sync()


def data_changed(sender: Any, **kwargs: Any) -> None:
    """An employer, inspection or finding was saved or deleted one by one (admin, services):
    rendered lists that show it are stale. Bulk writes (imports, generation) bump it themselves."""
    stamps.stamp_bump(stamps.INSPECTIONS)
