"""What the pipeline's jobs get from the runtime, which sits above them in the root.

The runtime (strideguard/runtime.py) builds the plug-ins and declares the actors, so it
imports Strava and the actors; evaluation, the scheduler, the reconciler and the senders
type their argument as this `PipelineHost` instead, and the runtime satisfies it. A
plug-in's own jobs get the smaller `JobHost` (worker/ports.py).
"""

from __future__ import annotations

from typing import Protocol

import dramatiq
from sqlalchemy import Engine

from strideguard.worker.jobs import Jobs
from strideguard.worker.ports import ActivitySource, DeliveryHost, SourceHost


class PipelineHost(SourceHost, DeliveryHost, Protocol):
    """All a source and a channel's send job get, and the rest of one process."""

    @property
    def engine(self) -> Engine: ...
    @property
    def broker(self) -> dramatiq.Broker: ...
    @property
    def jobs(self) -> Jobs: ...
    @property
    def source(self) -> ActivitySource:
        """Every registered source, joined (worker/sources.py)."""
        ...
