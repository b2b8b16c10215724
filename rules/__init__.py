"""The rules engine: pure functions from activities and a YAML config to findings.

No database, queue or network here; `rules/` imports nothing else of ours. See RULES.md for
the conventions and rules/rules.yaml for the catalog and its evidence.
"""

from strideguard.rules.activities import ActivityLike, ActivityRecord, GearLike, GearRecord
from strideguard.rules.config import Advice, ConfigError, RuleDefinition, RulesConfig
from strideguard.rules.evaluate import (
    evaluate_all,
    evaluate_limits,
    evaluate_week,
    limits_all,
    week_start_of,
)
from strideguard.rules.findings import Finding, Limit
from strideguard.rules.holder import ConfigHolder
from strideguard.rules.rules_file import load_config

__all__ = [
    "ActivityLike",
    "ActivityRecord",
    "Advice",
    "ConfigError",
    "ConfigHolder",
    "Finding",
    "GearLike",
    "GearRecord",
    "Limit",
    "RuleDefinition",
    "RulesConfig",
    "evaluate_all",
    "evaluate_limits",
    "evaluate_week",
    "limits_all",
    "load_config",
    "week_start_of",
]
