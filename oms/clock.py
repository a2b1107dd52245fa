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
        """Run `callback` on the OMS's loop once `now()` has reached `when` (at once, on
        the next turn, when `when` has passed already)."""
        ...


class WallClock:
    """The system clock: the live server's. Timers run on the running event loop."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def call_at(self, when: datetime, callback: Callable[[], None]) -> Timer:
        delay = max(0.0, (when - self.now()).total_seconds())
        return asyncio.get_running_loop().call_later(delay, callback)


class _SimTimer:
    __slots__ = ("callback", "canceled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.canceled = False

    def cancel(self) -> None:
        self.canceled = True


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
        heapq.heappush(self._timers, (max(when, self._now), next(self._order), timer))
        return timer

    def advance(self, seconds: float) -> datetime:
        return self.advance_to(self._now + timedelta(seconds=seconds))

    def advance_to(self, when: datetime) -> datetime:
        """Move to `when`, running every timer due on the way (including those that
        the timers themselves set within the span)."""
        while self._timers and self._timers[0][0] <= when:
            due, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            if not timer.canceled:
                timer.callback()
        self._now = max(self._now, when)
        return self._now

    def next_timer(self) -> datetime | None:
        """When the next live timer is due (a backtest jumps straight there)."""
        while self._timers and self._timers[0][2].canceled:
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None
