import ape
import pytest

ONE = 10**6  # 1 USDC


def test_has_six_decimals_and_usdc_symbol(usdc):
    assert usdc.decimals() == 6
    assert usdc.symbol() == "USDC"


def test_admin_can_mint(usdc, admin, alice):
    before = usdc.balanceOf(alice)
    usdc.mint(alice, 1_000 * ONE, sender=admin)
    assert usdc.balanceOf(alice) - before == 1_000 * ONE


def test_mint_by_non_minter_reverts_naming_the_missing_role(usdc, alice):
    with ape.reverts(usdc.AccessControlUnauthorizedAccount, account=alice, neededRole=usdc.MINTER_ROLE()):
        usdc.mint(alice, ONE, sender=alice)


def test_admin_can_grant_minter_role(usdc, admin, bob):
    usdc.grantRole(usdc.MINTER_ROLE(), bob, sender=admin)
    usdc.mint(bob, 5 * ONE, sender=bob)
    assert usdc.balanceOf(bob) == 5 * ONE


def test_transfer_moves_exact_amount(usdc, admin, alice, carol):
    usdc.mint(alice, 10 * ONE, sender=admin)
    a, c = usdc.balanceOf(alice), usdc.balanceOf(carol)
    usdc.transfer(carol, 3 * ONE + 7, sender=alice)
    assert usdc.balanceOf(alice) == a - 3 * ONE - 7
    assert usdc.balanceOf(carol) == c + 3 * ONE + 7


def test_transfer_beyond_balance_reverts(usdc, carol, bob):
    bal = usdc.balanceOf(carol)
    with ape.reverts(usdc.ERC20InsufficientBalance):
        usdc.transfer(bob, bal + 1, sender=carol)


@pytest.mark.parametrize("amount", [0, 1, 10**12])
def test_total_supply_tracks_mints(usdc, admin, alice, amount):
    before = usdc.totalSupply()
    usdc.mint(alice, amount, sender=admin)
    assert usdc.totalSupply() == before + amount
