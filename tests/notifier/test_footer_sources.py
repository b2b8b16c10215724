"""The footer says where the figures came from: Strava's attribution for a Strava runner, and
no word of Strava for a runner whose figures come only from their own files."""

from __future__ import annotations

import dataclasses

from strideguard.integrations.email.render import render_digest
from tests.notifier.worked import BUILT_IN, digest


def test_a_strava_runners_digest_credits_strava() -> None:
    rendered = render_digest(digest([BUILT_IN["single_run_spike"]]))
    for body in (rendered.text, rendered.html):
        assert "Powered by Strava" in body
        assert "connected your Strava account" in body


def test_a_file_only_runners_digest_never_speaks_of_strava() -> None:
    context = digest([BUILT_IN["single_run_spike"]])
    context = dataclasses.replace(
        context, athlete=dataclasses.replace(context.athlete, on_strava=False)
    )
    rendered = render_digest(context)
    for body in (rendered.text, rendered.html):
        assert "Strava" not in body
        assert "activity files you gave us" in body
        assert "not medical advice" in body  # the rest of the footer is unchanged
