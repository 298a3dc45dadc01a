"""Crash scenarios: the YAML format's models, its error messages, overrides and variants.

Parsing and validating a scenario imports neither Ape nor web3.
"""

from backstop.scenario.document import (  # noqa: F401
    UINT32_MAX,
    KeeperScenario,
    Scenario,
    ScenarioError,
    TraderPosition,
    load_scenario,
    parse_overrides,
)
