"""A finding survives the trip through the JSON that alerts and risky runs store."""

from __future__ import annotations

import datetime as dt
import json

from strideguard.rules import Finding, evaluate_all, load_config
from tests.rules.builders import activity, weeks_of_runs

MON = dt.date(2025, 9, 1)  # a Monday


def _findings() -> list[Finding]:
    """Every rule's findings over a history where a weekly and a per-run rule fire."""
    acts = weeks_of_runs(MON, [38_000, 38_000, 38_000, 38_000, 52_000])
    acts.append(activity(MON + dt.timedelta(weeks=4, days=5), 21_000))
    return evaluate_all(acts, load_config())


def test_from_dict_reads_back_what_to_dict_wrote() -> None:
    findings = _findings()
    assert any(f.fired and f.date is not None for f in findings)  # a per-run finding too
    for finding in findings:
        stored = json.loads(json.dumps(finding.to_dict()))
        assert Finding.from_dict(stored) == finding


def test_from_dict_reads_json_stored_before_findings_had_an_error() -> None:
    fired = next(f for f in _findings() if f.fired)
    older = {key: value for key, value in fired.to_dict().items() if key != "error"}
    assert Finding.from_dict(older) == fired


def test_from_dict_leaves_the_keys_stored_beside_the_finding() -> None:
    fired = next(f for f in _findings() if f.fired)
    assert Finding.from_dict({**fired.to_dict(), "other_runs": 2, "limits": []}) == fired
