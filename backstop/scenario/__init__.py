"""Crash scenarios: the YAML format's models, its error messages, overrides and variants.

Parsing and validating a scenario imports neither Ape nor web3. The modules, by concern:

- ``errors``: ScenarioError, ScenarioWarning and pydantic's errors in the format's words.
- ``fields``: the field types (Seconds, Bps, Usd, ...) and the base model that rejects unknown fields.
- ``prices``: venue price paths (points or CSV files), their checks and interpolation.
- ``market``: a market's oracle, tiers, auction and venue halts.
- ``population``: traders, explicit or generated, the positions they open and when they open and close them.
- ``keepers``: keepers, their capital (withdrawn or lost), outages (whole or by role) and standing bids (held or
  unwound at a pace).
- ``overrides``: dotted-key overrides and ``--set key=value``.
- ``loader``: reading the YAML file (unique keys).
- ``document``: the top-level Scenario, load_scenario and the check of named variants.
- ``variants``: variants of a scenario for ``backstop compare``.
"""

from backstop.scenario.document import AdlScenario, FundScenario, PublishedFigure, Scenario, check_variants, load_scenario
from backstop.scenario.errors import ScenarioError, ScenarioWarning
from backstop.scenario.fields import UINT32_MAX
from backstop.scenario.keepers import ROLES, CapitalStep, KeeperScenario, Outage, StandingBid, Unwind
from backstop.scenario.market import AuctionScenario, MarketScenario, OracleScenario, TierScenario, VenueHalt
from backstop.scenario.overrides import OverrideError, parse_overrides
from backstop.scenario.population import (
    Exits,
    ExplicitPopulation,
    GeneratedPopulation,
    OpenWindow,
    PopulationSpec,
    PositionScenario,
    Range,
    TraderPosition,
)
from backstop.scenario.prices import PricePoint

__all__ = [
    "ROLES",
    "UINT32_MAX",
    "AdlScenario",
    "AuctionScenario",
    "CapitalStep",
    "Exits",
    "ExplicitPopulation",
    "FundScenario",
    "PublishedFigure",
    "GeneratedPopulation",
    "KeeperScenario",
    "MarketScenario",
    "OpenWindow",
    "OracleScenario",
    "Outage",
    "OverrideError",
    "PopulationSpec",
    "PositionScenario",
    "PricePoint",
    "Range",
    "Scenario",
    "ScenarioError",
    "ScenarioWarning",
    "StandingBid",
    "TierScenario",
    "TraderPosition",
    "Unwind",
    "VenueHalt",
    "check_variants",
    "load_scenario",
    "parse_overrides",
]
