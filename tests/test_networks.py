"""The deploy path works on both local networks: Anvil (the default) and a Hardhat 2 node."""

import pytest
from ape import networks

from backstop.chain.deploy import MarketSpec, attach_usdc, deploy_system
from backstop.units import market_id, to_wad

SPECS = [MarketSpec("OM-USD", "6", venues=("a", "b"), fund_seed=1_000)]


def _check(system):
    mid = market_id("OM-USD")
    assert system.oracle.price(mid) == to_wad(6)
    assert system.fund.poolBalance(mid) == 1_000 * 10**6
    assert system.clearinghouse.markets(mid).listed
    assert set(system.deployment.contracts) >= {"USDC", "PriceOracle", "InsuranceFund", "Clearinghouse", "source:OM-USD:a"}


def test_deploy_system_on_anvil(accounts, chain, tmp_path):
    system = deploy_system(accounts[0], SPECS)
    assert system.deployment.chain_id == chain.chain_id
    assert system.deployment.network.endswith(":foundry")
    _check(system)
    path = system.deployment.write(tmp_path / "d.json")
    assert type(system.deployment).read(path) == system.deployment


def test_deploy_reuses_an_existing_usdc(accounts, usdc):
    system = deploy_system(accounts[0], [MarketSpec("OM-USD", "6")], usdc_address=str(usdc.address))
    assert system.deployment.contracts["USDC"] == str(usdc.address)
    assert not system.deployment.usdc_is_mock


def test_attach_usdc_refuses_an_address_without_code(accounts):
    with pytest.raises(ValueError, match="no contract"):
        attach_usdc(str(accounts[5].address))


@pytest.fixture
def patient_node_start(monkeypatch):
    """Ape starts a Hardhat node with a fixed 20-s start-up timeout (ape-hardhat calls `start()` without one); under
    `make test`'s two workers a cold Node.js start can take longer, so this test allows it 120 s."""
    from ape.api.providers import SubprocessProvider  # noqa: PLC0415

    start = SubprocessProvider.start
    monkeypatch.setattr(SubprocessProvider, "start", lambda self, timeout=120: start(self, timeout=timeout))


@pytest.mark.hardhat
def test_deploy_system_on_a_hardhat_node(accounts, patient_node_start):
    with networks.ethereum.local.use_provider("hardhat") as provider:
        assert "hardhat" in provider.name
        system = deploy_system(accounts[0], SPECS)
        assert system.deployment.network.endswith(":hardhat")
        _check(system)
