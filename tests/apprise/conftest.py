"""Apprise channel fixtures: a local push service for `json://` URLs, and the worker suite's
real SMTP server and settings."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.apprise.targets import Targets, serve_targets
from tests.worker.conftest import env_for, smtp, worker_env

__all__ = ["env_for", "smtp", "worker_env"]


@pytest.fixture
def targets() -> Iterator[Targets]:
    with serve_targets() as served:
        yield served
