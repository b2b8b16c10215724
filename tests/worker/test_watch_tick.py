"""With IMPORT_WATCH_DIR set, each scheduler tick queues one look at the watched folder
(on the real Redis broker); without it, none."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from strideguard.runtime import start_runtime
from strideguard.settings import Settings
from strideguard.worker.scheduler import Scheduler
from tests.worker.conftest import queued


def _actors(settings: Settings) -> list[str]:
    runtime = start_runtime(settings)
    try:
        Scheduler(runtime).tick()
        return [json.loads(raw)["actor_name"] for raw in queued(runtime, "import")]
    finally:
        runtime.close()


def test_each_tick_looks_at_the_watched_folder_once_it_is_set(
    worker_env: Callable[..., Settings], redis_url: str, redis_namespace: str, tmp_path: Path
) -> None:
    redis = {"REDIS_URL": redis_url}
    assert _actors(worker_env(**redis, QUEUE_NAMESPACE=f"{redis_namespace}-off")) == []
    watching = worker_env(
        **redis, QUEUE_NAMESPACE=f"{redis_namespace}-on", IMPORT_WATCH_DIR=str(tmp_path)
    )
    assert _actors(watching) == ["scan_watch_dir"]
