"""Deploy Backstop's contracts through Ape to whatever network Ape is connected to (Anvil, Hardhat, any RPC).

Scripts call these functions; they never hold deployment logic themselves. Every deployment is written to a
JSON file (addresses, parameters, chain id) that the keeper bots, the replay engine and `cast` users read.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from ape import chain, project
from ape.api import AccountAPI
from ape.contracts import ContractInstance

from backstop.chain.specs import DEFAULT_TIERS, AdlSpec, AuctionSpec, BookSpec, MarketSpec, OracleSpec
from backstop.units import RAY, market_id, to_usdc, to_wad

__all__ = [  # the specs live in backstop.chain.specs; re-exported here for existing imports
    "DEFAULT_TIERS",
    "AdlSpec",
    "AuctionSpec",
    "BookSpec",
    "Deployment",
    "MarketSpec",
    "OracleSpec",
    "System",
    "attach",
    "attach_usdc",
    "contract_abi",
    "deploy_book",
    "deploy_curve",
    "deploy_mock_usdc",
    "deploy_system",
]


@dataclass
class Deployment:
    """What was deployed where: the record written to deployments/<network>.json."""

    network: str
    chain_id: int
    deployer: str
    contracts: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    usdc_is_mock: bool = True

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
        return path

    @classmethod
    def read(cls, path: Path) -> "Deployment":
        return cls(**json.loads(Path(path).read_text()))


@dataclass
class System:
    """Handles on a deployed Backstop, for tests, keepers and the replay engine."""

    usdc: ContractInstance
    oracle: ContractInstance
    fund: ContractInstance
    clearinghouse: ContractInstance
    auction: ContractInstance
    curves: dict[str, ContractInstance]  # market name -> auction curve
    sources: dict[str, dict[str, ContractInstance]]  # market name -> venue -> mock source
    deployment: "Deployment"
    adl: ContractInstance | None = None
    book: ContractInstance | None = None  # the standing-bid book


def contract_abi(name: str) -> list[dict[str, Any]]:
    """The ABI of the project's contract `name` as plain JSON (for web3 contracts on the hot paths)."""
    return [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in getattr(project, name).contract_type.abi]


def attach(w3: Any, deployment: "Deployment", name: str, abi: str | None = None) -> Any:
    """A web3 contract for the deployment's contract `name` (e.g. "Clearinghouse"), with the ABI of the
    project's contract `abi` (default: the same name; any ERC-20's is MockUSDC's)."""
    if name not in deployment.contracts:
        raise ValueError(f"the deployment has no {name}; redeploy with this version of Backstop")
    from backstop.chain.fastchain import web3_contract  # noqa: PLC0415

    return web3_contract(w3, deployment.contracts[name], contract_abi(abi or name))


def deploy_mock_usdc(deployer: AccountAPI) -> ContractInstance:
    """Deploy the 6-decimal mock USDC (tests and local replays only); `deployer` holds its minter role."""
    return deployer.deploy(project.MockUSDC, deployer)


def attach_usdc(address: str) -> ContractInstance:
    """Use an existing USDC: checks that the contract at `address` has 6 decimals."""
    if not chain.provider.get_code(address):
        raise ValueError(f"no contract at USDC address {address} on chain {chain.chain_id}")
    token = project.MockUSDC.at(address)  # any ERC-20 ABI works for decimals()
    decimals = token.decimals()
    if decimals != 6:
        raise ValueError(f"USDC at {address} has {decimals} decimals; Backstop expects 6")
    return token


