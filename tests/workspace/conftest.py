"""Fixtures of the workspace tests: a published run of 120 employers, users in their roles."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from inspections.roles import INSPECTOR, TASK_FORCE
from tests.factories import UserFactory
from tests.workspace.support import Published, limit_to_region, publish_run


@pytest.fixture(autouse=True)
def _fast_passwords(settings) -> None:
    """Users are made for every test: a quick hasher (force_login never checks it)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def ranked(db) -> Published:
    return publish_run()


def user_in(group: str, **kwargs) -> object:
    user = UserFactory(**kwargs)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def inspector(db):
    return user_in(INSPECTOR, username="inspector", first_name="Ines", last_name="Peeters")


@pytest.fixture
def colleague(db):
    return user_in(INSPECTOR, username="colleague", first_name="Koen", last_name="Maes")


@pytest.fixture
def task_force(db):
    return user_in(TASK_FORCE, username="taskforce")


@pytest.fixture
def walloon_inspector(db):
    """An inspector limited to the Walloon Region (BE3): of the fixture's sub-regions, Liège only."""
    user = user_in(INSPECTOR, username="wallonie")
    limit_to_region(user, "BE3")
    return user


@pytest.fixture
def logged_in(client, inspector):
    client.force_login(inspector)
    return client
