"""Fernet encryption for secrets at rest: Strava OAuth tokens and chat-channel URLs.

A leaked refresh token is a full account takeover, and an Apprise URL carries a bot token, so
both only ever exist in plain text in memory, between decrypting them and handing them to
stravalib or Apprise. In the core so that every plug-in seals its secrets the same way.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class TokenKeyError(Exception):
    """The stored ciphertext does not open with the configured key (key rotated or wrong)."""


class TokenCipher:
    """`what` names the secret in the error a wrong key raises, and what to do about it."""

    def __init__(
        self, key: bytes, what: str = "Strava token", remedy: str = "The athlete must reconnect."
    ) -> None:
        self._fernet = Fernet(key)
        self._what = what
        self._remedy = remedy

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise TokenKeyError(
                f"a stored {self._what} cannot be decrypted with TOKEN_ENCRYPTION_KEY; "
                f"was the key changed? {self._remedy}"
            ) from None


def channel_url_cipher(key: bytes) -> TokenCipher:
    """The cipher of `athlete_channels.url_enc` (Apprise URLs hold bot tokens and keys)."""
    return TokenCipher(key, what="channel URL", remedy="Remove the channel and add it again.")
