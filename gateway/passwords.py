"""Password hashes for FIX logons and API users.

Format is Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, so
hashes can be made with `fixgate hash-password` or any tool that writes that
form. A value without the `pbkdf2_sha256$` prefix is a plaintext (demo) password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: str | None = None) -> str:
    salt = salt or secrets.token_urlsafe(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode()}"


def is_hashed(stored: str) -> bool:
    return stored.startswith(ALGORITHM + "$")


def verify_password(password: str, stored: str) -> bool:
    if not is_hashed(stored):
        return hmac.compare_digest(password.encode(), stored.encode())
    try:
        _, iterations, salt, expected = stored.split("$", 3)
        digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)
