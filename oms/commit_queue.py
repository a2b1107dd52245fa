"""CommitQueue: group commit, and nothing said before it is durable.

Events are applied to memory at once (the next command must see them) and
queue here for the journal; every action that tells the outside world —
execution reports, venue calls, API answers — waits for the commit of the
batch that holds what it reports. One flusher task writes one batch at a
time: whatever accumulated while the previous INSERT was in flight.

Every entry gets its journal sequence number here, from the one writer, so
an action knows which durable fact it reports (the outbox uses it).

When the journal fails it stays failed: every waiter is woken with
`JournalUnavailable`, actions marked as answers (refusals that must not be
left unsaid) run at once, and an action that cannot run gives its
`otherwise` instead (an order that was never acknowledged is refused), so no
client waits forever.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import TypeVar

import structlog

from oms.journal import Journal, JournalEntry

log = structlog.get_logger("oms.commit")
T = TypeVar("T")


class JournalUnavailable(RuntimeError):
    pass


class CommitQueue:
    def __init__(self, journal: Journal, *, next_seq: int = 1) -> None:
        self.journal = journal
        self.next_seq = next_seq  # the sequence number the next entry will get
        self.committed_seq = next_seq - 1  # everything up to here is durable
        self._pending: list[tuple[int, JournalEntry]] = []
        self._actions: list[tuple[Callable[[], None], bool, Callable[[], None] | None]] = []
        self._wake = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None
        self._failed: BaseException | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self.actions_done_seq = next_seq - 1  # the last batch whose actions have all run
        # The outbox cursor written with each batch: every report up to it is handed to
        # its session. The service may narrow it to what its sinks have really sent.
        self.handed_through: Callable[[], int] = lambda: self.actions_done_seq
        self.cursor_written = 0

    @property
    def failed(self) -> BaseException | None:
        return self._failed

    def start(self) -> None:
        self._flusher = asyncio.create_task(self._flush_loop(), name="oms-journal-flusher")

    async def stop(self) -> None:
        with contextlib.suppress(JournalUnavailable):
            await self.barrier()
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
            self._flusher = None

    def append(self, entry: JournalEntry) -> int:
        """Queue an entry for the next batch; returns its sequence number."""
        seq = self.next_seq
        self.next_seq += 1
        self._pending.append((seq, entry))
        self._wake.set()
        return seq

    def after_commit(self, action: Callable[[], None], *, answer: bool = False,
                     otherwise: Callable[[], None] | None = None) -> None:
        """Run `action` once everything queued so far is durable.

        `answer`: it refuses or answers a request without reporting a new fact, so it
        may be said even when the journal has failed (and must be: a client waits).
        `otherwise`: what to say instead if the journal fails before the commit."""
        if self._failed is not None:
            if answer:
                _run(action)
            elif otherwise is not None:
                _run(otherwise)
            return
        self._actions.append((action, answer, otherwise))
        self._wake.set()

    async def barrier(self) -> None:
        """Wait until everything queued so far is durable (and its actions have run)."""
        if self._failed is not None:
            raise JournalUnavailable(str(self._failed))
        if self._flusher is None:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.add(done)
        done.add_done_callback(self._waiters.discard)

        def release() -> None:
            if not done.done():
                done.set_result(None)

        self.after_commit(release)
        await done

    async def durable(self, read: Callable[[], T]) -> T:
        """Read state now, answer once what was read is committed."""
        value = read()
        await self.barrier()
        return value

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, actions = self._pending, self._actions
            self._pending, self._actions = [], []
            handed = self.handed_through()
            if batch or handed > self.cursor_written:
                # An empty batch still moves the outbox cursor (reports re-sent at start).
                try:
                    await self.journal.append(batch, handed_through=handed)
                except Exception as exc:
                    self._fail(exc, len(batch), actions)
                    return
                self.cursor_written = handed
                if batch:
                    self.committed_seq = batch[-1][0]
            for action, _, _ in actions:
                _run(action)
            self.actions_done_seq = self.committed_seq

    def _fail(self, exc: BaseException, events: int,
              actions: list[tuple[Callable[[], None], bool, Callable[[], None] | None]]
              ) -> None:
        self._failed = exc
        log.critical("journal append failed; refusing all further work", error=repr(exc),
                     events=events)
        # Nothing in this batch or after it is durable: its facts stay unsaid, but
        # answers are given and every waiter learns why instead of hanging.
        for action, answer, otherwise in actions:
            if answer:
                _run(action)
            elif otherwise is not None:
                _run(otherwise)
        for waiter in self._waiters:
            if not waiter.done():
                waiter.set_exception(JournalUnavailable(str(exc)))
        self._waiters.clear()


def _run(action: Callable[[], None]) -> None:
    try:
        action()
    except Exception:
        log.exception("post-commit action failed")
