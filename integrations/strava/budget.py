"""One Strava rate budget for the whole application, shared by every process.

Strava limits the *application*, not a worker: 100 reads per 15 minutes and 1,000 per UTC day by
default (200/2,000 for all requests), windows aligned to :00/:15/:30/:45 and to midnight. Every
job reserves one unit before each request and every response's `X-*RateLimit-*` headers feed
back the truth, which wins whenever it is higher than our own count (another process or app
instance may have spent it). When the share for a job's priority is spent, `reserve` raises
`BudgetExceeded` with the delay to the next window; nothing ever sleeps.

What is due is reserved, not a fixed share. The scheduler tells the budget, each tick, how
many reads the work due in this window and this UTC day needs (`Reservation`): the weekly
evaluations that are or become due, and the per-run fetches the recent webhook rate predicts.
Evaluations may then use the whole limit, per-run fetches what the evaluations' reservation
leaves, and backfills and background work the rest. Nothing is drawn down between ticks: what
an evaluation spends (its window, and any unknown shoe it reads) stays held until the next
tick counts the evaluations still pending, so the error is always on the evaluations' side.
So a burst of new runners takes every read nobody else is due to need, and never the reads of
a Monday evaluation. The shares (settings) stay as upper caps per priority:
by default backfills and evaluations may use the whole limit and background refreshes 60%.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from strideguard.integrations.strava.errors import BudgetExceeded
from strideguard.worker.ports import Priority

if TYPE_CHECKING:
    import redis

    from strideguard.settings import Settings

WINDOW_S = 15 * 60
DAY_S = 24 * 60 * 60


DEFAULT_SHARES = {
    Priority.BACKFILL: 1.0,
    Priority.EVALUATION: 1.0,
    Priority.RUN: 1.0,
    Priority.BACKGROUND: 0.60,
}


@dataclass(frozen=True)
class Limits:
    """Strava's (15-minute, daily) limits for read requests and for all requests."""

    read_window: int = 100
    read_day: int = 1000
    all_window: int = 200
    all_day: int = 2000


@dataclass(frozen=True)
class Usage:
    read_window: int = 0
    read_day: int = 0
    all_window: int = 0
    all_day: int = 0


@dataclass(frozen=True)
class Reservation:
    """Requests held back for work that is due: in this 15-minute window and this UTC day."""

    evaluations_window: int = 0
    evaluations_day: int = 0
    runs_window: int = 0
    runs_day: int = 0

    def held(self, daily: bool) -> tuple[int, int]:
        """(evaluations, per-run fetches) held in the window, or in the day."""
        if daily:
            return self.evaluations_day, self.runs_day
        return self.evaluations_window, self.runs_window


def cap_for(priority: Priority, limit: int, share: float, evaluations: int, runs: int) -> int:
    """How far one priority may fill a counter whose `limit` holds `evaluations` and `runs`
    requests back for due work: evaluations use everything, per-run fetches what the
    evaluations leave, the rest what both leave; each within its share."""
    base = max(1, int(limit * share))
    if priority is Priority.EVALUATION:
        return base
    if priority is Priority.RUN:
        return min(base, limit - evaluations)
    return min(base, limit - evaluations - runs)


def window_index(now: dt.datetime) -> int:
    return int(now.timestamp()) // WINDOW_S


def day_index(now: dt.datetime) -> int:
    return int(now.timestamp()) // DAY_S


def next_window_start(now: dt.datetime) -> dt.datetime:
    return dt.datetime.fromtimestamp((window_index(now) + 1) * WINDOW_S, dt.UTC)


