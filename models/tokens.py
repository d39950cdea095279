"""Random single-use tokens for links in mail; only their SHA-256 is ever stored."""
from __future__ import annotations

import hashlib
import secrets


def new_token() -> tuple[str, str]:
    """Return a fresh URL-safe token (256 bits) and the hash to store for it."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_token(raw)


def hash_token(raw: str) -> str:
    """Return the hex SHA-256 of a token as presented in a link."""
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()
