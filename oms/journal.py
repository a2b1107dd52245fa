"""The journal protocol: an append-only, ordered log of events.

Every entry carries its sequence number, given by the OMS (the one writer),
so what is replayed is numbered exactly as it was live. `append` writes one
batch atomically and returns only once it is durable. The PostgreSQL
implementation lives in gateway/; the in-memory one here serves unit tests
of the core.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from oms.events import OrderEvent, utcnow


@dataclass(frozen=True, slots=True)
class ControlEvent:
    """A firm-level fact that is not about one order: kill switch engaged or released, …"""

    kind: str
    payload: dict[str, Any]
    ts: datetime = field(default_factory=utcnow)


JournalEntry = OrderEvent | ControlEvent
Numbered = tuple[int, JournalEntry]


class JournalReadError(RuntimeError):
    """A journal row that cannot be read back: the message names the row."""


class Journal(Protocol):
    async def append(self, batch: Sequence[Numbered], *, handed_through: int = 0) -> None:
        """Write the batch atomically. `handed_through`: every report of an entry up to
        this sequence number has been handed to its session (the outbox cursor)."""
        ...

    def load(self) -> AsyncIterator[Sequence[Numbered]]:
        """The whole journal in seq order, in chunks: replay applies a chunk while the
        next one is read."""
        ...

    async def handed_through(self) -> int:
        """The outbox cursor as last written."""
        ...


class InMemoryJournal:
    def __init__(self) -> None:
        self.entries: list[Numbered] = []
        self.batches = 0
        self.cursor = 0

    async def append(self, batch: Sequence[Numbered], *, handed_through: int = 0) -> None:
        self.entries.extend(batch)
        self.batches += 1
        self.cursor = max(self.cursor, handed_through)

    async def load(self) -> AsyncIterator[Sequence[Numbered]]:
        yield list(self.entries)

    async def handed_through(self) -> int:
        return self.cursor