def ms_to_next_window(now: dt.datetime) -> int:
    ts = now.timestamp()
    return max(1, int(((int(ts) // WINDOW_S + 1) * WINDOW_S - ts) * 1000))


def ms_to_next_day(now: dt.datetime) -> int:
    ts = now.timestamp()
    return max(1, int(((int(ts) // DAY_S + 1) * DAY_S - ts) * 1000))


def _pair(headers: Mapping[str, str], name: str) -> tuple[int, int] | None:
    raw = headers.get(name)
    if not raw:
        return None
    try:
        window, day = (int(part.strip()) for part in raw.split(","))
    except ValueError:
        return None
    return window, day


def parse_headers(headers: Mapping[str, str]) -> tuple[Limits | None, Usage | None]:
    """Limits and usage from Strava's headers (names compared case-insensitively)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    read_limit = _pair(lowered, "x-readratelimit-limit")
    all_limit = _pair(lowered, "x-ratelimit-limit")
    read_usage = _pair(lowered, "x-readratelimit-usage")
    all_usage = _pair(lowered, "x-ratelimit-usage")
    limits = None
    if read_limit or all_limit:
        default = Limits()
        read_limit = read_limit or (default.read_window, default.read_day)
        all_limit = all_limit or (default.all_window, default.all_day)
        limits = Limits(*read_limit, *all_limit)
    usage = None
    if read_usage or all_usage:
        read_usage = read_usage or all_usage or (0, 0)
        all_usage = all_usage or read_usage
        usage = Usage(*read_usage, *all_usage)
    return limits, usage


def retry_after_exhausted(headers: Mapping[str, str], now: dt.datetime) -> int:
    """After a 429: wait for midnight when a daily limit is spent, else for the next window."""
    limits, usage = parse_headers(headers)
    if limits and usage and (usage.read_day >= limits.read_day or usage.all_day >= limits.all_day):
        return ms_to_next_day(now)
    return ms_to_next_window(now)


def caps(
    limits: Limits,
    share: float,
    priority: Priority = Priority.EVALUATION,
    held: Reservation | None = None,
) -> Usage:
    """How much of each limit one priority may use, given what is held back for due work."""
    held = held or Reservation()
    return Usage(
        *(
            cap_for(priority, getattr(limits, field), share, *held.held(field.endswith("_day")))
            for field in _FIELDS
        )
    )


class RateBudget(Protocol):
    def reserve(self, priority: Priority, now: dt.datetime, *, read: bool = True) -> None:
        """Count one request, or raise `BudgetExceeded` if this priority's share is spent."""

    def observe(self, headers: Mapping[str, str], now: dt.datetime) -> None:
        """Learn limits and usage from a response; reported usage wins when higher."""

    def usage(self, now: dt.datetime) -> Usage: ...

    def limits(self) -> Limits: ...

    def hold(self, now: dt.datetime, reservation: Reservation) -> None:
        """Hold back `reservation` for due work in `now`'s window and day (replaces what was
        held there). `now` may lie in the next window: a tick holds it before it starts, so
        work that wakes on the boundary finds the reads of what is due already held."""

    def held(self, now: dt.datetime) -> Reservation:
        """What is still held back in `now`'s window and day."""


def _shares_from(settings: Settings | None) -> dict[Priority, float]:
    if settings is None:
        return dict(DEFAULT_SHARES)
    return {
        Priority.BACKFILL: settings.strava_budget_backfill_share,
        Priority.EVALUATION: settings.strava_budget_evaluation_share,
        Priority.RUN: settings.strava_budget_evaluation_share,
        Priority.BACKGROUND: settings.strava_budget_background_share,
    }


_FIELDS = ("read_window", "read_day", "all_window", "all_day")


class MemoryBudget:
    """The embedded default: one process, so a lock and four counters are the whole story."""

    def __init__(self, shares: Mapping[Priority, float] | None = None) -> None:
        self._shares = dict(shares or DEFAULT_SHARES)
        self._lock = threading.Lock()
        self._limits = Limits()
        self._window = -1
        self._day = -1
        self._counts = [0, 0, 0, 0]  # read_window, read_day, all_window, all_day
        # (evaluations, runs) held, by window index and by day index: a tick may hold the
        # next window's and day's reads before they start, as the Redis keys allow.
        self._held_windows: dict[int, tuple[int, int]] = {}
        self._held_days: dict[int, tuple[int, int]] = {}

    def _roll(self, now: dt.datetime) -> None:
        window, day = window_index(now), day_index(now)
        if window != self._window:
            self._window = window
            self._counts[0] = self._counts[2] = 0
            self._held_windows = {k: v for k, v in self._held_windows.items() if k >= window}
        if day != self._day:
            self._day = day
            self._counts[1] = self._counts[3] = 0
            self._held_days = {k: v for k, v in self._held_days.items() if k >= day}

    def _held_at(self, now: dt.datetime) -> Reservation:
        window = self._held_windows.get(window_index(now), (0, 0))
        day = self._held_days.get(day_index(now), (0, 0))
        return Reservation(window[0], day[0], window[1], day[1])

    def reserve(self, priority: Priority, now: dt.datetime, *, read: bool = True) -> None:
        with self._lock:
            self._roll(now)
            cap = caps(self._limits, self._shares[priority], priority, self._held_at(now))
            slots = [0, 1, 2, 3] if read else [2, 3]
            for slot in slots:
                if self._counts[slot] + 1 > getattr(cap, _FIELDS[slot]):
                    raise _exceeded(slot, priority, now)
            for slot in slots:
                self._counts[slot] += 1

    def hold(self, now: dt.datetime, reservation: Reservation) -> None:
        with self._lock:  # no roll: `now` may be the start of the next window
            self._held_windows[window_index(now)] = reservation.held(daily=False)
            self._held_days[day_index(now)] = reservation.held(daily=True)

    def held(self, now: dt.datetime) -> Reservation:
        with self._lock:
            self._roll(now)
            return self._held_at(now)

    def observe(self, headers: Mapping[str, str], now: dt.datetime) -> None:
        limits, usage = parse_headers(headers)
        with self._lock:
            self._roll(now)
            if limits:
                self._limits = limits
            if usage:
                for slot, field in enumerate(_FIELDS):
                    self._counts[slot] = max(self._counts[slot], getattr(usage, field))

    def usage(self, now: dt.datetime) -> Usage:
        with self._lock:
            self._roll(now)
            return Usage(*self._counts)

    def limits(self) -> Limits:
        return self._limits


def _exceeded(slot: int, priority: Priority, now: dt.datetime) -> BudgetExceeded:
    daily = slot in (1, 3)
    delay = ms_to_next_day(now) if daily else ms_to_next_window(now)
    scope = "daily" if daily else "15-minute"
    return BudgetExceeded(
        delay, reason=f"{scope} Strava budget for {priority.value} work spent", daily=daily
    )


# KEYS: limits hash, read_window, read_day, all_window, all_day,
#       held evaluations window, day, held runs window, day
# ARGV: share, first slot to count (1 = reads too, 3 = non-read), default limits x4, ttl x2,
#       priority
# Returns 0 when reserved, else the 1-based slot that is spent. Mirrors `cap_for`.
_RESERVE = """
local fields = {'read_window', 'read_day', 'all_window', 'all_day'}
local share = tonumber(ARGV[1])
local first = tonumber(ARGV[2])
local priority = ARGV[9]
local stored = redis.call('HMGET', KEYS[1], unpack(fields))
local function held(key) return tonumber(redis.call('GET', key) or '0') end
for slot = first, 4 do
  local limit = tonumber(stored[slot]) or tonumber(ARGV[2 + slot])
  local cap = math.max(1, math.floor(limit * share))
  local window = slot % 2 == 1
  local evaluations = held(window and KEYS[6] or KEYS[7])
  local runs = held(window and KEYS[8] or KEYS[9])
  if priority == 'run' then
    cap = math.min(cap, limit - evaluations)
  elseif priority ~= 'evaluation' then
    cap = math.min(cap, limit - evaluations - runs)
  end
  local used = tonumber(redis.call('GET', KEYS[1 + slot]) or '0')
  if used + 1 > cap then return slot end
end
for slot = first, 4 do
  redis.call('INCR', KEYS[1 + slot])
  redis.call('EXPIRE', KEYS[1 + slot], ARGV[6 + (slot % 2 == 1 and 1 or 2)])
end
return 0
"""

# KEYS: read_window, read_day, all_window, all_day; ARGV: reported usage x4, ttl x2
_OBSERVE = """
for slot = 1, 4 do
  local reported = tonumber(ARGV[slot])
  local used = tonumber(redis.call('GET', KEYS[slot]) or '0')
  if reported > used then
    redis.call('SET', KEYS[slot], reported, 'EX', ARGV[4 + (slot % 2 == 1 and 1 or 2)])
  end
end
return 0
"""


class RedisBudget:
    """Production: counters in Redis, one key per epoch-aligned window, updated by Lua.

    The check-and-count runs as one script so two processes can never both take the last unit.
    """

    def __init__(
        self,
        client: redis.Redis,
        shares: Mapping[Priority, float] | None = None,
        *,
        namespace: str = "strideguard:strava-budget",
    ) -> None:
        self._redis = client
        self._shares = dict(shares or DEFAULT_SHARES)
        self._ns = namespace
        self._reserve = client.register_script(_RESERVE)
        self._observe = client.register_script(_OBSERVE)

    def _keys(self, now: dt.datetime) -> list[str]:
        window, day = window_index(now), day_index(now)
        return [
            f"{self._ns}:read:w{window}",
            f"{self._ns}:read:d{day}",
            f"{self._ns}:all:w{window}",
            f"{self._ns}:all:d{day}",
        ]

    def _held_keys(self, now: dt.datetime) -> list[str]:
        """Held for evaluations (window, day), then for per-run fetches (window, day)."""
        window, day = window_index(now), day_index(now)
        return [
            f"{self._ns}:held:evaluations:w{window}",
            f"{self._ns}:held:evaluations:d{day}",
            f"{self._ns}:held:runs:w{window}",
            f"{self._ns}:held:runs:d{day}",
        ]

    @property
    def _limits_key(self) -> str:
        return f"{self._ns}:limits"

    def reserve(self, priority: Priority, now: dt.datetime, *, read: bool = True) -> None:
        default = Limits()
        spent = int(
            self._reserve(
                keys=[self._limits_key, *self._keys(now), *self._held_keys(now)],
                args=[
                    self._shares[priority],
                    1 if read else 3,
                    default.read_window,
                    default.read_day,
                    default.all_window,
                    default.all_day,
                    WINDOW_S * 2,
                    DAY_S * 2,
                    priority.value,
                ],
            )
        )
        if spent:
            raise _exceeded(spent - 1, priority, now)

    def observe(self, headers: Mapping[str, str], now: dt.datetime) -> None:
        limits, usage = parse_headers(headers)
        if limits:
            self._redis.hset(self._limits_key, mapping={f: getattr(limits, f) for f in _FIELDS})
        if usage:
            self._observe(
                keys=self._keys(now),
                args=[*(getattr(usage, f) for f in _FIELDS), WINDOW_S * 2, DAY_S * 2],
            )

    def usage(self, now: dt.datetime) -> Usage:
        values = self._redis.mget(self._keys(now))
        return Usage(*(int(v or 0) for v in values))

    def hold(self, now: dt.datetime, reservation: Reservation) -> None:
        counts = (
            reservation.evaluations_window,
            reservation.evaluations_day,
            reservation.runs_window,
            reservation.runs_day,
        )
        with self._redis.pipeline() as pipe:
            for index, (key, count) in enumerate(zip(self._held_keys(now), counts, strict=True)):
                pipe.set(key, max(0, count), ex=WINDOW_S * 2 if index % 2 == 0 else DAY_S * 2)
            pipe.execute()

    def held(self, now: dt.datetime) -> Reservation:
        return Reservation(*(int(v or 0) for v in self._redis.mget(self._held_keys(now))))

    def limits(self) -> Limits:
        stored = self._redis.hmget(self._limits_key, list(_FIELDS))
        default = Limits()
        return Limits(
            *(
                int(v) if v is not None else getattr(default, f)
                for v, f in zip(stored, _FIELDS, strict=True)
            )
        )


def make_budget(settings: Settings | None = None, *, namespace: str | None = None) -> RateBudget:
    """Redis-backed when REDIS_URL is set, otherwise in this process's memory."""
    shares = _shares_from(settings)
    if settings is not None and settings.redis_url:
        import redis as redis_lib

        client = redis_lib.Redis.from_url(settings.redis_url)
        if namespace:
            return RedisBudget(client, shares, namespace=namespace)
        return RedisBudget(client, shares)
    return MemoryBudget(shares)
