from __future__ import annotations

from typing import Any


def roles_sync_after_migrate(sender: Any, **kwargs: Any) -> None:
    from inspections.roles import roles_sync

    roles_sync()
