"""Message throttle per FIX session (MiFID II RTS 6): at most N messages per second.

A sliding one-second window; excess messages are refused with a reason, never
queued silently.
"""

from __future__ import annotations

from collections import deque


class Throttle:
    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._sent: dict[str, deque[float]] = {}

    def admit(self, key: str, limit: int, now: float) -> bool:
        """Count one message for `key` unless `limit` are already in the window."""
        times = self._sent.get(key)
        if times is None:
            times = self._sent[key] = deque()
        horizon = now - self.window_s
        while times and times[0] <= horizon:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True
