"""Password hashes for FIX logons and API users.

Format is Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`, so
hashes can be made with `fixgate hash-password` or any tool that writes that
form. A value without the `pbkdf2_sha256$` prefix is a plaintext (demo) password.

A password is compared as the bytes the peer sent: a FIX value that is not
UTF-8 arrives from quickfix as a str with lone surrogates (surrogateescape),
which encodes back to those same bytes here instead of raising.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict

ALGORITHM = "pbkdf2_sha256"
ITERATIONS = 600_000  # OWASP 2023 recommendation for PBKDF2-HMAC-SHA256


def hash_password(password: str, *, iterations: int = ITERATIONS, salt: str | None = None) -> str:
    salt = salt or secrets.token_urlsafe(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{ALGORITHM}${iterations}${salt}${base64.b64encode(digest).decode()}"


def is_hashed(stored: str) -> bool:
    return stored.startswith(ALGORITHM + "$")


def _raw(password: str | bytes) -> bytes:
    return password if isinstance(password, bytes) else password.encode("utf-8", "surrogateescape")


def _check(raw: bytes, stored: str) -> bool:
    if not is_hashed(stored):
        return hmac.compare_digest(raw, stored.encode())
    try:
        _, iterations, salt, expected = stored.split("$", 3)
        digest = hashlib.pbkdf2_hmac("sha256", raw, salt.encode(), int(iterations))
    except ValueError:
        return False
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


def verify_password(password: str | bytes, stored: str) -> bool:
    return _check(_raw(password), stored)


class PasswordVerifier:
    """`verify_password` that remembers its verdicts.

    A pbkdf2 hash costs a good fraction of a second of CPU by design; a FIX session
    logs on again and again with the same password, and a burst of logons with the
    same wrong one must not cost a hash each. Verdicts are keyed by the stored value
    and an HMAC of the password under a key made at start (so memory holds neither a
    password nor a fast hash of one), kept in a bounded LRU; concurrent checks of the
    same pair share one computation. Thread-safe.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._secret = secrets.token_bytes(32)
        self._max = max_entries
        self._lock = threading.Lock()
        self._verdicts: OrderedDict[bytes, bool] = OrderedDict()
        self._inflight: dict[bytes, threading.Event] = {}

    def _key(self, raw: bytes, stored: str) -> bytes:
        return hmac.new(self._secret, stored.encode() + b"\x00" + raw, hashlib.sha256).digest()

    def cached(self, password: str | bytes, stored: str) -> bool | None:
        """The verdict if it is known without hashing (plaintext, or checked before)."""
        raw = _raw(password)
        if not is_hashed(stored):
            return _check(raw, stored)
        with self._lock:
            return self._verdicts.get(self._key(raw, stored))

    def verify(self, password: str | bytes, stored: str) -> bool:
        raw = _raw(password)
        if not is_hashed(stored):
            return _check(raw, stored)
        key = self._key(raw, stored)
        while True:
            with self._lock:
                verdict = self._verdicts.get(key)
                if verdict is not None:
                    self._verdicts.move_to_end(key)
                    return verdict
                pending = self._inflight.get(key)
                if pending is None:
                    pending = self._inflight[key] = threading.Event()
                    break
            pending.wait()  # another thread is hashing this very pair
        verdict = None
        try:
            verdict = _check(raw, stored)
            return verdict
        finally:
            with self._lock:
                if verdict is not None:
                    self._verdicts[key] = verdict
                    while len(self._verdicts) > self._max:
                        self._verdicts.popitem(last=False)
                del self._inflight[key]
            pending.set()