def deploy_system(
    deployer: AccountAPI,
    markets: list[MarketSpec],
    global_seed: str | float = 0,
    usdc_address: str | None = None,
    withdrawal_delay: int = 2 * 24 * 3_600,
    adl: AdlSpec | None = None,
) -> System:
    """Deploy the core ledger: oracle (with one mock source per venue), insurance fund, clearinghouse; list
    every market everywhere; seed the fund. `deployer` holds every admin role. With `usdc_address` the fund
    can only be seeded if `deployer` already holds that USDC. `deployer` is an Ape account on the network Ape is
    connected to, or a backstop.chain.direct.DirectDeployer on a chain of its own (the embedded EVM)."""
    usdc = attach_usdc(usdc_address) if usdc_address else deploy_mock_usdc(deployer)
    oracle = deployer.deploy(project.PriceOracle, deployer)
    fund = deployer.deploy(project.InsuranceFund, usdc, deployer, withdrawal_delay)
    house = deployer.deploy(project.Clearinghouse, usdc, oracle, fund, deployer)
    fund.grantRole(fund.CREDITOR_ROLE(), house, sender=deployer)
    fund.grantRole(fund.COVER_ROLE(), house, sender=deployer)
    fund.grantRole(fund.CREDITOR_ROLE(), deployer, sender=deployer)
    auction = deployer.deploy(project.LiquidationAuction, house, oracle, fund, deployer)
    house.grantRole(house.LIQUIDATOR_ROLE(), auction, sender=deployer)
    fund.grantRole(fund.COVER_ROLE(), auction, sender=deployer)
    adl_spec = adl or AdlSpec()
    queue = deployer.deploy(project.AdlQueue, house, oracle, fund, auction, usdc, deployer)
    house.grantRole(house.ADL_ROLE(), queue, sender=deployer)
    auction.grantRole(auction.ADL_ROLE(), queue, sender=deployer)
    for what, value in (
        ("lossCapBps", adl_spec.loss_cap_bps),
        ("challengeWindow", adl_spec.challenge_window),
        ("minBond", to_usdc(adl_spec.min_bond)),
    ):
        queue.file(what.encode().ljust(32, b"\0"), value, sender=deployer)
    book = deploy_book(deployer, house, usdc, auction)
    curves: dict[str, ContractInstance] = {}

    sources: dict[str, dict[str, ContractInstance]] = {}
    for spec in markets:
        mid = market_id(spec.name)
        _configure_oracle(oracle, deployer, mid, spec)
        answer = to_wad(spec.price) // 10 ** (18 - spec.source_decimals)
        sources[spec.name] = {}
        for venue in spec.venues:
            src = deployer.deploy(project.MockPriceSource, spec.source_decimals, f"{spec.name} @ {venue}", deployer)
            src.setAnswer(answer, sender=deployer)
            oracle.addSource(mid, src, sender=deployer)
            sources[spec.name][venue] = src
        fund.addMarket(mid, sender=deployer)
        house.listMarket(mid, [t.as_tuple() for t in spec.tiers], spec.price_band_bps, sender=deployer)
        curves[spec.name] = _configure_auction(auction, deployer, mid, spec.auction)
        book.setLevels(mid, list(spec.book.levels), sender=deployer)
        book.setMaxMatches(mid, spec.book.max_matches, sender=deployer)
        _seed(fund, usdc, deployer, mid, to_usdc(spec.fund_seed), mock=usdc_address is None)
    _seed(fund, usdc, deployer, b"\0" * 32, to_usdc(global_seed), mock=usdc_address is None)

    network, chain_id = _where(deployer)
    deployment = Deployment(
        network=network,
        chain_id=chain_id,
        deployer=str(deployer.address),
        contracts={
            "USDC": str(usdc.address),
            "PriceOracle": str(oracle.address),
            "InsuranceFund": str(fund.address),
            "Clearinghouse": str(house.address),
            "LiquidationAuction": str(auction.address),
            "StandingBidBook": str(book.address),
            "AdlQueue": str(queue.address),
            **{f"curve:{m}": str(c.address) for m, c in curves.items()},
            **{f"source:{m}:{v}": str(c.address) for m, vs in sources.items() for v, c in vs.items()},
        },
        parameters={
            "global_seed": str(global_seed),
            "withdrawal_delay": withdrawal_delay,
            "adl": asdict(adl_spec),
            "markets": [_spec_record(m) for m in markets],
        },
        usdc_is_mock=usdc_address is None,
    )
    return System(usdc, oracle, fund, house, auction, curves, sources, deployment, queue, book)


