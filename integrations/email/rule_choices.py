"""Which rules a runner can mute: the rules in force, by title.

The rules box owns the list (`rules.load_config`). If the file is broken, the page still
works from the advice templates we ship, so a runner is never stuck unable to mute.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from strideguard.integrations.email.render import BUILT_IN_RULES, EMAIL_TEMPLATES_DIR
from strideguard.rules import ConfigError, load_config
from strideguard.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RuleChoice:
    id: str
    title: str


def rules_in_force(settings: Settings) -> list[RuleChoice]:
    try:
        config = load_config(settings.rules_path)
    except ConfigError as problem:
        log.warning("rules file unusable, offering the built-in rules to mute: %s", problem)
        return _from_advice_templates()
    return [
        RuleChoice(rule_id, rule.title) for rule_id, rule in config.rules.items() if rule.enabled
    ]


def _from_advice_templates() -> list[RuleChoice]:
    shipped = {path.stem for path in (EMAIL_TEMPLATES_DIR / "advice").glob("*.txt")}
    ordered = [rule for rule in BUILT_IN_RULES if rule in shipped]
    ordered += sorted(shipped - set(ordered) - {"_generic"})
    return [RuleChoice(rule, rule.replace("_", " ").capitalize()) for rule in ordered]


def with_muted(choices: list[RuleChoice], muted: list[str]) -> list[RuleChoice]:
    """The offered rules plus any the runner muted that are no longer offered, so a form can
    still show (and un-mute) them."""
    offered = {c.id for c in choices}
    return choices + [RuleChoice(r, title_of(r, choices)) for r in muted if r not in offered]


def title_of(rule_id: str, choices: list[RuleChoice]) -> str:
    for choice in choices:
        if choice.id == rule_id:
            return choice.title
    return rule_id.replace("_", " ").capitalize()
