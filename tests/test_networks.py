"""The deploy path works on both local networks: Anvil (the default) and a Hardhat 2 node."""

import pytest
from ape import networks

from backstop.deploy import attach_usdc, deploy


def test_deploy_on_anvil_records_mock_usdc(accounts, chain):
    result = deploy(accounts[0])
    assert result.chain_id == chain.chain_id
    assert result.network.endswith(":foundry")
    assert result.usdc_is_mock
    assert attach_usdc(result.contracts["USDC"]).decimals() == 6


def test_deploy_reuses_an_existing_usdc(accounts, usdc):
    result = deploy(accounts[0], usdc_address=str(usdc.address))
    assert result.contracts["USDC"] == str(usdc.address)
    assert not result.usdc_is_mock


def test_attach_usdc_refuses_an_address_without_code(accounts):
    with pytest.raises(ValueError, match="no contract"):
        attach_usdc(str(accounts[5].address))


@pytest.mark.hardhat
def test_deploy_on_a_hardhat_node(accounts):
    with networks.ethereum.local.use_provider("hardhat") as provider:
        assert "hardhat" in provider.name
        result = deploy(accounts[0])
        assert result.network.endswith(":hardhat")
        token = attach_usdc(result.contracts["USDC"])
        token.mint(accounts[1], 42, sender=accounts[0])
        assert token.balanceOf(accounts[1]) == 42
