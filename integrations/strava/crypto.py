"""Fernet encryption for OAuth tokens at rest.

A leaked refresh token is a full account takeover, so tokens only ever exist in plain text in
memory, between decrypting them and handing them to stravalib.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken


class TokenKeyError(Exception):
    """The stored ciphertext does not open with the configured key (key rotated or wrong)."""


class TokenCipher:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, token: str) -> bytes:
        return self._fernet.encrypt(token.encode())

    def open(self, sealed: bytes) -> str:
        try:
            return self._fernet.decrypt(sealed).decode()
        except InvalidToken:
            raise TokenKeyError(
                "a stored Strava token cannot be decrypted with TOKEN_ENCRYPTION_KEY; "
                "was the key changed? The athlete must reconnect."
            ) from None
