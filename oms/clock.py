"""One injected clock: what `now` is, for the OMS, its gates and its algorithms.

Live servers pass a `WallClock`; tests and backtests pass a `SimulatedClock`
and move it themselves, so a schedule runs without sleeping and a backtest
runs the real OMS on historical time. Nothing else in the core asks the
system what time it is.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (throttles, windows)."""
        ...


class WallClock:
    """The system clock: the live server's."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class SimulatedClock:
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2021, 1, 4, 14, 30, tzinfo=UTC)
        self._origin = self._now

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._origin).total_seconds()

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now
