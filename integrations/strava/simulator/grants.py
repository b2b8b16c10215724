"""OAuth state as Strava keeps it: short-lived codes, 6-hour access tokens, rotating refresh tokens.

Rules (developers.strava.com/docs/authentication): a code is single-use and expires quickly;
an access token lives 6 hours; a refresh returns the same access token while it has more than
one hour left, otherwise a new one, and then the refresh token rotates and the old one dies at
once. Deauthorization kills every token of the athlete.

Not thread-safe on its own: the simulator calls it under its lock.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

SCOPES = (
    "read",
    "read_all",
    "profile:read_all",
    "profile:write",
    "activity:read",
    "activity:read_all",
    "activity:write",
)
ACCESS_TOKEN_TTL_S = 6 * 60 * 60
CODE_TTL_S = 10 * 60
REUSE_WHEN_LEFT_S = 60 * 60


@dataclass
class AccessToken:
    token: str
    athlete_id: int
    scopes: frozenset[str]
    expires_at: int
    revoked: bool = False

    def alive(self, now_s: float) -> bool:
        return not self.revoked and now_s < self.expires_at


@dataclass
class Grant:
    """One athlete's authorization of the app: its scopes and current token pair."""

    athlete_id: int
    scopes: frozenset[str]
    refresh_token: str
    access: AccessToken
    active: bool = True


@dataclass
class AuthCode:
    athlete_id: int
    scopes: frozenset[str]
    expires_at: float
    used: bool = False


def _token() -> str:
    return secrets.token_hex(20)  # 40 hex characters, like Strava's tokens


@dataclass
class GrantBook:
    codes: dict[str, AuthCode] = field(default_factory=dict)
    access: dict[str, AccessToken] = field(default_factory=dict)
    by_refresh: dict[str, Grant] = field(default_factory=dict)
    by_athlete: dict[int, Grant] = field(default_factory=dict)
    tokens_of: dict[int, list[str]] = field(default_factory=dict)

    def issue_code(self, athlete_id: int, scopes: frozenset[str], now_s: float) -> str:
        code = _token()
        self.codes[code] = AuthCode(athlete_id, scopes, now_s + CODE_TTL_S)
        return code

    def redeem_code(self, code: str, now_s: float) -> Grant | None:
        """A new grant for the code's athlete, or None if the code is unknown, used or expired."""
        auth = self.codes.get(code)
        if auth is None or auth.used or now_s >= auth.expires_at:
            return None
        auth.used = True
        return self.grant(auth.athlete_id, auth.scopes, now_s)

    def grant(self, athlete_id: int, scopes: frozenset[str], now_s: float) -> Grant:
        """Authorize `athlete_id`; a previous refresh token of the athlete dies."""
        previous = self.by_athlete.get(athlete_id)
        if previous is not None:
            self.by_refresh.pop(previous.refresh_token, None)
        new = Grant(athlete_id, scopes, _token(), self._new_access(athlete_id, scopes, now_s))
        self.by_refresh[new.refresh_token] = new
        self.by_athlete[athlete_id] = new
        return new

    def refresh(self, refresh_token: str, now_s: float) -> Grant | None:
        current = self.by_refresh.get(refresh_token)
        if current is None or not current.active:
            return None
        if current.access.alive(now_s) and current.access.expires_at - now_s > REUSE_WHEN_LEFT_S:
            return current
        del self.by_refresh[refresh_token]
        current.access = self._new_access(current.athlete_id, current.scopes, now_s)
        current.refresh_token = _token()
        self.by_refresh[current.refresh_token] = current
        return current

    def authenticate(self, token: str, now_s: float) -> AccessToken | None:
        access = self.access.get(token)
        return access if access is not None and access.alive(now_s) else None

    def owner_of(self, token: str, now_s: float) -> int | None:
        """The athlete a live access token or a current refresh token belongs to."""
        access = self.authenticate(token, now_s)
        if access is not None:
            return access.athlete_id
        grant = self.by_refresh.get(token)
        return grant.athlete_id if grant is not None and grant.active else None

    def revoke(self, athlete_id: int) -> bool:
        """Kill every token of the athlete; True if the athlete had an active grant."""
        for token in self.tokens_of.pop(athlete_id, []):
            self.access[token].revoked = True
        current = self.by_athlete.pop(athlete_id, None)
        if current is None:
            return False
        self.by_refresh.pop(current.refresh_token, None)
        was_active = current.active
        current.active = False
        return was_active

    def active_grant(self, athlete_id: int) -> Grant | None:
        current = self.by_athlete.get(athlete_id)
        return current if current is not None and current.active else None

    def _new_access(self, athlete_id: int, scopes: frozenset[str], now_s: float) -> AccessToken:
        access = AccessToken(_token(), athlete_id, scopes, int(now_s) + ACCESS_TOKEN_TTL_S)
        self.access[access.token] = access
        self.tokens_of.setdefault(athlete_id, []).append(access.token)
        return access


def parse_scopes(raw: str) -> frozenset[str] | None:
    """Strava's comma-separated scope list; None when it names an unknown scope."""
    scopes = frozenset(s.strip() for s in raw.replace(" ", ",").split(",") if s.strip())
    return scopes if scopes <= set(SCOPES) else None


def format_scopes(scopes: frozenset[str]) -> str:
    return ",".join(s for s in SCOPES if s in scopes)
