"""The one check GPX and TCX share before parsing: activity files never declare a DTD, so a
file that does is refused instead of handing entity expansion to the XML parser."""

from __future__ import annotations

from strideguard.integrations.files.record import FileRejected


def xml_text(content: bytes, name: str) -> bytes:
    """The document without the whitespace Strava puts before `<?xml` in its TCX files."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise FileRejected(name, "declares a DTD or entities, which activity files never do")
    return content.lstrip()
