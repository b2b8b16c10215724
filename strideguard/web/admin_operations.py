"""What the running service is doing right now, for the admin view: rate budget, queues, rules.

These live in the worker runtime of this process (the web process has one whether it runs
jobs itself or only sends them to Redis), not in the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from strideguard.integrations.strava.budget import Limits, Reservation, Usage
from strideguard.integrations.strava.sync_mode import SyncModeInForce, sync_mode_in_force
from strideguard.runtime import WorkerRuntime
from strideguard.worker.queue_depths import QueueDepth, queue_depths


@dataclass(frozen=True)
class RulesStatus:
    source: str
    version: str
    loaded_at: dt.datetime
    enabled: list[str]
    disabled: list[str]
    # The last reload's errors: a broken edit that was refused while the old rules stay in force.
    check_errors: list[str]


@dataclass(frozen=True)
class Operations:
    usage: Usage
    limits: Limits
    held: Reservation
    sync_mode: SyncModeInForce
    queues: list[QueueDepth]
    rules: RulesStatus


def operations(runtime: WorkerRuntime, now: dt.datetime) -> Operations:
    holder = runtime.rules
    config = holder.current()
    budget = runtime.strava.budget
    usage, limits, held = budget.usage(now), budget.limits(), budget.held(now)
    settings = runtime.settings
    return Operations(
        usage=usage,
        limits=limits,
        held=held,
        sync_mode=sync_mode_in_force(
            settings.strava_webhook_sync,
            usage,
            limits,
            held,
            settings.strava_budget_evaluation_share,
        ),
        queues=queue_depths(runtime.broker),
        rules=RulesStatus(
            source=config.source,
            version=config.version[:12],
            loaded_at=config.loaded_at,
            enabled=sorted(rule_id for rule_id, rule in config.rules.items() if rule.enabled),
            disabled=sorted(rule_id for rule_id, rule in config.rules.items() if not rule.enabled),
            check_errors=list(holder.last_error.errors) if holder.last_error else [],
        ),
    )
