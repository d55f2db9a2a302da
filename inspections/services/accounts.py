"""Accounts: the demo users, one per role."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from inspections.models import InspectorScope, Region
from inspections.roles import ADMINISTRATOR, ANALYST, INSPECTOR, TASK_FORCE, roles_sync


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    role: str
    note: str = ""


DEMO_ACCOUNTS = [
    DemoAccount("inspector", "inspector-demo", INSPECTOR, "sees every region"),
    DemoAccount("inspector.flanders", "inspector-demo", INSPECTOR, "limited to the Flemish Region"),
    DemoAccount("analyst", "analyst-demo", ANALYST),
    DemoAccount("taskforce", "taskforce-demo", TASK_FORCE),
    DemoAccount("admin", "admin-demo", ADMINISTRATOR, "Django admin too"),
]


@transaction.atomic
def demo_accounts_ensure() -> list[DemoAccount]:
    """Create (or reset the passwords of) one demo user per role. Demo use only."""
    roles_sync()
    user_model = get_user_model()
    for account in DEMO_ACCOUNTS:
        user, _ = user_model.objects.get_or_create(username=account.username)
        user.set_password(account.password)
        user.is_staff = user.is_superuser = account.role == ADMINISTRATOR
        user.save()
        user.groups.set([Group.objects.get(name=account.role)])
        if account.username == "inspector.flanders":
            scope, _ = InspectorScope.objects.get_or_create(user=user)
            scope.regions.set(Region.objects.filter(code="BE2"))
    return DEMO_ACCOUNTS
