"""Strava's JSON bodies, shaped like the recorded responses the simulator imitates.

Sources (copied as shapes, not content): oauth_token_responses.json and
api_errors_and_rate_limit_headers.json from dblock/strava-ruby-client fixtures (MIT) and
developers.strava.com. Bodies marked "constructed" were built from the documented field
descriptions because no recording exists.
"""

from __future__ import annotations

from typing import Any

JsonBody = dict[str, Any]


def error(message: str, resource: str, field: str, code: str) -> JsonBody:
    return {"message": message, "errors": [{"resource": resource, "field": field, "code": code}]}


def bad_request(resource: str, field: str, code: str = "invalid") -> JsonBody:
    return error("Bad Request", resource, field, code)


# Recorded: POST /oauth/token with an unknown or used code, and with an unknown client_id.
INVALID_CODE = bad_request("RequestToken", "code")
INVALID_CLIENT = bad_request("Application", "client_id")
# Constructed in the same shape: wrong secret, unknown refresh token, unknown grant type.
INVALID_SECRET = bad_request("Application", "client_secret")
INVALID_REFRESH_TOKEN = bad_request("RefreshToken", "refresh_token")
INVALID_GRANT_TYPE = bad_request("RequestToken", "grant_type")
INVALID_REDIRECT_URI = bad_request("Application", "redirect_uri")
INVALID_SCOPE = bad_request("Authorize", "scope")

# Recorded 401 for an invalid, expired or revoked access token.
UNAUTHORIZED = error("Authorization Error", "Application", "", "invalid")
# Community-reported 401 when the token lacks activity:read / activity:read_all.
MISSING_ACTIVITY_SCOPE = error(
    "Authorization Error", "AccessToken", "activity:read_permission", "missing"
)
# Reconstructed from the error text stravalib logged (PR #446).
RATE_LIMIT_OVERALL = error("Rate Limit Exceeded", "Application", "overall rate limit", "exceeded")
# Constructed in the same shape for the read ("non-upload") limit.
RATE_LIMIT_READ = error("Rate Limit Exceeded", "Application", "read rate limit", "exceeded")


def not_found(resource: str) -> JsonBody:
    return error("Record Not Found", resource, "id", "invalid")


# Constructed from the webhook docs ("callback url not verifiable", one subscription per app).
CALLBACK_NOT_VERIFIABLE = bad_request("PushSubscription", "callback url", "not verifiable")
SUBSCRIPTION_EXISTS = bad_request("PushSubscription", "", "already exists")


def server_error(status: int, reason: str) -> JsonBody:
    return {"message": reason, "errors": []}


def detailed_activity(summary: JsonBody, gear: JsonBody | None) -> JsonBody:
    """A DetailedActivity built from the stored summary, like GET /activities/{id} returns.

    Even per-kilometre splits stand in for the recorded ones; nothing in the app reads them.
    """
    detail = dict(summary)
    detail["resource_state"] = 3
    distance = float(summary.get("distance") or 0.0)
    moving = int(summary.get("moving_time") or 0)
    splits = []
    done = 0.0
    index = 1
    while distance - done > 0.5:
        step = min(1000.0, distance - done)
        seconds = round(moving * step / distance) if distance else 0
        splits.append(
            {
                "distance": round(step, 1),
                "elapsed_time": seconds,
                "elevation_difference": 0.0,
                "moving_time": seconds,
                "split": index,
                "average_speed": round(step / seconds, 2) if seconds else 0.0,
                "pace_zone": 0,
            }
        )
        done += step
        index += 1
    detail.update(
        {
            "description": summary.get("description"),
            "calories": round(distance / 1000 * 65, 1),
            "perceived_exertion": None,
            "prefer_perceived_exertion": False,
            "segment_efforts": [],
            "splits_metric": splits,
            "laps": [],
            "best_efforts": [],
            "photos": {"primary": None, "count": 0},
            "stats_visibility": [],
            "hide_from_home": False,
            "device_name": None if summary.get("manual") else "Simulated Watch",
            "embed_token": "0" * 40,
            "similar_activities": None,
            "available_zones": [],
            "gear": None
            if gear is None
            else {
                "id": gear["id"],
                "primary": gear.get("primary", False),
                "name": gear.get("name", ""),
                "resource_state": 2,
                "distance": gear.get("distance", 0),
            },
        }
    )
    return detail