def _where(deployer: Any) -> tuple[str, int]:
    """(network label, chain id) of the chain `deployer` deploys to: Ape's connection, or a DirectDeployer's own
    (backstop.chain.direct: a chain Ape does not know, such as the embedded EVM)."""
    from backstop.chain.direct import DirectDeployer  # noqa: PLC0415

    if isinstance(deployer, DirectDeployer):
        return deployer.network, deployer.chain_id
    network = chain.provider.network
    return f"{network.ecosystem.name}:{network.name}:{chain.provider.name}", chain.chain_id


def deploy_book(deployer: AccountAPI, house: ContractInstance, usdc: ContractInstance, auction: ContractInstance) -> ContractInstance:
    """Deploy the standing-bid book and wire it: it fills liquidations through the clearinghouse (LIQUIDATOR_ROLE),
    only the auction may ask it to (ENGINE_ROLE), and the auction tries it before every auction."""
    book = deployer.deploy(project.StandingBidBook, house, usdc, deployer)
    house.grantRole(house.LIQUIDATOR_ROLE(), book, sender=deployer)
    book.grantRole(book.ENGINE_ROLE(), auction, sender=deployer)
    auction.setBook(book, sender=deployer)
    return book


def deploy_curve(deployer: AccountAPI, spec: AuctionSpec) -> ContractInstance:
    if spec.curve == "linear":
        return deployer.deploy(project.LinearCurve, deployer, spec.tau)
    if spec.curve == "stairstep":
        return deployer.deploy(project.StairstepExponentialCurve, deployer, int(Decimal(str(spec.cut)) * RAY), spec.step)
    raise ValueError(f"unknown auction curve {spec.curve!r}: expected 'linear' or 'stairstep'")


def _configure_oracle(oracle: ContractInstance, deployer: AccountAPI, mid: bytes, spec: MarketSpec) -> None:
    o = spec.oracle
    oracle.setMarketConfig(mid, o.max_age, o.max_deviation_bps, o.min_sources, o.max_jump_bps, o.jump_window, sender=deployer)
    if spec.auction.drop_bps:  # the auction measures a fast fall from the oracle's recent high
        oracle.setHighWindow(mid, spec.auction.drop_window, sender=deployer)


def _configure_auction(auction: ContractInstance, deployer: AccountAPI, mid: bytes, spec: AuctionSpec) -> ContractInstance:
    curve = deploy_curve(deployer, spec)
    auction.setCurve(mid, curve, sender=deployer)
    params = {
        "penaltyBps": spec.penalty_bps,
        "bufBps": spec.buf_bps,
        "staleBps": spec.stale_bps,
        "tail": spec.tail,
        "chipBps": spec.chip_bps,
        "tip": to_usdc(spec.tip),
        "tipCap": to_usdc(spec.tip_cap),
        "dust": to_usdc(spec.dust),
        "riskWindow": spec.risk_window,
        "hole": to_usdc(spec.hole),
        "dropBps": spec.drop_bps,
        "bufferBase": spec.buffer_base,
        "bufferMax": spec.buffer_max,
    }
    for what, value in params.items():
        auction.file(mid, what.encode().ljust(32, b"\0"), value, sender=deployer)
    return curve


def _seed(fund: ContractInstance, usdc: ContractInstance, deployer: AccountAPI, pool: bytes, amount: int, mock: bool) -> None:
    if amount == 0:
        return
    if mock:
        usdc.mint(deployer, amount, sender=deployer)
    usdc.approve(fund, amount, sender=deployer)
    fund.deposit(pool, 0, amount, sender=deployer)  # InflowKind.Seed


def _spec_record(spec: MarketSpec) -> dict[str, Any]:
    record = asdict(spec)
    record["tiers"] = [list(t.as_tuple()) for t in spec.tiers]
    return json.loads(json.dumps(record))  # the JSON shape, so a record read back compares equal
