"""Shared fixtures: accounts by role and a freshly deployed mock USDC."""

import pytest


@pytest.fixture(scope="session")
def admin(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def alice(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def bob(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def carol(accounts):
    return accounts[3]


@pytest.fixture(scope="module")
def usdc(project, admin):
    return admin.deploy(project.MockUSDC, admin)


# The slowest files first (measured 2026-12-02, seconds on one of two workers: fidelity 256, replay 232, compare
# 173, oracle 120, adl 107, insurance_fund 73, revert_helpers 62, cli 61, adversarial 58), so that with `make
# test`'s two workers (pytest-xdist, --dist loadfile: whole files) no long file is left to start last.
SLOW_FIRST = ("test_fidelity.py", "test_replay.py", "test_compare.py", "test_oracle.py", "test_adl.py",
              "test_insurance_fund.py", "test_revert_helpers.py", "test_cli.py", "test_adversarial.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))  # stable: each file's tests keep their order
