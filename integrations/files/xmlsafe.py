"""What GPX and TCX share: the check before parsing (activity files never declare a DTD, so a
file that does is refused instead of handing entity expansion to the XML parser), and the
two helpers their readers use on the parsed tree."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET

from strideguard.integrations.files.record import FileRejected


def xml_text(content: bytes, name: str) -> bytes:
    """The document without the whitespace Strava puts before `<?xml` in its TCX files."""
    if b"<!DOCTYPE" in content or b"<!ENTITY" in content:
        raise FileRejected(name, "declares a DTD or entities, which activity files never do")
    return content.lstrip()


def namespace(root: ET.Element) -> str:
    """The `{uri}` prefix of the document's element names ("" when it declares none), so
    GPX 1.0 and 1.1, or a TCX of either schema version, are searched alike."""
    return root.tag[: root.tag.index("}") + 1] if root.tag.startswith("{") else ""


def utc_time(text: str | None) -> dt.datetime:
    """An ISO 8601 time as written in GPX and TCX; one without a zone is UTC, as both
    schemas say. ValueError when it is not a time."""
    stamp = dt.datetime.fromisoformat((text or "").strip().replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
