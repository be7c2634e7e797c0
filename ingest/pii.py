"""Keyed tokens and masks for ID and phone numbers.

The original numbers stay in the raw layer only. Everything downstream joins on the token (an
HMAC with the deployment's key, so it cannot be reversed by hashing every possible ID) and shows
the mask (``469029********0024``, ``138****3210``).
"""

from __future__ import annotations

import base64
import hmac


def token(value: str | None, key: bytes) -> str | None:
    """26 characters of base32 (a-z, 2-7): never a run of digits that could pass for an ID or a
    phone number in the PII scan of the published warehouse."""
    if value is None:
        return None
    digest = hmac.digest(key, value.encode("utf-8"), "sha256")  # one call into OpenSSL
    return base64.b32encode(digest[:16]).decode("ascii").rstrip("=").lower()


def mask(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) == 18:
        return value[:6] + "*" * 8 + value[-4:]
    if len(value) >= 7:
        return value[:3] + "*" * (len(value) - 7) + value[-4:]
    return "*" * len(value)
