"""The pipeline finds its activity sources and channels by kind, importing them only then."""

from __future__ import annotations

import subprocess
import sys

import pytest

from strideguard.worker.registry import CHANNELS, SOURCES, plugin_class

PORT_METHODS = {
    "source": ("unavailable_reason", "refresh_window"),
    "channel": ("blocked_reason", "deliver"),
}


@pytest.mark.parametrize(
    ("port", "registry", "kind"),
    [("source", SOURCES, kind) for kind in SOURCES] + [("channel", CHANNELS, k) for k in CHANNELS],
)
def test_each_registered_kind_names_a_class_with_its_ports_methods(
    port: str, registry: dict[str, str], kind: str
) -> None:
    cls = plugin_class(registry, kind)
    missing = [m for m in PORT_METHODS[port] if not callable(getattr(cls, m, None))]
    assert missing == []


def test_an_unknown_kind_is_refused_with_the_known_ones() -> None:
    with pytest.raises(LookupError, match=r"'pager' \(known: apprise, email\)"):
        plugin_class(CHANNELS, "pager")


def test_the_registry_imports_no_plug_in_until_one_is_asked_for() -> None:
    probe = (
        "import sys, strideguard.worker.registry as r; "
        "print(sorted(m for m in sys.modules if m.startswith('integrations'))); "
        "r.plugin_class(r.SOURCES, 'strava'); "
        "print('strideguard.integrations.strava.source' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    ).stdout.splitlines()
    assert out == ["[]", "True"]
