"""EIP-712 orders signed off-chain (backstop.chain.orders): the replay's fast digest and signature are the bytes
eth_account's generic typed-data encoder gives, for any order (the contract's check of every signed trade in the
other tests is the on-chain half)."""

from __future__ import annotations

from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st

from backstop.chain.orders import Order, order_digest, order_digest_reference, sign_order, sign_order_reference

KEYS = [Account.create(f"orders-{i}") for i in range(3)]
HOUSES = ["0x5FbDB2315678afecb367f032d93F642f64180aa3", "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512"]

orders = st.builds(
    Order,
    account=st.sampled_from([k.address for k in KEYS]),
    market=st.binary(min_size=32, max_size=32),
    size_delta=st.integers(-(2**255) + 1, 2**255 - 1),
    limit_price=st.integers(0, 2**256 - 1),
    margin=st.integers(0, 2**256 - 1),
    nonce=st.integers(0, 2**256 - 1),
    deadline=st.integers(0, 2**256 - 1),
)


@settings(max_examples=200, deadline=None)
@given(order=orders, key=st.sampled_from(KEYS), chain_id=st.sampled_from([1, 31337, 2**64 - 1]), house=st.sampled_from(HOUSES))
def test_the_fast_digest_and_signature_are_eth_accounts(order, key, chain_id, house):
    assert order_digest(order, chain_id, house) == order_digest_reference(order, chain_id, house)
    for private_key in (key.key, key.key.hex(), "0x" + key.key.hex().removeprefix("0x")):
        assert sign_order(order, private_key, chain_id, house) == sign_order_reference(order, key.key, chain_id, house)


def test_a_signature_recovers_its_signer_and_names_its_chain():
    order = Order(KEYS[0].address, b"\x01" * 32, -5 * 10**18, 6 * 10**18, 100, 7, 2**40)
    sig = sign_order(order, KEYS[0].key, 31337, HOUSES[0])
    assert len(sig) == 65 and sig[64] in (27, 28)
    from eth_keys import keys  # noqa: PLC0415

    recovered = keys.Signature(sig[:64] + bytes([sig[64] - 27])).recover_public_key_from_msg_hash(order_digest(order, 31337, HOUSES[0]))
    assert recovered.to_checksum_address() == KEYS[0].address
    assert sign_order(order, KEYS[0].key, 1, HOUSES[0]) != sig  # another chain: another digest
