"""Time on the wire between fixgate and a venue: latency and message rate.

A `Pipe` is a one-way FIFO line: what goes in comes out in order, `delay`
seconds later and at most `rate` items per sliding second, and nothing is ever
dropped (a burst is queued and spread). It never blocks: it waits on
`Timers`, which the live server takes from the running event loop and tests
from `ManualTimers`, which they move by hand (no sleeping).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")
_EPS = 1e-9  # float slack: a timer set for "one second after" must count as one second


class Timers(Protocol):
    def time(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        """Run `callback` after `delay` seconds; returns something with `cancel()`."""
        ...


class LoopTimers:
    """The running event loop's clock and timers: the live server's."""

    def time(self) -> float:
        return asyncio.get_running_loop().time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Any:
        return asyncio.get_running_loop().call_later(delay, callback)


class _Handle:
    __slots__ = ("canceled",)

    def __init__(self) -> None:
        self.canceled = False

    def cancel(self) -> None:
        self.canceled = True


class ManualTimers:
    """Timers that fire only when `advance` moves time past them (tests, backtests)."""

    def __init__(self) -> None:
        self.now = 0.0
        self._heap: list[tuple[float, int, Callable[[], None], _Handle]] = []
        self._n = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> _Handle:
        handle = _Handle()
        heapq.heappush(self._heap, (self.now + max(delay, 0.0), next(self._n), callback, handle))
        return handle

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due on the way, each at its own time."""
        target = self.now + seconds
        while self._heap and self._heap[0][0] <= target + _EPS:
            when, _, callback, handle = heapq.heappop(self._heap)
            self.now = max(self.now, when)
            if not handle.canceled:
                callback()
        self.now = target


class Pipe(Generic[T]):
    def __init__(self, timers: Timers, deliver: Callable[[T], None], *, delay: float = 0.0,
                 rate: int | None = None) -> None:
        self._timers = timers
        self._deliver = deliver
        self.delay = delay
        self.rate = rate
        self._queue: deque[tuple[float, T]] = deque()
        self._sent: deque[float] = deque()  # when the last `rate` items went out
        self._timer: Any = None
        self._draining = False

    def __len__(self) -> int:
        """Items queued, not yet delivered."""
        return len(self._queue)

    def put(self, item: T) -> None:
        self._queue.append((self._timers.time() + self.delay, item))
        self._drain()

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _drain(self) -> None:
        if self._draining or self._timer is not None:
            return  # an outer drain, or the pending timer, will get to it
        self._draining = True
        try:
            while self._queue:
                now = self._timers.time()
                due, item = self._queue[0]
                wait = due - now
                if self.rate is not None:
                    sent = self._sent
                    while sent and now - sent[0] >= 1.0 - _EPS:
                        sent.popleft()
                    if len(sent) >= self.rate:
                        wait = max(wait, sent[0] + 1.0 - now)
                if wait > _EPS:
                    self._timer = self._timers.call_later(wait, self._fire)
                    return
                self._queue.popleft()
                if self.rate is not None:
                    self._sent.append(now)
                self._deliver(item)
        finally:
            self._draining = False

    def _fire(self) -> None:
        self._timer = None
        self._drain()
