"""The signed links a digest carries, and the URL paths the pages answer on.

Both sides live here so a path can never drift between the email and the route.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from strideguard.links import Purpose, make_link_token
from strideguard.settings import Settings

PATHS: dict[Purpose, str] = {
    "unsubscribe": "/email/unsubscribe",
    "mute": "/email/mute",
    "pause": "/email/pause",
    "preferences": "/email/preferences",
    "checkin": "/email/back-pain",
}
CHECKIN_SCORES = range(11)  # 0 = no pain ... 10 = the worst imaginable
DEFAULT_PAUSE_WEEKS = 2


@dataclass(frozen=True)
class DigestLinks:
    """Absolute URLs for one digest.

    `mute` maps each fired rule id to its own link; `checkin` maps each back-pain answer
    (0-10) to a link that carries it.
    """

    unsubscribe: str
    preferences: str
    pause: str
    checkin: Mapping[int, str]
    mute: Mapping[str, str] = field(default_factory=dict)
    pause_weeks: int = DEFAULT_PAUSE_WEEKS
    # For the List-Unsubscribe header only; None when the operator reads no unsubscribe mailbox.
    unsubscribe_mailto: str | None = None


def link_url(settings: Settings, purpose: Purpose, token: str, **params: str | int) -> str:
    query = urlencode({"token": token, **{k: str(v) for k, v in params.items()}})
    return f"{settings.public_base_url}{PATHS[purpose]}?{query}"


def make_digest_links(
    athlete_id: int,
    rule_ids: Iterable[str],
    settings: Settings,
    *,
    pause_weeks: int = DEFAULT_PAUSE_WEEKS,
    unsubscribe_mailbox: str | None = None,
) -> DigestLinks:
    """Fresh signed links for one athlete's digest (one mute link per fired rule)."""

    def url(purpose: Purpose, rule_id: str | None = None, **params: str | int) -> str:
        extra = {"rule_id": rule_id} if rule_id else None
        return link_url(
            settings, purpose, make_link_token(athlete_id, purpose, settings, extra), **params
        )

    mailto = None
    if unsubscribe_mailbox:
        mailto = f"mailto:{quote(unsubscribe_mailbox, safe='@')}?subject=unsubscribe"
    checkin_token = make_link_token(athlete_id, "checkin", settings)
    return DigestLinks(
        unsubscribe=url("unsubscribe"),
        preferences=url("preferences"),
        pause=url("pause", weeks=pause_weeks),
        checkin={
            score: link_url(settings, "checkin", checkin_token, score=score)
            for score in CHECKIN_SCORES
        },
        mute={rule: url("mute", rule_id=rule) for rule in dict.fromkeys(rule_ids)},
        pause_weeks=pause_weeks,
        unsubscribe_mailto=mailto,
    )
