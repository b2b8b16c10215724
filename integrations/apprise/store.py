"""A runner's Apprise URLs: added after Apprise accepts them, sealed at rest, found again.

Shared by the preferences page and `strideguard athlete channel ...`, so both refuse the
same URLs with the same reasons. Fernet ciphertext differs each time a URL is sealed, so a
URL is found again by opening the runner's few channels, never by comparing ciphertext.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from strideguard.crypto import TokenCipher, channel_url_cipher
from strideguard.integrations.apprise.urls import RefusedUrl, parse_url
from strideguard.models import AthleteChannel
from strideguard.settings import Settings
from strideguard.status import ChannelStatus

KIND = "apprise"
MAX_CHANNELS = 10


def cipher(settings: Settings) -> TokenCipher:
    return channel_url_cipher(settings.fernet_key())


def channels(session: Session, athlete_id: int) -> Sequence[AthleteChannel]:
    """The runner's Apprise channels, oldest first (active and switched off)."""
    return session.scalars(
        select(AthleteChannel)
        .where(AthleteChannel.athlete_id == athlete_id, AthleteChannel.kind == KIND)
        .order_by(AthleteChannel.id)
    ).all()


def find(session: Session, settings: Settings, athlete_id: int, url: str) -> AthleteChannel | None:
    opener = cipher(settings)
    wanted = url.strip()
    for channel in channels(session, athlete_id):
        if opener.open(channel.url_enc) == wanted:
            return channel
    return None


def add(session: Session, settings: Settings, athlete_id: int, url: str) -> AthleteChannel:
    """Add `url` for the runner, or `RefusedUrl` saying why not (nothing is written then).

    Adding a URL that is there but switched off switches it on again: the runner fixed the
    target (or wants to try again).
    """
    parsed = parse_url(url)
    existing = find(session, settings, athlete_id, parsed.url)
    if existing is not None:
        if existing.status == ChannelStatus.ACTIVE:
            raise RefusedUrl(f"this URL is already one of your channels ({existing.label})")
        existing.status = ChannelStatus.ACTIVE
        existing.off_reason = None
        return existing
    if len(channels(session, athlete_id)) >= MAX_CHANNELS:
        raise RefusedUrl(f"you have {MAX_CHANNELS} channels already; remove one first")
    channel = AthleteChannel(
        athlete_id=athlete_id,
        kind=KIND,
        url_enc=cipher(settings).seal(parsed.url),
        label=parsed.label,
        status=ChannelStatus.ACTIVE,
    )
    session.add(channel)
    session.flush()
    return channel


def remove(session: Session, settings: Settings, athlete_id: int, url: str) -> str | None:
    """Delete the runner's channel for `url` with its pending messages; its label, or None."""
    channel = find(session, settings, athlete_id, url)
    if channel is None:
        return None
    return remove_by_id(session, athlete_id, channel.id)


def remove_by_id(session: Session, athlete_id: int, channel_id: int) -> str | None:
    """The same by id (the page's remove buttons carry ids, never URLs); None if not theirs."""
    channel = session.get(AthleteChannel, channel_id)
    if channel is None or channel.athlete_id != athlete_id:
        return None
    label = channel.label
    session.delete(channel)
    session.flush()
    return label
