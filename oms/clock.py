"""One injected clock: what `now` is, and what runs when, for the OMS, its gates and
its algorithms.

Live servers pass a `WallClock`; tests and backtests pass a `SimulatedClock`
and move it themselves, so a schedule runs without sleeping and a backtest
runs the real OMS on historical time. Nothing else in the core asks the
system what time it is, or sleeps.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (throttles, windows)."""
        ...

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Timer:
        """Run `callback` once `now()` has reached `when` (at once if it has already)."""
        ...


class WallClock:
    """The system clock: the live server's. Timers run on the running event loop."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Timer:
        return _WallTimer(self, when, callback)


class SimulatedClock:
    """A clock that moves only when told to; its timers run as it passes them, in time
    order, each seeing `now()` equal to the time it was set for."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2021, 1, 4, 14, 30, tzinfo=UTC)
        self._origin = self._now
        self._timers: list[tuple[datetime, int, _SimTimer]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        return self._now

    def monotonic(self) -> float:
        return (self._now - self._origin).total_seconds()

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Timer:
        timer = _SimTimer(callback)
        heapq.heappush(self._timers, (when, next(self._order), timer))
        return timer

    def advance(self, seconds: float) -> datetime:
        """Move time on, firing each timer due on the way at its own time, in order."""
        return self.advance_to(self._now + timedelta(seconds=seconds))

    def advance_to(self, when: datetime) -> datetime:
        while self._timers and self._timers[0][0] <= when:
            due, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            timer.fire()
        self._now = max(self._now, when)
        return self._now


class _SimTimer:
    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback: Callable[[], None] | None = callback

    def cancel(self) -> None:
        self._callback = None

    def fire(self) -> None:
        callback, self._callback = self._callback, None
        if callback is not None:
            callback()


class _WallTimer:
    """A loop timer for a wall-clock instant. The loop counts monotonic seconds, which
    drift from UTC over hours (NTP steps, suspend): on waking early it sleeps again."""

    _MAX_WAIT = 3600.0  # re-check the wall clock at least hourly

    def __init__(self, clock: WallClock, when: datetime,
                 callback: Callable[[], None]) -> None:
        self._clock, self._when, self._callback = clock, when, callback
        self._handle: asyncio.TimerHandle | None = None
        self._arm()

    def _arm(self) -> None:
        wait = (self._when - self._clock.now()).total_seconds()
        loop = asyncio.get_running_loop()
        if wait <= 0:
            self._handle = loop.call_soon(self._fire)  # type: ignore[assignment]
        else:
            self._handle = loop.call_later(min(wait, self._MAX_WAIT), self._fire)

    def _fire(self) -> None:
        if self._clock.now() < self._when:
            self._arm()
            return
        self._handle = None
        self._callback()

    def cancel(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
