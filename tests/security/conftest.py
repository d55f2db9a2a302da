"""The security tests use the workspace's fixtures: users in their roles, a published run."""

from __future__ import annotations

from tests.workspace.conftest import (  # noqa: F401 (fixtures, found by name)
    _fast_passwords,
    colleague,
    inspector,
    logged_in,
    ranked,
    task_force,
    walloon_inspector,
)
