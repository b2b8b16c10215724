"""A Strava look-alike on loopback for tests, the demo and benchmarks.

It speaks real HTTP, so the app's real stravalib client (see
strideguard.integrations.strava.http) runs unchanged against it: OAuth consent and tokens,
athlete activities, gear, push subscriptions with webhook delivery, Strava's rate limits and
error bodies, and injectable faults.
"""

from strideguard.integrations.strava.simulator.app import RequestRecord
from strideguard.integrations.strava.simulator.clock import SimClock
from strideguard.integrations.strava.simulator.generator import generate_history, generate_seed
from strideguard.integrations.strava.simulator.seedfile import SeedError, load_seed, write_seed
from strideguard.integrations.strava.simulator.simulator import Simulator
from strideguard.integrations.strava.simulator.webhooks import Delivery

__all__ = [
    "Delivery",
    "RequestRecord",
    "SeedError",
    "SimClock",
    "Simulator",
    "generate_history",
    "generate_seed",
    "load_seed",
    "write_seed",
]
